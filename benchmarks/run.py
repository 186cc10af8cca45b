#!/usr/bin/env python
"""``make bench``: generate, collect and report measured side by side, in one run, on the
same files and the same machine, against two baselines measured in the same run.

    .venv/bin/python benchmarks/run.py [--full] [--update-readme] [--profile] [...]

Steps (``--help`` lists the options):

1. a realistic corpus (:func:`xltools.testing.folders.write_corpus`; cached in ``bench-out/`` and
   rebuilt when the corpus or generator code, the template or the options change);
2. ``collect`` end to end into a fresh SQLite database, in a fresh interpreter, with the
   peak memory of the whole process tree (parent + workers) sampled from /proc (the sum of
   proportional set sizes, which counts a forked worker's shared pages once, and the sum of
   resident sets);
   then the same files again (all unchanged: the idempotent path);
3. baseline 1, the naive ops script: ``pandas.read_excel(path, sheet_name=None,
   engine="openpyxl")`` per file, concatenated, one process, on a sample;
4. baseline 2, the limit: a bare python-calamine read of every cell of every sheet of the
   same files with the same number of processes;
5. ``generate`` from a roster (parallel), ``report`` (the roll-up) from the database and from
   that database copied by SQL to 10,000 plans (``benchmarks/multiply_db.py``),
   ``xltools --help``, ``xltools check one.xlsx`` and ``xltools collect`` of 20 plans
   (medians of fresh processes; a target missed shows the import-time profile);
   what collect stored, compared byte for byte with the digests of an earlier run on the
   same corpus (``tools/stored_digest.py``; collect runs at a fixed ``XLTOOLS_NOW``);
6. with ``--profile``: where a plan's time goes (read / validate / store, serial) and a
   pyinstrument profile of collect, written to ``bench-out/``.

Results are printed as markdown and written to ``benchmarks/results.md``;
``--update-readme`` replaces the README block between ``<!-- BEGIN bench -->`` and
``<!-- END bench -->`` (nothing else).  No step asserts a timing: targets are reported.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from baselines import calamine_cells, naive_pandas  # noqa: E402
from procmem import TreeRss  # noqa: E402

README = ROOT / "README.md"
RESULTS = HERE / "results.md"
RESULTS_FULL = HERE / "results-full.md"
BEGIN, END = "<!-- BEGIN bench -->", "<!-- END bench -->"
PERIOD = "FY2026Q3"
#: the time every measured collect runs at (stored: the digests compare only at one time)
FIXED_NOW = "2026-11-20T09:00:00+09:00"
#: files whose change makes a cached corpus stale
CORPUS_SOURCES = ("xltools/testing/corpus.py", "xltools/testing/folders.py", "xltools/workbook/layout.py",
                  "xltools/workbook/xlwrite.py", "xltools/workbook/cellxml.py", "xltools/workbook/outfile.py",
                  "workbook_templates/account_plan.yaml",
                  *sorted(f"xltools/workbook/generate/{p.name}" for p in (ROOT / "xltools/workbook/generate").glob("*.py")))
MB = 1024 * 1024


# -- measuring a child process -----------------------------------------------------------------

def children_cpu() -> float:
    """CPU seconds (user + system) of every waited-for child process and its descendants."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


class Measured:
    def __init__(self, data: dict | None, wall: float, peak: int | None, timeline: list[tuple[float, int]],
                 error: str | None = None, cpu: float | None = None, pss: int | None = None):
        self.data, self.wall, self.peak, self.timeline, self.error = data or {}, wall, peak, timeline, error
        self.cpu = cpu  # CPU seconds of the whole process tree (load-independent)
        self.pss = pss  # peak of the tree's proportional set sizes (forked pages counted once)

    @property
    def held(self) -> int | None:
        """The memory the targets are judged on: the tree's peak PSS where the kernel gives it,
        else its peak sum of resident sets."""
        return self.pss if self.pss is not None else self.peak

    def memory(self) -> str:
        """The peak memory as the bench rows show it."""
        if self.pss is None:
            return f"peak RSS {_mb(self.peak)}"
        return f"peak PSS {_mb(self.pss)}, sum of RSS {_mb(self.peak)}"

    @property
    def ok(self) -> bool:
        return self.error is None

    def growth(self) -> tuple[int, int] | None:
        """(peak RSS in the first quarter of the run, peak in the last quarter), bytes."""
        if len(self.timeline) < 8:
            return None
        t_end = self.timeline[-1][0]
        first = [r for t, r in self.timeline if t <= t_end / 4]
        last = [r for t, r in self.timeline if t >= t_end * 3 / 4]
        return (max(first), max(last)) if first and last else None


