"""The read API of the store: every query a report, an export or the hand-over makes.

:class:`Queries` is the reading half of :class:`~xltools.store.engine.Store` (a mixin:
the engine owns the connection, the schema and the saving).  Reports are typed against
:class:`ReadStore`, the read-only protocol, so that nothing above the store layer writes
SQL or reaches into the engine.
"""
from __future__ import annotations

import json
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Protocol, Sequence

import sqlalchemy as sa

from xltools.messages import Label
from xltools.spec.contract import T
from xltools.spec.periods import parse_period
from xltools.store import schema as sch
from xltools.store.base import UnknownTableError, aware, norm_key
from xltools.store.snapshot import Snapshot as Snapshot  # big row sets from one read snapshot

if TYPE_CHECKING:
    from typing import Unpack

    from xltools.spec.spec import Spec, Table
    from xltools.store.library import CaseSourceRecord, LibraryWriter

    #: a SELECT whose columns follow the spec (its fields and table columns), known at run time
    _Select = sa.Select[Unpack[tuple[Any, ...]]]
    _Column = sa.ColumnElement[Any]


class ReadStore(Protocol):
    """What code above the store may use: the spec, and the read methods of :class:`Queries`."""

    spec: Spec
    spec_tables: dict[str, Table]

    def columns(self, what: str) -> list[str]: ...
    def versions(self, period: str | None = None, all_versions: bool = False, *,
                 long_texts: bool = True) -> list[dict[str, Any]]: ...
    def current_versions(self, period: str | None = None) -> list[dict[str, Any]]: ...
    def versions_of(self, account: str) -> list[dict[str, Any]]: ...
    def table_name(self, table: str) -> str: ...
    def rows(self, table: str, period: str | None = None, all_versions: bool = False) -> list[dict[str, Any]]: ...
    def files(self, period: str | None = None) -> list[dict[str, Any]]: ...
    def issues(self, period: str | None = None, all_versions: bool = False) -> list[dict[str, Any]]: ...
    def version_records(self, version_ids: Iterable[int]) -> list[dict[str, Any]]: ...
    def table_records(self, table: str, version_ids: Iterable[int]) -> list[dict[str, Any]]: ...
    def opportunity_states(self) -> list[dict[str, Any]]: ...
    # the success-case library (xltools.store.library)
    def library_pending(self, any_of: Sequence[str]) -> bool: ...
    def library_cases(self, shareable: Iterable[str], *, terms: Sequence[str] = (),
                      library_no: int | None = None, case_key: str | None = None,
                      first: bool = False) -> list[dict[str, Any]]: ...
    def library_sources(self, case_ids: Iterable[int]) -> list[CaseSourceRecord]: ...
    def account_managers(self, plan_ids: Iterable[str]) -> dict[str, str | None]: ...


class LibraryStore(ReadStore, Protocol):
    """The reads, plus the success-case library's own write transaction (merging stored
    rows into the library before it is read)."""

    def library_write(self) -> AbstractContextManager[LibraryWriter]: ...


