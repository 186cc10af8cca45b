"""A new database made directly at the head revision (xltools.store.headschema) is the
database the Alembic migrations make: the same schema, object by object, on SQLite and on
a real PostgreSQL; the same stored contents for the same plans; and Alembic afterwards
finds it at the head with nothing to do."""
from __future__ import annotations

import dataclasses
import io
import shutil
import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from xltools.collect import collect_paths
from xltools.reports.cases import search_cases, sync_library
from xltools.spec.config import Settings
from xltools.spec.spec import load_spec
from xltools.store import engine, headschema, headschema_ddl, schema
from xltools.store.engine import MIGRATIONS_DIR, Store, alembic_config, migration_heads
from xltools.testing.folders import write_corpus

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import stored_digest  # noqa: E402

NOW = datetime(2026, 11, 20, 9, 0)
REMAKE = "make the record again: .venv/bin/python -m xltools.store.headschema"


# -- the whole schema of a database, as comparable values --------------------------------------

def sqlite_schema(conn: sa.Connection) -> dict[str, Any]:
    """Every ``sqlite_master`` row (type, name, table, statement), the columns, indexes and
    foreign keys of every table and the columns of every index, the file's own settings
    and the ``alembic_version`` rows."""
    q = conn.exec_driver_sql
    out: dict[str, Any] = {
        "sqlite_master": sorted(tuple(r) for r in q("SELECT type, name, tbl_name, sql FROM sqlite_master")),
        "pragmas": {p: q(f"PRAGMA {p}").scalar() for p in
                    ("user_version", "application_id", "auto_vacuum", "encoding", "page_size", "journal_mode")},
        "alembic_version": sorted(r[0] for r in q("SELECT version_num FROM alembic_version")),
    }
    tables = [r[0] for r in q("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    for t in tables:
        out[f"table_xinfo {t}"] = [tuple(r) for r in q(f"PRAGMA table_xinfo('{t}')")]
        # without seq: SQLite lists a table's indexes in the order they were made, which
        # Alembic's rebuild of case_library (0005) leaves to chance (two runs differ)
        out[f"index_list {t}"] = sorted(tuple(r)[1:] for r in q(f"PRAGMA index_list('{t}')"))
        out[f"foreign_key_list {t}"] = [tuple(r) for r in q(f"PRAGMA foreign_key_list('{t}')")]
        for index in out[f"index_list {t}"]:
            out[f"index_xinfo {index[0]}"] = [tuple(r) for r in q(f"PRAGMA index_xinfo('{index[0]}')")]
    return out


_PG_QUERIES = {
    "columns": "SELECT table_name, column_name, ordinal_position, column_default, is_nullable, data_type, "
               "character_maximum_length, numeric_precision, numeric_scale, datetime_precision, udt_name, "
               "is_identity, is_generated, collation_name FROM information_schema.columns "
               "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
    # NOT NULL shows as a CHECK constraint named after OIDs: the columns' is_nullable says it
    "table_constraints": "SELECT table_name, constraint_name, constraint_type, is_deferrable, initially_deferred "
                         "FROM information_schema.table_constraints WHERE constraint_schema = current_schema() "
                         "AND NOT (constraint_type = 'CHECK' AND right(constraint_name, 9) = '_not_null') "
                         "ORDER BY table_name, constraint_name",
    "key_columns": "SELECT table_name, constraint_name, column_name, ordinal_position, position_in_unique_constraint "
                   "FROM information_schema.key_column_usage WHERE constraint_schema = current_schema() "
                   "ORDER BY table_name, constraint_name, ordinal_position",
    "referential_constraints": "SELECT constraint_name, unique_constraint_name, match_option, update_rule, "
                               "delete_rule FROM information_schema.referential_constraints "
                               "WHERE constraint_schema = current_schema() ORDER BY constraint_name",
    "constraint_definitions": "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid), "
                              "condeferrable, condeferred, convalidated FROM pg_constraint "
                              "WHERE connamespace = current_schema()::regnamespace ORDER BY 1, 2",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
               "ORDER BY tablename, indexname",
    "sequences": "SELECT sequence_name, data_type, start_value, minimum_value, maximum_value, increment, "
                 "cycle_option FROM information_schema.sequences WHERE sequence_schema = current_schema() "
                 "ORDER BY sequence_name",
    "sequence_owners": "SELECT s.relname, t.relname, a.attname FROM pg_depend d "
                       "JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
                       "JOIN pg_class t ON t.oid = d.refobjid "
                       "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid "
                       "WHERE s.relnamespace = current_schema()::regnamespace AND d.deptype = 'a' ORDER BY 1",
    "triggers": "SELECT event_object_table, trigger_name, event_manipulation, action_timing, action_orientation, "
                "action_statement FROM information_schema.triggers WHERE trigger_schema = current_schema() "
                "ORDER BY 1, 2, 3",
    "relations": "SELECT relname, relkind, relpersistence, reloptions::text, relnatts FROM pg_class "
                 "WHERE relnamespace = current_schema()::regnamespace ORDER BY relname",
    "views": "SELECT table_name, view_definition FROM information_schema.views "
             "WHERE table_schema = current_schema() ORDER BY table_name",
    "functions": "SELECT proname, pg_get_function_identity_arguments(oid) FROM pg_proc "
                 "WHERE pronamespace = current_schema()::regnamespace ORDER BY 1, 2",
    "extensions": "SELECT e.extname, e.extversion, n.nspname FROM pg_extension e "
                  "JOIN pg_namespace n ON n.oid = e.extnamespace ORDER BY e.extname",
    "alembic_version": "SELECT version_num FROM alembic_version ORDER BY version_num",
}


def pg_schema(conn: sa.Connection) -> dict[str, Any]:
    """The schema's columns, constraints, indexes, sequences, triggers, relations, views,
    functions, the database's extensions and ``alembic_version``; the schema's own name
    (each database of a test has its own) is written as ``<schema>``."""
    own = conn.exec_driver_sql("SELECT current_schema()").scalar()
    assert own

    def plain(v: Any) -> Any:
        return v.replace(f'"{own}".', "<schema>.").replace(f"{own}.", "<schema>.") if isinstance(v, str) else v

    return {name: [tuple(plain(v) for v in r) for r in conn.exec_driver_sql(sql)] for name, sql in _PG_QUERIES.items()}


def without_statements(found: dict[str, Any]) -> dict[str, Any]:
    """``found`` without the text of SQLite's CREATE statements: a table that Alembic rebuilds
    in batch mode (a downgrade that drops a column) gets its constraints in an order that
    differs from one run to the next; the pragmas still describe every column, index and key."""
    if "sqlite_master" not in found:
        return found
    return {**found, "sqlite_master": [row[:3] for row in found["sqlite_master"]]}


def schema_of(store: Store) -> dict[str, Any]:
    with store.engine.connect() as conn:
        return sqlite_schema(conn) if store.dialect == "sqlite" else pg_schema(conn)


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """What one schema has and the other lacks, item by item."""
    out = []
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if x == y:
            continue
        if isinstance(x, list) and isinstance(y, list):
            out += [f"{key}: only by the migrations: {v!r}" for v in x if v not in y]
            out += [f"{key}: only directly: {v!r}" for v in y if v not in x]
            if all(v in y for v in x) and all(v in x for v in y):
                out.append(f"{key}: same items, other order")
        else:
            out.append(f"{key}: {x!r} / {y!r}")
    return out


# -- two new databases of one engine -----------------------------------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def two_urls(request, tmp_path) -> Iterator[tuple[str, str]]:
    """Two new, empty databases (SQLite files, or PostgreSQL schemas of the test server)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.db'}", f"sqlite:///{tmp_path / 'direct.db'}"
        return
    server = request.getfixturevalue("pg_server_url")
    names = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    eng = sa.create_engine(server)
    with eng.begin() as c:
        for name in names:
            c.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    sep = "&" if "?" in server else "?"
    try:
        yield tuple(f"{server}{sep}options=-csearch_path%3D{name}" for name in names)  # type: ignore[misc]
    finally:
        with eng.begin() as c:
            for name in names:
                c.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
        eng.dispose()


def both(two_urls: tuple[str, str], monkeypatch, spec=None) -> tuple[Store, Store]:
    """(a store made by the migrations, a store made directly)."""
    migrated = Store(two_urls[0], spec)
    migrated.ensure_schema(direct=False)
    direct = Store(two_urls[1], spec)
    with monkeypatch.context() as m:
        m.setattr(command, "upgrade", lambda *a, **k: pytest.fail("the direct path ran Alembic's upgrade"))
        direct.ensure_schema()
    return migrated, direct


# -- the record ----------------------------------------------------------------------------------

def record_problems() -> list[str]:
    problems = []
    if headschema_ddl.HEADS != migration_heads():
        problems.append(f"recorded at {headschema_ddl.HEADS}, the migrations' head is {migration_heads()}")
    if headschema_ddl.MIGRATIONS_DIGEST != headschema.migrations_digest(engine.MIGRATIONS_DIR):
        problems.append("the migration scripts changed since the record was made")
    return problems


def test_the_record_is_made_from_the_shipped_migrations():
    assert record_problems() == [], REMAKE
    for dialect in ("sqlite", "postgresql"):
        assert headschema.recorded(dialect, migration_heads(), MIGRATIONS_DIR), dialect
    assert headschema.recorded("mysql", migration_heads(), MIGRATIONS_DIR) is None
    assert any("USING fts5" in s for s in headschema_ddl.SQLITE)
    assert any(headschema.TRGM_SCHEMA in s and "gin_trgm_ops" in s for s in headschema_ddl.POSTGRESQL)
    # what SQLite makes by itself is not in the record: FTS5 shadow tables, automatic indexes
    assert not any("case_library_fts_" in s for s in headschema_ddl.SQLITE)


def test_a_new_database_has_the_schema_the_migrations_make(two_urls, monkeypatch):
    migrated, direct = both(two_urls, monkeypatch)
    a, b = schema_of(migrated), schema_of(direct)
    assert differences(a, b) == []
    assert a == b
    assert b["alembic_version"] in (["0005"], [("0005",)])
    assert direct.schema_revision() == migration_heads()
    # and both are what schema.py describes
    opts = {"compare_type": True, "include_object": schema.include_object}
    with direct.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn, opts=opts), schema.metadata()) == []
    if direct.dialect == "sqlite":
        names = {row[1] for row in b["sqlite_master"]}
        assert {"case_library_fts", "case_library_fts_data", "sqlite_autoindex_plans_2"} <= names
        assert [c[1] for c in b["table_xinfo case_library"]][-1] == "library_no"  # added by 0005, last
    else:
        assert ("pg_trgm",) == tuple(e[0] for e in b["extensions"] if e[0] == "pg_trgm")
        trgm = [i for i in b["indexes"] if i[1] == schema.CASE_TRGM_INDEX]
        assert trgm and "gin_trgm_ops" in trgm[0][2]
        assert [c[1] for c in b["columns"] if c[0] == "plan_versions"][-1] == "ltv_total"  # added by 0004
    migrated.close()
    direct.close()


@pytest.fixture(scope="module")
def plans_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("plans")
    write_corpus(folder, 3, seed=11, jobs=1, messy=0.3, period="FY2026Q3")
    return folder


def test_the_same_plans_are_stored_the_same_way(two_urls, monkeypatch, plans_folder):
    settings = Settings()
    spec = settings.apply(load_spec())
    migrated, direct = both(two_urls, monkeypatch, spec)
    hits = []
    for store in (migrated, direct):
        summary = collect_paths([plans_folder], store, spec, settings, jobs=1, now=NOW)
        assert summary.count("stored") == 3
        assert sync_library(store, now=NOW) > 0
        hits.append([(h.case.no, h.case["title"], h.snippet) for h in search_cases(store, "削減", scope="all", now=NOW)])
        store.close()
    a, b = stored_digest.digests(two_urls[0]), stored_digest.digests(two_urls[1])
    assert stored_digest.differences(a, b) == []
    assert a["plan_versions"]["rows"] == 3 and a["case_library"]["rows"] > 0 and a["issues"]["rows"] > 0
    assert hits[0] == hits[1]


def test_alembic_finds_a_direct_database_at_the_head_with_nothing_to_do(two_urls, monkeypatch):
    migrated, direct = both(two_urls, monkeypatch)
    before = schema_of(direct)
    ran: list[str] = []

    def listen(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        ran.append(statement.strip().split(None, 1)[0].upper())

    sa.event.listen(direct.engine, "before_cursor_execute", listen)
    with direct.write() as conn:
        command.upgrade(alembic_config(conn), "head")
        cfg = alembic_config(conn)
        cfg.stdout = out = io.StringIO()
        command.current(cfg)
        assert tuple(MigrationContext.configure(conn).get_current_heads()) == migration_heads()
    sa.event.remove(direct.engine, "before_cursor_execute", listen)
    assert out.getvalue().strip() == "0005 (head)"
    assert set(ran) <= {"SELECT", "BEGIN", "PRAGMA"}, ran  # read the version, changed nothing
    assert differences(before, schema_of(direct)) == []
    # and Alembic takes it down and up again as it does a migrated one
    for store in (migrated, direct):
        with store.write() as conn:
            command.downgrade(alembic_config(conn), "0003")
        with store.write() as conn:
            command.upgrade(alembic_config(conn), "head")
    assert differences(without_statements(schema_of(migrated)), without_statements(schema_of(direct))) == []
    migrated.close()
    direct.close()


# -- when the direct path is not taken -----------------------------------------------------------

def test_an_older_database_is_upgraded_by_the_migrations(two_urls, monkeypatch):
    older, direct = Store(two_urls[0]), Store(two_urls[1])
    with older.write() as conn:
        command.upgrade(alembic_config(conn), "0004")
    assert older.schema_revision() == ("0004",)
    monkeypatch.setattr(headschema, "create", lambda *a: pytest.fail("the direct path ran on an existing database"))
    older.ensure_schema()
    assert older.schema_revision() == migration_heads()
    monkeypatch.undo()
    direct.ensure_schema()
    assert differences(schema_of(older), schema_of(direct)) == []
    older.close()
    direct.close()


def test_a_database_with_tables_of_its_own_is_left_to_the_migrations(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    with Store(url) as store, store.write() as conn:
        conn.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.exec_driver_sql("INSERT INTO notes (body) VALUES ('keep me')")
    monkeypatch.setattr(headschema, "create", lambda *a: pytest.fail("the direct path ran on a non-empty database"))
    with Store(url) as store:
        store.ensure_schema()
        assert store.schema_revision() == migration_heads()
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT body FROM notes").scalar() == "keep me"
            assert conn.exec_driver_sql("SELECT count(*) FROM plan_versions").scalar() == 0


def test_a_new_or_changed_migration_is_not_missed(tmp_path, monkeypatch):
    """A migration added after the record was made: the record no longer applies (the first
    test of this module fails until it is made again), a new database goes through Alembic
    and gets the new column, and the stale record would lack it -- which the comparison
    of this module reports."""
    shutil.copytree(MIGRATIONS_DIR, tmp_path / "migrations", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "migrations" / "versions" / "0006_extra.py").write_text(
        '"""extra"""\nfrom alembic import op\nimport sqlalchemy as sa\n\n'
        "revision = '0006'\ndown_revision = '0005'\nbranch_labels = None\ndepends_on = None\n\n\n"
        "def upgrade() -> None:\n"
        "    with op.batch_alter_table('plans', schema=None) as batch_op:\n"
        "        batch_op.add_column(sa.Column('extra', sa.Text(), nullable=True))\n"
        "        batch_op.create_index('ix_plans_extra', ['extra'], unique=False)\n\n\n"
        "def downgrade() -> None:\n    pass\n", encoding="utf-8")
    monkeypatch.setattr(engine, "MIGRATIONS_DIR", tmp_path / "migrations")
    monkeypatch.setattr(engine, "_HEADS", None)
    assert migration_heads() == ("0006",)
    assert record_problems() and headschema.recorded("sqlite", ("0006",), engine.MIGRATIONS_DIR) is None

    with Store(f"sqlite:///{tmp_path / 'new.db'}") as new:
        new.ensure_schema()
        assert new.schema_revision() == ("0006",)
        got = schema_of(new)
    assert "extra" in [c[1] for c in got["table_xinfo plans"]]
    stale = Store(f"sqlite:///{tmp_path / 'stale.db'}")
    with stale.write() as conn:
        headschema.create(conn, "sqlite", headschema_ddl.SQLITE, ("0006",))
    diff = differences(got, schema_of(stale))
    stale.close()
    assert any("extra" in d and "only by the migrations" in d for d in diff), diff
    assert any("ix_plans_extra" in d for d in diff), diff

    # a migration edited in place (same revisions): the digest no longer matches
    (tmp_path / "migrations" / "versions" / "0006_extra.py").unlink()
    monkeypatch.setattr(engine, "_HEADS", None)
    monkeypatch.setattr(headschema, "_DIGEST", None)  # the scripts change under a running process
    assert headschema.recorded("sqlite", migration_heads(), engine.MIGRATIONS_DIR) is not None
    with open(tmp_path / "migrations" / "versions" / "0005_rosters_and_library_numbers.py", "a") as f:
        f.write("\n# edited\n")
    monkeypatch.setattr(headschema, "_DIGEST", None)
    assert headschema.recorded("sqlite", migration_heads(), engine.MIGRATIONS_DIR) is None


def test_the_new_schema_does_not_depend_on_the_spec(tmp_path, monkeypatch):
    """The migrations are explicit DDL (they never read the spec), and so is the record: a
    spec with one more field gives the same new database both ways, without that field
    (a spec change needs a migration: tools/make_migration.py)."""
    spec = load_spec()
    first = spec.sections[0]
    group = first.groups[-1]
    extra = dataclasses.replace(group.fields[-1], key="extra_note")
    groups = (*first.groups[:-1], dataclasses.replace(group, fields=(*group.fields, extra)))
    wider = dataclasses.replace(spec, sections=(dataclasses.replace(first, groups=groups), *spec.sections[1:]))
    assert "extra_note" in schema.build_metadata(wider).tables["plan_versions"].c
    urls = (f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}")
    migrated, direct = both(urls, monkeypatch, wider)
    a = schema_of(migrated)
    assert differences(a, schema_of(direct)) == []
    assert "extra_note" not in [c[1] for c in a["table_xinfo plan_versions"]]
    migrated.close()
    direct.close()
