"""The roster of a period in the database (table ``roster_lines``, see :mod:`xltools.store.schema`).

``collect --roster`` stores the roster it was given for the collection period: one row
per usable roster line (rep x account, the row it came from, the target), and only the
roster's file name, never the folders it was read from.  A later roster for the same
period replaces the earlier one as a whole (in one transaction).  ``report`` reads it
back with :func:`stored_roster` when it is not given ``--roster``.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Sequence

import sqlalchemy as sa

from xltools import clock
from xltools.checking.roster import Roster, RosterEntry
from xltools.store import schema as sch

if TYPE_CHECKING:
    from xltools.store.engine import Store


def _file_name(path: Any) -> str | None:
    if not path:
        return None
    return PurePath(str(path).replace("\\", "/")).name or None


def save_roster(store: Store, period: str, entries: Sequence[RosterEntry], *, path: Any = None,
                now: datetime | None = None) -> int:
    """Store ``entries`` as the roster of ``period`` (replacing the one stored before);
    ``path``: the roster file (only its name is kept).  Returns the number of lines."""
    store.ensure_schema()
    t = store.t[sch.ROSTER_LINES]
    at = clock.resolve(now).astimezone(timezone.utc).replace(tzinfo=None)
    name = _file_name(path if path is not None else getattr(entries, "path", None))
    rows = [{"period": period, "line_no": e.row, "rep": e.rep, "account_name": e.account_name,
             "account_id": e.account_id, "sales_target": e.target, "roster_file": name, "stored_at": at}
            for e in entries]
    with store.write() as conn:  # SQLite: BEGIN IMMEDIATE; errors mapped to StoreError
        store.lock(conn, f"roster:{period}")
        conn.execute(t.delete().where(t.c.period == period))
        if rows:
            conn.execute(t.insert(), rows)
    return len(rows)


def stored_roster(store: Store, period: str | None) -> Roster | None:
    """The roster stored for ``period`` (a :class:`~xltools.checking.roster.Roster` whose ``path`` is
    the roster's file name and ``stored_at`` the time it was stored), or None when no
    roster was stored for it."""
    if period is None:
        return None
    store.ensure_schema()
    t = store.t[sch.ROSTER_LINES]
    with store.read() as conn:
        rows = conn.execute(sa.select(t).where(t.c.period == period).order_by(t.c.line_no)).mappings().all()
    if not rows:
        return None
    roster = Roster([RosterEntry(row=r["line_no"], rep=r["rep"], account_name=r["account_name"],
                                 account_id=r["account_id"], target=r["sales_target"]) for r in rows],
                    path=rows[0]["roster_file"] or "")
    stored = rows[0]["stored_at"]
    roster.stored_at = stored.replace(tzinfo=timezone.utc) if stored is not None and stored.tzinfo is None else stored
    return roster
