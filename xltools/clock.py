"""The one clock of the library.

Every entry point that stamps or compares time (collect, the store, the case library,
hand-over, the roll-up, annotate, check, generate, the demo) takes ``now: datetime |
None = None`` and resolves it once with :func:`now`; the date the business rules
compare against is :func:`today` of that instant.  Nothing else in :mod:`xltools`
reads the system clock.

``XLTOOLS_NOW`` (ISO 8601) fixes the clock for every command: ``2026-11-20T09:00:00+09:00``;
a value without an offset is local time, a bare date (``2026-11-20``) is local midnight.
Ops use it to re-run a command "as of" a date; scripts and tests get a fixed clock.
"""
from __future__ import annotations

import os
from datetime import date, datetime

from xltools.errors import UsageError

#: the environment variable that fixes the clock
ENV = "XLTOOLS_NOW"


class ClockError(UsageError):
    """``XLTOOLS_NOW`` is not an ISO 8601 date or date-time (a usage error: exit 2)."""

    code = "clock"


def parse(value: str) -> datetime:
    """An ISO 8601 date or date-time -> an aware datetime (naive = local time, a bare
    date = local midnight).  Raises :class:`ClockError` with a ja/en message."""
    try:
        parsed = datetime.fromisoformat(value.strip())  # a bare date: midnight
    except ValueError:
        raise ClockError(
            f"環境変数 {ENV} の値 {value!r} は ISO 8601 の日付・日時ではありません"
            f"（例: 2026-11-20T09:00:00+09:00、2026-11-20）。 / "
            f"{ENV}={value!r} is not an ISO 8601 date or date-time "
            f"(e.g. 2026-11-20T09:00:00+09:00, 2026-11-20).") from None
    return parsed if parsed.tzinfo is not None else parsed.astimezone()


def now() -> datetime:
    """The current time, timezone-aware (local offset) -- or ``XLTOOLS_NOW`` when set."""
    fixed = os.environ.get(ENV)
    if fixed is not None and fixed.strip():
        return parse(fixed)
    return datetime.now().astimezone()


def today(at: datetime) -> date:
    """The local date of the instant ``at`` (a naive ``at`` is taken as local time)."""
    return at.astimezone().date()


def resolve(at: datetime | None) -> datetime:
    """``at`` as given (a naive one taken as local time), or :func:`now` when None."""
    if at is None:
        return now()
    return at if at.tzinfo is not None else at.astimezone()
