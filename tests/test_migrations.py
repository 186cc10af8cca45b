"""The shipped Alembic migrations and xltools/store/schema.py describe the same database."""
from __future__ import annotations

import multiprocessing as mp
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from xltools.spec.spec import load_spec
from xltools.store import schema
from xltools.store.engine import MIGRATIONS_DIR, Store, StoreError, alembic_config, migration_heads

SPEC_TABLES = ["financials", "our_business", "initiatives", "opportunities", "contacts", "activities",
               "asks", "selection_scores", "kpis", "reviews", "success_cases"]


def test_spec_tables_map_to_snake_case_names():
    assert list(schema.spec_tables(load_spec())) == SPEC_TABLES
    assert [schema.snake_case(n) for n in ("KPIs", "SelectionScores", "OurBusiness", "XMLParser", "IDs")] == [
        "kpis", "selection_scores", "our_business", "xml_parser", "ids"]


def test_column_types_follow_the_field_types():
    md = schema.metadata()
    opp, pv = md.tables["opportunities"], md.tables["plan_versions"]
    assert isinstance(opp.c.amount.type, sa.BigInteger) and isinstance(opp.c.ltv.type, sa.BigInteger)
    assert isinstance(opp.c.probability.type, sa.Double) and isinstance(opp.c.expected_close.type, sa.Date)
    assert isinstance(opp.c.stage.type, sa.Text)
    assert isinstance(md.tables["contacts"].c.relationship.type, sa.Integer)
    assert isinstance(md.tables["kpis"].c.achievement.type, sa.Double)
    assert isinstance(pv.c.coverage_ratio.type, sa.Double) and isinstance(pv.c.close_q4.type, sa.BigInteger)
    assert isinstance(pv.c.fiscal_year_end_month.type, sa.Integer) and isinstance(pv.c.tier.type, sa.Text)
    # every spec column and single-value field has its column
    spec = load_spec()
    for name, t in schema.spec_tables(spec).items():
        assert {c.key for c in t.columns} <= set(md.tables[name].c.keys())
    assert {f.key for f in spec.fields} <= set(pv.c.keys())


def test_migrated_database_equals_schema(db_url):
    store = Store(db_url)
    store.ensure_schema()
    assert store.schema_revision() == migration_heads()
    with store.engine.connect() as conn:
        opts = {"compare_type": True, "include_object": schema.include_object}
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), schema.metadata())
    assert diff == []


def test_heads_and_revision_read_without_alembic_match_alembic(db_url, tmp_path, monkeypatch):
    from alembic.script import ScriptDirectory

    from xltools.store import engine

    assert migration_heads() == tuple(sorted(ScriptDirectory.from_config(alembic_config()).get_heads())) == ("0005",)
    graph = engine._shipped_revisions()
    assert graph is not None and graph["0001"] is None and graph["0005"] == "0004"
    fresh = Store(db_url)
    assert fresh.schema_revision() in ((), migration_heads())  # the test server's database may be migrated
    fresh.ensure_schema()
    with fresh.engine.connect() as conn:
        assert fresh.schema_revision() == tuple(MigrationContext.configure(conn).get_current_heads()) == ("0005",)
    with fresh.write() as conn:
        command.downgrade(alembic_config(conn), "0004")
    with fresh.engine.connect() as conn:
        assert fresh.schema_revision() == tuple(MigrationContext.configure(conn).get_current_heads()) == ("0004",)
    reopened = Store(db_url)
    reopened.ensure_schema()
    assert reopened.schema_revision() == ("0005",)
    # a script not of the plain form (a merge of two revisions) leaves the decision to Alembic
    (tmp_path / "versions").mkdir()
    (tmp_path / "versions" / "a.py").write_text("revision: str = 'a'\ndown_revision = None\n", encoding="utf-8")
    monkeypatch.setattr(engine, "MIGRATIONS_DIR", tmp_path)
    assert engine._shipped_revisions() == {"a": None}
    (tmp_path / "versions" / "m.py").write_text("revision = 'm'\ndown_revision = ('a', 'b')\n", encoding="utf-8")
    assert engine._shipped_revisions() is None


