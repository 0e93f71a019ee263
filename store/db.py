"""Engines and sessions, built lazily from settings and cached per database URL.

Nothing connects at import time: the first `get_engine()` call builds the engine for a
URL and later calls reuse it, so the CLI, the API and the workers each hold one pool per
database. SQLite (the embedded default) gets its data folder created and, on every new
connection, foreign keys enforced and write-ahead logging so that the API can read while
a worker writes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from perfloop.settings import get_settings

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for another one before failing with 'database is locked'."""

SQLITE_SYNCHRONOUS = "NORMAL"
"""SQLite's `synchronous` for a store file in WAL mode: commits are not fsynced one by one.

A commit survives the process crashing; only a power loss or an OS crash can take back
the last commits before a checkpoint, the same as the embedded Temporal dev server's own
file (`perfloop.temporal`), which the store's rows are written alongside. With FULL,
every commit waits for the disk while holding the single writer's lock (0.2 to 2 ms a
commit here), which a launch of ten thousand participants pays ten thousand times in a
row. Deployments that must survive power loss use PostgreSQL.
"""

PING_AFTER_IDLE_SECONDS = 1.0
"""A pooled PostgreSQL connection idle longer than this is pinged before it is handed out.

SQLAlchemy's `pool_pre_ping` pings on every checkout: a round trip more for each of the
API's transactions, paid on the request's clock. A connection in steady use was just
seen working; one that sat idle (through a PostgreSQL restart, say) is the one that may
be dead. A dead connection found in use anyway fails that one request (503, retried by
the client with its Idempotency-Key) and SQLAlchemy then recycles the whole pool.
"""

_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_factories: dict[str, sessionmaker[Session]] = {}
_sqlite_writers: dict[str, threading.Lock] = {}


def resolve_url(url: str | None = None) -> str:
    """The given URL, or the configured one (the embedded SQLite file when unset)."""
    return url or get_settings().effective_database_url


def masked_url(url: str | None = None) -> str:
    """The URL with its password hidden, fit for logs and terminal output."""
    return make_url(resolve_url(url)).render_as_string(hide_password=True)


def is_sqlite(url: str | URL) -> bool:
    """Whether a URL points at SQLite (whose quirks some callers must work around)."""
    return make_url(url).get_backend_name() == "sqlite"


def build_engine(url: str, *, sqlite_foreign_keys: bool = True, **kwargs: Any) -> Engine:
    """A new, uncached engine for `url`; most callers want `get_engine` instead.

    Migrations use this directly: SQLite table rebuilds (Alembic batch mode) must run with
    foreign keys off, and they need no pool kept alive after they finish.
    """
    sa_url = make_url(url)
    if sa_url.get_backend_name() != "sqlite":
        # Hand out the most recently used connection: the busy ones stay warm and unpinged,
        # the spare ones go idle (and are pinged when next needed).
        if "poolclass" not in kwargs:
            kwargs.setdefault("pool_use_lifo", True)
        engine = create_engine(sa_url, **kwargs)
        _ping_when_idle(engine, PING_AFTER_IDLE_SECONDS)
        return engine

    _create_sqlite_folder(sa_url)
    kwargs.setdefault("connect_args", {}).setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
    engine = create_engine(sa_url, **kwargs)
    in_memory = sa_url.database in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA foreign_keys={'ON' if sqlite_foreign_keys else 'OFF'}")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute(f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}")
        finally:
            cursor.close()

    return engine


def build_async_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """A new engine on psycopg's asyncio mode, for a PostgreSQL URL, pooled like
    `get_engine`'s; its owner disposes of it (`await engine.dispose()`).

    For code on an event loop that would otherwise hop to a worker thread for each
    transaction (the API's hot route): `AsyncSession.run_sync` runs the same synchronous
    ORM code, and each round trip waits on the loop instead of in a thread.
    """
    sa_url = make_url(url)
    if sa_url.get_backend_name() != "postgresql":
        raise ValueError(f"an async engine is for PostgreSQL, not {sa_url.get_backend_name()}")
    engine = create_async_engine(sa_url, pool_use_lifo=True, **pool_options(url), **kwargs)
    _ping_when_idle(engine.sync_engine, PING_AFTER_IDLE_SECONDS)
    return engine


def _create_sqlite_folder(sa_url: URL) -> None:
    database = sa_url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _ping_when_idle(engine: Engine, after: float) -> None:
    """Ping a connection before use when it sat in the pool more than `after` seconds;
    a dead one is replaced (SQLAlchemy's pessimistic disconnect handling, with a
    threshold)."""

    @event.listens_for(engine, "checkin")
    def _idle_from_now(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < after:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool drops this connection and checks out (or opens) another.
            raise DisconnectionError("a pooled connection was found dead") from exc


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for `url` (default: the configured database)."""
    resolved = resolve_url(url)
    with _lock:
        engine = _engines.get(resolved)
        if engine is None:
            engine = _engines[resolved] = build_engine(resolved, **pool_options(resolved))
        return engine


def pool_options(url: str) -> dict[str, Any]:
    """The connection pool's size from settings (`database_pool_size`, `..._max_overflow`).

    SQLAlchemy's default keeps 5 and opens up to 10 more, closing each extra one as soon
    as it is returned. A worker runs up to 200 activity transactions at once, so under a
    launch it opened and closed PostgreSQL connections several times a second, and each
    new backend forks, authenticates and warms its catalogue cache before its first
    query. An in-memory SQLite database keeps its single-connection pool.
    """
    sa_url = make_url(url)
    if sa_url.get_backend_name() == "sqlite" and sa_url.database in (None, "", ":memory:"):
        return {}
    settings = get_settings()
    return {
        "pool_size": settings.database_pool_size,
        "max_overflow": settings.database_max_overflow,
    }


def session_factory(url: str | None = None) -> sessionmaker[Session]:
    """The session factory bound to `get_engine(url)`.

    `expire_on_commit=False`: rows returned from a committed `session_scope()` stay
    readable afterwards (the CLI and the API render them after the transaction ends).
    """
    resolved = resolve_url(url)
    engine = get_engine(resolved)
    with _lock:
        factory = _factories.get(resolved)
        if factory is None:
            factory = _factories[resolved] = sessionmaker(bind=engine, expire_on_commit=False)
        return factory


def writer_lock(bind: Engine | Connection | None) -> AbstractContextManager[object]:
    """Hold while running a write transaction from a pool of threads.

    SQLite has one writer at a time, and its busy handler makes waiting writers sleep
    (up to 100 ms a try), so two hundred activity threads racing for the lock spend most
    of a launch asleep. Queuing them on one in-process lock per database file hands the
    lock straight on instead. Other processes (the API, a second worker) still wait
    through the busy timeout. PostgreSQL needs no such lock: a no-op there.
    """
    if bind is None or bind.dialect.name != "sqlite":
        return nullcontext()
    key = str(bind.engine.url)
    with _lock:
        lock = _sqlite_writers.get(key)
        if lock is None:
            lock = _sqlite_writers[key] = threading.Lock()
    return lock


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session in one transaction: committed when the block ends, rolled back on error."""
    session = session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def dispose_engines() -> None:
    """Close every cached engine's connections and forget them (tests, process shutdown)."""
    with _lock:
        engines = list(_engines.values())
        _engines.clear()
        _factories.clear()
    for engine in engines:
        engine.dispose()
