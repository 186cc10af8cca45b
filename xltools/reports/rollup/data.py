"""What the roll-up reads: :func:`gather` from the store, and the big row sets streamed
from one read snapshot (:class:`_Snapshot`, :class:`_Stream`)."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable

from xltools import clock
from xltools.checking.roster import MissingSubmission, missing_submissions
from xltools.reports.rollup.common import RollupError, _local, _period_or_none
from xltools.reports.rollup.figures import month_changes
from xltools.spec.config import Settings
from xltools.spec.periods import parse_period
from xltools.spec.spec import Spec


@dataclass
class RollupData:
    """Everything the roll-up shows.  The big row sets (opportunities, contacts,
    activities, issues) are :class:`_Stream` objects read from one snapshot of the store
    while the workbook is written; the rest are lists."""

    period: str | None
    today: date
    generated_at: datetime
    versions: list[dict]
    rows: dict[str, Any]  # spec table -> records (list or _Stream)
    files: list[dict]
    issues: Any  # _Stream of issue records (message in the roll-up's language)
    history: list[dict]
    earlier_cases: list[dict]
    win_rates: Any = None  # xltools.reports.winrate.WinRates
    missing: list[MissingSubmission] | None = None
    roster_path: str | None = None  # the roster's file name (a stored roster) or the file given
    roster: Any = None  # the roster lines (xltools.checking.roster.Roster) the submissions are checked against
    changes: list[dict] = dataclasses.field(default_factory=list)  # :func:`month_changes`


def latest_period(store: Any, settings: Settings) -> str | None:
    """The latest period that has a current plan (``FY2026Q3``), or None."""
    found = {_period_or_none(v.get("period"), settings.fiscal_year_start_month)
             for v in store.current_versions()}
    found.discard(None)
    if not found:
        return None
    return str(max(found, key=lambda p: (p.start, p.quarter is not None)))


#: spec tables with many rows per plan: streamed, never held in memory as a whole
STREAMED = ("Opportunities", "Contacts", "Activities")


def gather(store: Any, spec: Spec, settings: Settings, snapshot: "_Snapshot", *, period: str | None = None,
           roster: str | os.PathLike | None = None, now: datetime | None = None, lang: str = "ja") -> RollupData:
    """Read what the roll-up needs from ``store`` (big row sets as streams of
    ``snapshot``).  ``period``: ``FY2026Q3`` or ``FY2026`` (default: the latest period
    with a current plan); ``roster``: a roster file (default: the roster ``collect --roster``
    stored for the period, if any); ``now`` (default: :func:`xltools.clock.now`): ``generated_at``,
    and ``today`` is its local date."""
    now = clock.resolve(now)
    start = settings.fiscal_year_start_month
    if period is not None and str(period).strip():
        period = str(parse_period(period, start))
    else:
        period = latest_period(store, settings)
    entries = None
    if roster is not None:
        from xltools.checking.roster import read_roster

        entries = read_roster(roster, spec)
    rows: dict[str, Any] = {t: snapshot.rows(t, period) for t in STREAMED}
    rows.update({t: store.rows(t, period) for t in ("Reviews", "SuccessCases", "KPIs")})
    selected = _period_or_none(period, start)
    earlier: list[dict] = []
    if selected is not None:
        for r in store.rows("SuccessCases", None, all_versions=True):
            p = _period_or_none(r.get("period"), start)
            if p is not None and p.start < selected.start:
                earlier.append(r)
    history = store.versions(period, all_versions=True)
    from xltools.reports.winrate import win_rates

    data = RollupData(period=period, today=clock.today(now), generated_at=_local(now),
                      versions=store.current_versions(period), rows=rows, files=store.files(period),
                      issues=snapshot.issues(period, lang), history=history, earlier_cases=earlier,
                      win_rates=win_rates(store, settings, until=selected))
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


# -- streamed rows -----------------------------------------------------------------------------

class _Snapshot:
    """One read transaction over the store.  Big row sets are counted when the workbook is
    laid out and streamed (server-side cursor) when it is written -- from the same
    snapshot, so every Excel table holds exactly its rows even while a collect runs."""

    def __init__(self, store: Any):
        store.ensure_schema()
        self.store = store
        self.conn = store.engine.connect()
        if store.dialect == "postgresql":
            self.conn.execution_options(isolation_level="REPEATABLE READ")
        self.tx = self.conn.begin()

    def close(self) -> None:
        try:
            self.tx.rollback()  # read only
        finally:
            self.conn.close()

    def __enter__(self) -> "_Snapshot":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _period(self, q, column, period: str | None, unplaced=None):
        """``FY2026Q3`` matches that quarter; ``FY2026`` the year and its quarters (like the
        store's own queries); rows whose ``unplaced`` column is NULL always match."""
        import sqlalchemy as sa

        if period is None:
            return q
        p = parse_period(period)
        cond = column == str(p) if p.quarter is not None else sa.or_(column == str(p), column.like(f"{p}Q_"))
        return q.where(cond if unplaced is None else sa.or_(cond, unplaced.is_(None)))

    def rows(self, table: str, period: str | None) -> "_Stream":
        """Rows of a spec table of the current plan versions, with plan context."""
        import sqlalchemy as sa

        from xltools.store.schema import CONTEXT_KEYS, db_table_name

        st = self.store
        t, pv = st.t[db_table_name(table)], st.t["plan_versions"]
        cols = [pv.c[k] for k in CONTEXT_KEYS] + [pv.c.id.label("version_id"), t.c.row_index] + [
            t.c[c.key] for c in st.spec.table(table).columns]
        q = (sa.select(*cols).select_from(t.join(pv, t.c.version_id == pv.c.id))
             .where(pv.c.is_current.is_(True)).order_by(pv.c.id, t.c.row_index, t.c.id))
        return _Stream(self, self._period(q, pv.c.period, period))

    def issues(self, period: str | None, lang: str) -> "_Stream":
        """The issues of the current versions and of the rejected or conflicting files that
        are the latest file at their path (as :meth:`Store.issues`), errors first."""
        import sqlalchemy as sa

        st = self.store
        issues, files, pv = st.t["issues"], st.t["files"], st.t["plan_versions"]
        f2 = files.alias("f2")
        latest_at_path = sa.select(sa.func.max(f2.c.id)).where(f2.c.path == files.c.path).scalar_subquery()
        rank = sa.case({"error": 0, "warning": 1}, value=issues.c.severity, else_=2)
        q = (sa.select(pv.c.account_id, pv.c.account_name, pv.c.rep, pv.c.period,
                       files.c.path.label("source_file"), issues.c.code, issues.c.severity, issues.c.sheet,
                       issues.c.cell, issues.c.field, issues.c.table_name.label("table"), issues.c.row,
                       issues.c.raw, issues.c["message_en" if lang == "en" else "message_ja"].label("message"))
             .select_from(issues.join(files, issues.c.file_id == files.c.id)
                          .outerjoin(pv, issues.c.version_id == pv.c.id))
             .where(sa.or_(pv.c.is_current.is_(True),
                           sa.and_(files.c.result.in_(("rejected", "conflict")), files.c.id == latest_at_path)))
             .order_by(rank, pv.c.rep, pv.c.account_name, files.c.id, issues.c.id))
        return _Stream(self, self._period(q, pv.c.period, period, issues.c.version_id))

    def run(self, q, *, stream: bool = False):
        import sqlalchemy as sa

        try:
            if stream:
                q = q.execution_options(stream_results=True, yield_per=STREAM_BATCH)
            return self.conn.execute(q)
        except sa.exc.SQLAlchemyError as e:
            detail = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
            from xltools.store.engine import StoreError

            raise StoreError(f"データベースを読めません / cannot read the database: {detail}") from None


#: rows fetched at a time from a streamed query
STREAM_BATCH = 2000


class _Stream:
    """A query's rows as dicts, read again on every iteration; ``len()`` is counted once.
    ``map`` adds a function applied to each row (computed columns)."""

    def __init__(self, snapshot: _Snapshot, q, fn: Callable[[dict], dict] | None = None, n: int | None = None):
        import sqlalchemy as sa

        self.snapshot, self.q, self.fn = snapshot, q, fn
        if n is None:
            n = snapshot.run(sa.select(sa.func.count()).select_from(q.order_by(None).subquery())).scalar()
        self.n = n

    def map(self, fn: Callable[[dict], dict]) -> "_Stream":
        return _Stream(self.snapshot, self.q, fn, self.n)

    def __len__(self) -> int:
        return self.n

    def head(self, n: int) -> list[dict]:
        return self._rows(self.snapshot.run(self.q.limit(n)))

    def _rows(self, result) -> list[dict]:
        fn = self.fn
        return [fn(dict(r)) if fn else dict(r) for r in result.mappings()]

    def __iter__(self):
        result = self.snapshot.run(self.q, stream=True)
        fn = self.fn
        try:
            for i, r in enumerate(result.mappings()):
                if i >= self.n:  # cannot happen inside one snapshot; the table's size wins
                    break
                yield fn(dict(r)) if fn else dict(r)
        finally:
            result.close()


class _Chain:
    """A short list followed by a stream, as one sequence of records."""

    def __init__(self, first: list[dict], rest: _Stream):
        self.first, self.rest = first, rest

    def __len__(self) -> int:
        return len(self.first) + len(self.rest)

    def head(self, n: int) -> list[dict]:
        return self.first[:n] + (self.rest.head(n - len(self.first)) if n > len(self.first) else [])

    def __iter__(self):
        yield from self.first
        yield from self.rest
