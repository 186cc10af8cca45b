"""The database store: the system of record of every collected plan.

``Store(url)`` opens any SQLAlchemy database: the default is an embedded SQLite
file ``xltools.db`` in the working directory (WAL journal, busy timeout), the
usual alternative a shared PostgreSQL (``postgresql+psycopg://user:pw@host/db``).
The schema is upgraded on first use by the Alembic migrations shipped in
``xltools/store/migrations`` (no ``alembic.ini`` needed); an empty database is given the
schema those migrations make directly (:mod:`xltools.store.headschema`).  This module owns the
connections and the schema; saving is :mod:`xltools.store.saving`, reading
:mod:`xltools.store.queries`, the success-case library :mod:`xltools.store.library`.

:meth:`Store.save` stores one checked file in a single transaction: the ledger row
(``files``), the plan, a new version with its rows and its issues.  It is

* idempotent: the same file (SHA-256) stores nothing new; a changed file with the
  same normalised content records the file and points at the existing version;
* versioned: a changed plan (same ``plan_id``) gets a new version which becomes
  current; older versions stay as history.  A file older (mtime) than the current
  version is stored as history (``superseded``);
* conflict-aware: at most one plan is current per account and period.  A second
  plan for the same account and period is stored as history with an
  ``E-CONFLICT`` issue (another rep) or ``E-DUPLICATE-PLAN`` (same rep), unless it
  names the current one as its ``predecessor_plan_id`` (a handover);
* safe to run concurrently: PostgreSQL transactions take advisory locks on the
  file, the plan and the account-period; unique constraints are the final guard
  (the transaction is retried).  SQLite writers take the write lock up front and
  wait up to the busy timeout, then fail with :class:`StoreLockedError`.
"""
from __future__ import annotations

import hashlib
import os
import re
import struct
import time
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import sqlalchemy as sa
from sqlalchemy import exc

from xltools.messages import Label
from xltools.spec.spec import Spec, Table, load_spec
from xltools.store import headschema
from xltools.store import schema as sch
from xltools.store.base import StoreError, StoreLockedError, UnknownTableError  # noqa: F401 (re-exported)
from xltools.store.library import CaseLibrary
from xltools.store.queries import Queries
from xltools.store.saving import STORE_CODES, FileRecord, SaveOutcome, Saving, coerce  # noqa: F401 (re-exported)

if TYPE_CHECKING:
    from alembic.config import Config

DEFAULT_URL = "sqlite:///xltools.db"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: seconds a SQLite writer waits for another writer before giving up
DEFAULT_BUSY_TIMEOUT = 30.0
_MIGRATION_LOCK = "xltools:migrations"


def _lock_key(text: str) -> int:
    """A signed 64-bit key for pg_advisory_xact_lock."""
    key: int = struct.unpack(">q", hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest())[0]
    return key


# Connections must not cross fork(): a SQLite connection open in the parent confuses
# SQLite's per-process lock bookkeeping in the child (lost locks, WAL recovery under a
# live writer), and a server connection would be shared by two processes.  So pooled
# connections are closed before a fork and forgotten (not closed) in the child.
_ENGINES: "weakref.WeakSet[sa.Engine]" = weakref.WeakSet()


def _before_fork() -> None:
    for engine in list(_ENGINES):
        engine.dispose()


def _after_fork_in_child() -> None:
    for engine in list(_ENGINES):
        engine.dispose(close=False)


os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)