def run_child(args: list[str], timeout: float, env: dict | None = None) -> Measured:
    """Run ``benchmarks/child.py ARGS`` in a fresh interpreter; sample its tree's RSS."""
    cmd = [sys.executable, str(HERE / "child.py"), *args]
    cpu0 = children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, **(env or {})})
    sampler = TreeRss(proc.pid, interval=0.05, keep=True).start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        sampler.stop()
        return Measured(None, time.perf_counter() - t0, sampler.peak, sampler.timeline,
                        f"timed out after {timeout:.0f} s")
    wall = time.perf_counter() - t0
    sampler.stop()
    if proc.returncode != 0:
        tail = (err or out).strip().splitlines()[-1:] or ["(no output)"]
        return Measured(None, wall, sampler.peak, sampler.timeline, f"failed: {tail[0]}")
    # CPU of the whole tree: what the waited-for processes report, or what /proc showed of
    # processes nobody waits for (a forkserver's workers), whichever saw more
    return Measured(json.loads(out.strip().splitlines()[-1]), wall, sampler.peak, sampler.timeline,
                    cpu=max(children_cpu() - cpu0, sampler.cpu), pss=sampler.peak_pss)


# -- the corpus ----------------------------------------------------------------------------------

def fingerprint(n: int, seed: int, messy: float) -> str:
    h = hashlib.sha256(f"{n}:{seed}:{messy}:{PERIOD}".encode())
    for rel in CORPUS_SOURCES:
        p = ROOT / rel
        h.update(p.read_bytes() if p.exists() else b"-")
    return h.hexdigest()[:16]


def corpus(work: Path, n: int, seed: int, messy: float, jobs: int, fresh: bool, log) -> tuple[list[Path], dict]:
    """The corpus of ``n`` plans (built, or reused when its fingerprint matches)."""
    from xltools.testing.folders import write_corpus

    d = work / f"corpus-{n}-seed{seed}"
    stamp = d / "corpus.json"
    fp = fingerprint(n, seed, messy)
    if not fresh and stamp.exists():
        info = json.loads(stamp.read_text())
        paths = sorted(d.glob("*.xlsx"))
        if info.get("fingerprint") == fp and len(paths) == n:
            log(f"corpus: reusing {n:,} plans in {d}")
            return paths, dict(info, reused=True)
    if d.exists():
        shutil.rmtree(d)
    log(f"corpus: writing {n:,} plans to {d} on {jobs} processes ...")
    t0 = time.perf_counter()
    paths = write_corpus(d, n, seed=seed, jobs=jobs, messy=messy, period=PERIOD)
    seconds = time.perf_counter() - t0
    info = {"fingerprint": fp, "n": n, "seed": seed, "messy": messy, "seconds": seconds, "jobs": jobs,
            "bytes": sum(p.stat().st_size for p in paths)}
    stamp.write_text(json.dumps(info))
    return sorted(paths), dict(info, reused=False)


def sample(paths: list[Path], k: int) -> list[Path]:
    """``k`` files spread evenly over the corpus (plan sizes vary along it)."""
    if k >= len(paths):
        return list(paths)
    step = len(paths) / k
    return [paths[int(i * step)] for i in range(k)]


# -- the other measurements ----------------------------------------------------------------------

