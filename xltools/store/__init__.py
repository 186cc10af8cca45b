"""The database: schema, Alembic migrations, connections and the schema check (``engine``),
saving versions and conflicts (``saving``), the read API for reports (``queries``) and the
success-case library's tables (``library``).  Builds on ``xltools.spec``.

``Store``, ``SaveOutcome``, ``FileRecord``, ``coerce`` and ``resolve_url`` are importable
from here too; :mod:`xltools.store.engine` (and SQLAlchemy) is loaded on first use only.
"""
from __future__ import annotations

from typing import Any

_FROM_ENGINE = ("Store", "SaveOutcome", "FileRecord", "coerce", "resolve_url")
__all__ = list(_FROM_ENGINE)


def __getattr__(name: str) -> Any:
    if name in _FROM_ENGINE:
        from xltools.store import engine

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