def _ensure_wal(cur: Any, timeout: float) -> None:
    """Put a SQLite file in WAL mode (persistent; a no-op once done).

    Switching needs the only lock on the file, and a connection waiting for it would
    hold its shared lock and block a writer's commit.  So the switch is tried without
    a busy wait, again and again, until it works or ``timeout`` has passed."""
    if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    cur.execute("PRAGMA busy_timeout=0")
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                if str(cur.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower() == "wal":
                    return
            except Exception as e:  # sqlite3.OperationalError: database is locked
                if "locked" not in str(e) and "busy" not in str(e):
                    raise
            if time.monotonic() >= deadline:
                return  # keep the rollback journal: writers still serialise (BEGIN IMMEDIATE)
            time.sleep(0.02)
    finally:
        cur.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")


#: a path with one of these suffixes may be given instead of a sqlite:/// URL
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3", ".db3")


def resolve_url(url: str | None = None) -> str:
    """The database URL: ``url``, else ``$XLTOOLS_DB``, else ``sqlite:///xltools.db``.
    A path ending in ``.db`` (``.sqlite``, ``.sqlite3``) means a SQLite file;
    ``postgresql://`` means psycopg 3.  Anything else without a scheme is refused
    (``--db notascheme`` must not quietly create a database file of that name)."""
    url = (url or os.environ.get("XLTOOLS_DB") or DEFAULT_URL).strip()
    if "://" not in url and not url.startswith("sqlite:"):
        if Path(url).suffix.lower() not in SQLITE_SUFFIXES:
            raise StoreError(Label(
                f"データベースの URL ではありません: {url}（SQLite は sqlite:///ファイル.db、"
                "PostgreSQL は postgresql+psycopg://user:pw@host/db の形で指定してください）",
                f"Not a database URL: {url} (give sqlite:///path/to/file.db, a path ending in .db, "
                "or postgresql+psycopg://user:pw@host/db)"))
        return f"sqlite:///{Path(url).expanduser()}"
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain):]
    return url


def alembic_config(connection: sa.Connection | None = None, spec: Spec | None = None) -> Config:
    """An Alembic ``Config`` for the migrations shipped in the package."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    cfg.attributes["connection"] = connection
    cfg.attributes["spec"] = spec
    return cfg


_REVISION_LINE = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.M)
_QUOTED = re.compile(r"""^(?:'([^'\\]+)'|"([^"\\]+)"|None)$""")
_HEADS: tuple[str, ...] | None = None


def _shipped_revisions() -> dict[str, str | None] | None:
    """``revision -> down_revision`` of the shipped migration scripts, read from their
    ``revision = '...'`` / ``down_revision = '...'`` lines without importing Alembic;
    None when a script is not of that plain form (a merge, a branch): Alembic decides."""
    graph: dict[str, str | None] = {}
    for script in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        found: dict[str, str | None] = {}
        for key, value in _REVISION_LINE.findall(script.read_text(encoding="utf-8")):
            m = _QUOTED.match(value)
            if m is None or key in found:
                return None
            found[key] = m.group(1) or m.group(2)
        if found.get("revision") is None or "down_revision" not in found or found["revision"] in graph:
            return None
        graph[str(found["revision"])] = found["down_revision"]
    return graph or None


def migration_heads() -> tuple[str, ...]:
    """The head revision(s) of the shipped migrations."""
    global _HEADS
    if _HEADS is None:
        graph = _shipped_revisions()
        if graph is not None and all(down is None or down in graph for down in graph.values()):
            parents = set(graph.values())
            _HEADS = tuple(sorted(r for r in graph if r not in parents))
        else:
            from alembic.script import ScriptDirectory

            _HEADS = tuple(sorted(ScriptDirectory.from_config(alembic_config()).get_heads()))
    return _HEADS


# -- the store ---------------------------------------------------------------------------