def test_migrations_are_explicit_ddl():
    paths = sorted((MIGRATIONS_DIR / "versions").glob("*.py"))
    assert paths
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(from|import)\s+xltools", text, re.M), path
    texts = [p.read_text(encoding="utf-8") for p in paths]
    for name in ["plans", "plan_versions", "files", "issues", *SPEC_TABLES]:
        # created once: by the initial migration, or (a table added later) by a later one
        assert sum(f"op.create_table('{name}'" in t for t in texts) == 1, name
    assert "op.create_table('asks'" in texts[3] and "op.create_table('asks'" not in texts[0]


def test_downgrade_to_base_and_upgrade_again(db_url):
    store = Store(db_url)
    store.ensure_schema()
    with store.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    with store.engine.connect() as conn:
        left = set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
    assert left == set()
    fresh = Store(db_url)
    fresh.ensure_schema()
    assert set(schema.metadata().tables) <= set(sa.inspect(fresh.engine).get_table_names())


def test_a_database_from_a_newer_xltools_is_refused(db_url):
    store = Store(db_url)
    store.ensure_schema()
    with store.engine.begin() as conn:
        conn.execute(sa.text("update alembic_version set version_num = '9999'"))
    with pytest.raises(StoreError) as e:
        Store(db_url).ensure_schema()
    assert "9999" in str(e.value)


def _first_use(url: str, barrier, results) -> None:
    barrier.wait()
    try:
        Store(url).ensure_schema()
        results.put("ok")
    except Exception as exc:  # reported to the test
        results.put(f"{type(exc).__name__}: {exc}")


def test_concurrent_first_use_creates_the_schema_once(db_url):
    ctx = mp.get_context("fork")
    barrier, results = ctx.Barrier(3), ctx.Queue()
    procs = [ctx.Process(target=_first_use, args=(db_url, barrier, results)) for _ in range(3)]
    for p in procs:
        p.start()
    try:
        outcomes = [results.get(timeout=60) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    assert outcomes == ["ok", "ok", "ok"]
    store = Store(db_url)
    assert store.schema_revision() == migration_heads()
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from alembic_version")).scalar() == 1


def test_migration_tool_finds_nothing_to_write(tmp_path, monkeypatch):
    """tools/make_migration.py compares the shipped head with schema.py: no difference now."""
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "tools" / "make_migration.py"
    spec = importlib.util.spec_from_file_location("make_migration", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    before = sorted(p.name for p in (MIGRATIONS_DIR / "versions").glob("*.py"))
    written = mod.make("test probe")
    if written is not None:
        written.unlink()
        pytest.fail("schema.py differs from the migrations: run tools/make_migration.py")
    assert sorted(p.name for p in (MIGRATIONS_DIR / "versions").glob("*.py")) == before
    assert mod.next_rev_id() == f"{len(before) + 1:04d}"


def test_0005_numbers_the_cases_already_stored_in_arrival_order(db_url):
    """A library made before library numbers existed: upgrading gives 1, 2, 3 by first_seen_at
    (then id), NOT NULL and unique; the next case collected gets the next number."""
    from datetime import datetime

    store = Store(db_url)
    store.ensure_schema()
    with store.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0004")
    seen = [datetime(2026, 5, 3), datetime(2026, 5, 1), datetime(2026, 5, 2)]
    with store.engine.begin() as conn:
        for i, at in enumerate(seen):
            conn.execute(sa.text(
                "INSERT INTO case_library (title_key, title, search_text, source_time, first_seen_at, updated_at) "
                "VALUES (:k, :t, '', :at, :at, :at)"), {"k": f"k{i}", "t": f"case {i}", "at": at})
    with store.engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    with store.engine.connect() as conn:
        got = conn.execute(sa.text("SELECT title, library_no FROM case_library ORDER BY library_no")).all()
        assert [tuple(r) for r in got] == [("case 1", 1), ("case 2", 2), ("case 0", 3)]
        with pytest.raises(sa.exc.IntegrityError):
            conn.execute(sa.text("UPDATE case_library SET library_no = 1 WHERE title = 'case 0'"))
