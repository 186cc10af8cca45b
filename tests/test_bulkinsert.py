"""xltools.store.bulkinsert: rows stored through the driver's executemany are exactly the rows
SQLAlchemy's own insert stores, on SQLite and on PostgreSQL."""
from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from xltools.spec.spec import load_spec
from xltools.store import schema as sch
from xltools.store.bulkinsert import insert_row, insert_rows, insert_tuples

SPEC = load_spec()
MD = sch.metadata(SPEC)
ISSUES = MD.tables["issues"]

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00"), max_size=30)


def _value(col: sa.Column):
    t = col.type
    if isinstance(t, sa.BigInteger):
        return st.integers(-(2**62), 2**62)
    if isinstance(t, sa.Integer):
        return st.integers(-(2**31), 2**31 - 1)
    if isinstance(t, sa.Double):
        return st.floats(allow_nan=False, allow_infinity=False, width=64)
    if isinstance(t, sa.Date):
        return st.dates(date(1900, 1, 1), date(2200, 12, 31))
    if isinstance(t, sa.DateTime):  # naive UTC, as the store keeps time
        return st.datetimes(datetime(1970, 1, 1), datetime(2200, 12, 31))
    return st.one_of(_TEXT, st.sampled_from(["=1+1", "＝SUM(A1)", "'x", "株式会社サンプル"]))


def _rows_strategy(table: sa.Table):
    cols = [c for c in table.columns if not c.primary_key and not c.foreign_keys]
    row = st.fixed_dictionaries({c.key: (st.none() | _value(c)) if c.nullable else _value(c) for c in cols})
    return st.lists(row, min_size=1, max_size=8)


def _col(c: sa.Column) -> sa.Column:
    return sa.Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable,
                     autoincrement=c.autoincrement)


def _fresh(url: str) -> sa.Engine:
    eng = sa.create_engine(url)
    md = sa.MetaData()
    for name in ("t_a", "t_b"):
        sa.Table(name, md, *[_col(c) for c in ISSUES.columns if not c.foreign_keys],
                 sa.Column("file_id", sa.Integer()), sa.Column("version_id", sa.Integer()))
    md.drop_all(eng)
    md.create_all(eng)
    return eng, md


def _same_rows(url: str, rows: list[dict], as_tuples: bool = False) -> None:
    eng, md = _fresh(url)
    a, b = md.tables["t_a"], md.tables["t_b"]
    with eng.begin() as conn:
        conn.execute(a.insert(), rows)
        if as_tuples:  # the keys in reverse: not the table's column order
            keys = tuple(reversed(list(rows[0])))
            insert_tuples(conn, b, keys, [tuple(r[k] for k in keys) for r in rows])
        else:
            insert_rows(conn, b, rows)
    with eng.connect() as conn:
        got_a = conn.execute(sa.select(a).order_by(a.c.id)).all()
        got_b = conn.execute(sa.select(b).order_by(b.c.id)).all()
        raw_a = conn.exec_driver_sql("select * from t_a order by id").all()
        raw_b = conn.exec_driver_sql("select * from t_b order by id").all()
    eng.dispose()
    assert got_a == got_b and raw_a == raw_b  # the same values, as SQLAlchemy and as the driver sees them


def _issue_rows():
    cols = [c for c in ISSUES.columns if not c.primary_key]
    row = st.fixed_dictionaries({c.key: (st.none() | _value(c)) if c.nullable else _value(c) for c in cols})
    return st.lists(row, min_size=1, max_size=8)


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_issue_rows(), as_tuples=st.booleans())
def test_the_driver_stores_what_sqlalchemy_stores_sqlite(tmp_path, rows, as_tuples):
    _same_rows(f"sqlite:///{tmp_path / 'bulk.db'}", rows, as_tuples)


