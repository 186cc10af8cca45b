"""``xltools collect``: read every submitted workbook into the database.

:func:`collect_paths` walks the given files and folders, checks the workbooks in
worker processes and stores the results through :class:`~xltools.store.Store`:

* **discovery** -- folders are walked recursively.  Excel lock files (``~$...``),
  LibreOffice lock files (``.~lock...#``), temporary files (``*.tmp``, ``~*.tmp``) and
  hidden files and folders are skipped.  ``.xlsx``/``.xlsm`` files are plans;
  spreadsheets saved in another format (``.xls``, ``.xlsb``, ``.ods`` ...) are plans in
  the wrong format and are recorded in the ledger as *rejected* with ``E-FILE-FORMAT``
  so that ops can chase them; anything else (``.pdf``, ``.docx``, ``.csv`` ...) is
  ignored and counted.
* **unchanged files are cheap** -- the parent hashes every file (SHA-256) and looks
  the hash up in the ledger before any parsing; a known file is never dispatched.
* **parallel and isolated** -- worker processes (default: one per core; one with
  ``jobs=1``) read, normalise and validate, and prepare what the store will write
  (:class:`~xltools.store.saving.Preparer`: values coerced, content hashed, rows as
  tuples, issue messages in both languages); they send back only that
  :class:`~xltools.store.saving.PreparedFile` and the few values of the run's summary,
  never a workbook or its PlanData.  The parent stores each result as it arrives, one
  transaction per file (which is what keeps concurrent runs safe).  A file that kills its worker costs only that file
  (``E-INTERNAL``, :mod:`xltools.workbook.workers`); a file whose stored result is
  ``E-INTERNAL`` is read again by the next run, changed or not.
* **idempotent and versioned** -- handled by the store: the same file stores nothing
  new, a changed plan gets a new current version, a second plan for the same account
  and period from another rep is a conflict (``E-CONFLICT``).
* **missing submissions** -- with a roster, every rep x account of the period for which
  no plan was received (:func:`missing_submissions`).

The package: :mod:`~xltools.collect.discovery` (what the paths hold),
:mod:`~xltools.collect.summary` (the results and their tables) and, here, the run.

A bad file never stops the run.  :attr:`CollectSummary.exit_code` is 0 when every file
is stored (warnings and validation errors inside a stored plan allowed), 1 when any
file given to the run is rejected or in conflict -- also when the ledger already knew it
-- and 3 when xltools itself failed on a file (``E-INTERNAL``).
"""
from __future__ import annotations

import hashlib
import os
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable

from xltools import clock
from xltools.checking.roster import MissingSubmission, missing_submissions
from xltools.collect.discovery import (
    PLAN_SUFFIXES,
    SKIP_REASONS,
    WRONG_FORMAT_SUFFIXES,
    Discovery,
    discover,
    is_hidden,
    is_lock_or_temp,
    resolved,
)
from xltools.collect.summary import (
    FAILED,
    RESULTS,
    UI,
    CollectSummary,
    FileResult,
    TextTable,
    render_summary,
    summary_tables,
)
from xltools.errors import UnknownLanguageError, UsageError
from xltools.messages import Label
from xltools.spec.config import Settings
from xltools.spec.issues import SEVERITIES, FileReport
from xltools.spec.periods import parse_period
from xltools.spec.spec import LANGS, Spec
from xltools.workbook.safety import not_a_file

#: the rule that needs the rep's historical win rate
WIN_RATE_CODE = "W-WIN-RATE-COVERAGE"
#: below this many files to parse, checking in the parent is faster than starting workers
MIN_PARALLEL = 4
#: results waiting to be stored before the parent stops feeding the workers
MAX_PENDING = 64


class CollectError(UsageError):
    """The collection cannot start: a path that does not exist, a bad option."""


class CollectLanguageError(CollectError, UnknownLanguageError):
    code = UnknownLanguageError.code


class CollectJobsError(CollectError):
    code = "bad-jobs"
    template = Label("--jobs は 1 以上にしてください（指定: {value}）", "--jobs must be 1 or more, got {value}")


