"""``xltools check``: one :class:`~xltools.spec.issues.FileReport` per workbook.

:func:`check_file` runs the pipeline for one file -- safety checks and reading
(:func:`xltools.workbook.reader.read_workbook`, which refuses unsafe files before any parser
sees them), validation (:mod:`xltools.checking.validate`) and business rules
(:mod:`xltools.checking.rules`).  A file that cannot be read gives exactly ONE file-level
issue and the run goes on.  Only the reader's own verdicts (:class:`FileProblem`)
say a file is damaged; any other exception is a bug in xltools: ``E-INTERNAL``
("please report") with the exception text, never a traceback -- and under the
``CI`` environment variable the exception itself, so that a test run fails.  The
checked file is only read.

:func:`check_files` checks many files, each in a worker process that may die
(:mod:`xltools.workbook.workers`): a file that kills its reader gets one ``E-INTERNAL``
issue and every other file its real report.  It optionally writes annotated copies;
:func:`render` formats the reports as text (grouped by file, most severe first,
aligned by display width for Japanese terminals) or JSON.
"""
from __future__ import annotations

import json
import os
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from xltools import clock
from xltools.checking.worker import LOAD_CONTEXT, check_worker
from xltools.errors import EXIT_DATA, EXIT_FAILED, EXIT_OK, UnknownFormatError, UnknownLanguageError, WinRateError
from xltools.spec.config import Settings
from xltools.spec.issues import INTERNAL, SEVERITIES, FileReport, Issue, sort_issues
from xltools.spec.spec import LANGS, Label, Spec
from xltools.workbook.statictexts import workbook_texts

if TYPE_CHECKING:
    from xltools.workbook.workers import ForkedWorker, ReadPool

#: words of the text report
_UI = {
    "error": Label("エラー", "error"),
    "warning": Label("警告", "warning"),
    "info": Label("情報", "info"),
    "valid": Label("OK", "OK"),
    "invalid": Label("NG", "NG"),
    "raw": Label("入力値", "value"),
    "annotated": Label("注記付きのコピー", "annotated copy"),
    "annotate_error": Label("注記付きのコピーを作成できません", "no annotated copy"),
}


def _lang(lang: str) -> str:
    if lang not in LANGS:
        raise UnknownLanguageError(allowed=", ".join(LANGS), value=lang)
    return lang


def check_file(path: str | os.PathLike[str], spec: Spec, settings: Settings, *, lang: str = "ja",
               now: datetime | None = None, win_rate: float | None = None,
               static_texts: Iterable[str] | None = None) -> FileReport:
    """Check one workbook: safety -> read -> validate -> rules.

    ``spec`` is the spec with the company lists applied (``settings.apply(spec)``);
    ``lang`` the language the report will be shown in (checked here so a bad value
    fails before any file is read); the date rules compare against the local date of
    ``now`` (default: :func:`xltools.clock.now`);
    ``win_rate`` is the rep's historical win rate (0 < rate <= 1): coverage below
    1 / win_rate gives ``W-WIN-RATE-COVERAGE``; ``static_texts`` the generator's own
    texts (default: :func:`workbook_texts`).  ``report.plan`` is the PlanData when
    the file could be read; ``report.stats`` holds rows per table, fields filled and
    the seconds spent reading and validating.
    """
    _lang(lang)
    today = clock.today(clock.resolve(now))
    if win_rate is not None and not (0 < win_rate <= 1):
        raise WinRateError(value=win_rate)
    from xltools.checking.rules import run_rules
    from xltools.checking.validate import plan_stats, validate
    from xltools.workbook.reader import FileProblem, Limits, read_workbook

    name = str(path)
    report = FileReport(file=name)
    t0 = time.perf_counter()
    try:
        texts = static_texts if static_texts is not None else workbook_texts(spec, settings)
        try:
            raw = read_workbook(path, spec, limits=Limits.from_settings(settings), static_texts=texts)
        except FileProblem as problem:
            report.issues = [problem.to_issue(name)]
            report.stats = {"read_seconds": _secs(t0)}
            return report
        t1 = time.perf_counter()
        plan, issues = validate(raw, spec, settings)
        issues += run_rules(plan, spec, settings, today=today, win_rate=win_rate)
        for i in issues:
            i.file = name
        report.issues, report.plan = issues, plan
        report.stats = {**plan_stats(plan, spec), "read_seconds": round(t1 - t0, 4), "validate_seconds": _secs(t1)}
    except Exception as exc:  # noqa: BLE001 - a bug in xltools: never a traceback, never "damaged"
        report = internal_report(name, f"{type(exc).__name__}: {exc}", exc)
        report.stats = {"read_seconds": _secs(t0)}
    return report


def internal_report(path: str, detail: str | dict[str, str], exc: BaseException | None = None) -> FileReport:
    """The report of a file xltools failed on (``E-INTERNAL``).  Under the ``CI``
    environment variable it raises instead (``exc``, or a RuntimeError): a bug must
    fail the test run, not hide in a report."""
    if os.environ.get("CI"):
        if exc is not None:
            raise exc
        raise RuntimeError(f"{path}: {detail['en'] if isinstance(detail, dict) else detail}")
    report = FileReport(file=path)
    report.add(INTERNAL, params={"detail": detail})
    return report



