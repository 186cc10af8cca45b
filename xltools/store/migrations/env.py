"""Alembic environment of the xltools store.

Used programmatically by :meth:`xltools.store.Store.ensure_schema` (and by
``tools/make_migration.py``): the caller passes an open connection in
``config.attributes["connection"]``; no ``alembic.ini`` is involved.  When the
connection already has a transaction open (the store holds an advisory lock in it
on PostgreSQL), the migrations run inside that transaction.
"""
from __future__ import annotations

from alembic import context

from xltools.store import schema

config = context.config
target_metadata = schema.metadata(config.attributes.get("spec"))


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("xltools migrations run through xltools.store.Store.ensure_schema(); "
                           "pass an open connection in config.attributes['connection']")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite needs batch mode for ALTER; harmless elsewhere
        compare_type=True,
        include_object=schema.include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("xltools migrations do not support offline (--sql) mode")
run_migrations_online()
