"""The success-case library's tables: reading and writing ``case_library`` and
``case_sources`` (see the block at the end of :mod:`xltools.store.schema`) and the
engine's search index (SQLite: the FTS5 trigram table; PostgreSQL: ``LIKE`` served by
the pg_trgm GIN index).

:class:`CaseLibrary` is mixed into :class:`~xltools.store.engine.Store`: its read
methods belong to the :class:`~xltools.store.queries.ReadStore` protocol, and
:meth:`CaseLibrary.library_write` opens the one write transaction in which
:func:`xltools.reports.cases.sync_library` merges stored rows into the library.  What
a case is, how text is folded and how hits are ranked is decided above, in
:mod:`xltools.reports.cases`; this module only runs the statements.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

import sqlalchemy as sa

from xltools.spec.contract import T
from xltools.store import schema as sch
from xltools.store.base import EngineParts, aware

if TYPE_CHECKING:
    from xltools.spec.spec import Spec

#: the advisory lock every library write takes (PostgreSQL)
LIBRARY_LOCK = "xltools:case-library"


@dataclass(frozen=True)
class CaseSourceRecord:
    """One stored row a case came from, with its plan version's context."""

    case_library_id: int
    plan_id: str
    account_name: str | None
    rep: str | None
    period: str | None
    version_no: int | None


def _case_columns(spec: Spec) -> list[str]:
    return [c.key for c in spec.table(T.SUCCESS_CASES).columns]


def _like_escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class LibraryWriter:
    """The statements of one library write transaction (see :meth:`CaseLibrary.library_write`)."""

    def __init__(self, conn: sa.Connection, t: dict[str, sa.Table], spec: Spec, fts: bool):
        self.conn = conn
        self.fts = fts
        self._lib = t[sch.CASE_LIBRARY]
        self._src = t[sch.CASE_SOURCES]
        self._sc = t[sch.db_table_name(T.SUCCESS_CASES)]
        self._pv = t["plan_versions"]
        self._spec = spec

    def pending(self, any_of: Sequence[str], limit: int | None = None) -> list[dict[str, Any]]:
        """Stored SuccessCases rows not merged yet with a value in one of the ``any_of``
        columns, oldest source first: the spec columns, ``row_index``, ``vid``,
        ``plan_id``, ``file_mtime``, ``collected_at`` (naive UTC)."""
        q = _pending_select(self._sc, self._pv, self._src, self._spec, any_of)
        if limit is not None:
            q = q.limit(limit)
        return [dict(r) for r in self.conn.execute(q).mappings()]

    def max_library_no(self) -> int:
        """The highest library number given so far (0: none)."""
        return int(self.conn.execute(sa.select(sa.func.max(self._lib.c.library_no))).scalar() or 0)

    def title_keys(self) -> list[tuple[int, str]]:
        """``(id, title_key)`` of every case, by id."""
        lib = self._lib
        return [(r.id, r.title_key) for r in self.conn.execute(sa.select(lib.c.id, lib.c.title_key).order_by(lib.c.id))]

    def merged_case_ids(self) -> list[tuple[int, str, str]]:
        """``(case id, plan_id, the row's case_id)`` of every merged row that had a case_id."""
        src, sc = self._src, self._sc
        q = (sa.select(src.c.case_library_id, src.c.plan_id, sc.c.case_id)
             .select_from(src.join(sc, sa.and_(sc.c.version_id == src.c.version_id,
                                               sc.c.row_index == src.c.row_index)))
             .where(sc.c.case_id.is_not(None)))
        return [(r.case_library_id, r.plan_id, r.case_id) for r in self.conn.execute(q)]

    def case(self, case_id: int) -> dict[str, Any]:
        """One ``case_library`` row (naive UTC times)."""
        lib = self._lib
        return dict(self.conn.execute(sa.select(lib).where(lib.c.id == case_id)).mappings().one())

    def all_cases(self) -> list[dict[str, Any]]:
        """Every ``case_library`` row."""
        return [dict(r) for r in self.conn.execute(sa.select(self._lib)).mappings()]

    def insert_case(self, values: dict[str, Any]) -> int:
        """A new case (``values``: the ``case_library`` columns, ``search_text`` among
        them); the search index gets its text.  Returns its id."""
        pk = self.conn.execute(self._lib.insert().values(**values)).inserted_primary_key
        assert pk is not None  # a single-row insert always has one
        cid = int(pk[0])
        if self.fts:
            self._fts_insert(cid, values["search_text"])
        return cid

    def update_case(self, case_id: int, values: dict[str, Any], *, reindex: bool) -> None:
        """Update one case; ``reindex``: its ``search_text`` changed (the index follows)."""
        self.conn.execute(self._lib.update().where(self._lib.c.id == case_id).values(**values))
        if reindex and self.fts:
            self.conn.execute(sa.text(f"DELETE FROM {sch.CASE_FTS} WHERE rowid = :id"), {"id": case_id})
            self._fts_insert(case_id, values["search_text"])

    def add_sources(self, sources: list[dict[str, Any]]) -> None:
        """``case_sources`` rows: ``case_library_id``, ``plan_id``, ``version_id``, ``row_index``."""
        if sources:
            self.conn.execute(self._src.insert(), sources)

    def reindex_all(self, texts: dict[int, str]) -> None:
        """Set ``search_text`` of the given cases and rebuild the search index from scratch."""
        if self.fts:
            self.conn.execute(sa.text(f"DELETE FROM {sch.CASE_FTS}"))
        for cid, text in texts.items():
            self.conn.execute(self._lib.update().where(self._lib.c.id == cid).values(search_text=text))
            if self.fts:
                self._fts_insert(cid, text)

    def _fts_insert(self, case_id: int, text: str) -> None:
        self.conn.execute(sa.text(f"INSERT INTO {sch.CASE_FTS}(rowid, search_text) VALUES (:id, :t)"),
                          {"id": case_id, "t": text})