def _secs(since: float) -> float:
    return round(time.perf_counter() - since, 4)


def check_files(paths: Iterable[str | os.PathLike[str]], spec: Spec, settings: Settings, *, lang: str = "ja",
                annotate_dir: str | os.PathLike[str] | None = None, now: datetime | None = None,
                win_rate: float | None = None, worker: "ForkedWorker | ReadPool | None" = None) -> list[FileReport]:
    """Check every file, in order, each in a worker process (:mod:`xltools.workbook.workers`): a
    file that kills its reader gets one ``E-INTERNAL`` issue, the others their real
    reports.  With ``annotate_dir`` also write an annotated copy of each readable
    workbook there (``report.stats["annotated"]`` is its path).  ``worker``: from
    :func:`check_worker` (default: a new one), closed here.  ``now`` (default:
    :func:`xltools.clock.now`, read once): see :func:`check_file`; it is also the
    "checked at" time of the annotated copies."""
    with worker if worker is not None else check_worker() as pool:
        _lang(lang)
        now = clock.resolve(now)
        paths = list(paths)
        out_dir = Path(annotate_dir) if annotate_dir is not None else None
        if out_dir is not None:
            from xltools.checking.annotate import prepare_dir

            prepare_dir(out_dir, paths)
        try:
            texts = workbook_texts(spec, settings)
        except Exception:  # noqa: BLE001 - check_file then reports the failure on each file
            texts = None
        if win_rate is not None and not (0 < win_rate <= 1):
            raise WinRateError(value=win_rate)
        used: set[str] = set()
        reports: list[FileReport] = []
        if pool.initargs[:1] != (LOAD_CONTEXT,):  # not already sent by send_context
            pool.initargs = (spec, settings, now, win_rate, texts)
        for p in paths:
            reports.append(_annotated(worker_report(str(p), pool.run(str(p))), p, out_dir, used, spec, lang, now,
                                      settings))
    return reports


def worker_report(path: str, value: "FileReport | BaseException") -> FileReport:
    """What a worker returned for ``path``: its report, or ``E-INTERNAL`` when it died
    (:class:`~xltools.workbook.workers.WorkerDied`) or failed."""
    from xltools.workbook.workers import WorkerDied

    if isinstance(value, FileReport):
        return value
    if isinstance(value, WorkerDied):
        return internal_report(path, {"ja": value.describe("ja"), "en": value.describe("en")})
    return internal_report(path, f"{type(value).__name__}: {value}", value)


_WORKER: dict[str, Any] = {}


def _init_check_worker(*initargs: Any) -> None:
    """What the worker checks with: ``(spec, settings, now, win_rate, texts)``, or
    ``(LOAD_CONTEXT, config_path, now, win_rate)`` to load the spec, settings and texts here
    (:func:`xltools.checking.worker.send_context`)."""
    if initargs[0] == LOAD_CONTEXT:
        from xltools.spec.config import load_context

        _, config_path, now, win_rate = initargs
        spec, settings = load_context(config_path)
        try:
            texts: set[str] | None = workbook_texts(spec, settings)
        except Exception:  # noqa: BLE001 - check_file then reports the failure on each file
            texts = None
    else:
        spec, settings, now, win_rate, texts = initargs
    _WORKER.update(spec=spec, settings=settings, now=now, win_rate=win_rate, texts=texts)


def _warm_up() -> None:
    """Before the worker's first file, while it waits: the spec and the static texts of the
    default settings (``./xltools.toml`` or none) loaded -- both are cached, so the context
    sent next is quick to load when it is the same.  A failure here is left to the real load."""
    from xltools.spec.config import load_context

    try:
        workbook_texts(*load_context(None))
    except Exception:  # noqa: BLE001 - reported when the context is really loaded
        pass


def _check_in_worker(path: str) -> FileReport:
    w = _WORKER
    return check_file(path, w["spec"], w["settings"], now=w["now"], win_rate=w["win_rate"],
                      static_texts=w["texts"])


def _annotated(report: FileReport, p: str | os.PathLike[str], out_dir: Path | None, used: set[str], spec: Spec,
               lang: str, now: datetime, settings: Settings | None = None) -> FileReport:
    """With ``out_dir``: write the annotated copy of a readable workbook there."""
    if out_dir is None or not report.readable:
        return report
    from xltools.checking.annotate import annotate_workbook, unique_name

    dest = out_dir / unique_name(Path(p).name, used)
    try:
        report.stats["annotated"] = str(annotate_workbook(report, dest, spec=spec, lang=lang, now=now,
                                                                  settings=settings))
    except Exception as exc:  # noqa: BLE001 - the check result stands; say why there is no copy
        report.stats["annotate_error"] = f"{type(exc).__name__}: {exc}"
    return report


