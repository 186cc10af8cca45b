"""A new database at the head revision without running the migrations.

Creating a database by running every Alembic migration in turn imports Alembic (with Mako
and Pygments) and, on SQLite, rebuilds tables in batch mode ("move and copy"): about
0.6 s of CPU before the first plan is stored.  An empty database is instead given the
schema those migrations leave behind, recorded in :mod:`xltools.store.headschema_ddl`
(generated; like a Rails ``schema.rb``), and its ``alembic_version`` is written as Alembic
writes it: the same table, one row per head revision.

* SQLite: the ``sqlite_master`` entries of a database made by the migrations (tables,
  indexes, the FTS5 table of the case library, triggers and views if any), in the order
  they were created, each statement exactly as SQLite stored it.  The FTS5 shadow tables
  and the automatic indexes of the UNIQUE and PRIMARY KEY constraints are made by SQLite
  itself from those statements, as they were by the migrations.  The one thing the
  migrations leave to chance -- the order in which Alembic's rebuild of ``case_library``
  (0005) makes its two indexes, and so the order SQLite lists them in -- is recorded as
  the run that made the record had it.
* PostgreSQL: the DDL the migrations execute on an empty schema, in order.  The pg_trgm
  extension and the schema it lives in depend on the server, so they are settled here
  when the schema is created (exactly as migration 0002 does: the extension in
  ``public`` when that schema exists) and the trigram operator class is qualified with
  that schema.

Alembic stays the only authority: the direct path is taken only for a database with no
relation at all, only on SQLite and PostgreSQL, and only while the recorded schema was
made from exactly the shipped migration scripts (their revisions and a digest of their
text; a new or edited migration falls back to Alembic until the record is made again).
Every other database is created or upgraded by the migrations.
``tests/test_schema_direct.py`` compares a database made each way, on both engines.

After a migration is added or changed, make the record again (a PostgreSQL server is
needed for its half)::

    .venv/bin/python -m xltools.store.headschema [postgresql+psycopg://user:pw@host/db]
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    from xltools.store.engine import Store

VERSION_TABLE = "alembic_version"
#: stands for the schema of the pg_trgm extension in the recorded PostgreSQL DDL
TRGM_SCHEMA = "<pg_trgm schema>"
DDL_MODULE = Path(__file__).resolve().parent / "headschema_ddl.py"
#: the first words of the statements a migration run on an empty PostgreSQL schema may
#: leave in the record (queries and Alembic's own bookkeeping rows are not schema)
_PG_DDL = ("CREATE", "ALTER", "COMMENT", "DROP", "GRANT", "REVOKE")
_DIGEST: tuple[Path, str] | None = None


def migrations_digest(migrations_dir: Path) -> str:
    """SHA-256 of the migration environment and every migration script (names and bytes)."""
    global _DIGEST
    if _DIGEST is not None and _DIGEST[0] == migrations_dir:
        return _DIGEST[1]
    h = hashlib.sha256()
    for path in [migrations_dir / "env.py", *sorted((migrations_dir / "versions").glob("*.py"))]:
        data = path.read_bytes() if path.exists() else b""
        h.update(f"{path.relative_to(migrations_dir).as_posix()}\0{len(data)}\0".encode())
        h.update(data)
    _DIGEST = (migrations_dir, h.hexdigest())
    return _DIGEST[1]


def recorded(dialect: str, heads: tuple[str, ...], migrations_dir: Path) -> tuple[str, ...] | None:
    """The recorded DDL of ``dialect`` when it was made from these very migrations, else None."""
    if dialect not in ("sqlite", "postgresql"):
        return None
    from xltools.store import headschema_ddl as ddl

    if ddl.HEADS != heads or ddl.MIGRATIONS_DIGEST != migrations_digest(migrations_dir):
        return None
    return ddl.SQLITE if dialect == "sqlite" else ddl.POSTGRESQL


def is_empty(conn: sa.Connection, dialect: str) -> bool:
    """Nothing at all in the database (SQLite) or in the schema new tables go to (PostgreSQL)."""
    if dialect == "sqlite":
        return conn.exec_driver_sql("SELECT 1 FROM sqlite_master LIMIT 1").first() is None
    if dialect == "postgresql":
        return bool(conn.exec_driver_sql(
            "SELECT current_schema() IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema())").scalar())
    return False


def create(conn: sa.Connection, dialect: str, statements: tuple[str, ...], heads: tuple[str, ...]) -> None:
    """Run the recorded DDL in ``conn``'s transaction and write ``alembic_version``."""
    trgm: str | None = None
    for statement in statements:
        if TRGM_SCHEMA in statement:
            trgm = trgm or _ensure_pg_trgm(conn)
            statement = statement.replace(TRGM_SCHEMA, trgm)
        conn.exec_driver_sql(statement)
    version = sa.table(VERSION_TABLE, sa.column("version_num", sa.String(32)))
    for head in heads:
        conn.execute(version.insert().values(version_num=head))