def _pending_select(sc: sa.Table, pv: sa.Table, src: sa.Table, spec: Spec,
                    any_of: Sequence[str]) -> sa.Select[Any]:
    cols = [sc.c[k] for k in _case_columns(spec)]
    merged = sa.select(src.c.id).where(src.c.version_id == sc.c.version_id, src.c.row_index == sc.c.row_index)
    return (sa.select(*cols, sc.c.row_index, pv.c.id.label("vid"), pv.c.plan_id, pv.c.file_mtime,
                      pv.c.collected_at)
            .select_from(sc.join(pv, sc.c.version_id == pv.c.id))
            .where(~merged.exists(), sa.or_(*[sc.c[k].is_not(None) for k in any_of]))
            .order_by(sa.func.coalesce(pv.c.file_mtime, pv.c.collected_at), pv.c.id, sc.c.row_index))


class CaseLibrary(EngineParts):
    """The library methods of the store (reads: see :class:`~xltools.store.queries.ReadStore`)."""

    @contextmanager
    def library_write(self) -> Iterator[LibraryWriter]:
        """The library's write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: the
        library's advisory lock), database errors mapped to StoreError."""
        self.ensure_schema()
        with self.write() as conn:
            self.lock(conn, LIBRARY_LOCK)
            yield LibraryWriter(conn, self.t, self.spec, fts=self.dialect == "sqlite")

    def library_pending(self, any_of: Sequence[str]) -> bool:
        """Is there a stored SuccessCases row not merged into the library yet (with a
        value in one of the ``any_of`` columns)?"""
        t = self.t
        q = _pending_select(t[sch.db_table_name(T.SUCCESS_CASES)], t["plan_versions"], t[sch.CASE_SOURCES],
                            self.spec, any_of).limit(1)
        with self.read() as conn:
            return conn.execute(q).first() is not None

    def _term_condition(self, lib: sa.Table, term: str) -> sa.ColumnElement[bool]:
        if self.dialect == "sqlite":
            if len(term) >= 3:  # the FTS5 trigram index answers a substring of 3+ characters
                phrase = '"' + term.replace('"', '""') + '"'
                return lib.c.id.in_(sa.text(f"SELECT rowid FROM {sch.CASE_FTS} WHERE {sch.CASE_FTS} MATCH :m")
                                    .bindparams(sa.bindparam("m", phrase, unique=True))
                                    .columns(rowid=sa.Integer))
            return sa.func.instr(lib.c.search_text, term) > 0
        # PostgreSQL: the GIN pg_trgm index serves LIKE (the text is folded already: LIKE == ILIKE)
        return lib.c.search_text.like(f"%{_like_escape(term)}%", escape="\\")

    def library_cases(self, shareable: Iterable[str], *, terms: Sequence[str] = (),
                      library_no: int | None = None, case_key: str | None = None,
                      first: bool = False) -> list[dict[str, Any]]:
        """``case_library`` rows (aware UTC times) whose ``shareable`` is one of
        ``shareable`` and, when given, whose ``search_text`` holds every one of ``terms``
        (folded text; ordered by id), or with that ``library_no`` or ``case_key``
        (ordered by library number).  ``first``: only the first row."""
        lib = self._lib_table()
        conds: list[sa.ColumnElement[bool]] = [lib.c.shareable.in_(list(shareable))]
        conds += [self._term_condition(lib, term) for term in terms]
        if library_no is not None:
            conds.append(lib.c.library_no == library_no)
        if case_key is not None:
            conds.append(lib.c.case_key == case_key)
        q = sa.select(lib).where(*conds).order_by(lib.c.id if terms else lib.c.library_no)
        if first:
            q = q.limit(1)
        with self.read() as conn:
            return [{k: aware(v) for k, v in r.items()} for r in conn.execute(q).mappings()]

    def library_sources(self, case_ids: Iterable[int]) -> list[CaseSourceRecord]:
        """The stored rows the given cases came from, with their plan context: by case,
        then period, newest version of a plan first."""
        ids = sorted(set(case_ids))
        if not ids:
            return []
        src, pv = self.t[sch.CASE_SOURCES], self.t["plan_versions"]
        q = (sa.select(src.c.case_library_id, src.c.plan_id, pv.c.account_name, pv.c.rep, pv.c.period,
                       pv.c.version_no)
             .select_from(src.join(pv, src.c.version_id == pv.c.id))
             .where(src.c.case_library_id.in_(ids))
             .order_by(src.c.case_library_id, pv.c.period, pv.c.version_no.desc()))
        with self.read() as conn:
            return [CaseSourceRecord(r.case_library_id, r.plan_id, r.account_name, r.rep, r.period, r.version_no)
                    for r in conn.execute(q)]

    def account_managers(self, plan_ids: Iterable[str]) -> dict[str, str | None]:
        """For each plan: the rep of its account's current plan of the latest period
        (None when the account has no current plan with a rep, or the plan no account key)."""
        plans, pv = self.t["plans"], self.t["plan_versions"]
        ids = sorted(set(plan_ids))
        if not ids:
            return {}
        with self.read() as conn:
            key_of = {r.plan_id: r.account_key for r in conn.execute(
                sa.select(plans.c.plan_id, plans.c.account_key).where(plans.c.plan_id.in_(ids)))}
            keys = sorted({k for k in key_of.values() if k})
            rep_of_key: dict[str, str] = {}
            if keys:
                q = (sa.select(plans.c.account_key, pv.c.rep)
                     .select_from(plans.join(pv, pv.c.id == plans.c.current_version_id))
                     .where(plans.c.account_key.in_(keys), pv.c.rep.is_not(None))
                     .order_by(pv.c.period, pv.c.collected_at, pv.c.id))
                for r in conn.execute(q):
                    rep_of_key[r.account_key] = r.rep  # the latest period wins
        return {p: rep_of_key.get(key_of.get(p) or "") for p in ids}

    def _lib_table(self) -> sa.Table:
        return self.t[sch.CASE_LIBRARY]