def exit_code(reports: Iterable[FileReport]) -> int:
    """0 when no file has errors, 1 when any has, 3 when xltools failed on one (``E-INTERNAL``)."""
    reports = list(reports)
    if any(i.code == INTERNAL for r in reports for i in r.issues):
        return EXIT_FAILED
    return EXIT_OK if all(r.valid for r in reports) else EXIT_DATA


# -- output ---------------------------------------------------------------------------

def render(reports: list[FileReport], fmt: str = "text", lang: str = "ja") -> str:
    """The reports as ``text`` or ``json`` (``{"files": [FileReport.to_dict()]}``)."""
    _lang(lang)
    if fmt == "json":
        return json.dumps({"files": [r.to_dict(lang) for r in reports]}, ensure_ascii=False, indent=2)
    if fmt != "text":
        raise UnknownFormatError(value=fmt, allowed="text or json")
    return render_text(reports, lang)


def _pad(text: str, width: int) -> str:
    from xltools.textwidth import display_width

    return text + " " * max(0, width - display_width(text))


def _position(i: Issue) -> str:
    if i.sheet and i.cell:
        return f"{i.sheet}!{i.cell}"
    return i.sheet or i.table or "-"


def _counts(report: FileReport, lang: str) -> str:
    c = report.counts()
    sep = "・" if lang == "ja" else ", "
    return sep.join(f"{_UI[s](lang)} {c[s]}" for s in SEVERITIES)


def render_text(reports: list[FileReport], lang: str = "ja") -> str:
    """Grouped by file, most severe first; columns aligned by display width
    (East Asian wide characters count 2).  What came from the workbook -- file and sheet
    names, typed values -- is shown with control and format characters escaped
    (:func:`xltools.textwidth.printable`): a file cannot drive the terminal it is checked on."""
    from xltools.textwidth import display_width, printable

    lines: list[str] = []
    for r in reports:
        verdict = _UI["valid" if r.valid else "invalid"](lang)
        lines.append(f"{printable(r.file)}  {verdict}  ({_counts(r, lang)})")
        if (figures := _figures(r, lang)) is not None:
            lines.append("  " + printable(figures))
        issues = sort_issues(r.issues)
        rows = [(_UI[i.severity](lang), i.code, printable(_position(i)), printable(_message(i, lang)))
                for i in issues]
        widths = [max((display_width(row[k]) for row in rows), default=0) for k in range(3)]
        for row in rows:
            lines.append("  " + "  ".join(_pad(row[k], widths[k]) for k in range(3)) + "  " + row[3])
        if "annotated" in r.stats:
            lines.append(f"  → {_UI['annotated'](lang)}: {printable(str(r.stats['annotated']))}")
        if "annotate_error" in r.stats:
            lines.append(f"  → {_UI['annotate_error'](lang)}: {printable(str(r.stats['annotate_error']))}")
    valid = sum(1 for r in reports if r.valid)
    if lang == "ja":
        lines.append(f"{len(reports)} ファイル：OK {valid}・NG {len(reports) - valid}")
    else:
        lines.append(f"{len(reports)} file(s): {valid} OK, {len(reports) - valid} with errors")
    return "\n".join(lines)


def _figures(r: FileReport, lang: str) -> str | None:
    """One line of the plan's coverage, as the workbook's ③ sheet computes it."""
    from xltools.spec.spec import load_spec

    d = r.plan.derived if r.plan is not None else {}
    if not d.get("target_applied"):
        return None
    assert r.plan is not None  # d is {} without a plan
    spec = load_spec()
    target = r.plan.fields.get("sales_target")

    def yen(v: int | None) -> str:
        return "-" if v is None else (f"{v:,}円" if lang == "ja" else f"JPY {v:,}")

    ratio = d.get("coverage_ratio")
    try:
        verdict = spec.choices("verdict").get(d.get("coverage_verdict")).label(lang)
    except KeyError:
        verdict = "-"
    shown = "-" if ratio is None else (f"{ratio:.2f}倍" if lang == "ja" else f"{ratio:.2f}x")
    label = {k: spec.field(k).label(lang) for k in ("period_pipeline", "sales_target", "coverage_ratio",
                                                    "outside_period_total", "period_weighted")}
    sep = "・" if lang == "ja" else ", "
    return (f"{d['target_applied']}: {label['period_pipeline']} {yen(d.get('period_pipeline'))} ÷ "
            f"{label['sales_target']} {yen(target)} = {label['coverage_ratio']} {shown} ({verdict})"
            f"{sep}{label['period_weighted']} {yen(d.get('period_weighted'))}"
            f"{sep}{label['outside_period_total']} {yen(d.get('outside_period_total'))}")


def _message(i: Issue, lang: str) -> str:
    msg = i.message(lang)
    if i.field:
        msg = f"[{i.field}] {msg}"
    if i.raw is not None and i.type.scope != "plan" and str(i.raw) not in msg:
        raw = str(i.raw).replace("\n", " ")
        raw = raw if len(raw) <= 40 else raw[:39] + "…"
        msg += f"  ({_UI['raw'](lang)}: {raw})"
    return msg
