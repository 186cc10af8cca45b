"""What the roll-up reads: :func:`gather` from the store's read API, the big row sets
streamed from one read snapshot (:class:`xltools.store.snapshot.Snapshot`)."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from xltools import clock
from xltools.checking.roster import MissingSubmission, missing_submissions
from xltools.reports.rollup.common import RollupError, _local, _period_or_none
from xltools.reports.rollup.figures import month_changes
from xltools.spec.config import Settings
from xltools.spec.contract import T
from xltools.spec.periods import parse_period
from xltools.spec.spec import Spec
from xltools.store.queries import ReadStore, Snapshot

if TYPE_CHECKING:
    from xltools.store.snapshot import Picked, Stream


@dataclass
class RollupData:
    """Everything the roll-up shows.  The big row sets (opportunities, contacts,
    activities, issues) are :class:`~xltools.store.snapshot.Stream` objects read from one
    snapshot of the store
    while the workbook is written; the rest are lists."""

    period: str | None
    today: date
    generated_at: datetime
    versions: list[dict]
    rows: dict[str, Any]  # spec table -> records (list or Stream)
    files: list[dict]
    issues: Any  # Stream of issue records (message in the roll-up's language)
    history: list[dict]
    earlier_cases: list[dict]
    win_rates: Any = None  # xltools.reports.winrate.WinRates
    missing: list[MissingSubmission] | None = None
    roster_path: str | None = None  # the roster's file name (a stored roster) or the file given
    roster: Any = None  # the roster lines (xltools.checking.roster.Roster) the submissions are checked against
    changes: list[dict] = dataclasses.field(default_factory=list)  # :func:`month_changes`
    #: the passes over the contacts and activities made in the win rates' process
    #: (``"contacts"``: :class:`~.figures.ContactScan`, ``"activities"``: :class:`~.figures.ActivityScan`),
    #: set by :func:`settle_win_rates`; a sheet makes the ones missing itself
    scans: dict[str, Any] = dataclasses.field(default_factory=dict)


def latest_period(store: ReadStore, settings: Settings, snapshot: Snapshot | None = None) -> str | None:
    """The latest period that has a current plan (``FY2026Q3``), or None; ``snapshot``:
    read from it (only the periods) instead of the store's current versions."""
    periods = snapshot.current_periods() if snapshot is not None else [v.get("period") for v in store.current_versions()]
    found = {_period_or_none(p, settings.fiscal_year_start_month) for p in periods}
    found.discard(None)
    if not found:
        return None
    return str(max(found, key=lambda p: (p.start, p.quarter is not None)))


#: spec tables with many rows per plan: streamed, never held in memory as a whole
STREAMED = (T.OPPORTUNITIES, T.CONTACTS, T.ACTIVITIES, T.KPIS)


def gather(store: ReadStore, spec: Spec, settings: Settings, snapshot: Snapshot, *, period: str | None = None,
           roster: str | os.PathLike | None = None, now: datetime | None = None, lang: str = "ja",
           processes: int = 1) -> RollupData:
    """Read what the roll-up needs from ``store`` (big row sets as streams of
    ``snapshot``).  ``period``: ``FY2026Q3`` or ``FY2026`` (default: the latest period
    with a current plan); ``roster``: a roster file (default: the roster ``collect --roster``
    stored for the period, if any); ``now`` (default: :func:`xltools.clock.now`): ``generated_at``,
    and ``today`` is its local date.  ``processes``: 2 computes the win rates (a pass over
    every stored opportunity) in a forked process meanwhile -- ``win_rates`` is then a
    :class:`LaterWinRates` until :func:`settle_win_rates`."""
    now = clock.resolve(now)
    start = settings.fiscal_year_start_month
    if period is not None and str(period).strip():
        period = str(parse_period(period, start))
    else:
        period = latest_period(store, settings, snapshot)
    entries = None
    if roster is not None:
        from xltools.checking.roster import read_roster

        entries = read_roster(roster, spec)
    selected = _period_or_none(period, start)
    later = LaterWinRates.start(store, settings, selected, snapshot, processes,  # meanwhile, in a second process
                                scans=(spec, clock.today(now), period))
    try:
        rows: dict[str, Any] = {t: snapshot.rows(t, period) for t in STREAMED}
        rows.update({t: store.rows(t, period) for t in (T.REVIEWS, T.SUCCESS_CASES)})
        earlier: list[dict] = []
        if selected is not None:
            for r in store.rows(T.SUCCESS_CASES, None, all_versions=True):
                p = _period_or_none(r.get("period"), start)
                if p is not None and p.start < selected.start:
                    earlier.append(r)
        history = store.versions(period, all_versions=True, long_texts=False)  # no sheet shows the long texts
        current = [v for v in history if v["is_current"]]  # the current versions, read once with the rest
        data = RollupData(period=period, today=clock.today(now), generated_at=_local(now),
                          versions=current, rows=rows, files=store.files(period),
                          issues=snapshot.issues(period, lang), history=history, earlier_cases=earlier,
                          win_rates=later)
        data.changes = month_changes(store, spec, settings, history, data.versions, data.today)
        if entries is None and period is not None:
            from xltools.store.rosters import stored_roster

            entries = stored_roster(store, period)
            roster = entries.path if entries is not None else None
        if entries is not None:
            if period is None:
                raise RollupError("名簿と突き合わせる対象期間がわかりません。--period を指定してください。 / "
                                  "Cannot tell which period to check the roster against: give --period.")
            data.missing = missing_submissions(entries, history, period)
            data.roster_path = Path(str(roster).replace("\\", "/")).name if roster else None  # no local folders
            data.roster = entries
        return data
    except BaseException:
        if isinstance(later, LaterWinRates):
            later.close()
        raise