@pytest.mark.parametrize("as_tuples", [False, True])
def test_the_driver_stores_what_sqlalchemy_stores_postgresql(pg_url, as_tuples):
    rows = [{c.key: None for c in ISSUES.columns if not c.primary_key} for _ in range(3)]
    for i, r in enumerate(rows):
        r.update(file_id=i, version_id=None, code="E-TYPE", severity="error", message_ja="=SUM(A1) 株式会社",
                 message_en=f"row {i}", row=i * 1000, sheet="④" * i)
    _same_rows(pg_url, rows, as_tuples)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_every_spec_table_in_the_store(backend, tmp_path, request):
    """Each row table of the schema: dates, big amounts, floats, text, NULLs."""
    url = f"sqlite:///{tmp_path / 'rows.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    eng = sa.create_engine(url)
    md = sa.MetaData()
    pairs = []
    for name in sch.spec_tables(SPEC):
        cols = [c for c in MD.tables[name].columns if not c.foreign_keys]
        pairs.append(tuple(sa.Table(f"{name}_{x}", md, *[_col(c) for c in cols], sa.Column("version_id", sa.Integer()))
                           for x in "ab"))
    md.create_all(eng)

    @hsettings(max_examples=8, deadline=None)
    @given(data=st.data())
    def check(data):
        for a, b in pairs:
            rows = data.draw(_rows_strategy(a), label=a.name)
            for i, r in enumerate(rows):
                r.update(version_id=7, row_index=i + 1)
            with eng.begin() as conn:
                conn.execute(a.delete())
                conn.execute(b.delete())
                conn.execute(a.insert(), rows)
                insert_rows(conn, b, rows)
            with eng.connect() as conn:
                got_a = conn.execute(sa.select(a).order_by(a.c.id)).all()
                got_b = conn.execute(sa.select(b).order_by(b.c.id)).all()
            assert [r[1:] for r in got_a] == [r[1:] for r in got_b], a.name  # ids aside (they keep counting)

    try:
        check()
    finally:
        eng.dispose()


def test_rows_of_different_shapes_are_refused_as_sqlalchemy_refuses_them(tmp_path):
    eng, md = _fresh(f"sqlite:///{tmp_path / 'shapes.db'}")
    a, b = md.tables["t_a"], md.tables["t_b"]
    base = {"code": "X", "severity": "info", "message_ja": "あ", "message_en": "a"}
    rows = [dict(base, row=1), dict(base, cell="B3")]
    errors = []
    for t in (a, b):
        with pytest.raises(sa.exc.StatementError) as e:
            with eng.begin() as conn:
                (conn.execute(t.insert(), rows) if t is a else insert_rows(conn, t, rows))
        errors.append(str(e.value.orig))
    assert errors[0] == errors[1] and "row" in errors[0]
    with eng.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(b)).scalar() == 0


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_one_row_returns_its_key_and_stores_what_sqlalchemy_stores(backend, tmp_path, request):
    """insert_row (the version and ledger rows of a save): the generated id, the same values."""
    url = f"sqlite:///{tmp_path / 'one.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    eng = sa.create_engine(url)
    md = sa.MetaData()
    pv = MD.tables["plan_versions"]
    pair = [sa.Table(f"pv_one_{x}", md, *[_col(c) for c in pv.columns if not c.foreign_keys]) for x in "ab"]
    md.drop_all(eng)
    md.create_all(eng)
    a, b = pair
    value_cols = [c for c in a.columns if not c.primary_key]
    try:
        @hsettings(max_examples=10, deadline=None)
        def value(c):
            length = getattr(c.type, "length", None)  # String(n) columns: within their length
            return st.text("ab株=", max_size=length) if length else _value(c)

        @given(row=st.fixed_dictionaries({c.key: (st.none() | value(c)) if c.nullable else value(c)
                                          for c in value_cols if not isinstance(c.type, sa.Boolean)}),
               current=st.booleans())
        def check(row, current):
            row = dict(row, is_current=current)
            with eng.begin() as conn:
                ka = conn.execute(a.insert(), row).inserted_primary_key[0]
                kb = insert_row(conn, b, row)
                kb2 = insert_row(conn, b, row)
                assert kb2 == kb + 1  # each call returns the key of the row it wrote
            with eng.connect() as conn:
                got_a = conn.execute(sa.select(a).where(a.c.id == ka)).one()
                got_b = conn.execute(sa.select(b).where(b.c.id == kb)).one()
                raw_a = conn.exec_driver_sql(f"select * from {a.name} where id = {ka}").one()
                raw_b = conn.exec_driver_sql(f"select * from {b.name} where id = {kb}").one()
            assert got_a[1:] == got_b[1:] and raw_a[1:] == raw_b[1:]

        check()
    finally:
        md.drop_all(eng)
        eng.dispose()
