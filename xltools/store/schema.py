"""The database schema, derived from the template spec.

One table per spec table (snake_case of the table name: ``Opportunities`` ->
``opportunities``, ``KPIs`` -> ``kpis``) with one column per spec column, plus the
bookkeeping tables:

* ``plans``          one row per plan (``plan_id`` from ``_meta``), pointing at its
                     current version;
* ``plan_versions``  every collected version, with one column per single-value
                     field (including the recomputed ones such as ``plan_total``);
* ``files``          the ledger of every file seen and what became of it;
* ``issues``         every issue of every stored file, with its position.

Alembic migrations (``xltools/store/migrations``) hold the explicit DDL; the tests compare
the migrated database with :func:`build_metadata` so that the two cannot drift.  A new
database gets the schema those migrations make directly (:mod:`xltools.store.headschema`).
"""
from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from xltools.messages import Label
from xltools.spec.contract import T
from xltools.spec.spec import Field, Spec, SpecError, Table, load_spec

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: what happened to a collected file (the ``files.result`` column), as people read it
FILE_RESULTS: dict[str, Label] = {
    "stored": Label("取込済", "Stored"),
    "superseded": Label("履歴として保存", "Kept as history"),
    "unchanged": Label("変更なし", "Unchanged"),
    "conflict": Label("ファイルの競合", "File conflict"),
    "rejected": Label("却下", "Rejected"),
}

#: the plan context every exported record starts with
CONTEXT_KEYS = ("plan_id", "account_id", "account_name", "rep", "period", "source_file")

#: bookkeeping columns of every spec-table table (spec column keys must not use them)
ROW_COLUMNS = ("id", "version_id", "row_index", "sheet", "row")
#: bookkeeping columns of ``plan_versions`` (single-value field keys must not use them)
VERSION_COLUMNS = ("id", "plan_id", "version_no", "content_hash", "source_file", "file_sha256",
                   "file_mtime", "collected_at", "is_current", "conflict_with", "template_version",
                   "language", "meta", "error_count", "warning_count", "info_count")

_AMOUNT = {"amount"}
_FLOAT = {"percent", "number", "ratio", "score", "fraction"}
_DATE = {"date"}
_INTEGER = {"integer", "month", "rating"}

_WORD_RE = re.compile(r"[A-Z]+s?(?![a-z])|[A-Z][a-z0-9]*|[a-z0-9]+")


def snake_case(name: str) -> str:
    """``Opportunities`` -> ``opportunities``, ``SelectionScores`` -> ``selection_scores``,
    ``KPIs`` -> ``kpis`` (an acronym with a plural ``s`` stays one word)."""
    return "_".join(w.lower() for w in _WORD_RE.findall(name))


def column_kind(ftype: str) -> str:
    """How a spec type is stored: ``amount`` | ``float`` | ``date`` | ``integer`` | ``text``."""
    if ftype in _AMOUNT:
        return "amount"
    if ftype in _FLOAT:
        return "float"
    if ftype in _DATE:
        return "date"
    if ftype in _INTEGER:
        return "integer"
    return "text"


def column_type(ftype: str) -> sa.types.TypeEngine[Any]:
    """The SQL type of a spec field type."""
    types: dict[str, sa.types.TypeEngine[Any]] = {
        "amount": sa.BigInteger(),
        "float": sa.Double(),
        "date": sa.Date(),
        "integer": sa.Integer(),
        "text": sa.Text(),
    }
    return types[column_kind(ftype)]


def db_table_name(table: Table | str) -> str:
    """The database table of a spec table (object or name)."""
    return snake_case(table if isinstance(table, str) else table.name)


def spec_tables(spec: Spec) -> dict[str, Table]:
    """Database table name -> spec table, in workbook order."""
    out: dict[str, Table] = {}
    for t in spec.tables:
        name = db_table_name(t)
        if name in out or name in ("plans", "plan_versions", "files", "issues"):
            raise SpecError(f"table {t.name}: database table name {name!r} is already taken")
        out[name] = t
    return out


def _spec_column(f: Field) -> sa.Column[Any]:
    return sa.Column(f.key, column_type(f.type), nullable=True)


def _check_reserved(keys: list[str], reserved: tuple[str, ...], where: str) -> None:
    clash = sorted(set(keys) & set(reserved))
    if clash:
        raise SpecError(f"{where}: key(s) {clash} clash with the database's own columns {list(reserved)}")