# -- the win rates, in a forked process --------------------------------------------------------

#: what the forked process of :class:`LaterWinRates` needs, set just before the fork
_FORKED: list = []


def _win_rates_in_child(_: Any) -> Any:
    """In the forked process: the win rates read through a connection of its own, and then
    the passes over the contacts and activities (:func:`child_scans`), or None when the
    database has changed since the parent read it."""
    from xltools.reports.winrate import win_rates

    store, settings, until, snapshot, fingerprint, scans = _FORKED[0]
    snapshot.reopen_in_child()
    if snapshot.fingerprint() != fingerprint:
        return None
    rates = win_rates(store, settings, until=until, snapshot=snapshot)
    return rates, (child_scans(snapshot, settings, *scans) if scans is not None else {})


def child_scans(snapshot: Snapshot, settings: Settings, spec: Spec, today: date, period: str | None) -> dict[str, Any]:
    """The passes of the relationships and activities sheets over the streamed contacts and
    activities of ``period`` (:attr:`RollupData.scans`), read from ``snapshot``: the
    same rows, in the same order, as the sheets' own streams."""
    from xltools.reports.rollup.figures import CONTACT_SCAN_KEYS, activity_scan, activity_scan_keys, contact_scan

    contacts = _ids_and(snapshot.rows(T.CONTACTS, period), CONTACT_SCAN_KEYS)
    activities = _ids_and(snapshot.rows(T.ACTIVITIES, period), activity_scan_keys(spec))
    return {"contacts": contact_scan(spec, settings, today, contacts),
            "activities": activity_scan(spec, today, activities)}


class LaterWinRates:
    """The win rates of :func:`gather`, computed in a forked process while this one goes
    on (or here, at once, where it cannot fork); :meth:`result` waits for them."""

    def __init__(self, store: ReadStore, settings: Settings, until: Any, snapshot: Snapshot, worker: Any = None,
                 value: Any = None):
        self.store, self.settings, self.until, self.snapshot = store, settings, until, snapshot
        self.worker, self.value = worker, value
        #: the worker's passes over the contacts and activities (:attr:`RollupData.scans`)
        self.scans: dict[str, Any] = {}

    @classmethod
    def start(cls, store: ReadStore, settings: Settings, until: Any, snapshot: Snapshot, processes: int,
              scans: tuple[Spec, date, str | None] | None = None) -> Any:
        """``scans``: (spec, today, period): the worker also makes the passes of
        :func:`child_scans` after the win rates."""
        from xltools.reports.rollup.common import can_fork
        from xltools.reports.winrate import win_rates
        from xltools.workbook.workers import ForkedWorker

        if not can_fork(processes, snapshot):
            return win_rates(store, settings, until=until, snapshot=snapshot)
        _FORKED[:] = [(store, settings, until, snapshot, snapshot.fingerprint(), scans)]
        try:
            worker = ForkedWorker(_win_rates_in_child)
            worker.submit(None)
        finally:
            _FORKED.clear()
        return cls(store, settings, until, snapshot, worker)

    def result(self) -> Any:
        from xltools.reports.rollup.common import SHEETS, worker_value
        from xltools.reports.winrate import win_rates

        if self.worker is not None:
            worker, self.worker = self.worker, None
            try:
                value = worker_value(worker.result(), SHEETS["coverage"]("ja"))
            finally:
                worker.kill()
            if value is not None:
                self.value, self.scans = value
            if self.value is None:  # the database changed under the worker: from this snapshot
                self.value = win_rates(self.store, self.settings, until=self.until, snapshot=self.snapshot)
        return self.value

    def close(self) -> None:
        """Stop the worker if it still runs (the roll-up failed before it needed the rates)."""
        if self.worker is not None:
            self.worker.kill()
            self.worker = None


def settle_win_rates(data: RollupData) -> None:
    """``data.win_rates`` computed (waiting for the forked process of :func:`gather`)."""
    if isinstance(data.win_rates, LaterWinRates):
        later = data.win_rates
        data.win_rates = later.result()
        data.scans.update(later.scans)
        later.scans = {}  # the sheets drop them once used: nothing else keeps them


# -- streamed rows -----------------------------------------------------------------------------

def with_ids(data: RollupData, table: str, keys: Iterable[str] | None = None) -> Iterator[tuple[int, dict]]:
    """The streamed rows of ``table`` with their row IDs, for :func:`picked`; ``keys``:
    only these columns of each row (a pass that chooses rows to show later)."""
    stream = data.rows[table]
    if keys is None:
        return zip(stream.snapshot.row_ids(table, data.period), stream)
    return _ids_and(stream, keys)


def _ids_and(stream: Stream, keys: Iterable[str]) -> Iterator[tuple[int, dict]]:
    """(row ID, record of only ``keys``) of each row of a stream of :meth:`Snapshot.rows`."""
    return ((rec.pop("_row_id"), rec) for rec in stream.only(*keys, row_id=True))


def picked(data: RollupData, table: str, ids: list[int]) -> Picked:
    """The rows of ``table`` with these row IDs (:func:`with_ids`), in this order, read
    again from the snapshot when they are written (a long list holds only the IDs)."""
    return data.rows[table].snapshot.picked(table, ids)


class _Chain:
    """A short list followed by a stream, as one sequence of records."""

    def __init__(self, first: list[dict], rest: Stream):
        self.first, self.rest = first, rest

    def __len__(self) -> int:
        return len(self.first) + len(self.rest)

    def head(self, n: int) -> list[dict]:
        return self.first[:n] + (self.rest.head(n - len(self.first)) if n > len(self.first) else [])

    def __iter__(self):
        yield from self.first
        yield from self.rest