def machine_reference(runs: int = 3) -> float:
    """CPU seconds of a fixed pure-Python workload (a 10-million-step loop), the fastest of
    ``runs``: how fast this machine's cores are today, so that absolute figures of runs on
    different days (or machines) can be compared.  The ratios do not need it."""
    best = float("inf")
    for _ in range(runs):
        t = time.process_time()
        s = 0
        for i in range(10_000_000):
            s += i
        best = min(best, time.process_time() - t)
    return best


def help_startup(runs: int) -> list[float]:
    exe = Path(sys.executable).parent / "xltools"
    cmd = [str(exe), "--help"] if exe.exists() else [sys.executable, "-m", "xltools", "--help"]
    subprocess.run(cmd, capture_output=True, check=True, cwd=ROOT)  # warm the file cache
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True, cwd=ROOT)
        times.append(time.perf_counter() - t0)
    return times


def _xltools_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "xltools"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "xltools"]


def fresh_runs(args: list[str], runs: int, env: dict, before=None) -> tuple[list[float], list[float]]:
    """(wall seconds, CPU seconds of the process tree) of ``runs`` fresh ``xltools ARGS``
    processes, after one untimed run that warms the file cache (and the texts cache);
    ``before()`` runs before each (untimed)."""
    cmd = _xltools_cmd() + args
    full_env = {**os.environ, **env}
    if before:
        before()
    subprocess.run(cmd, capture_output=True, cwd=ROOT, env=full_env)
    walls, cpus = [], []
    for _ in range(runs):
        if before:
            before()
        c0 = children_cpu()
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, cwd=ROOT, env=full_env)
        walls.append(time.perf_counter() - t0)
        cpus.append(children_cpu() - c0)
    return walls, cpus


def startup_profile(args: list[str], env: dict, top: int = 8) -> str:
    """The modules that take the most import time of ``xltools ARGS`` (``-X importtime``,
    own time), as ``module ms, ...``."""
    cmd = [sys.executable, "-X", "importtime", "-m", "xltools", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, **env}).stderr
    own = []
    for line in out.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[0].split(":")[-1].strip().isdigit():
            own.append((int(parts[0].split(":")[-1]), parts[2].strip()))
    own.sort(reverse=True)
    total = sum(us for us, _ in own)
    return f"imports {total / 1000:,.0f} ms: " + ", ".join(f"`{m}` {us / 1000:,.0f} ms" for us, m in own[:top])


def stored_digest_row(db_url: str, fp: str, n: int, work: Path) -> tuple[str, str, str, bool | None]:
    """Compare what this run's collect stored with what an earlier run stored from the same
    corpus (bench-out/stored-digest-N.json, kept from the first run of a corpus)."""
    sys.path.insert(0, str(ROOT / "tools"))
    import stored_digest

    got = stored_digest.digests(db_url)
    saved = work / f"stored-digest-{n}.json"
    rows = sum(d["rows"] for d in got.values())
    if saved.exists():
        before = json.loads(saved.read_text(encoding="utf-8"))
        if before.get("fingerprint") == fp:
            diff = stored_digest.differences(before["tables"], got)
            what = (f"identical to commit {before.get('commit', '?')}'s: {len(got)} tables, {rows:,} rows"
                    if not diff else "differ from commit " + before.get("commit", "?") + "'s: " + "; ".join(diff))
            return ("stored results, byte for byte (tools/stored_digest.py), same corpus, same `XLTOOLS_NOW`",
                    what, "identical", not diff)
    saved.write_text(json.dumps({"fingerprint": fp, "commit": git_commit(), "tables": got}, indent=1), encoding="utf-8")
    return ("stored results (tools/stored_digest.py)", f"{len(got)} tables, {rows:,} rows: digests saved as the "
            f"reference for later runs", "", None)