class Store(Queries, Saving, CaseLibrary):
    """The plans database.  ``Store(url=None, spec=None)``; see the module docs."""

    def __init__(self, url: str | None = None, spec: Spec | None = None, *,
                 busy_timeout: float = DEFAULT_BUSY_TIMEOUT, create: bool = True, allow_memory: bool = False):
        """``create=False`` (read-only commands): the database must already hold an
        xltools schema; it is upgraded if older, never created.  An in-memory SQLite
        database (``sqlite://``) loses everything when the store closes: it is refused
        unless ``allow_memory`` (tests)."""
        self.url = resolve_url(url)
        self.spec = spec or load_spec()
        self.busy_timeout = float(busy_timeout)
        self.create = create
        self.metadata = sch.metadata(self.spec)
        self.t = self.metadata.tables
        self.spec_tables: dict[str, Table] = sch.spec_tables(self.spec)
        self._schema_ready = False
        try:
            self._url = sa.engine.make_url(self.url)
        except exc.ArgumentError:
            raise StoreError(Label(f"データベースの URL が正しくありません: {self.url}",
                                  f"Not a database URL: {self.url}")) from None
        self.dialect = self._url.get_backend_name()
        self.safe_url = self._url.render_as_string(hide_password=True)
        if self.dialect == "sqlite":
            self.safe_url = self.url  # no password to hide; shown as given
            db = self._url.database or ""
            self._memory = db in ("", ":memory:") or self._url.query.get("mode") == "memory"
            if self._memory and not allow_memory:
                raise StoreError(Label(
                    f"{self.safe_url} はメモリ上のデータベースで、終了時にすべて失われます。"
                    "sqlite:///ファイル.db の形でファイルを指定してください。",
                    f"{self.safe_url} is an in-memory database: everything would be lost when the command "
                    "ends. Give a file: sqlite:///path/to/file.db"))
            if self._url.query:
                options = "&".join(f"{k}={v}" for k, v in self._url.query.items())
                raise StoreError(Label(
                    f"SQLite の URL のオプション（{options}）には対応していません: {self.safe_url}",
                    f"SQLite URL options ({options}) are not supported: {self.safe_url}"))
            if not create and not self._memory and not Path(db).exists():
                raise StoreError(Label(
                    f"データベース {db} がありません。先に xltools collect で取り込んでください。",
                    f"No database at {db}. Run xltools collect first."))
        self.engine = self._make_engine()
        _ENGINES.add(self.engine)

    # -- connections ---------------------------------------------------------------
    def _make_engine(self) -> sa.Engine:
        try:
            if self.dialect == "sqlite":
                return self._sqlite_engine()
            kwargs: dict[str, Any] = {"pool_recycle": 1800}
            if self._url.get_driver_name() == "psycopg":
                kwargs["connect_args"] = {"connect_timeout": 10}
            return sa.create_engine(self._url, **kwargs)
        except (exc.NoSuchModuleError, ModuleNotFoundError, ImportError) as e:
            hint = " (pip install 'xltools[postgres]')" if self.dialect == "postgresql" else ""
            raise StoreError(Label(f"このデータベースには対応していません: {self.safe_url}{hint}（{e}）",
                                  f"Unsupported database {self.safe_url}{hint}: {e}")) from None
        except exc.ArgumentError as e:
            raise StoreError(Label(f"データベースの URL が正しくありません: {self.safe_url}（{e}）",
                                  f"Not a usable database URL {self.safe_url}: {e}")) from None

    def _sqlite_engine(self) -> sa.Engine:
        kwargs: dict[str, Any] = {"connect_args": {"timeout": self.busy_timeout}}
        if self._memory:
            kwargs["poolclass"] = sa.pool.StaticPool
            kwargs["connect_args"]["check_same_thread"] = False
        engine = sa.create_engine(self._url, **kwargs)
        busy_ms = int(self.busy_timeout * 1000)
        memory = self._memory

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # transactions are begun below, not by the driver
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
            cur.execute("PRAGMA foreign_keys=ON")
            if not memory:
                _ensure_wal(cur, busy_ms / 1000)
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn: sa.Connection) -> None:
            # writers take the write lock up front: no deadlock between two upgrading readers
            write = conn.get_execution_options().get("xltools_write")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Database driver errors -> :class:`StoreError` with a clear message."""
        try:
            yield
        except (StoreError, exc.IntegrityError):
            raise
        except exc.OperationalError as e:
            detail = str(e.orig).strip().splitlines()[0] if e.orig else str(e)
            if self.dialect == "sqlite" and ("locked" in detail or "busy" in detail):
                raise StoreLockedError(Label(
                    f"データベース {self.safe_url} は別の処理が使用中です（{self.busy_timeout:g} 秒待ちました）。"
                    "しばらくしてから再実行してください。",
                    f"The database {self.safe_url} is in use by another process (waited "
                    f"{self.busy_timeout:g} s). Try again later.")) from None
            raise StoreError(Label(f"データベース {self.safe_url} を使用できません（{detail}）",
                                  f"Cannot use the database {self.safe_url}: {detail}")) from None
        except exc.DBAPIError as e:
            detail = str(e.orig).strip().splitlines()[0] if e.orig else str(e)
            raise StoreError(Label(f"データベース {self.safe_url} でエラーが発生しました（{detail}）",
                                  f"Database error at {self.safe_url}: {detail}")) from None

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A write transaction (SQLite: BEGIN IMMEDIATE)."""
        with self._errors(), self.engine.connect() as conn:
            conn.execution_options(xltools_write=True)
            with conn.begin():
                yield conn

    def lock(self, conn: sa.Connection, *names: str) -> None:
        """Transaction-scoped advisory locks, always taken in the same order (no deadlock)."""
        if self.dialect != "postgresql":
            return
        keys = sorted({_lock_key(n) for n in names if n})
        # one round trip; a volatile function in the select list runs after the sort
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k "
                             "ORDER BY k"), {"keys": keys})

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # -- schema --------------------------------------------------------------------
    def schema_revision(self) -> tuple[str, ...]:
        """The Alembic revision(s) the database is at (empty: no schema yet)."""
        with self._errors(), self.engine.connect() as conn:
            return self._stored_revisions(conn)

    def _stored_revisions(self, conn: sa.Connection) -> tuple[str, ...]:
        """The rows of Alembic's ``alembic_version`` table (what Alembic's
        ``get_current_heads`` reads), without importing Alembic on SQLite and PostgreSQL."""
        if self.dialect == "sqlite":
            found = conn.exec_driver_sql(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'").first()
        elif self.dialect == "postgresql":
            found = conn.exec_driver_sql("SELECT to_regclass('alembic_version')").scalar()
        else:
            from alembic.runtime.migration import MigrationContext

            return tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
        if not found:
            return ()
        return tuple(sorted(str(r[0]) for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version")))

    def ensure_schema(self, *, direct: bool = True) -> None:
        """Create or upgrade the schema to the shipped head revision (``upgrade head``).
        Safe when several processes start at once (PostgreSQL: advisory lock;
        SQLite: the write lock).  A database already at the head costs one query:
        Alembic is imported only to upgrade.  An empty database is given the head schema
        directly (:mod:`xltools.store.headschema`; ``direct=False``: by the migrations)."""
        if self._schema_ready:
            return
        heads = migration_heads()
        current = self.schema_revision()
        if not current and not self.create:
            raise StoreError(Label(
                f"{self.safe_url} は xltools のデータベースではありません（表がありません）。"
                "先に xltools collect で取り込んでください。",
                f"{self.safe_url} is not an xltools database (no tables). Run xltools collect first."))
        if current != heads:
            with self.write() as conn:
                self.lock(conn, _MIGRATION_LOCK)
                current = self._stored_revisions(conn)
                unknown = [r for r in current if not self._known_revision(r)]
                if unknown:
                    raise StoreError(Label(
                        f"データベースのスキーマ（{', '.join(unknown)}）はこの xltools より新しいバージョンのものです。"
                        "xltools を更新してください。",
                        f"The database schema ({', '.join(unknown)}) was written by a newer xltools. "
                        "Upgrade xltools."))
                if current != heads:
                    recorded = headschema.recorded(self.dialect, heads, MIGRATIONS_DIR) if direct else None
                    if not current and recorded is not None and headschema.is_empty(conn, self.dialect):
                        headschema.create(conn, self.dialect, recorded, heads)
                    else:
                        from alembic import command

                        command.upgrade(alembic_config(conn, self.spec), "head")
        self._schema_ready = True

    @staticmethod
    def _known_revision(rev: str) -> bool:
        from alembic.script import ScriptDirectory
        from alembic.util import CommandError

        try:
            return ScriptDirectory.from_config(alembic_config()).get_revision(rev) is not None
        except CommandError:
            return False
