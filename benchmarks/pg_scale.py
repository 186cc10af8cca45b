#!/usr/bin/env python
"""Several machines collecting into one PostgreSQL, simulated on this one.

    XLTOOLS_TEST_PG_URL=postgresql+psycopg://... .venv/bin/python benchmarks/pg_scale.py CORPUS_DIR
        [--writers 2] [--jobs 1] [--out benchmarks/pg-scale.md]

The corpus is split into ``--writers`` folders (hard links, round robin); each folder is
collected by its own ``collect`` process (``--jobs`` workers each), all at the same time,
into one fresh schema of the server -- as two offices' machines would.  Measured: the
wall time, the plans and the database rows written per second while they all ran, the
writers' lock waits (sampled every 50 ms from ``pg_locks``), the deadlocks PostgreSQL
counted meanwhile (database-wide), each file's outcome (a conflict or a failed save
would show there), and one writer alone on the whole corpus for comparison.  The
schema is dropped afterwards.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NOW = "2026-11-20T09:00:00+09:00"


APP = "xltools-pg-scale"


def _schema_url(server: str, schema: str) -> str:
    sep = "&" if "?" in server else "?"
    return f"{server}{sep}application_name={APP}&options=-csearch_path%3D{schema}"


def _rows(eng, schema: str) -> int:
    import sqlalchemy as sa

    with eng.connect() as c:
        names = c.execute(sa.text("select table_name from information_schema.tables where table_schema = :s "
                                  "and table_name not like 'alembic%'"), {"s": schema}).scalars().all()
        return sum(c.execute(sa.text(f'select count(*) from "{schema}"."{n}"')).scalar() for n in names)


def _db_stats(eng) -> dict:
    import sqlalchemy as sa

    with eng.connect() as c:
        row = c.execute(sa.text("select deadlocks from pg_stat_database "
                                "where datname = current_database()")).one()
    return {"deadlocks": row[0]}


class LockSampler(threading.Thread):
    """Counts, every 50 ms, the lock requests of the writers that wait (``pg_locks`` not
    granted, sessions of this measurement only: other users of the server are left out)."""

    def __init__(self, eng):
        super().__init__(daemon=True)
        self.eng, self.samples, self.waiting, self.max_waiting = eng, 0, 0, 0
        self.stop = threading.Event()

    def run(self) -> None:
        import sqlalchemy as sa

        with self.eng.connect() as c:
            while not self.stop.is_set():
                n = c.execute(sa.text("select count(*) from pg_locks l join pg_stat_activity a on a.pid = l.pid "
                                      "where not l.granted and a.application_name = :app"), {"app": APP}).scalar()
                c.commit()
                self.samples += 1
                self.waiting += bool(n)
                self.max_waiting = max(self.max_waiting, n)
                time.sleep(0.05)


def run_writers(folders: list[Path], url: str, jobs: int, eng, schema: str) -> dict:
    from xltools.spec.config import Settings
    from xltools.spec.spec import load_spec
    from xltools.store.engine import Store

    settings = Settings()
    Store(url, settings.apply(load_spec())).ensure_schema()  # the schema first, as an admin would
    before = _db_stats(eng)
    sampler = LockSampler(eng)
    sampler.start()
    env = {**os.environ, "XLTOOLS_NOW": NOW}
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, str(HERE / "child.py"), "collect", str(f), url, str(jobs)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
             for f in folders]
    outs = []
    for p in procs:
        out, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"a writer failed: {(err or out).strip().splitlines()[-1:]}")
        outs.append(json.loads(out.strip().splitlines()[-1]))
    wall = time.perf_counter() - t0
    sampler.stop.set()
    sampler.join()
    after = _db_stats(eng)
    results: dict[str, int] = {}
    for o in outs:
        for k, v in o["results"].items():
            results[k] = results.get(k, 0) + v
    rows = _rows(eng, schema)
    return {"writers": len(folders), "jobs": jobs, "wall": wall, "files": sum(o["files"] for o in outs),
            "results": results, "rows": rows, "rows_per_s": rows / wall, "plans_per_s": sum(o["files"] for o in outs) / wall,
            "writer_seconds": [round(o["seconds"], 1) for o in outs],
            "lock_wait_share": sampler.waiting / max(1, sampler.samples), "max_waiting_locks": sampler.max_waiting,
            "deadlocks": after["deadlocks"] - before["deadlocks"]}


def measure(corpus: Path, server: str, writers: int, jobs: int, work: Path) -> list[dict]:
    import sqlalchemy as sa

    files = sorted(corpus.glob("*.xlsx"))
    out = []
    eng = sa.create_engine(server)
    for n in (1, writers):
        folders = []
        for i in range(n):
            d = work / f"writer{n}-{i}"
            if d.exists():
                shutil.rmtree(d)
            d.mkdir(parents=True)
            folders.append(d)
        for k, f in enumerate(files):
            os.link(f, folders[k % n] / f.name)
        schema = f"scale_{uuid.uuid4().hex[:10]}"
        with eng.begin() as c:
            c.execute(sa.text(f'create schema "{schema}"'))
        try:
            out.append(run_writers(folders, _schema_url(server, schema), jobs, eng, schema))
        finally:
            with eng.begin() as c:
                c.execute(sa.text(f'drop schema "{schema}" cascade'))
            for d in folders:
                shutil.rmtree(d)
    eng.dispose()
    return out


def markdown(runs: list[dict], corpus: Path) -> str:
    lines = [f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores, one PostgreSQL server on the same "
             f"machine; {runs[0]['files']:,} plans of `{corpus.name}`; every writer a separate `collect` process "
             f"with {runs[0]['jobs']} worker(s).", "",
             "| writers | wall | plans/s | DB rows written | rows/s | lock waits (share of 50 ms samples, max waiting) "
             "| deadlocks | writer times | results |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        lines.append(f"| {r['writers']} | {r['wall']:,.1f} s | {r['plans_per_s']:,.1f} | {r['rows']:,} | "
                     f"{r['rows_per_s']:,.0f} | {r['lock_wait_share']:.0%} ({r['max_waiting_locks']}) | "
                     f"{r['deadlocks']} | {' / '.join(f'{x} s' for x in r['writer_seconds'])} | "
                     + ", ".join(f"{k} {v:,}" for k, v in sorted(r["results"].items())) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--writers", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=1, help="workers per writer (default 1)")
    ap.add_argument("--work", type=Path, default=ROOT / "bench-out" / "pg-scale")
    ap.add_argument("--out", type=Path, default=HERE / "pg-scale.md")
    args = ap.parse_args(argv)
    server = os.environ.get("XLTOOLS_TEST_PG_URL")
    if not server:
        raise SystemExit("set XLTOOLS_TEST_PG_URL to a PostgreSQL server URL")
    runs = measure(args.corpus, server, args.writers, args.jobs, args.work)
    text = markdown(runs, args.corpus)
    print(text)
    args.out.write_text("# Several writers into one PostgreSQL\n\n" + text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