def stage_breakdown(paths: list[Path], work: Path, top: int = 12) -> tuple[dict, list, list]:
    """Serial, in this process: CPU seconds per plan of each stage of collect (read,
    validate, rules, store); the functions and the modules with the most own CPU time
    (cProfile): ``[(name, own seconds per plan, share of the profiled total)]``."""
    import cProfile
    import pstats

    from xltools.checking.check import check_file, workbook_texts
    from xltools.checking.rules import run_rules
    from xltools.checking.validate import validate
    from xltools.spec.config import Settings
    from xltools.spec.spec import load_spec
    from xltools.store.engine import Store
    from xltools.workbook.reader import Limits, read_workbook

    settings = Settings()
    spec = settings.apply(load_spec())
    texts = workbook_texts(spec, settings)
    limits = Limits.from_settings(settings)
    for p in work.glob("breakdown*.db*"):
        p.unlink()
    store = Store(f"sqlite:///{work / 'breakdown.db'}", spec)
    store.ensure_schema()
    cpu = {"read": 0.0, "validate": 0.0, "rules": 0.0, "store": 0.0}
    for p in paths:  # stage times, without a profiler in the way
        t0 = time.process_time()
        raw = read_workbook(p, spec, limits=limits, static_texts=texts)
        t1 = time.process_time()
        plan, _ = validate(raw, spec, settings)
        t2 = time.process_time()
        run_rules(plan, spec, settings)
        t3 = time.process_time()
        cpu["read"] += t1 - t0
        cpu["validate"] += t2 - t1
        cpu["rules"] += t3 - t2
        data = p.read_bytes()
        report = check_file(p, spec, settings, static_texts=texts)
        t4 = time.process_time()
        store.save(report, path=str(p), size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                   mtime=p.stat().st_mtime)
        cpu["store"] += time.process_time() - t4
    store.close()
    store = Store(f"sqlite:///{work / 'breakdown-profiled.db'}", spec)
    store.ensure_schema()
    prof = cProfile.Profile()
    for p in paths:  # then where the time goes, function by function
        data = p.read_bytes()
        prof.enable()
        report = check_file(p, spec, settings, static_texts=texts)
        store.save(report, path=str(p), size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                   mtime=p.stat().st_mtime)
        prof.disable()
    store.close()
    n = max(1, len(paths))
    stats = pstats.Stats(prof)
    total = sum(v[2] for v in stats.stats.values()) or 1.0
    by_module: dict[str, float] = {}
    for (fn, _line, name), v in stats.stats.items():
        by_module[_module_of(fn, name)] = by_module.get(_module_of(fn, name), 0.0) + v[2]
    rows = sorted(((f"{_module_of(fn, name)}:{name}", v[2]) for (fn, _line, name), v in stats.stats.items()),
                  key=lambda x: -x[1])[:top]
    modules = sorted(by_module.items(), key=lambda x: -x[1])[:top]
    return ({k: v / n for k, v in cpu.items()},
            [(name, own / n, own / total) for name, own in rows],
            [(name, own / n, own / total) for name, own in modules])


def _module_of(filename: str, name: str) -> str:
    """``xltools/workbook/reader.py``, ``sqlalchemy``, ``python-calamine`` ...: where a profiled function lives."""
    if filename == "~":  # a C function: name it by what it belongs to
        if "Calamine" in name:
            return "python-calamine"
        if "re.Pattern" in name or "re.Match" in name:
            return "re (C)"
        if "pyexpat" in name:
            return "expat (C)"
        if "sqlite3" in name:
            return "sqlite3 (C)"
        return "builtins"
    p = Path(filename)
    parts = p.parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].split(".")[0]
    if "xltools" in parts:  # the package folder: the last "xltools" (the checkout may be named so too)
        i = len(parts) - 1 - parts[::-1].index("xltools")
        return "/".join(parts[i:])
    return p.name


def profile_collect(paths: list[Path], work: Path) -> Path:
    """A pyinstrument profile of collect_paths (1 process) over ``paths``: text and HTML."""
    from pyinstrument import Profiler

    from xltools.collect import collect_paths
    from xltools.spec.config import Settings
    from xltools.spec.spec import load_spec
    from xltools.store.engine import Store

    settings = Settings()
    spec = settings.apply(load_spec())
    src = work / "profile-files"
    if src.exists():
        shutil.rmtree(src)
    src.mkdir()
    for p in paths:
        os.link(p, src / p.name) if _same_device(p, src) else shutil.copy2(p, src / p.name)
    for p in work.glob("profile.db*"):
        p.unlink()
    store = Store(f"sqlite:///{work / 'profile.db'}", spec)
    store.ensure_schema()
    prof = Profiler(interval=0.001)
    prof.start()
    collect_paths([src], store, spec, settings, jobs=1)
    prof.stop()
    store.close()
    (work / "profile-collect.html").write_text(prof.output_html(), encoding="utf-8")
    out = work / "profile-collect.txt"
    out.write_text(prof.output_text(unicode=True, color=False), encoding="utf-8")
    return out


