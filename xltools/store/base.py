"""What the store's writing and reading sides share: its errors and how stored values are
compared and returned."""
from __future__ import annotations

import unicodedata
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, TypeVar

from xltools.errors import UsageError, XltoolsError

if TYPE_CHECKING:
    import sqlalchemy as sa

    from xltools.spec.spec import Spec


class StoreError(XltoolsError):
    """The database cannot be used: bad URL, unreachable server, unusable schema."""

    code = "database"


class StoreLockedError(StoreError):
    """Another process held the SQLite database longer than the busy timeout."""

    code = "database-locked"


class UnknownTableError(UsageError, StoreError):
    """A table name on the command line that the store does not have."""


_V = TypeVar("_V")


def aware(value: _V) -> _V:
    """Naive UTC from the database -> aware UTC."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def norm_key(value: object) -> str:
    """Comparison key for names typed by people: NFKC, no spaces, case-folded."""
    return "".join(unicodedata.normalize("NFKC", str(value)).split()).casefold()


class EngineParts:
    """What :class:`~xltools.store.engine.Store` gives the mixins it is made of (saving,
    the case library): declared here for the type checker only."""

    spec: Spec
    t: dict[str, sa.Table]
    dialect: str

    if TYPE_CHECKING:
        def ensure_schema(self) -> None: ...
        def read(self) -> AbstractContextManager[sa.Connection]: ...
        def write(self) -> AbstractContextManager[sa.Connection]: ...
        def lock(self, conn: sa.Connection, *names: str) -> None: ...
