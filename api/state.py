"""What one API application holds: its settings and lazily built connections.

Nothing here connects when built. The store's engine is made on the first session and
the Temporal client on the first request that needs it (then reused); a Temporal server
that is down at start-up only makes those requests 503 until it is back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import Executable, make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client
from temporalio.service import RPCError

from api.auth import Authenticator, VerifiedTokens
from api.errors import ServiceUnavailable
from api.services.forms import FormCatalog
from api.services.idempotency import IdempotencyKeys
from api.services.ratelimit import RateLimiter
from definitions.errors import PerfloopError
from perfloop.settings import Settings
from store.driver import DriverPool, DriverStatements

log = logging.getLogger(__name__)

T = TypeVar("T")

NOT_FLUSHED = "-c synchronous_commit=off"
"""libpq `options` of the connections whose commits do not wait for the WAL flush."""
DURABLE_OPTION = "perfloop_durable"
"""The execution option that says which of `Store.run_autocommit`'s pools ran a
statement (SQLAlchemy's `Connection.get_execution_options()`, which event listeners see)."""

TemporalClientFactory = Callable[[Settings], Awaitable[Client]]
"""Builds the Temporal client from settings; tests inject a fake through `create_app`."""


async def default_temporal_client(settings: Settings) -> Client:
    from perfloop.temporal import connect

    return await connect(settings)


class TemporalConnector:
    """One Temporal client per application, connected on first use.

    A failed connection is not cached: the next request tries again.
    """

    def __init__(self, settings: Settings, factory: TemporalClientFactory) -> None:
        self._settings = settings
        self._factory = factory
        self._client: Client | None = None
        self._lock: asyncio.Lock | None = None

    @property
    def connected(self) -> bool:
        return self._client is not None

    async def get(self) -> Client:
        if self._client is not None:
            return self._client
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await self._factory(self._settings)
                except (PerfloopError, RuntimeError, OSError, RPCError) as exc:
                    log.warning("cannot connect to Temporal: %s", exc)
                    raise ServiceUnavailable(
                        "the workflow engine (Temporal) is unreachable; try again shortly",
                        type="TemporalUnavailable",
                    ) from exc
            return self._client

    def close(self) -> None:
        """Forget the client (the SDK closes its connection when it is collected)."""
        self._client = None
        self._lock = None


class Store:
    """Sessions on the configured database; the engines are built on first use."""

    def __init__(self, settings: Settings) -> None:
        self._url = settings.effective_database_url
        # PostgreSQL's round trips can wait on the event loop; SQLite's file cannot.
        self._on_loop = make_url(self._url).get_backend_name() == "postgresql"
        self._factory: sessionmaker[Session] | None = None
        # By durability (`run_autocommit`'s `durable`): each its own pool, built on first use.
        self._async_pools: dict[bool, tuple[AsyncEngine, async_sessionmaker[AsyncSession]]] = {}
        self._driver_pools: dict[bool, DriverPool] = {}
        self._driver_statements = DriverStatements()
        self._pool_size = settings.database_pool_size + settings.database_max_overflow

    @property
    def driver_pools(self) -> dict[bool, DriverPool]:
        """`fetch_on_driver`'s pools opened so far, by durability."""
        return dict(self._driver_pools)

    @property
    def on_driver(self) -> bool:
        """Whether `fetch_on_driver` may be used: PostgreSQL."""
        return self._on_loop

    def sessions(self) -> sessionmaker[Session]:
        if self._factory is None:
            from store.db import session_factory

            self._factory = session_factory(self._url)
        return self._factory

    async def run_autocommit(self, work: Callable[[Session], T], *, durable: bool = True) -> T:
        """`work(session)` in a session of its own, closed after (rolling back what `work`
        did not commit), without blocking the event loop: for a hot route's few short
        statements.

        On PostgreSQL the session is in autocommit, each statement committing on its own
        (writes that must land together go through `store.together.execute_together`),
        and its round trips wait on the event loop (psycopg's asyncio mode,
        `AsyncSession.run_sync`): no hop to a worker thread and back, each a turn at the
        interpreter's lock behind whatever the loop is running. SQLite, in process, has
        no round trips to wait for: its session runs in a worker thread, in one
        transaction that `work` commits.

        `durable=False`, on PostgreSQL: each commit answers before its WAL record is on
        disk (`synchronous_commit = off`, on connections of their own). Under light load
        that is about 1 ms less a commit (a flush of an idle disk; bench/README.md). What
        is committed is visible to every other session at once, exactly as otherwise; a
        PostgreSQL crash (not a clean stop) may lose the commits of its last fraction of
        a second, whole and in order, and never one that a later durable commit follows.
        Only for writes that a retry redoes: the Idempotency-Key's claim, the submitted
        mark and stored answer of a submission whose Update Temporal deduplicates by id.
        """
        if not self._on_loop:
            return await run_in_threadpool(self._run_in_thread, work)
        async with self._async_sessions(durable)() as session:
            return await session.run_sync(work)

    async def fetch_on_driver(
        self, statement: Executable, values: Mapping[str, Any], *, durable: bool = True
    ) -> tuple[Any, ...] | None:
        """PostgreSQL: `statement` (one built once, at import) with `values`, sent on
        psycopg's own connection in autocommit; its first row, or None.

        For a hot route's statement whose result needs no ORM loading: it costs about
        half what the same statement costs through `run_autocommit` (`store.driver`).
        `durable` as for `run_autocommit`, on pools of their own.
        """
        pool = self._driver_pools.get(durable)
        if pool is None:
            pool = self._driver_pools[durable] = DriverPool(
                self._url,
                max_size=self._pool_size,
                options=None if durable else self._not_flushed(),
            )
        return await pool.fetchone(self._driver_statements[statement], values)

    def _run_in_thread(self, work: Callable[[Session], T]) -> T:
        with self.sessions()() as session:
            return work(session)

    def _async_sessions(self, durable: bool) -> async_sessionmaker[AsyncSession]:
        pool = self._async_pools.get(durable)
        if pool is None:
            from store.db import build_async_engine

            options: dict[str, Any] = {"execution_options": {DURABLE_OPTION: durable}}
            if not durable:
                options["connect_args"] = {"options": self._not_flushed()}
            engine = build_async_engine(self._url, isolation_level="AUTOCOMMIT", **options)
            pool = self._async_pools[durable] = (
                engine,
                async_sessionmaker(engine, expire_on_commit=False),
            )
        return pool[1]

    def _not_flushed(self) -> str:
        """`NOT_FLUSHED` after whatever `options` the database URL gives."""
        given = make_url(self._url).query.get("options")
        if isinstance(given, tuple):
            given = " ".join(given)
        return f"{given} {NOT_FLUSHED}" if given else NOT_FLUSHED

    async def close(self) -> None:
        """Close the async engines' and driver pools' connections (the application's
        shutdown)."""
        pools = list(self._async_pools.values())
        self._async_pools.clear()
        for engine, _ in pools:
            await engine.dispose()
        drivers = list(self._driver_pools.values())
        self._driver_pools.clear()
        for driver in drivers:
            await driver.close()

    def ping(self) -> None:
        """Raise unless the database answers a trivial query."""
        with self.sessions()() as session:
            session.execute(text("SELECT 1"))


@dataclass
class AppState:
    settings: Settings
    authenticator: Authenticator
    store: Store
    temporal: TemporalConnector
    idempotency: IdempotencyKeys
    submit_limiter: RateLimiter
    verified_tokens: VerifiedTokens
    forms: FormCatalog = field(default_factory=FormCatalog)

    @classmethod
    def build(
        cls, settings: Settings, authenticator: Authenticator, temporal: TemporalConnector
    ) -> AppState:
        store = Store(settings)
        return cls(
            settings=settings,
            authenticator=authenticator,
            store=store,
            temporal=temporal,
            idempotency=IdempotencyKeys(
                store.sessions,
                ttl=timedelta(seconds=settings.idempotency_ttl_seconds),
                lease=timedelta(seconds=settings.idempotency_lease_seconds),
            ),
            submit_limiter=RateLimiter(settings.submit_rate_per_minute / 60, settings.submit_burst),
            verified_tokens=VerifiedTokens(settings.auth_cache_seconds),
        )
