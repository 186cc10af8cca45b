"""Saving checked files: the ledger, plans, versions, slots, conflicts, issues.

:class:`Saving` is the writing half of :class:`~xltools.store.engine.Store` (a mixin:
the engine owns the connection and the schema).  :meth:`Saving.save` stores one checked
file in a single transaction: the ledger row (``files``), the plan, a new version with
its rows and its issues (see :mod:`xltools.store.engine` for what a save guarantees).

A save has two halves.  :class:`Preparer` turns a checked file into what will be stored --
the values coerced to their column types, the content hash, the rows as tuples, every
issue as its row with its message in both languages -- without the database; it is
picklable, so ``collect`` runs it in the worker that read the file and only the
:class:`PreparedFile` (plain tuples, much less than the report) crosses to the parent.
:meth:`Saving.save_prepared` then only executes.  :meth:`Saving.save` is both halves in one
process: what is stored is the same either way.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from dataclasses import fields as dc_fields
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import exc

from xltools import clock
from xltools.messages import Label
from xltools.spec.issues import INTERNAL, ISSUE_TYPES, FileReport, Issue
from xltools.store import schema as sch
from xltools.store.base import EngineParts, StoreError, aware, norm_key
from xltools.store.bulkinsert import insert_row, insert_rows, insert_tuples

if TYPE_CHECKING:
    from xltools.spec.spec import Field, Table

#: issue codes the store itself raises (dropped again when a conflict is resolved)
STORE_CODES = ("E-CONFLICT", "E-DUPLICATE-PLAN")
_SAVE_ATTEMPTS = 4

# -- records ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SaveOutcome:
    """What :meth:`Store.save` / :meth:`Store.reject` did with one file.

    ``result``: ``stored`` (new current version), ``superseded`` (new version kept as
    history), ``conflict`` (kept as history, see ``conflict_with``), ``rejected``
    (ledger and issues only) or ``unchanged`` (nothing new stored).  ``file_result`` is
    what the file is recorded as in the ledger (for an already seen file, its first
    result).  ``issues`` are the issues the store itself added (``E-CONFLICT``...).
    """

    result: str
    file_result: str
    plan_id: str | None = None
    version_id: int | None = None
    version_no: int | None = None
    conflict_with: str | None = None
    file_id: int | None = None
    issues: tuple[Issue, ...] = ()


@dataclass(frozen=True)
class FileRecord:
    """One row of the ``files`` ledger."""

    id: int
    path: str
    size: int | None
    sha256: str
    mtime: datetime | None
    collected_at: datetime
    result: str
    plan_id: str | None
    version_id: int | None
    error_count: int
    warning_count: int
    info_count: int
    detail: str | None

    @property
    def internal_failure(self) -> bool:
        """xltools itself failed on the file (``E-INTERNAL``): it is read again next time."""
        return self.result == "rejected" and INTERNAL in (self.detail or "").split("; ")


# -- value helpers ---------------------------------------------------------------------

def _utc(value: Any) -> datetime | None:
    """Epoch seconds or a datetime -> naive UTC (how the database keeps time).
    A naive datetime is taken to be UTC already."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=timezone.utc).replace(tzinfo=None)
    if isinstance(value, datetime):
        return value if value.tzinfo is None else value.astimezone(timezone.utc).replace(tzinfo=None)
    raise StoreError(Label(f"日時ではありません: {value!r}", f"not a timestamp: {value!r}"))


def _stamp(value: Any) -> datetime:
    """The time a save is stamped with: ``value`` (see :func:`_utc`), else the clock's
    :func:`~xltools.clock.now` -- resolved once per save."""
    stamp = _utc(value if value is not None else clock.now())
    assert stamp is not None  # _utc maps only None to None
    return stamp


def _text_or_none(value: Any) -> str | None:
    if value is None:
        return None
    s = str(value).strip()
    return s or None


