"""What the store's writing and reading sides share: its errors and how stored values are
compared and returned."""
from __future__ import annotations

import unicodedata
from datetime import datetime, timezone
from typing import TypeVar

from xltools.errors import UsageError, XltoolsError


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
