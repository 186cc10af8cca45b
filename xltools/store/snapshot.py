"""Big row sets read from one snapshot of the store: :class:`Snapshot` and :class:`Stream`.

A report that lays out a workbook first (how many rows each table has) and fills it
afterwards reads both from one read transaction, so every table holds exactly the rows it
was sized for even while a collect runs.  The rows are streamed (a server-side cursor on
PostgreSQL, batches of :data:`STREAM_BATCH`), never loaded as a whole.  Exposed by
:mod:`xltools.store.queries`, the store's read API.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterator

import sqlalchemy as sa

from xltools.messages import Label
from xltools.spec.contract import T
from xltools.store.base import StoreError
from xltools.store.schema import CONTEXT_KEYS, db_table_name

if TYPE_CHECKING:
    from xltools.store.queries import Queries

#: rows fetched at a time from a streamed query
STREAM_BATCH = 2000

Record = dict[str, Any]


class Snapshot:
    """One read transaction over ``store`` (REPEATABLE READ on PostgreSQL; SQLite's read
    transaction is a snapshot already).  Use it as a context manager; nothing is written."""

    def __init__(self, store: Queries):
        store.ensure_schema()
        self.store = store
        self.conn = store.engine.connect()
        if self.conn.dialect.name == "postgresql":
            self.conn.execution_options(isolation_level="REPEATABLE READ")
        self.tx = self.conn.begin()

    def close(self) -> None:
        try:
            self.tx.rollback()  # read only
        finally:
            self.conn.close()

    def reopen_in_child(self) -> None:
        """In a process forked while this snapshot was open: read through a connection of
        its own from now on (a connection must never be shared across a fork).  The
        inherited one is kept, untouched, so that no finaliser closes it from here (it is
        the parent's); the forked process must end with ``os._exit``.  The new read
        transaction may see later commits: compare :meth:`fingerprint` with the parent's."""
        self._inherited = (self.conn, self.tx)
        self.conn = self.store.engine.connect()
        if self.conn.dialect.name == "postgresql":
            self.conn.execution_options(isolation_level="REPEATABLE READ")
        self.tx = self.conn.begin()

    def reopenable(self) -> bool:
        """Whether a second connection sees this database (not an in-memory SQLite one)."""
        url = self.store.engine.url
        return not (url.get_backend_name() == "sqlite" and (url.database or ":memory:") == ":memory:")

    def fingerprint(self) -> tuple[int, ...]:
        """What changes when a collect commits (plan versions added, removed or made current;
        files and issues recorded): two read transactions with the same fingerprint see
        the same plans, rows and issues."""
        st = self.store
        pv, files, issues = st.t["plan_versions"], st.t["files"], st.t["issues"]
        current = sa.case((pv.c.is_current.is_(True), pv.c.id), else_=0)
        out: list[int] = []
        for q in (sa.select(sa.func.count(), sa.func.max(pv.c.id), sa.func.sum(current)),
                  sa.select(sa.func.count(), sa.func.max(files.c.id)),
                  sa.select(sa.func.count(), sa.func.max(issues.c.id))):
            out += [int(v or 0) for v in self.run(q).one()]
        return tuple(out)

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _rows_select(self, table: str) -> tuple[Any, sa.Table, sa.Table]:
        st = self.store
        t, pv = st.t[db_table_name(table)], st.t["plan_versions"]
        cols = [pv.c[k] for k in CONTEXT_KEYS] + [pv.c.id.label("version_id"), t.c.row_index] + [
            t.c[c.key] for c in st.spec.table(table).columns]
        return sa.select(*cols).select_from(t.join(pv, t.c.version_id == pv.c.id)), t, pv

    def rows(self, table: str, period: str | None) -> Stream:
        """Rows of a spec table of the current plan versions: plan context, ``version_id``,
        ``row_index`` and the spec columns, in workbook order."""
        q, t, pv = self._rows_select(table)
        q = q.where(pv.c.is_current.is_(True)).order_by(pv.c.id, t.c.row_index, t.c.id)
        return Stream(self, self.store._in_period(q, pv.c.period, period), row_id=t.c.id)

    def row_ids(self, table: str, period: str | None) -> Iterator[int]:
        """The row IDs of :meth:`rows` (same rows, same order), for :meth:`picked`."""
        st = self.store
        t, pv = st.t[db_table_name(table)], st.t["plan_versions"]
        q = (sa.select(t.c.id).select_from(t.join(pv, t.c.version_id == pv.c.id))
             .where(pv.c.is_current.is_(True)).order_by(pv.c.id, t.c.row_index, t.c.id))
        result = self.run(st._in_period(q, pv.c.period, period), stream=True)
        try:
            for (rid,) in result:
                yield int(rid)
        finally:
            result.close()

    def picked(self, table: str, ids: list[int]) -> Picked:
        """The rows of ``table`` with these row IDs (from :meth:`row_ids`), as :meth:`rows`
        gives them, in the order of ``ids``: a list chosen and sorted in one pass holds
        only the IDs, and the rows are read again in batches when the sheet is written."""
        q, t, _ = self._rows_select(table)
        return Picked(self, q, t.c.id, ids)

    def current_periods(self) -> list[Any]:
        """The periods of the current plan versions, each once (as stored)."""
        pv = self.store.t["plan_versions"]
        return [p for (p,) in self.run(sa.select(pv.c.period).where(pv.c.is_current.is_(True)).distinct())]

    def opportunity_states(self) -> Iterator[Record]:
        """Every stored state of every opportunity (all versions of all plans), streamed:
        the records of :meth:`Queries.opportunity_states` (timestamps as stored, naive UTC)."""
        st = self.store
        t, pv = st.t[db_table_name(T.OPPORTUNITIES)], st.t["plan_versions"]
        q = (sa.select(pv.c.id.label("vid"), pv.c.account_id, pv.c.account_name, pv.c.rep, pv.c.period,
                       pv.c.file_mtime, pv.c.collected_at, t.c.row_index, t.c.opp_id, t.c.opportunity, t.c.stage,
                       t.c.amount, t.c.expected_close)
             .select_from(t.join(pv, t.c.version_id == pv.c.id)))
        result = self.run(q, stream=True)
        try:
            keys = list(result.keys())
            for part in result.partitions():
                for row in part:
                    yield dict(zip(keys, row))
        finally:
            result.close()

    def issues(self, period: str | None, lang: str) -> Stream:
        """The issues of the current versions and of the rejected or conflicting files that
        are the latest file at their path (as :meth:`Queries.issues`), errors first, then
        by rep and account; ``message`` in ``lang``."""
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
        return Stream(self, st._in_period(q, pv.c.period, period, issues.c.version_id))

    def run(self, q: Any, *, stream: bool = False) -> sa.CursorResult[Any]:
        try:
            if stream:
                q = q.execution_options(stream_results=True, yield_per=STREAM_BATCH)
            return self.conn.execute(q)
        except sa.exc.SQLAlchemyError as e:
            detail = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
            raise StoreError(Label(f"データベースを読めません: {detail}", f"Cannot read the database: {detail}")) from None


class Stream:
    """A query's rows as dicts, read again on every iteration; ``len()`` is counted once.
    ``map`` adds a function applied to each row (computed columns)."""

    def __init__(self, snapshot: Snapshot, q: Any, fn: Callable[[Record], Record] | None = None,
                 n: int | None = None, row_id: Any = None):
        self.snapshot, self.q, self.fn, self.row_id = snapshot, q, fn, row_id
        if n is None:
            n = int(snapshot.run(sa.select(sa.func.count()).select_from(q.order_by(None).subquery())).scalar() or 0)
        self.n = n

    def map(self, fn: Callable[[Record], Record]) -> Stream:
        return Stream(self.snapshot, self.q, fn, self.n, self.row_id)

    def only(self, *keys: str, row_id: bool = False) -> Stream:
        """The same rows (same order, same count) with only the columns ``keys``: a pass
        that looks at a few columns reads no more.  ``row_id``: each record also has the
        table row's ID as ``_row_id`` (for :meth:`Snapshot.picked`; a stream of
        :meth:`Snapshot.rows` only)."""
        wanted = set(keys)
        cols = [c for c in self.q.selected_columns if c.key in wanted]
        if row_id:
            if self.row_id is None:
                raise ValueError("row IDs need a stream of Snapshot.rows")
            cols.append(self.row_id.label("_row_id"))
        return Stream(self.snapshot, self.q.with_only_columns(*cols, maintain_column_froms=True), self.fn, self.n,
                      self.row_id)

    def __len__(self) -> int:
        return self.n

    def head(self, n: int) -> list[Record]:
        return list(self._records(self.snapshot.run(self.q.limit(n)), n))

    def __iter__(self) -> Iterator[Record]:
        result = self.snapshot.run(self.q, stream=True)
        try:
            yield from self._records(result, self.n)  # more rows cannot happen inside one snapshot
        finally:
            result.close()

    def _records(self, result: sa.CursorResult[Any], n: int) -> Iterator[Record]:
        keys, fn = list(result.keys()), self.fn
        left = n
        for part in result.partitions():  # the driver's batches, without a call per row
            if len(part) > left:
                part = part[:left]  # more rows cannot happen inside one snapshot
            left -= len(part)
            if fn is None:
                for row in part:
                    yield dict(zip(keys, row))
            else:
                for row in part:
                    yield fn(dict(zip(keys, row)))
            if left <= 0:
                break


class Picked:
    """Rows chosen by ID (see :meth:`Snapshot.picked`), read in batches of
    :data:`STREAM_BATCH` in the order of the IDs; ``map`` as :class:`Stream`."""

    def __init__(self, snapshot: Snapshot, q: Any, id_col: Any, ids: list[int],
                 fn: Callable[[Record], Record] | None = None):
        self.snapshot, self.q, self.id_col, self.ids, self.fn = snapshot, q, id_col, ids, fn

    def map(self, fn: Callable[[Record], Record]) -> Picked:
        return Picked(self.snapshot, self.q, self.id_col, self.ids, fn)

    def __len__(self) -> int:
        return len(self.ids)

    def head(self, n: int) -> list[Record]:
        return list(self._batches(self.ids[:n]))

    def __iter__(self) -> Iterator[Record]:
        return self._batches(self.ids)

    def _batches(self, ids: list[int]) -> Iterator[Record]:
        fn = self.fn
        for i in range(0, len(ids), STREAM_BATCH):
            batch = ids[i:i + STREAM_BATCH]
            result = self.snapshot.run(self.q.add_columns(self.id_col.label("_picked_id"))
                                       .where(self.id_col.in_(batch)))
            keys = list(result.keys())[:-1]
            found = {row[-1]: dict(zip(keys, row[:-1])) for row in result}
            for rid in batch:
                rec = found[rid]
                yield fn(rec) if fn else rec