_EXPECTED = {
    "amount": {"ja": "金額（円）", "en": "an amount in yen"},
    "integer": {"ja": "整数", "en": "a whole number"},
    "float": {"ja": "数値", "en": "a number"},
    "date": {"ja": "日付", "en": "a date"},
}


def coerce(kind: str, value: Any) -> Any:
    """A clean PlanData value -> the Python value of its column kind (see
    :func:`xltools.store.schema.column_kind`).  Raises ValueError/TypeError if it is not one."""
    if value is None:
        return None
    if isinstance(value, str) and kind != "text":
        value = value.strip()
        if not value:
            return None
    if kind == "text":
        if isinstance(value, str):
            return value.replace("\x00", "") or None  # PostgreSQL text cannot hold NUL
        if isinstance(value, (date, datetime)):
            return value.isoformat()
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if kind in ("amount", "integer"):
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            value = Decimal(value.replace(",", ""))
        if isinstance(value, (float, Decimal)):
            if not math.isfinite(value):
                raise ValueError("not a finite number")
            return int(Decimal(value).to_integral_value())
        raise TypeError(type(value).__name__)
    if kind == "float":
        if isinstance(value, (int, float, Decimal)):
            out = float(value)
        elif isinstance(value, str):
            out = float(value.replace(",", ""))
        else:
            raise TypeError(type(value).__name__)
        if not math.isfinite(out):
            raise ValueError("not a finite number")
        return out
    if kind == "date":
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            return date.fromisoformat(value[:10])
        raise TypeError(type(value).__name__)
    raise ValueError(f"unknown column kind {kind!r}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def _raw_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


# -- prepared plan ---------------------------------------------------------------------

#: an issue row as prepared (the ``issues`` columns after ``file_id`` and ``version_id``)
ISSUE_COLUMNS = ("code", "severity", "sheet", "cell", "field", "table_name", "row", "raw", "message_ja",
                 "message_en")
_ROW_START = ("row_index", "sheet", "row")


def issue_row(i: Issue) -> tuple[Any, ...]:
    """``i`` as it is stored (:data:`ISSUE_COLUMNS`): its message rendered in both languages."""
    return (i.code, i.severity, i.sheet, i.cell, i.field, i.table, i.row, _raw_text(i.raw), i.message("ja"),
            i.message("en"))


@dataclass
class _Prepared:
    plan_id: str
    context: dict[str, Any]  # account_id, account_name, rep, period
    account_key: str | None
    slot: str | None
    predecessor: str | None
    version: dict[str, Any]  # plan_versions columns except bookkeeping set in the transaction
    rows: dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]]  # db table -> (columns, rows), no version_id
    content_hash: str


@dataclass
class PreparedFile:
    """A checked file ready to be stored (:meth:`Preparer.prepare`).

    ``issues``: every issue as its row (:data:`ISSUE_COLUMNS`) -- the report's first (the
    first ``report_issues``), then the store's coercion issues (``E-TYPE``); ``plan``: None
    when the file is recorded as rejected (no plan data, or no valid ``plan_id``: then
    ``extra`` holds the store's own ``E-NOT-A-PLAN``, also the last of ``issues``)."""

    issues: tuple[tuple[Any, ...], ...]
    report_issues: int
    plan: _Prepared | None = None
    extra: tuple[Issue, ...] = ()


