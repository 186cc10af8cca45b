"""Many rows into one table through the database driver's own ``executemany``.

``conn.execute(table.insert(), rows)`` makes SQLAlchemy build and check every row's
parameters in Python (a large share of what storing a plan costs).  :func:`insert_rows`
compiles the INSERT once per table, dialect and column set, converts every value with
the bind processor SQLAlchemy itself uses for that column's type (so the database
receives exactly the same values), and hands the rows to the driver in one
``executemany`` on the caller's connection -- inside the caller's transaction.
:func:`insert_tuples` takes the rows as tuples of the same column keys (what a prepared save
holds), and :func:`insert_row` inserts one row and returns its generated key (the cursor's
``lastrowid`` on SQLite, ``RETURNING`` elsewhere).
"""
from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Callable, Sequence

import sqlalchemy as sa


@dataclass(frozen=True)
class _Plan:
    sql: str
    columns: tuple[str, ...]  # column keys, in parameter order
    names: tuple[str, ...] | None  # parameter names for named paramstyles; None: positional
    procs: tuple[Callable[[Any], Any] | None, ...]
    get: Callable[[dict[str, Any]], tuple[Any, ...]]  # a row's values in parameter order
    converted: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, bind processor) where there is one


def _getter(columns: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    if len(columns) == 1:
        key = columns[0]
        return lambda row: (row[key],)
    return itemgetter(*columns)


_PLANS: dict[tuple[int, str, str, tuple[str, ...], str | None], _Plan] = {}


def _plan(table: sa.Table, keys: tuple[str, ...], dialect: sa.Dialect, returning: str | None = None) -> _Plan:
    cache_key = (id(table), dialect.name, dialect.driver, keys, returning)
    plan = _PLANS.get(cache_key)
    if plan is None:
        stmt = table.insert() if returning is None else table.insert().returning(table.c[returning])
        compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
        if compiled.positional:
            assert compiled.positiontup is not None  # a positional compile always sets it
            binds = list(compiled.positiontup)
        else:
            binds = list(compiled.binds)
        columns = tuple(compiled.binds[b].key for b in binds)
        if sorted(columns) != sorted(keys):  # a default or anything else SQLAlchemy would add
            raise ValueError(f"{table.name}: no bulk insert of the columns {keys}")
        escaped = getattr(compiled, "escaped_bind_names", None) or {}
        procs = tuple(table.c[k].type.dialect_impl(dialect).bind_processor(dialect) for k in columns)
        plan = _PLANS[cache_key] = _Plan(compiled.string, columns,
                                         None if compiled.positional else tuple(escaped.get(b, b) for b in binds),
                                         procs, _getter(columns),
                                         tuple((i, p) for i, p in enumerate(procs) if p is not None))
    return plan


def insert_rows(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` on ``conn``: the values
    stored are those ``conn.execute(table.insert(), rows)`` would store."""
    if not rows:
        return
    keys = tuple(rows[0])
    if any(len(r) != len(keys) for r in rows) or any(tuple(r) != keys for r in rows):
        conn.execute(table.insert(), list(rows))  # rows of different shapes: SQLAlchemy sorts them out
        return
    plan = _plan(table, keys, conn.dialect)
    conn.exec_driver_sql(plan.sql, [_params(plan, r) for r in rows])


def _params(plan: _Plan, row: dict[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
    values = plan.get(row)
    if plan.converted:
        converted = list(values)
        for i, proc in plan.converted:
            converted[i] = proc(converted[i])
        values = tuple(converted)
    return values if plan.names is None else dict(zip(plan.names, values))


def insert_tuples(conn: sa.Connection, table: sa.Table, keys: tuple[str, ...],
                  rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert ``rows`` (tuples of the values of ``keys``, in that order) into ``table`` on
    ``conn``: the values stored are those of :func:`insert_rows` with the same rows as dicts."""
    if not rows:
        return
    plan = _plan(table, keys, conn.dialect)
    if plan.columns != keys:  # the compiled statement binds the columns in the table's order
        at = [keys.index(c) for c in plan.columns]
        rows = [tuple([r[i] for i in at]) for r in rows]
    converted, names = plan.converted, plan.names
    if converted:
        params: list[Any] = []
        for r in rows:
            values = list(r)
            for i, proc in converted:
                values[i] = proc(values[i])
            params.append(tuple(values) if names is None else dict(zip(names, values)))
    elif names is not None:
        params = [dict(zip(names, r)) for r in rows]
    else:
        params = list(rows)
    conn.exec_driver_sql(plan.sql, params)


def insert_row(conn: sa.Connection, table: sa.Table, row: dict[str, Any]) -> int:
    """Insert one row into ``table`` (whose primary key is one generated integer column)
    on ``conn`` and return its key: the values stored are those
    ``conn.execute(table.insert(), row)`` would store."""
    (pk,) = table.primary_key.columns
    if conn.dialect.name == "sqlite":
        plan = _plan(table, tuple(row), conn.dialect)
        key = conn.exec_driver_sql(plan.sql, _params(plan, row)).lastrowid
    else:
        plan = _plan(table, tuple(row), conn.dialect, returning=pk.key)
        key = conn.exec_driver_sql(plan.sql, _params(plan, row)).scalar_one()
    return int(key)