def _trgm_schema(conn: sa.Connection) -> str | None:
    found = conn.exec_driver_sql(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'pg_trgm'").scalar()
    return None if found is None else str(found)


def _ensure_pg_trgm(conn: sa.Connection) -> str:
    """The schema of the pg_trgm extension, installing it first if needed (as migration 0002
    does: in ``public`` when that schema exists, so that dropping one schema never takes it
    away from another)."""
    schema = _trgm_schema(conn)
    if schema is None:
        has_public = conn.exec_driver_sql("SELECT 1 FROM pg_namespace WHERE nspname = 'public'").scalar()
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm" + (" WITH SCHEMA public" if has_public else ""))
        schema = _trgm_schema(conn)
    if schema is None:
        raise RuntimeError("pg_trgm is not installed after CREATE EXTENSION")
    return schema


# -- making the record --------------------------------------------------------------------

def capture_sqlite(store: Store) -> list[str]:
    """The ``sqlite_master`` statements of the database of ``store``, just made by the
    migrations, in creation order: everything but what SQLite makes itself (automatic
    indexes, FTS5 shadow tables, ``sqlite_*`` tables)."""
    with store.engine.connect() as conn:
        shadow = {r[1] for r in conn.exec_driver_sql("PRAGMA table_list") if r[2] == "shadow"}
        rows = conn.exec_driver_sql("SELECT type, name, sql FROM sqlite_master ORDER BY rowid").all()
        tables = [r[1] for r in rows if r[0] == "table" and r[1] not in shadow and not r[1].startswith("sqlite_")]
        for name in tables:
            n = conn.exec_driver_sql(f'SELECT count(*) FROM "{name}"').scalar()
            if name != VERSION_TABLE and n:
                raise RuntimeError(f"the migrations write rows into {name} of a new database: "
                                   "the direct path records the schema only")
    return [str(sql) for _type, name, sql in rows
            if sql is not None and name not in shadow and not str(name).startswith("sqlite_")]


def capture_postgresql(store: Store) -> list[str]:
    """The DDL that the migrations execute while ``store`` (an empty schema) is upgraded."""
    seen: list[tuple[str, Any]] = []

    def listen(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        seen.append((statement, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", listen)
    try:
        store.ensure_schema(direct=False)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", listen)
    with store.engine.connect() as conn:
        trgm = _trgm_schema(conn)
    out: list[str] = []
    for statement, parameters in seen:
        text = statement.strip()
        first = text.split(None, 1)[0].upper() if text else ""
        if first in ("INSERT", "UPDATE", "DELETE") and VERSION_TABLE not in text.split("(", 1)[0]:
            raise RuntimeError(f"the migrations write rows into a new database ({text[:60]}...): "
                               "the direct path records the schema only")
        if first not in _PG_DDL or text.upper().startswith("CREATE EXTENSION"):
            continue
        if parameters or "%" in text:
            raise RuntimeError(f"a migration's DDL has parameters or '%': {text[:80]}")
        if trgm is not None:
            text = text.replace(f'"{trgm}".gin_trgm_ops', f'"{TRGM_SCHEMA}".gin_trgm_ops')
        out.append(text)
    return out


def render(heads: tuple[str, ...], digest: str, sqlite: list[str], postgresql: list[str]) -> str:
    """The text of :mod:`xltools.store.headschema_ddl`."""
    def block(name: str, statements: list[str]) -> str:
        return f"{name}: tuple[str, ...] = (\n" + "".join(f"    {s!r},\n" for s in statements) + ")\n"

    return (
        '"""The schema the shipped migrations leave in an empty database (see xltools.store.headschema).\n\n'
        "Generated by ``python -m xltools.store.headschema``; do not edit.\n"
        '"""\n'
        "from __future__ import annotations\n\n"
        f"HEADS: tuple[str, ...] = {heads!r}\n"
        f"MIGRATIONS_DIGEST = {digest!r}\n\n"
        + block("SQLITE", sqlite) + "\n" + block("POSTGRESQL", postgresql))


def make_record(pg_url: str, path: Path = DDL_MODULE) -> Path:
    """Make a SQLite file and an empty PostgreSQL schema by the migrations and write the record."""
    from xltools.store.engine import MIGRATIONS_DIR, Store, migration_heads

    with tempfile.TemporaryDirectory() as tmp:
        with Store(f"sqlite:///{Path(tmp) / 'head.db'}") as store:
            store.ensure_schema(direct=False)
            sqlite = capture_sqlite(store)
    schema = f"xltools_head_{uuid.uuid4().hex[:12]}"
    server = sa.create_engine(pg_url)
    try:
        with server.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        sep = "&" if "?" in pg_url else "?"
        try:
            with Store(f"{pg_url}{sep}options=-csearch_path%3D{schema}") as store:
                postgresql = capture_postgresql(store)
        finally:
            with server.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        server.dispose()
    path.write_text(render(migration_heads(), migrations_digest(MIGRATIONS_DIR), sqlite, postgresql),
                    encoding="utf-8")
    return path


def main(argv: list[str]) -> int:
    url = argv[0] if argv else os.environ.get("XLTOOLS_TEST_PG_URL", "")
    if len(argv) > 1 or not url.startswith("postgresql"):
        print(__doc__.rsplit("\n\n", 1)[-1] if __doc__ else "", file=sys.stderr)
        print("a PostgreSQL URL is needed (argument or XLTOOLS_TEST_PG_URL)", file=sys.stderr)
        return 2
    print(f"wrote {make_record(url)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