def _build_store_metadata(spec: Spec | None = None) -> sa.MetaData:
    """A fresh :class:`~sqlalchemy.MetaData` with every table of the store."""
    spec = spec or load_spec()
    md = sa.MetaData(naming_convention=NAMING_CONVENTION)
    single = list(spec.fields)
    _check_reserved([f.key for f in single], VERSION_COLUMNS, "single-value fields")

    sa.Table(
        "plans", md,
        sa.Column("plan_id", sa.String(64), primary_key=True),
        sa.Column("account_key", sa.Text(), nullable=True, index=True),
        sa.Column("account_id", sa.Text(), nullable=True),
        sa.Column("account_name", sa.Text(), nullable=True),
        sa.Column("rep", sa.Text(), nullable=True),
        sa.Column("period", sa.String(16), nullable=True, index=True),
        sa.Column("predecessor_plan_id", sa.String(64), nullable=True),
        # "account_key|period" while this plan holds the current slot for it, else NULL:
        # the unique constraint is the final guard against two current plans per account-period
        sa.Column("slot", sa.Text(), nullable=True, unique=True),
        sa.Column("first_collected_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("current_version_id", sa.Integer(), nullable=True, index=True),
    )
    sa.Table(
        "plan_versions", md,
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("plan_id", sa.String(64), sa.ForeignKey("plans.plan_id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("version_no", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("source_file", sa.Text(), nullable=True),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("file_mtime", sa.DateTime(), nullable=True),
        sa.Column("collected_at", sa.DateTime(), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False, index=True),
        sa.Column("conflict_with", sa.String(64), nullable=True),
        sa.Column("template_version", sa.String(16), nullable=True),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("meta", sa.Text(), nullable=True),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("warning_count", sa.Integer(), nullable=False),
        sa.Column("info_count", sa.Integer(), nullable=False),
        *[_spec_column(f) for f in single],
        sa.UniqueConstraint("plan_id", "version_no"),
    )
    sa.Table(
        "files", md,
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("path", sa.Text(), nullable=False, index=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("mtime", sa.DateTime(), nullable=True),
        sa.Column("collected_at", sa.DateTime(), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("plan_id", sa.String(64), sa.ForeignKey("plans.plan_id", ondelete="SET NULL"),
                  nullable=True, index=True),
        sa.Column("version_id", sa.Integer(), sa.ForeignKey("plan_versions.id", ondelete="SET NULL"),
                  nullable=True, index=True),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("warning_count", sa.Integer(), nullable=False),
        sa.Column("info_count", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
    )
    sa.Table(
        "issues", md,
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("file_id", sa.Integer(), sa.ForeignKey("files.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("version_id", sa.Integer(), sa.ForeignKey("plan_versions.id", ondelete="CASCADE"),
                  nullable=True, index=True),
        sa.Column("code", sa.String(40), nullable=False, index=True),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("sheet", sa.Text(), nullable=True),
        sa.Column("cell", sa.String(16), nullable=True),
        sa.Column("field", sa.Text(), nullable=True),
        sa.Column("table_name", sa.Text(), nullable=True),
        sa.Column("row", sa.Integer(), nullable=True),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.Column("message_ja", sa.Text(), nullable=False),
        sa.Column("message_en", sa.Text(), nullable=False),
    )
    for name, t in spec_tables(spec).items():
        _check_reserved([c.key for c in t.columns], ROW_COLUMNS, f"table {t.name}")
        sa.Table(
            name, md,
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("version_id", sa.Integer(), sa.ForeignKey("plan_versions.id", ondelete="CASCADE"),
                      nullable=False, index=True),
            sa.Column("row_index", sa.Integer(), nullable=False),
            sa.Column("sheet", sa.Text(), nullable=True),
            sa.Column("row", sa.Integer(), nullable=True),
            *[_spec_column(c) for c in t.columns],
        )
    return md


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic autogenerate filter (env.py, the migration tests): skip objects that a
    migration made by hand and the metadata does not describe (engine-specific search
    indexes, named by ``is_search_index_object`` when that is defined)."""
    hand_made = globals().get("is_search_index_object")
    return not (reflected and compare_to is None and hand_made is not None and hand_made(name, type_))


_CACHE: dict[int, tuple[Spec, sa.MetaData]] = {}


def metadata(spec: Spec | None = None) -> sa.MetaData:
    """The (cached) metadata of ``spec`` (default: the packaged template spec)."""
    spec = spec or load_spec()
    hit = _CACHE.get(id(spec))
    if hit is None or hit[0] is not spec:
        hit = _CACHE[id(spec)] = (spec, build_metadata(spec))
    return hit[1]


# =====================================================================================
# Success-case library — read and written by xltools/store/library.py for
# xltools/reports/cases.py.  This block only adds the library's tables to the metadata.
#
# * ``case_library``: every success case once (de-duplicated across versions and
#   plans), with the SuccessCases columns of the spec, the dedup keys and
#   ``search_text`` (NFKC + casefold of the searched columns, see cases.fold).
# * ``case_sources``: which stored row (version, row_index) of which plan each case
#   came from; a version whose rows are here has been merged into the library.
#
# The engine-specific search index is created by migration 0002 with explicit DDL and
# is not part of this metadata: on SQLite the FTS5 trigram table ``case_library_fts``
# (and its shadow tables ``case_library_fts_*``), on PostgreSQL the pg_trgm extension
# and the GIN index ``ix_case_library_search_trgm``.  :func:`is_search_index_object`
# names them so that schema comparisons (migration tests, autogenerate) can skip them.
# =====================================================================================

CASE_LIBRARY = "case_library"
CASE_SOURCES = "case_sources"
CASE_FTS = "case_library_fts"
CASE_TRGM_INDEX = "ix_case_library_search_trgm"
#: bookkeeping columns of ``case_library`` (SuccessCases column keys must not use them)
CASE_COLUMNS = ("id", "library_no", "case_key", "title_key", "search_text", "source_version_id", "source_time",
                "first_seen_at", "updated_at")


def is_search_index_object(name: str | None, type_: str = "table") -> bool:
    """True for the hand-made search-index objects of migration 0002 (not in the metadata)."""
    if not name:
        return False
    if type_ == "index":
        return name == CASE_TRGM_INDEX
    return name == CASE_FTS or name.startswith(CASE_FTS + "_")


def add_case_library(md: sa.MetaData, spec: Spec) -> None:
    """Add ``case_library`` and ``case_sources`` to ``md`` (built from ``spec``)."""
    cases = spec.table(T.SUCCESS_CASES)
    _check_reserved([c.key for c in cases.columns], CASE_COLUMNS, f"table {cases.name}")
    for name in (CASE_LIBRARY, CASE_SOURCES):
        if name in md.tables:
            raise SpecError(f"database table name {name!r} is already taken")
    sa.Table(
        CASE_LIBRARY, md,
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        # the number people quote (事例 No.): given once, in order, when the case first enters
        # the library, and never changed or given again (the library never deletes a case)
        sa.Column("library_no", sa.Integer(), nullable=False, unique=True),
        sa.Column("case_key", sa.Text(), nullable=True, index=True),
        sa.Column("title_key", sa.Text(), nullable=False, index=True),
        *[_spec_column(c) for c in cases.columns],
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("source_version_id", sa.Integer(),
                  sa.ForeignKey("plan_versions.id", ondelete="SET NULL"), nullable=True),
        sa.Column("source_time", sa.DateTime(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    sa.Table(
        CASE_SOURCES, md,
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_library_id", sa.Integer(), sa.ForeignKey(f"{CASE_LIBRARY}.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("plan_id", sa.String(64), sa.ForeignKey("plans.plan_id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("version_id", sa.Integer(), sa.ForeignKey("plan_versions.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("row_index", sa.Integer(), nullable=False),
        sa.UniqueConstraint("version_id", "row_index"),
    )


# =====================================================================================
# Rosters — owned by xltools/store/rosters.py.  ``roster_lines``: the roster that
# ``collect --roster`` was given for a period, one row per rep x account line (the
# latest roster of a period replaces the earlier one); ``report`` checks submissions
# against it.  Only the roster's file name is kept, never its local path.
# =====================================================================================

ROSTER_LINES = "roster_lines"


def add_rosters(md: sa.MetaData) -> None:
    """Add ``roster_lines`` to ``md``."""
    if ROSTER_LINES in md.tables:
        raise SpecError(f"database table name {ROSTER_LINES!r} is already taken")
    sa.Table(
        ROSTER_LINES, md,
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("period", sa.String(16), nullable=False, index=True),
        sa.Column("line_no", sa.Integer(), nullable=False),  # row of the roster file
        sa.Column("rep", sa.Text(), nullable=False),
        sa.Column("account_name", sa.Text(), nullable=False),
        sa.Column("account_id", sa.Text(), nullable=True),
        sa.Column("sales_target", sa.BigInteger(), nullable=True),
        sa.Column("roster_file", sa.Text(), nullable=True),
        sa.Column("stored_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("period", "line_no"),
    )


def build_metadata(spec: Spec | None = None) -> sa.MetaData:
    """Every table of the store (above) plus the success-case library and the rosters."""
    spec = spec or load_spec()
    md = _build_store_metadata(spec)
    add_case_library(md, spec)
    add_rosters(md)
    return md