class CollectPeriodError(CollectError):
    code = "no-period"
    template = Label("名簿と突き合わせる対象期間がわかりません。--period を指定してください。",
                     "Cannot tell which period to check the roster against: give --period.")


# -- hashing -------------------------------------------------------------------------------

@dataclass(frozen=True)
class FileId:
    path: str
    size: int
    sha256: str
    mtime: float


def file_id(path: Path) -> FileId:
    """Size, SHA-256 and mtime of ``path`` (read in blocks, never parsed)."""
    st = path.stat()
    with open(path, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    return FileId(str(path.resolve()), st.st_size, digest, st.st_mtime)


# -- workers -------------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(spec: Spec, settings: Settings, now: datetime, rates: Any = None, preparer: Any = None) -> None:
    from xltools.workbook.statictexts import workbook_texts

    _WORKER.update(spec=spec, settings=settings, now=now, rates=rates, texts=workbook_texts(spec, settings),
                   preparer=preparer)


@dataclass(frozen=True)
class Checked:
    """What a worker sends back for one file: what the store writes
    (:class:`~xltools.store.saving.PreparedFile`) and the file's account, account id, rep and
    period as the summary shows them (:func:`summary_context`)."""

    prepared: Any
    context: tuple[str | None, str | None, str | None, str | None]


def summary_context(report: FileReport) -> tuple[str | None, str | None, str | None, str | None]:
    """Account name, account id, rep and period of a report, as the summary shows them."""
    plan = report.plan
    if plan is None:
        return None, None, None, None
    meta, fields = plan.meta, plan.fields

    def ctx(key: str) -> str | None:
        v = fields.get(key) or meta.get(key)
        return str(v) if v not in (None, "") else None

    return ctx("account_name"), ctx("account_id"), ctx("rep"), ctx("period")


def _prepare_one(path: str) -> Checked:
    """Worker: :func:`_check_one`, then the store's preparation of what it will write."""
    report = _check_one(path)
    return Checked(_WORKER["preparer"].prepare(report, source_file=path), summary_context(report))


def _check_one(path: str) -> FileReport:
    """Worker: read, normalise and validate one file.

    With historical win rates (:mod:`xltools.reports.winrate`), a plan whose coverage is below
    what its rep's (else the team's) win rate needs also gets ``W-WIN-RATE-COVERAGE``."""
    from xltools.checking.check import check_file, internal_report

    spec, settings, now = _WORKER["spec"], _WORKER["settings"], _WORKER["now"]
    report = check_file(path, spec, settings, now=now, static_texts=_WORKER["texts"])
    rates = _WORKER["rates"]
    if report.plan is not None and rates is not None:
        try:
            rate = rates.rate_for(report.plan.fields.get("rep") or report.plan.meta.get("rep"))
            if rate:
                from xltools.checking.rules import run_rules

                extra = [i for i in run_rules(report.plan, spec, settings, today=clock.today(now), win_rate=rate)
                         if i.code == WIN_RATE_CODE]
                for i in extra:
                    i.file = i.file or report.file
                report.issues.extend(extra)
        except Exception as exc:  # noqa: BLE001 - a bug: E-INTERNAL (raised under CI)
            return internal_report(path, f"{type(exc).__name__}: {exc}", exc)
    return report


# -- roster --------------------------------------------------------------------------------

def resolve_period(period: str | None, settings: Settings) -> str | None:
    """``period`` normalised (``fy2026-q3`` -> ``FY2026Q3``), or None."""
    if period is None or not str(period).strip():
        return None
    return str(parse_period(period, settings.fiscal_year_start_month))


# -- the run -------------------------------------------------------------------------------

def _wrong_format(fid: FileId) -> FileReport:
    """A spreadsheet saved in a format xltools does not read: rejected without reading."""
    report = FileReport(file=fid.path)
    report.add("E-FILE-FORMAT", params={"detail": Path(fid.path).suffix.lower() or "?"})
    return report


def _unreadable_result(path: str, detail: dict[str, str]) -> FileResult:
    """A path that could not even be opened: rejected, and not in the ledger (no content)."""
    report = FileReport(file=path)
    report.add("E-FILE-UNREADABLE", params={"detail": detail})
    return FileResult(path=path, result="rejected", status="rejected", counts=report.counts(),
                      codes=("E-FILE-UNREADABLE",))


def _result(fid: FileId, checked: Checked, outcome: Any) -> FileResult:
    prepared = checked.prepared
    issues = [(i[0], i[1]) for i in prepared.issues[:prepared.report_issues]]
    issues += [(i.code, i.severity) for i in outcome.issues]
    counts = {s: 0 for s in SEVERITIES}
    for _, severity in issues:
        counts[severity] += 1
    account_name, account_id, rep, period = checked.context
    return FileResult(path=fid.path, result=outcome.result, status=outcome.file_result, sha256=fid.sha256,
                      plan_id=outcome.plan_id, version_no=outcome.version_no, account_name=account_name,
                      account_id=account_id, rep=rep, period=period, counts=counts,
                      codes=tuple(dict.fromkeys(code for code, severity in issues if severity == "error")),
                      conflict_with=outcome.conflict_with)


def _seen_result(fid: FileId, record: Any = None, duplicate_of: FileResult | None = None) -> FileResult:
    """A file whose content the ledger (or this run) already has: nothing is parsed."""
    if duplicate_of is not None:
        return FileResult(path=fid.path, result="unchanged", status=duplicate_of.status, sha256=fid.sha256,
                          plan_id=duplicate_of.plan_id, version_no=duplicate_of.version_no,
                          account_name=duplicate_of.account_name, account_id=duplicate_of.account_id,
                          rep=duplicate_of.rep, period=duplicate_of.period, counts=dict(duplicate_of.counts),
                          codes=duplicate_of.codes)
    counts = {"error": record.error_count, "warning": record.warning_count, "info": record.info_count}
    codes = tuple(c for c in (record.detail or "").split("; ") if c)
    return FileResult(path=fid.path, result="unchanged", status=record.result, sha256=fid.sha256,
                      plan_id=record.plan_id, counts=counts, codes=codes)


def _fill_context(store: Any, results: list[FileResult]) -> None:
    """Account, rep, period and version of files known before this run, from the ledger."""
    need = [r for r in results if r.result == "unchanged" and r.plan_id and r.account_name is None]
    if not need:
        return
    by_sha = {f["sha256"]: f for f in store.files()}
    for r in need:
        f = by_sha.get(r.sha256)
        if f is not None:
            r.account_name, r.account_id, r.rep, r.period = (f.get("account_name"), f.get("account_id"),
                                                             f.get("rep"), f.get("period"))
            r.version_no = f.get("version_no")


class _Progress:
    """A rich progress bar on a terminal (stderr); nothing otherwise."""

    def __init__(self, enabled: bool, total: int, lang: str):
        self.bar = None
        if not enabled or total == 0 or not sys.stderr.isatty():  # rich is imported only for a bar
            return
        from rich.console import Console

        console = Console(stderr=True)
        if not console.is_terminal:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeRemainingColumn(), console=console, transient=True)
        self.bar.start()
        self.task = self.bar.add_task(UI["progress"](lang), total=total)

    def advance(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.advance(self.task, n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def collect_paths(paths: Iterable[str | os.PathLike[str]], store: Any, spec: Spec, settings: Settings, *,
                  roster: str | os.PathLike[str] | None = None, period: str | None = None, jobs: int | None = None,
                  progress: bool = False, lang: str = "ja", now: datetime | None = None) -> CollectSummary:
    """Collect every plan under ``paths`` into ``store`` and return the summary.

    ``spec``: the spec with the company lists applied; ``roster``: a roster file (see
    :mod:`xltools.checking.roster`) -- its lines without a plan for ``period`` end up in
    ``summary.missing`` and it is stored as the roster of the period (``report`` uses it);
    ``period`` (``FY2026Q3``): the collection period for the roster
    (default: the period most plans of this run are for); ``jobs``: worker processes
    (default: every core; 1 = no workers); ``progress``: a progress bar when stderr is
    a terminal; ``now``: the time of the run (default: :func:`xltools.clock.now`) -- every
    file is stamped ``collected_at`` = ``now``, the business rules compare against its
    local date."""
    if lang not in LANGS:
        raise CollectLanguageError(allowed=", ".join(LANGS), value=lang)
    if jobs is not None and jobs < 1:
        raise CollectJobsError(value=jobs)
    started = time.perf_counter()
    collected_at = now = clock.resolve(now)
    period = resolve_period(period, settings)
    entries = None
    if roster is not None:
        from xltools.checking.roster import read_roster

        entries = read_roster(roster, spec)  # a bad roster fails before any file is touched
    found = discover(paths)
    store.ensure_schema()
    summary = CollectSummary(ignored=[str(p) for p in found.ignored], skipped=[str(p) for p in found.skipped],
                             skip_reasons={str(p): r for p, r in found.reasons.items()}, period=period)
    results: dict[str, FileResult] = {}
    order: list[str] = []
    for p, kind in found.unreadable:  # named, but no file: a result of its own, not stored
        path = str(resolved(p) if kind not in ("link-loop", "broken-link") else Path(os.path.abspath(p)))
        if path not in results:
            order.append(path)
            results[path] = _unreadable_result(path, not_a_file(p, kind=kind).params["detail"])

    bar = _Progress(progress, len(found.plans) + len(found.wrong_format), lang)

    def store_one(fid: FileId, value: Checked | FileReport) -> None:
        checked = value if isinstance(value, Checked) else Checked(
            store.preparer.prepare(value, source_file=fid.path), summary_context(value))
        outcome = store.save_prepared(checked.prepared, path=fid.path, size=fid.size, sha256=fid.sha256,
                                      mtime=fid.mtime, collected_at=collected_at)
        results[fid.path] = _result(fid, checked, outcome)
        bar.advance()

    n_jobs = max(1, jobs or os.cpu_count() or 1)
    summary.jobs = 1 if n_jobs == 1 or len(found.plans) < MIN_PARALLEL else min(n_jobs, len(found.plans))
    reader = _Dispatcher(store, spec, settings, now, summary.jobs, store_one)
    try:
        dup_of: dict[str, list[FileId]] = {}  # sha -> later paths with the same content
        first_path: dict[str, str] = {}
        for p in found.plans + found.wrong_format:
            try:
                fid = file_id(p)
            except OSError as e:
                path = str(resolved(p))
                order.append(path)
                results[path] = _unreadable_result(path, not_a_file(p, e).params["detail"])
                bar.advance()
                continue
            order.append(fid.path)
            if fid.sha256 in first_path:
                dup_of.setdefault(fid.sha256, []).append(fid)
                continue
            first_path[fid.sha256] = fid.path
            record = store.file_seen(fid.sha256)
            if record is not None and record.result != "conflict" and not record.internal_failure:
                # read again: a conflicting file (the store makes it current once the conflict
                # is gone) and a file xltools itself failed on (E-INTERNAL)
                results[fid.path] = _seen_result(fid, record)
                bar.advance()
            elif p.suffix.lower() in WRONG_FORMAT_SUFFIXES:
                reader.ready(fid, _wrong_format(fid))
            else:
                reader.submit(fid)
        reader.finish()
        for sha, fids in dup_of.items():
            first = results[first_path[sha]]
            for fid in fids:
                results[fid.path] = _seen_result(fid, duplicate_of=first)
                bar.advance()
    except BaseException:
        reader.close(cancel=True)  # interrupted or the database failed: read nothing more
        raise
    finally:
        bar.close()

    summary.files = [results[p] for p in order]
    _fill_context(store, summary.files)
    if entries is not None:
        summary.roster_errors = list(entries.errors)
        summary.period = period or _main_period(summary.files)
        if summary.period is None:
            raise CollectPeriodError()
        received = store.versions(summary.period, all_versions=True)
        summary.missing = missing_submissions(entries, received, summary.period)
        from xltools.store.rosters import save_roster

        save_roster(store, summary.period, entries, path=roster, now=now)  # report checks against it
    summary.seconds = time.perf_counter() - started
    return summary


class _Dispatcher:
    """Reads new files in worker processes while the parent goes on hashing, and stores
    each result (:class:`Checked`, prepared in the worker) -- in the order the files were
    found, whatever order the workers finish in, so the ledger is the same at any ``jobs``.

    Every file is read in a worker (:class:`~xltools.workbook.workers.ReadPool`), even with one
    job: a file that kills its reader is rejected with ``E-INTERNAL``, the pool is
    rebuilt and the files that were in flight with it are read again, one at a time.
    The pool starts with the first new file (a run of unchanged files starts none); at
    most ``MAX_PENDING`` files are in flight, so reports never pile up in the parent."""

    def __init__(self, store: Any, spec: Spec, settings: Settings, now: datetime, jobs: int,
                 store_one: Callable[[FileId, Checked | FileReport], None]):
        self.store, self.spec, self.settings, self.now = store, spec, settings, now
        self.jobs, self.store_one = jobs, store_one
        self.pool: Any = None
        self.order: deque[FileId] = deque()  # files to store, in order
        self.done: dict[FileId, Checked | FileReport] = {}  # results waiting for the files before them
        # one job: one file queued behind the one being read, so the worker never waits
        self.limit = 2 if jobs == 1 else max(MAX_PENDING, 2 * jobs)

    def _start(self) -> None:
        from xltools.reports.winrate import win_rates
        from xltools.workbook.workers import ReadPool

        rates = win_rates(self.store, self.settings)
        self.pool = ReadPool(_prepare_one, self.jobs, initializer=_init_worker,
                             initargs=(self.spec, self.settings, self.now, rates, self.store.preparer))

    def submit(self, fid: FileId) -> None:
        """Read ``fid`` in a worker."""
        if self.pool is None:
            self._start()
        while self.pool.pending >= self.limit:
            self._collect(block=True)
        self.order.append(fid)
        self.pool.submit(fid, fid.path)
        self._collect(block=False)

    def ready(self, fid: FileId, report: FileReport) -> None:
        """Store a report made in the parent (a file in the wrong format) in its turn."""
        self.order.append(fid)
        self.done[fid] = report
        self._flush()

    def _collect(self, block: bool) -> None:
        from xltools.checking.check import worker_report

        if self.pool is not None:
            for fid, value in self.pool.results(block=block):
                self.done[fid] = value if isinstance(value, Checked) else worker_report(fid.path, value)
        self._flush()

    def _flush(self) -> None:
        while self.order and self.order[0] in self.done:
            fid = self.order.popleft()
            self.store_one(fid, self.done.pop(fid))

    def finish(self) -> None:
        while self.order:
            self._collect(block=True)
        self.close()

    def close(self, cancel: bool = False) -> None:
        """Stop the workers (``cancel``: without reading the files still queued)."""
        if self.pool is not None:
            self.pool.close(cancel=cancel)
            self.pool = None


def _main_period(files: list[FileResult]) -> str | None:
    periods = Counter(f.period for f in files if f.period)
    return periods.most_common(1)[0][0] if periods else None


__all__ = ["PLAN_SUFFIXES", "SKIP_REASONS", "WRONG_FORMAT_SUFFIXES", "Discovery", "discover", "is_hidden",
           "is_lock_or_temp", "resolved", "FAILED", "RESULTS", "UI", "CollectSummary", "FileResult", "render_summary",
           "summary_tables", "TextTable", "MissingSubmission", "missing_submissions", "CollectError", "collect_paths",
           "file_id", "FileId", "resolve_period"]