class Preparer:
    """The half of a save that needs no database: coercion, content hash, rows, issue rows.

    Built by :attr:`Saving.preparer` from the store's spec and schema; picklable, so a worker
    process can prepare what it read (``collect`` does)."""

    def __init__(self, spec: Any, spec_tables: dict[str, Table], version_columns: frozenset[str]):
        self.spec, self.spec_tables, self.version_columns = spec, spec_tables, version_columns
        self._kinds: dict[str, tuple[tuple[str, ...], list[tuple[Any, str, str]]]] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_kinds": None}

    def _table_kinds(self) -> dict[str, tuple[tuple[str, ...], list[tuple[Any, str, str]]]]:
        if self._kinds is None:
            kinds = {}
            for name, table in self.spec_tables.items():
                cols = [(col, col.key, sch.column_kind(col.type)) for col in table.columns]
                keys = tuple(dict.fromkeys((*_ROW_START, *(key for _, key, _ in cols))))
                if len(keys) != len(_ROW_START) + len(cols):
                    raise ValueError(f"{name}: a column named like the row bookkeeping {_ROW_START}")
                kinds[name] = (keys, cols)
            self._kinds = kinds
        return self._kinds

    def prepare(self, report: FileReport, source_file: str) -> PreparedFile:
        """What :meth:`Saving.save` stores for ``report`` read from ``source_file`` (pure)."""
        n = len(report.issues)
        if report.plan is None:
            return PreparedFile(tuple(issue_row(i) for i in report.issues), n)
        plan_id = _text_or_none(report.plan.meta.get("plan_id"))
        if plan_id is None or len(plan_id) > 64:
            why = {"ja": "_meta の plan_id がありません" if plan_id is None else "_meta の plan_id が不正です",
                   "en": "_meta has no plan_id" if plan_id is None else "_meta has an invalid plan_id"}
            extra = Issue("E-NOT-A-PLAN", file=report.file, params={"detail": why})
            return PreparedFile(tuple(issue_row(i) for i in [*report.issues, extra]), n, extra=(extra,))
        issues = list(report.issues)
        prep = self._prepare(report, plan_id, source_file, issues)
        return PreparedFile(tuple(issue_row(i) for i in issues), n, prep)

    def _prepare(self, report: FileReport, plan_id: str, source_file: str, issues: list[Issue]) -> _Prepared:
        """Coerce the plan's values to column types; coercion issues are added to ``issues``."""
        plan = report.plan
        assert plan is not None  # prepare() rejects files without plan data first
        pv_cols = self.version_columns

        def bad(fld: Field, value: Any, sheet: str | None, cell: str | None, kind: str) -> None:
            issues.append(Issue("E-TYPE", sheet=sheet, cell=cell, field=fld.key, raw=value,
                                file=report.file, table=fld.table,
                                params={"label": fld.label, "expected": _EXPECTED.get(kind, kind)}))

        version: dict[str, Any] = {}
        for fld in self.spec.fields:
            value = plan.derived[fld.key] if fld.key in plan.derived else plan.fields.get(fld.key)
            kind = sch.column_kind(fld.type)
            try:
                version[fld.key] = coerce(kind, value)
            except (ValueError, TypeError, ArithmeticError):
                sheet, cell = plan.field_cells.get(fld.key, (None, None))
                bad(fld, value, sheet, cell, kind)
                version[fld.key] = None
        context = {k: _text_or_none(version.get(k) if k in pv_cols else None) or _text_or_none(plan.meta.get(k))
                   for k in ("account_id", "account_name", "rep", "period")}
        for k, v in context.items():
            if k in pv_cols and version.get(k) is None:
                version[k] = v

        rows: dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]] = {}
        hashed_tables: dict[str, list[list[Any]]] = {}
        for name, (keys, kinds) in self._table_kinds().items():
            out: list[tuple[Any, ...]] = []
            hashed = []
            for r in plan.rows(self.spec_tables[name].name):
                values: list[Any] = []
                given = r.values
                for col, key, kind in kinds:
                    raw = given.get(key)
                    if raw is None:  # most cells of a row: nothing to coerce
                        values.append(None)
                        continue
                    # what coerce() does for the usual cases, without the call
                    if kind == "text" and type(raw) is str:
                        values.append(raw.replace("\x00", "") or None)
                        continue
                    if type(raw) is int and (kind == "amount" or kind == "integer"):
                        values.append(raw)
                        continue
                    if (type(raw) is date and kind == "date") or (
                            type(raw) is float and kind == "float" and math.isfinite(raw)):
                        values.append(raw)
                        continue
                    try:
                        values.append(coerce(kind, raw))
                    except (ValueError, TypeError, ArithmeticError):
                        bad(col, raw, r.sheet, r.cells.get(key), kind)
                        issues[-1].row = r.index
                        values.append(None)
                if all(v is None for v in values):
                    continue
                out.append((r.index, r.sheet, r.row, *values))
                hashed.append([v.isoformat() if isinstance(v, (date, datetime)) else v for v in values])
            rows[name] = (keys, out)
            hashed_tables[name] = hashed
        content = json.dumps({"fields": {k: _jsonable(v) for k, v in version.items()}, "tables": hashed_tables},
                             sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        account_key = None
        if context["account_id"]:
            account_key = "id:" + norm_key(context["account_id"])
        elif context["account_name"]:
            account_key = "name:" + norm_key(context["account_name"])
        slot = f"{account_key}|{norm_key(context['period'])}" if account_key and context["period"] else None
        meta = {k: _raw_text(v) for k, v in plan.meta.items()}
        version.update(
            source_file=source_file,
            template_version=_text_or_none(plan.meta.get("template_version")),
            language=_text_or_none(plan.meta.get("language")),
            meta=json.dumps(meta, ensure_ascii=False, sort_keys=True),
            content_hash=hashlib.sha256(content.encode("utf-8")).hexdigest(),
        )
        return _Prepared(plan_id=plan_id, context=context, account_key=account_key, slot=slot,
                         predecessor=_text_or_none(plan.meta.get("predecessor_plan_id")),
                         version=version, rows=rows, content_hash=version["content_hash"])


class _Statements:
    """The statements of a save, built once per store: a statement object SQLAlchemy has
    seen before is neither built nor keyed for its compiled cache again."""

    def __init__(self, t: dict[str, sa.Table]):
        plans, pv, files = t["plans"], t["plan_versions"], t["files"]
        plan_id, vid = sa.bindparam("b_plan_id", type_=plans.c.plan_id.type), sa.bindparam("b_vid", type_=sa.Integer())
        now = sa.bindparam("b_now", type_=plans.c.updated_at.type)
        self.file_by_sha = sa.select(files).where(files.c.sha256 == sa.bindparam("b_sha256", type_=files.c.sha256.type))
        self.plan = sa.select(plans).where(plans.c.plan_id == plan_id)
        self.versions = (sa.select(pv.c.id, pv.c.version_no, pv.c.content_hash, pv.c.file_mtime, pv.c.conflict_with)
                         .where(pv.c.plan_id == plan_id).order_by(pv.c.id))
        self.version_no = sa.select(pv.c.version_no).where(pv.c.id == vid)
        self.slot_holder = sa.select(plans).where(plans.c.slot == sa.bindparam("b_slot", type_=plans.c.slot.type))
        self.source_file = sa.select(pv.c.source_file).where(pv.c.id == vid)
        # the plan's context columns, set from the parameters of the same names
        self.update_plan = plans.update().where(plans.c.plan_id == plan_id)
        self.release_current = (pv.update().where(pv.c.plan_id == plan_id, pv.c.is_current.is_(True))
                                .values(is_current=False))
        self.release_slot = (plans.update().where(plans.c.plan_id == plan_id)
                             .values(slot=None, current_version_id=None, updated_at=now))
        this = pv.c.id == vid
        self.make_current = (pv.update().where(pv.c.plan_id == plan_id, sa.or_(pv.c.is_current.is_(True), this))
                             .values(is_current=this,
                                     conflict_with=sa.case((this, sa.null()), else_=pv.c.conflict_with)))


# -- saving ------------------------------------------------------------------------------

class Saving(EngineParts):
    """The write methods of the store: :meth:`save`, :meth:`reject`, :meth:`file_seen`."""

    spec_tables: dict[str, Table]  # provided by the engine, like EngineParts
    _save_statements: _Statements | None = None
    _preparer: Preparer | None = None

    @property
    def _q(self) -> _Statements:
        if self._save_statements is None:
            self._save_statements = _Statements(self.t)
        return self._save_statements

    @property
    def preparer(self) -> Preparer:
        """The half of a save that needs no database (picklable: see :class:`Preparer`)."""
        if self._preparer is None:
            self._preparer = Preparer(self.spec, self.spec_tables, frozenset(self.t["plan_versions"].c.keys()))
        return self._preparer

    # -- the ledger ------------------------------------------------------------------
    def file_seen(self, sha256: str) -> FileRecord | None:
        """The ledger record of a file with this content hash, or None (never seen)."""
        with self.read() as conn:
            row = conn.execute(self._q.file_by_sha, {"b_sha256": sha256}).mappings().first()
        return self._file_record(row) if row else None

    @staticmethod
    def _file_record(row: Any) -> FileRecord:
        return FileRecord(**{k: aware(v) for k, v in dict(row).items() if k in _RECORD_FIELDS})

    def _seen_outcome(self, conn: sa.Connection, f: Any) -> SaveOutcome:
        vno = None
        if f["version_id"] is not None:
            vno = conn.execute(self._q.version_no, {"b_vid": f["version_id"]}).scalar()
        return SaveOutcome("unchanged", f["result"], f["plan_id"], f["version_id"], vno, file_id=f["id"])

    def _known_file(self, conn: sa.Connection, sha256: str) -> Any:
        """The ledger row of this content -- forgotten (with its issues) when xltools
        itself failed on it, so that this reading takes its place."""
        files, issues = self.t["files"], self.t["issues"]
        f = conn.execute(self._q.file_by_sha, {"b_sha256": sha256}).mappings().first()
        if f is not None and self._file_record(f).internal_failure:
            conn.execute(issues.delete().where(issues.c.file_id == f["id"]))
            conn.execute(files.delete().where(files.c.id == f["id"]))
            return None
        return f

    # -- saving ----------------------------------------------------------------------
    def reject(self, path: str, size: int | None, sha256: str, mtime: Any, report: FileReport, *,
               collected_at: datetime | None = None, extra: list[Issue] | None = None) -> SaveOutcome:
        """Record an unreadable or foreign file: a ledger row ``rejected`` with its issues.
        ``collected_at``: the time of the run (default: :func:`xltools.clock.now`)."""
        rows = tuple(issue_row(i) for i in [*report.issues, *(extra or [])])
        return self._reject(path, size, sha256, mtime, rows, tuple(extra or ()), _stamp(collected_at))

    def _reject(self, path: str, size: int | None, sha256: str, mtime: Any, issues: tuple[tuple[Any, ...], ...],
                extra: tuple[Issue, ...], collected_at: datetime) -> SaveOutcome:
        self.ensure_schema()
        with self.write() as conn:
            self.lock(conn, f"file:{sha256}")
            f = self._known_file(conn, sha256)
            if f is not None:
                return self._seen_outcome(conn, f)
            fid = self._insert_file(conn, path=path, size=size, sha256=sha256, mtime=mtime,
                                    collected_at=collected_at, result="rejected", plan_id=None,
                                    version_id=None, issues=issues,
                                    detail=self._detail(issues))
            self._insert_issues(conn, fid, None, issues)
        return SaveOutcome("rejected", "rejected", file_id=fid, issues=extra)

    @staticmethod
    def _detail(issues: tuple[tuple[Any, ...], ...]) -> str | None:
        """The error codes of these issue rows, each once, or None."""
        return "; ".join(dict.fromkeys(i[0] for i in issues if i[1] == "error")) or None

    def save(self, report: FileReport, *, path: str, size: int | None, sha256: str, mtime: Any = None,
             collected_at: datetime | None = None) -> SaveOutcome:
        """Store one checked file (ledger + plan + version + rows + issues) in one transaction.

        ``mtime``: the file's modification time (epoch seconds or datetime); it orders
        versions of the same plan collected out of order.  ``collected_at``: the time of the
        run (default: :func:`xltools.clock.now`), stamped on the file, the version and the
        plan.  Files without plan data are recorded as rejected."""
        collected_at = _stamp(collected_at)
        return self.save_prepared(self.preparer.prepare(report, source_file=path), path=path, size=size,
                                  sha256=sha256, mtime=mtime, collected_at=collected_at)

    def save_prepared(self, prepared: PreparedFile, *, path: str, size: int | None, sha256: str,
                      mtime: Any = None, collected_at: datetime | None = None) -> SaveOutcome:
        """:meth:`save` of a file prepared by :attr:`preparer` (for ``source_file=path``):
        the same transaction, the same rows."""
        collected_at = _stamp(collected_at)
        prep = prepared.plan
        if prep is None:
            return self._reject(path, size, sha256, mtime, prepared.issues, prepared.extra, collected_at)
        self.ensure_schema()
        for attempt in range(_SAVE_ATTEMPTS):
            try:
                with self.write() as conn:
                    self.lock(conn, f"file:{sha256}", f"plan:{prep.plan_id}",
                                  f"slot:{prep.slot}" if prep.slot else "")
                    return self._save_tx(conn, prep, prepared.issues, path=path, size=size, sha256=sha256,
                                         mtime=_utc(mtime), collected_at=collected_at)
            except exc.IntegrityError as e:
                if attempt == _SAVE_ATTEMPTS - 1:
                    raise StoreError(Label(
                        f"同時に書き込みが行われたため {path} を保存できませんでした（{e.orig}）。再実行してください。",
                        f"Could not save {path} because of concurrent writes ({e.orig}). Run again.")) from None
        raise AssertionError("unreachable")

    def _save_tx(self, conn: sa.Connection, prep: _Prepared, issues: tuple[tuple[Any, ...], ...], *, path: str, size: int | None, sha256: str,
                 mtime: datetime | None, collected_at: datetime) -> SaveOutcome:
        q = self._q
        f = self._known_file(conn, sha256)
        if f is not None:
            if f["result"] == "conflict" and f["version_id"] is not None:
                return self._retry_conflicted(conn, prep, f, collected_at)
            return self._seen_outcome(conn, f)

        plan = conn.execute(q.plan, {"b_plan_id": prep.plan_id}).mappings().first()
        versions = conn.execute(q.versions, {"b_plan_id": prep.plan_id}).all()
        latest = max(versions, key=lambda v: (v.file_mtime or datetime.min, v.id)) if versions else None
        newer = latest is None or mtime is None or latest.file_mtime is None or mtime >= latest.file_mtime
        same = None
        if latest is not None and newer and latest.content_hash == prep.content_hash:
            same = latest
        elif latest is not None and not newer:
            same = next((v for v in reversed(versions) if v.content_hash == prep.content_hash), None)
        if same is not None and not (same is latest and same.conflict_with):
            # a changed file with the same content: record the file, store nothing else
            fid = self._insert_file(conn, path=path, size=size, sha256=sha256, mtime=mtime,
                                    collected_at=collected_at, result="unchanged", plan_id=prep.plan_id,
                                    version_id=same.id, issues=issues, detail=None)
            return SaveOutcome("unchanged", "unchanged", prep.plan_id, same.id, same.version_no, file_id=fid)

        if plan is None:
            # compiled once; the driver binds the values
            insert_rows(conn, self.t["plans"], [dict(
                plan_id=prep.plan_id, account_key=prep.account_key, **prep.context,
                predecessor_plan_id=prep.predecessor, slot=None, first_collected_at=collected_at,
                updated_at=collected_at, current_version_id=None)])
        version_no = max((v.version_no for v in versions), default=0) + 1
        if newer:
            decision, holder = self._claim_slot(conn, prep)
        else:
            decision, holder = "superseded", None
        store_issues: list[Issue] = []
        if decision == "conflict":
            store_issues.append(self._conflict_issue(conn, prep, holder, path))
        all_issues = issues + tuple(issue_row(i) for i in store_issues)
        counts = _counts(all_issues)
        vid = insert_row(conn, self.t["plan_versions"], dict(
            plan_id=prep.plan_id, version_no=version_no, file_sha256=sha256, file_mtime=mtime,
            collected_at=collected_at, is_current=False,
            conflict_with=holder["plan_id"] if decision == "conflict" else None,
            error_count=counts["error"], warning_count=counts["warning"], info_count=counts["info"],
            **prep.version))
        if decision == "take":
            self._take_slot(conn, prep, vid, holder, collected_at)
        elif plan is not None and newer and plan["current_version_id"] is None:
            conn.execute(q.update_plan, dict(
                b_plan_id=prep.plan_id, account_key=prep.account_key, **prep.context,
                predecessor_plan_id=prep.predecessor, updated_at=collected_at))
        for name, rows in prep.rows.items():
            keys, values = rows
            if values:  # the driver's executemany: one compiled INSERT, the same values
                insert_tuples(conn, self.t[name], (*keys, "version_id"), [(*r, vid) for r in values])
        result = {"take": "stored", "superseded": "superseded", "conflict": "conflict"}[decision]
        fid = self._insert_file(conn, path=path, size=size, sha256=sha256, mtime=mtime,
                                collected_at=collected_at, result=result, plan_id=prep.plan_id,
                                version_id=vid, issues=all_issues, detail=self._detail(all_issues))
        self._insert_issues(conn, fid, vid, all_issues)
        return SaveOutcome(result, result, prep.plan_id, vid, version_no,
                           conflict_with=holder["plan_id"] if decision == "conflict" else None,
                           file_id=fid, issues=tuple(store_issues))

    def _claim_slot(self, conn: sa.Connection, prep: _Prepared) -> tuple[str, Any]:
        """May this plan's new version become current for its account and period?

        ``("take", displaced)``: yes (``displaced``: the predecessor it hands over from);
        ``("superseded", None)``: no, a successor plan holds the slot;
        ``("conflict", holder)``: no, another plan holds it."""
        if prep.slot is None:
            return "take", None
        holder = conn.execute(self._q.slot_holder, {"b_slot": prep.slot}).mappings().first()
        if holder is None or holder["plan_id"] == prep.plan_id:
            return "take", None
        if holder["predecessor_plan_id"] == prep.plan_id:
            return "superseded", None
        if prep.predecessor == holder["plan_id"]:
            return "take", holder
        return "conflict", holder

    def _take_slot(self, conn: sa.Connection, prep: _Prepared, vid: int, displaced: Any,
                   now: datetime) -> None:
        q = self._q
        if displaced is not None:
            conn.execute(q.release_current, {"b_plan_id": displaced["plan_id"]})
            conn.execute(q.release_slot, {"b_plan_id": displaced["plan_id"], "b_now": now})
        conn.execute(q.make_current, {"b_plan_id": prep.plan_id, "b_vid": vid})
        conn.execute(q.update_plan, dict(
            b_plan_id=prep.plan_id, account_key=prep.account_key, **prep.context,
            predecessor_plan_id=prep.predecessor, slot=prep.slot, current_version_id=vid, updated_at=now))

    def _conflict_issue(self, conn: sa.Connection, prep: _Prepared, holder: Any, path: str) -> Issue:
        other_file = None
        if holder["current_version_id"] is not None:
            other_file = conn.execute(self._q.source_file, {"b_vid": holder["current_version_id"]}).scalar()
        same_rep = (holder["rep"] is not None and prep.context["rep"] is not None
                    and norm_key(holder["rep"]) == norm_key(prep.context["rep"]))
        other = f"plan_id {holder['plan_id']}"
        detail = {"ja": f"{other}、担当 {holder['rep'] or '不明'}、ファイル {other_file or '不明'}",
                  "en": f"{other}, rep {holder['rep'] or 'unknown'}, file {other_file or 'unknown'}"}
        return Issue("E-DUPLICATE-PLAN" if same_rep else "E-CONFLICT", file=path, field="plan_id",
                     raw=prep.plan_id, params={"detail": detail})

    def _retry_conflicted(self, conn: sa.Connection, prep: _Prepared, f: Any, now: datetime) -> SaveOutcome:
        """The same file again after a conflict: it becomes current if the conflict is gone
        (and it is still its plan's latest version); otherwise nothing changes."""
        pv, files, issues = self.t["plan_versions"], self.t["files"], self.t["issues"]
        v = conn.execute(sa.select(pv.c.id, pv.c.version_no, pv.c.conflict_with)
                         .where(pv.c.id == f["version_id"])).first()
        latest_id = conn.execute(sa.select(sa.func.max(pv.c.id)).where(pv.c.plan_id == prep.plan_id)).scalar()
        if v is None or not v.conflict_with or latest_id != v.id:
            return self._seen_outcome(conn, f)
        decision, holder = self._claim_slot(conn, prep)
        if decision != "take":
            return SaveOutcome("unchanged", "conflict", prep.plan_id, v.id, v.version_no,
                               conflict_with=holder["plan_id"] if holder is not None else v.conflict_with,
                               file_id=f["id"])
        self._take_slot(conn, prep, v.id, holder, now)
        conn.execute(issues.delete().where(issues.c.file_id == f["id"], issues.c.code.in_(STORE_CODES)))
        left = conn.execute(sa.select(issues.c.code).where(issues.c.file_id == f["id"])).scalars().all()
        counts = {s: sum(1 for c in left if ISSUE_TYPES[c].severity == s) for s in ("error", "warning", "info")}
        count_values = dict(error_count=counts["error"], warning_count=counts["warning"],
                            info_count=counts["info"])
        conn.execute(files.update().where(files.c.id == f["id"]).values(
            result="stored", detail="; ".join(dict.fromkeys(c for c in left if c.startswith("E-"))) or None,
            **count_values))
        conn.execute(pv.update().where(pv.c.id == v.id).values(**count_values))
        return SaveOutcome("stored", "stored", prep.plan_id, v.id, v.version_no, file_id=f["id"])

    def _insert_file(self, conn: sa.Connection, *, path: str, size: int | None, sha256: str, mtime: Any,
                     collected_at: datetime, result: str, plan_id: str | None, version_id: int | None,
                     issues: tuple[tuple[Any, ...], ...], detail: str | None) -> int:
        counts = _counts(issues)
        return insert_row(conn, self.t["files"], dict(
            path=str(path), size=size, sha256=sha256, mtime=_utc(mtime),
            collected_at=_utc(collected_at), result=result, plan_id=plan_id,
            version_id=version_id, error_count=counts["error"], warning_count=counts["warning"],
            info_count=counts["info"], detail=detail))

    def _insert_issues(self, conn: sa.Connection, file_id: int, version_id: int | None,
                       issues: tuple[tuple[Any, ...], ...]) -> None:
        if issues:
            insert_tuples(conn, self.t["issues"], _ISSUE_KEYS, [(file_id, version_id, *i) for i in issues])


_ISSUE_KEYS = ("file_id", "version_id", *ISSUE_COLUMNS)
_RECORD_FIELDS = frozenset(f.name for f in dc_fields(FileRecord))


def _counts(issues: tuple[tuple[Any, ...], ...]) -> dict[str, int]:
    """Issue rows by severity."""
    c = {"error": 0, "warning": 0, "info": 0}
    for i in issues:
        c[i[1]] += 1
    return c