def _same_device(a: Path, b: Path) -> bool:
    return a.stat().st_dev == b.stat().st_dev


# -- the table -----------------------------------------------------------------------------------

def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:,.1f} ms"


def _mb(b: int | None) -> str:
    return "n/a" if b is None else f"{b / MB:,.0f} MB"


def _ok(flag: bool | None) -> str:
    return "" if flag is None else ("✅" if flag else "❌")


def markdown(rows: list[tuple[str, str, str, bool | None]], header: str, notes: list[str]) -> str:
    lines = [header, "", "| step | measured | target | met |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {_ok(d)} |" for a, b, c, d in rows]
    if notes:
        lines += [""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def update_readme(block: str) -> None:
    text = README.read_text(encoding="utf-8")
    i, j = text.find(BEGIN), text.find(END)
    if i < 0 or j < i:
        raise SystemExit(f"{README}: no {BEGIN} ... {END} block to update")
    README.write_text(text[:i + len(BEGIN)] + "\n" + block + text[j:], encoding="utf-8")


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
        return out.stdout.strip() or "?"
    except OSError:
        return "?"


# -- main ------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="collect and report 10,000 plans (default 1,000)")
    ap.add_argument("--plans", type=int, help="plans to collect and report (overrides --full)")
    ap.add_argument("--report-copies", type=int, default=10,
                    help="also report from the collected database copied this many times by SQL "
                         "(benchmarks/multiply_db.py), when that makes 10,000 plans or more; 0: never (default 10)")
    ap.add_argument("--generate", type=int, default=1000, help="plans to generate from a roster (default 1,000)")
    ap.add_argument("--sample", type=int, default=100, help="files for baseline 1 (pandas), default 100")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes (default: every core)")
    ap.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    ap.add_argument("--messy", type=float, default=0.1, help="corpus messiness 0-1 (default 0.1)")
    ap.add_argument("--help-runs", type=int, default=7, help="fresh interpreters timed for xltools --help")
    ap.add_argument("--work", type=Path, default=ROOT / "bench-out", help="work folder (default bench-out/)")
    ap.add_argument("--fresh", action="store_true", help="rebuild the corpus even if a matching one exists")
    ap.add_argument("--profile", action="store_true", help="also profile collect (stage breakdown + pyinstrument)")
    ap.add_argument("--update-readme", action="store_true", help="write the table into the README's bench block")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds any one step may take (default 1800)")
    args = ap.parse_args(argv)
    # start-up is measured as an installed package runs: with its bytecode compiled (pip compiles
    # an installed package; an editable one is compiled on first import, unless
    # PYTHONDONTWRITEBYTECODE forbids it, and then every process compiles every module again)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    import compileall

    compileall.compile_dir(str(ROOT / "xltools"), quiet=1)
    n = args.plans or (10_000 if args.full else 1_000)
    jobs = max(1, args.jobs)
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    load0 = "/".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    reference = machine_reference()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f}s] {msg}", file=sys.stderr, flush=True)

    rows: list[tuple[str, str, str, bool | None]] = []
    notes: list[str] = []

    # 1. corpus
    paths, cinfo = corpus(work, n, args.seed, args.messy, jobs, args.fresh, log)
    corpus_dir = paths[0].parent
    avg_kb = sum(p.stat().st_size for p in paths) / len(paths) / 1024

    # 2. collect, then the same files again
    db = work / f"collect-{n}.db"
    for p in work.glob(f"collect-{n}.db*"):
        p.unlink()
    db_url = f"sqlite:///{db}"
    log(f"collect: {n:,} plans on {jobs} processes ...")
    col = run_child(["collect", str(corpus_dir), db_url, str(jobs)], args.timeout, env={"XLTOOLS_NOW": FIXED_NOW})
    collect_rate = collect_cpu = None
    if col.ok:
        collect_rate = _rate(n, col.wall)
        collect_cpu = col.cpu / n if col.cpu else None
        stored = col.data["results"].get("stored", 0)
        rows.append((f"`collect` {n:,} plans, {col.data['jobs']} processes: read + normalise + validate + store "
                     f"(SQLite), end to end", f"**{collect_rate:,.1f} plans/s** ({col.wall:,.1f} s; {stored:,} "
                     f"stored; CPU {_ms(collect_cpu)} per plan, all processes)", "", None))
        mem_target = 300 * MB
        growth = col.growth()
        rows.append(("peak memory of collect, parent + workers (sampled from /proc)",
                     col.memory() + (f" (sum of RSS in the first quarter of the run {_mb(growth[0])}, in the "
                                     f"last quarter {_mb(growth[1])})" if growth else ""),
                     "< 300 MB at 10,000 plans", (col.held or 0) < mem_target if n >= 10_000 else None))
        if stored != n:
            notes.append(f"collect stored {stored:,} of {n:,} files: {col.data['results']}")
        log("collect: digests of what was stored ...")
        rows.append(stored_digest_row(db_url, fingerprint(n, args.seed, args.messy), n, work))
        log("collect: same files again ...")
        again = run_child(["collect", str(corpus_dir), db_url, str(jobs)], args.timeout)
        if again.ok:
            rows.append(("`collect` the same files again (all unchanged: hashed, nothing parsed)",
                         f"{again.wall:,.1f} s ({again.data['results'].get('unchanged', 0):,} unchanged)", "", None))
    else:
        rows.append((f"`collect` {n:,} plans", col.error, "", False))

    # 3. baseline 1
    some = sample(paths, args.sample)
    log(f"baseline 1: pandas.read_excel on {len(some)} files ...")
    b1_seconds, b1_cpu, _ = naive_pandas(some)
    b1_rate = _rate(len(some), b1_seconds)
    rows.append((f"baseline 1: `pandas.read_excel(sheet_name=None, engine=\"openpyxl\")` per file, concatenated, "
                 f"1 process, {len(some)} files", f"{b1_rate:,.1f} plans/s (CPU {_ms(b1_cpu / len(some))} per plan)",
                 "", None))
    if collect_rate:
        rows.append(("collect ÷ baseline 1 (plans/s)", f"**{collect_rate / b1_rate:,.1f}×**"
                     + (f" (by CPU per plan: {b1_cpu / len(some) / collect_cpu:,.1f}×)" if collect_cpu else ""),
                     "≥ 10×", collect_rate / b1_rate >= 10))

    # 4. baseline 2
    log(f"baseline 2: python-calamine, every cell of {n:,} files on {jobs} processes ...")
    b2_seconds, b2_cpu, b2_cells = calamine_cells(paths, jobs)
    b2_rate = _rate(n, b2_seconds)
    rows.append((f"baseline 2 (the limit): bare python-calamine read of every cell of every sheet, {n:,} files, "
                 f"{jobs} processes", f"{b2_rate:,.1f} plans/s ({b2_cells / n:,.0f} cells per plan; CPU "
                 f"{_ms(b2_cpu / n)} per plan)", "", None))
    if collect_rate:
        rows.append(("collect ÷ baseline 2 (plans/s)", f"**{100 * collect_rate / b2_rate:,.0f} %**"
                     + (f" (by CPU per plan: {100 * b2_cpu / n / collect_cpu:,.0f} %)" if collect_cpu else ""),
                     "≥ 15 %", collect_rate / b2_rate >= 0.15))

    # 5. generate, report, --help
    from xltools.spec.config import Settings
    from xltools.spec.spec import load_spec
    from xltools.testing.folders import corpus_entries, write_roster

    gen_dir = work / "generated"
    if gen_dir.exists():
        shutil.rmtree(gen_dir)
    roster = work / f"roster-{args.generate}.csv"
    spec = Settings().apply(load_spec())
    write_roster(roster, corpus_entries(args.generate, seed=args.seed, period=PERIOD), spec)
    log(f"generate: {args.generate:,} plans from a roster on {jobs} processes ...")
    gen = run_child(["generate", str(roster), PERIOD, str(gen_dir), str(jobs)], args.timeout)
    if gen.ok:
        rows.append((f"`generate` {args.generate:,} plans from a roster, {jobs} processes",
                     f"**{_rate(gen.data['files'], gen.wall):,.1f} plans/s** ({gen.wall:,.1f} s; CPU "
                     f"{_ms(gen.cpu / max(1, gen.data['files']) if gen.cpu else None)} per plan; "
                     f"{gen.memory()})", "1,000 plans < 20 s",
                     gen.wall < 20 if args.generate == 1000 else None))
    else:
        rows.append((f"`generate` {args.generate:,} plans", gen.error, "1,000 plans < 20 s", False))

    if col.ok:
        log(f"report: roll-up from the {n:,}-plan database ...")
        rep = run_child(["report", db_url, str(work / f"rollup-{n}.xlsx")], args.timeout)
        if rep.ok:
            rows.append((f"`report` (roll-up workbook) from the database of {n:,} plans",
                         f"**{rep.wall:,.1f} s** (CPU {rep.cpu or 0:,.1f} s; {rep.memory()})",
                         "10,000 plans < 30 s and < 500 MB",
                         rep.wall < 30 and (rep.held or 0) < 500 * MB if n >= 10_000 else None))
            copies = args.report_copies
            if n < 10_000 and copies > 1 and n * copies >= 10_000 and db_url.startswith("sqlite:///"):
                from multiply_db import multiply

                big = work / f"collect-{n}x{copies}.db"
                log(f"report: roll-up from the {n:,}-plan database copied {copies}x by SQL ...")
                multiply(Path(db_url.removeprefix("sqlite:///")), big, copies)
                rep10 = run_child(["report", f"sqlite:///{big}", str(work / f"rollup-{n * copies}.xlsx")],
                                  args.timeout)
                big.unlink()
                what = (f"`report` from {n * copies:,} plans: the {n:,}-plan database copied {copies}× by SQL "
                        f"(`benchmarks/multiply_db.py`)")
                if rep10.ok:
                    rows.append((what, f"**{rep10.wall:,.1f} s** (CPU {rep10.cpu or 0:,.1f} s; {rep10.memory()})",
                                 "10,000 plans < 30 s and < 500 MB",
                                 rep10.wall < 30 and (rep10.held or 0) < 500 * MB))
                else:
                    rows.append((what, rep10.error, "10,000 plans < 30 s and < 500 MB", False))
            elif n < 10_000:
                notes.append(f"`report` was measured on the {n:,}-plan database; the target is for 10,000 plans "
                             f"(`make bench BENCH_ARGS=--full`).")
        else:
            rows.append(("`report`", rep.error, "10,000 plans < 30 s and < 500 MB", False))

    log("xltools --help ...")
    times = help_startup(args.help_runs)
    med = statistics.median(times)
    rows.append((f"`xltools --help` start-up, median of {len(times)} fresh interpreters", f"**{med:.3f} s**",
                 "< 0.1 s", med < 0.1))
    if med >= 0.1:
        notes.append("`xltools --help`: " + startup_profile(["--help"], {}))

    cache_env = {"XLTOOLS_CACHE_DIR": str(work / "cache"), "XLTOOLS_NOW": FIXED_NOW}
    one = paths[0]
    log("xltools check one.xlsx ...")
    walls, cpus = fresh_runs(["check", str(one)], args.help_runs, cache_env)
    med = statistics.median(walls)
    rows.append((f"`xltools check one.xlsx` (a {one.stat().st_size / 1024:,.0f} KB plan), median of {len(walls)} "
                 "fresh processes, the generator's texts cached", f"**{med:.3f} s** (CPU {statistics.median(cpus):.3f} s,"
                 " parent + worker)", "< 0.3 s", med < 0.3))
    if med >= 0.3:
        notes.append("`xltools check one.xlsx`: " + startup_profile(["check", str(one)], cache_env))

    small = work / "collect-20"
    if small.exists():
        shutil.rmtree(small)
    small.mkdir()
    for p in sample(paths, 20):
        os.link(p, small / p.name) if _same_device(p, small) else shutil.copy2(p, small / p.name)
    small_db = work / "collect-20.db"

    def fresh_db() -> None:
        for f in work.glob("collect-20.db*"):
            f.unlink()

    log("xltools collect of 20 plans ...")
    walls, cpus = fresh_runs(["collect", str(small), "--db", f"sqlite:///{small_db}"], args.help_runs, cache_env,
                             before=fresh_db)
    med = statistics.median(walls)
    rows.append((f"`xltools collect` of 20 plans into a new SQLite database, median of {len(walls)} fresh processes",
                 f"**{med:.2f} s** (CPU {statistics.median(cpus):.2f} s, all processes)", "< 1.5 s", med < 1.5))

    c_rate = _rate(cinfo["n"], cinfo["seconds"]) if cinfo.get("seconds") else None
    if c_rate:
        rows.append((f"corpus: `make_plan` + `generate_workbook(prefill=...)`, {cinfo['jobs']} processes"
                     + (" (cached from an earlier run)" if cinfo.get("reused") else ""),
                     f"{c_rate:,.1f} plans/s (10,000 plans ≈ {10_000 / c_rate / 60:,.1f} min)", "", None))

    # 6. profile
    top: list[tuple[str, float, float]] = []
    modules: list[tuple[str, float, float]] = []
    if args.profile:
        prof_files = sample(paths, min(100, len(paths)))
        log(f"profile: CPU per stage and cProfile on {len(prof_files)} files ...")
        stages, top, modules = stage_breakdown(prof_files, work)
        rows.append(("CPU per plan by stage of collect (1 process): " + " / ".join(stages),
                     " / ".join(_ms(v) for v in stages.values()) + f" = {_ms(sum(stages.values()))}", "", None))
        log("profile: pyinstrument over collect (1 process) ...")
        out = profile_collect(prof_files, work)
        notes.append(f"pyinstrument profile of collect: `{out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}`"
                     f" (and `.html`)")

    load = "/".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    header = (f"Measured {date.today().isoformat()} on {os.cpu_count()} cores ({platform.machine()}, "
              f"{platform.system()}; load average {load0} before, {load} after; a 10-million-step Python loop "
              f"takes {reference:.2f} s of CPU), Python "
              f"{platform.python_version()}, commit {git_commit()}; corpus of "
              f"{n:,} realistic plans (seed {args.seed}, {avg_kb:,.0f} KB per file on average); "
              f"`make bench{' BENCH_ARGS=--full' if n >= 10_000 else ''}` took "
              f"{(time.perf_counter() - started) / 60:,.1f} min.")
    text = markdown(rows, header, notes)
    if top:
        text += ("\nWhere collect's CPU goes, serial, by module and by function (own time under cProfile, which "
                 "slows small calls; shares are of the profiled total):\n\n"
                 "| module | own CPU per plan | share |\n|---|---|---|\n"
                 + "".join(f"| `{name}` | {_ms(ms)} | {share:.0%} |\n" for name, ms, share in modules)
                 + "\n| function | own CPU per plan | share |\n|---|---|---|\n"
                 + "".join(f"| `{name}` | {_ms(ms)} | {share:.0%} |\n" for name, ms, share in top))
    print(text)
    RESULTS.write_text("# Benchmark results\n\n" + text, encoding="utf-8")
    if n >= 10_000:  # the full run is kept apart too: a later default run does not hide it
        RESULTS_FULL.write_text("# Benchmark results (full: 10,000 plans)\n\n" + text, encoding="utf-8")
    if args.update_readme:
        update_readme(text)
        log("README.md bench block updated")
    log(f"results written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