class Queries:
    """The read methods of the store (see :class:`ReadStore`).  Every method runs in one
    read transaction; timestamps come back as aware UTC."""

    t: dict[str, sa.Table]
    spec_tables: dict[str, Table]
    # what the engine (the class this is mixed into) provides
    spec: Spec
    engine: sa.Engine

    if TYPE_CHECKING:
        def ensure_schema(self) -> None: ...
        def _errors(self) -> AbstractContextManager[None]: ...

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read transaction (the schema ensured first, database errors mapped)."""
        self.ensure_schema()
        with self._errors(), self.engine.connect() as conn:
            with conn.begin():
                yield conn

    def _version_columns(self, long_texts: bool = True) -> list[_Column]:
        pv = self.t["plan_versions"]
        ctx = [pv.c[k] for k in sch.CONTEXT_KEYS]
        book = [pv.c.id.label("version_id"), pv.c.version_no, pv.c.is_current, pv.c.collected_at,
                pv.c.file_mtime, pv.c.file_sha256, pv.c.content_hash, pv.c.conflict_with,
                pv.c.template_version, pv.c.language, pv.c.error_count, pv.c.warning_count, pv.c.info_count]
        fields = [pv.c[f.key] for f in self.spec.fields
                  if f.key not in sch.CONTEXT_KEYS and (long_texts or f.type != "longtext")]
        return ctx + book + fields + ([pv.c.meta] if long_texts else [])

    def _versions_select(self, period: str | None = None, all_versions: bool = False,
                         long_texts: bool = True) -> _Select:
        pv = self.t["plan_versions"]
        q = sa.select(*self._version_columns(long_texts)).order_by(pv.c.id)
        if not all_versions:
            q = q.where(pv.c.is_current.is_(True))
        return self._in_period(q, pv.c.period, period)

    def _rows_select(self, name: str, period: str | None = None, all_versions: bool = False) -> _Select:
        t, pv = self.t[name], self.t["plan_versions"]
        cols = [pv.c[k] for k in sch.CONTEXT_KEYS] + [
            pv.c.version_no, pv.c.is_current, pv.c.collected_at, t.c.row_index, t.c.sheet, t.c.row,
        ] + [t.c[c.key] for c in self.spec_tables[name].columns]
        q = (sa.select(*cols).select_from(t.join(pv, t.c.version_id == pv.c.id))
             .order_by(pv.c.id, t.c.row_index, t.c.id))
        if not all_versions:
            q = q.where(pv.c.is_current.is_(True))
        return self._in_period(q, pv.c.period, period)

    def _files_select(self, period: str | None = None) -> _Select:
        files, pv = self.t["files"], self.t["plan_versions"]
        q = (sa.select(files.c.id, files.c.path, files.c.size, files.c.sha256, files.c.mtime,
                       files.c.collected_at, files.c.result, files.c.plan_id, files.c.version_id,
                       pv.c.version_no, pv.c.account_id, pv.c.account_name, pv.c.rep, pv.c.period,
                       files.c.error_count, files.c.warning_count, files.c.info_count, files.c.detail)
             .select_from(files.outerjoin(pv, files.c.version_id == pv.c.id)).order_by(files.c.id))
        return self._in_period(q, pv.c.period, period, files.c.version_id)

    def _issues_select(self, period: str | None = None, all_versions: bool = False) -> _Select:
        issues, files, pv = self.t["issues"], self.t["files"], self.t["plan_versions"]
        q = (sa.select(pv.c.plan_id, pv.c.account_id, pv.c.account_name, pv.c.rep, pv.c.period,
                       files.c.path.label("source_file"), pv.c.version_no, issues.c.code, issues.c.severity,
                       issues.c.sheet, issues.c.cell, issues.c.field, issues.c.table_name.label("table"),
                       issues.c.row, issues.c.raw, issues.c.message_ja, issues.c.message_en,
                       files.c.result.label("file_result"), files.c.collected_at)
             .select_from(issues.join(files, issues.c.file_id == files.c.id)
                          .outerjoin(pv, issues.c.version_id == pv.c.id))
             .order_by(files.c.id, issues.c.id))
        if not all_versions:
            f2 = files.alias("f2")
            latest_at_path = sa.select(sa.func.max(f2.c.id)).where(f2.c.path == files.c.path).scalar_subquery()
            q = q.where(sa.or_(pv.c.is_current.is_(True),
                               sa.and_(files.c.result.in_(("rejected", "conflict")), files.c.id == latest_at_path)))
        return self._in_period(q, pv.c.period, period, issues.c.version_id)

    def _in_period(self, q: _Select, column: _Column, period: str | None,
                   unplaced: _Column | None = None) -> _Select:
        """``FY2026Q3`` matches that quarter; ``FY2026`` the year and its quarters.  Rows
        whose ``unplaced`` column is NULL (rejected files: period unknown) always match."""
        if period is None or not str(period).strip():
            return q
        p = parse_period(period)
        cond = column == str(p) if p.quarter is not None else sa.or_(column == str(p), column.like(f"{p}Q_"))
        return q.where(cond if unplaced is None else sa.or_(cond, unplaced.is_(None)))

    def _fetch(self, q: _Select) -> list[dict[str, Any]]:
        with self.read() as conn:
            return [{k: aware(v) for k, v in r.items()} for r in conn.execute(q).mappings()]

    def columns(self, what: str) -> list[str]:
        """The record keys :meth:`versions` / :meth:`rows` / :meth:`files` / :meth:`issues`
        return: ``what`` is ``"versions"``, ``"files"``, ``"issues"`` or a spec table."""
        if what == "versions":
            q = self._versions_select()
        elif what == "files":
            q = self._files_select()
        elif what == "issues":
            q = self._issues_select()
        else:
            q = self._rows_select(self.table_name(what))
        return list(q.selected_columns.keys())

    @staticmethod
    def _with_meta(d: dict[str, Any]) -> dict[str, Any]:
        d["meta"] = json.loads(d["meta"]) if d.get("meta") else {}
        return d

    def versions(self, period: str | None = None, all_versions: bool = False, *,
                 long_texts: bool = True) -> list[dict[str, Any]]:
        """Plan versions with plan context and every single-value field (``meta``: the
        ``_meta`` sheet as a dict): the current ones (default) or all of them.
        ``long_texts`` False: without the long-text fields and ``meta`` (what a report of
        figures needs, at a fraction of the memory)."""
        rows = self._fetch(self._versions_select(period, all_versions, long_texts))
        return [self._with_meta(d) for d in rows] if long_texts else rows

    def current_versions(self, period: str | None = None) -> list[dict[str, Any]]:
        """The current version of every plan (of ``period``, e.g. ``FY2026Q3`` or ``FY2026``)."""
        return self.versions(period)

    def versions_of(self, account: str) -> list[dict[str, Any]]:
        """Every stored version of one account (by account ID or name), oldest period first."""
        plans, pv = self.t["plans"], self.t["plan_versions"]
        key = norm_key(account)
        q = (sa.select(*self._version_columns())
             .select_from(pv.join(plans, pv.c.plan_id == plans.c.plan_id))
             .where(sa.or_(plans.c.account_key.in_((f"id:{key}", f"name:{key}")),
                           pv.c.account_id == account, pv.c.account_name == account))
             .order_by(pv.c.period, pv.c.plan_id, pv.c.version_no))
        return [self._with_meta(d) for d in self._fetch(q)]

    def table_name(self, table: str) -> str:
        """The database table of a spec table given by spec name or database name."""
        key = table.strip().replace("-", "_").lower()
        for name, t in self.spec_tables.items():
            if key in (name, t.name.lower()):
                return name
        raise UnknownTableError(Label(f"表 {table} はありません（{', '.join(self.spec_tables)}）",
                              f"No table {table} (tables: {', '.join(self.spec_tables)})"))

    def rows(self, table: str, period: str | None = None, all_versions: bool = False) -> list[dict[str, Any]]:
        """Rows of a spec table (``Opportunities`` or ``opportunities``) as records: plan
        context, version, position (``row_index``, ``sheet``, ``row``), spec column keys."""
        return self._fetch(self._rows_select(self.table_name(table), period, all_versions))

    def files(self, period: str | None = None) -> list[dict[str, Any]]:
        """The ledger with plan context.  With ``period``: files of that period plus the
        rejected ones (whose period is unknown)."""
        return self._fetch(self._files_select(period))

    def issues(self, period: str | None = None, all_versions: bool = False) -> list[dict[str, Any]]:
        """Issues with file and plan context.  Default: those of current versions plus those
        of rejected or conflicting files that are the latest file seen at their path;
        ``all_versions``: every stored issue."""
        return self._fetch(self._issues_select(period, all_versions))

    def version_records(self, version_ids: Iterable[int]) -> list[dict[str, Any]]:
        """Whole stored versions (every column of ``plan_versions``) by id."""
        ids = sorted(set(version_ids))
        if not ids:
            return []
        pv = self.t["plan_versions"]
        return self._fetch(sa.select(pv).where(pv.c.id.in_(ids)))

    def table_records(self, table: str, version_ids: Iterable[int]) -> list[dict[str, Any]]:
        """The rows of one spec table of the given versions, in workbook order."""
        ids = sorted(set(version_ids))
        if not ids:
            return []
        t = self.t[self.table_name(table)]
        return self._fetch(sa.select(t).where(t.c.version_id.in_(ids))
                           .order_by(t.c.version_id, t.c.row_index, t.c.id))

    def opportunity_states(self) -> list[dict[str, Any]]:
        """Every stored state of every opportunity (all versions of all plans) with its plan
        context: ``vid``, account, rep, period, file time, row, ID, name, stage, amount, close."""
        t, pv = self.t[sch.db_table_name(T.OPPORTUNITIES)], self.t["plan_versions"]
        q = (sa.select(pv.c.id.label("vid"), pv.c.account_id, pv.c.account_name, pv.c.rep, pv.c.period,
                       pv.c.file_mtime, pv.c.collected_at, t.c.row_index, t.c.opp_id, t.c.opportunity, t.c.stage,
                       t.c.amount, t.c.expected_close)
             .select_from(t.join(pv, t.c.version_id == pv.c.id)))
        return self._fetch(q)
