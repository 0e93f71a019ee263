"""PostgreSQL statements run on psycopg's own asyncio connections, for the API's hot route.

SQLAlchemy's asyncio engine runs each statement through its synchronous core inside a
greenlet: a checkout, an execution context, a result and a check-in, each a greenlet
switch or two. On this machine that doubles a short statement's time on the request's
clock (a one-row SELECT after 20 ms idle: 0.6 ms on the driver, 1.2 ms through an
`AsyncConnection`, 1.4 ms through an `AsyncSession`; bench/README.md). The submit route's
two statements are built once at import, so here SQLAlchemy compiles each once
(`DriverStatement`) and the route sends it on a pooled psycopg connection
(`DriverPool`): the same SQL and the same bound values SQLAlchemy would send.

What the pool does is what the engines' pool does for the rest of perfloop
(`store.db`): connections opened on demand in the request that needs one, up to a bound,
newest first; one idle longer than `PING_AFTER_IDLE_SECONDS` pinged before it is handed
out (a PostgreSQL restart leaves every pooled connection dead); one in a doubtful state
(an error, a cancelled statement) closed rather than reused. A database that is down
raises psycopg's `OperationalError` at once, which the API answers 503.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import Executable, make_url
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from store.db import PING_AFTER_IDLE_SECONDS

DIALECT = PGDialect_psycopg()  # type: ignore[no-untyped-call]
"""SQLAlchemy's psycopg dialect, to compile with: the placeholders and casts it renders
are the ones psycopg reads."""


class PoolExhausted(psycopg.OperationalError):
    """No connection came free within the pool's timeout (an `OperationalError`, so the
    API answers it like a store that is down: 503)."""


@dataclass(frozen=True)
class DriverStatement:
    """A statement compiled once for psycopg, with how each bound value is processed."""

    compiled: SQLCompiler
    processors: Mapping[str, Callable[[Any], Any]]

    @property
    def sql(self) -> str:
        return self.compiled.string

    @classmethod
    def compile(cls, statement: Executable) -> DriverStatement:
        if not isinstance(statement, ClauseElement):
            raise TypeError(f"not a SQL statement: {statement!r}")
        compiled = statement.compile(dialect=DIALECT)
        assert isinstance(compiled, SQLCompiler)
        if compiled.positiontup or compiled.escaped_bind_names:
            raise ValueError("a driver statement binds by plain names (psycopg's pyformat)")
        processors: dict[str, Callable[[Any], Any]] = {}
        for parameter, name in compiled.bind_names.items():
            if parameter.expanding or parameter.literal_execute:
                raise ValueError(f"{name!r}: expanding and literal binds are compiled per call")
            process = parameter.type._cached_bind_processor(DIALECT)
            if process is not None:
                processors[name] = process
        return cls(compiled=compiled, processors=processors)

    def parameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Every bound value the statement needs, `values` and those the statement holds
        itself (its literals), each through its type's bind processing; a value missing
        from `values` raises, as SQLAlchemy's execution does."""
        processed = dict(self.compiled.construct_params(dict(values)))
        for name, process in self.processors.items():
            if name in processed:  # None too: a processor decides what None becomes
                processed[name] = process(processed[name])
        return processed


class DriverStatements:
    """`DriverStatement.compile` once per statement object (a statement built at import,
    or `store.together.combined`'s cached combination)."""

    def __init__(self) -> None:
        self._compiled: dict[Executable, DriverStatement] = {}

    def __getitem__(self, statement: Executable) -> DriverStatement:
        found = self._compiled.get(statement)
        if found is None:
            found = self._compiled[statement] = DriverStatement.compile(statement)
        return found


def connect_arguments(url: str) -> dict[str, Any]:
    """psycopg's `connect` keywords for a SQLAlchemy PostgreSQL URL: those SQLAlchemy
    itself would pass (host, port, user, password, dbname and the URL's query, decoded)."""
    sa_url = make_url(url)
    if sa_url.get_backend_name() != "postgresql":
        raise ValueError(f"a driver pool is for PostgreSQL, not {sa_url.get_backend_name()}")
    positional, keywords = DIALECT.create_connect_args(sa_url)  # type: ignore[no-untyped-call]
    if positional:
        raise ValueError(f"unexpected positional connection arguments: {positional!r}")
    return dict(keywords)


class DriverPool:
    """Up to `max_size` autocommit psycopg connections, the most recently used first."""

    def __init__(
        self,
        url: str,
        *,
        max_size: int,
        timeout: float = 30.0,
        options: str | None = None,
        ping_after: float = PING_AFTER_IDLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._connect_arguments = connect_arguments(url)
        if options:
            self._connect_arguments["options"] = options
        self._timeout = timeout
        self._ping_after = ping_after
        self._clock = clock
        # A connection handed out holds a slot; an idle one does not, and a new one is
        # opened only when none is idle: at most `max_size` are ever open.
        self._slots = asyncio.Semaphore(max_size)
        self._max_size = max_size
        self._idle: list[tuple[psycopg.AsyncConnection[Any], float]] = []
        self._closed = False
        self.executed = 0
        """Statements run by `fetchone` (for tests and a look from a debugger)."""

    @property
    def idle(self) -> int:
        """Connections open and waiting in the pool."""
        return len(self._idle)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        conn = await self._checkout()
        try:
            yield conn
        finally:
            await self._checkin(conn)

    async def fetchone(
        self, statement: DriverStatement, values: Mapping[str, Any]
    ) -> tuple[Any, ...] | None:
        """Run `statement` with `values`; its first row, or None when it returns none."""
        parameters = statement.parameters(values)
        async with self.connection() as conn:
            self.executed += 1
            cursor = await conn.execute(statement.sql, parameters)
            return await cursor.fetchone() if cursor.description is not None else None

    async def close(self) -> None:
        """Close the idle connections; those handed out close when they come back."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn, _ in idle:
            await _close_quietly(conn)

    async def _checkout(self) -> psycopg.AsyncConnection[Any]:
        if self._closed:
            raise RuntimeError("the driver pool is closed")
        try:
            async with asyncio.timeout(self._timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise PoolExhausted(
                f"no database connection came free in {self._timeout:g} s ({self._max_size} in use)"
            ) from None
        pinging: psycopg.AsyncConnection[Any] | None = None
        try:
            while self._idle:
                conn, idle_since = self._idle.pop()
                if self._clock() - idle_since < self._ping_after:
                    return conn
                pinging = conn
                try:
                    await conn.execute("SELECT 1")
                except psycopg.Error:
                    await _close_quietly(conn)
                    pinging = None
                    continue
                return conn
            return await psycopg.AsyncConnection.connect(autocommit=True, **self._connect_arguments)
        except BaseException:
            if pinging is not None:
                # Cut off mid-ping (a cancelled or timed-out request): closed now rather
                # than left to the garbage collector, its state not worth guessing.
                await _close_quietly(pinging)
            self._slots.release()
            raise

    async def _checkin(self, conn: psycopg.AsyncConnection[Any]) -> None:
        try:
            # Anything but an idle autocommit connection (a statement cut off by a
            # cancelled request, a broken socket) is closed: its state is not worth
            # guessing.
            if (
                not self._closed
                and not conn.closed
                and conn.info.transaction_status == TransactionStatus.IDLE
            ):
                self._idle.append((conn, self._clock()))
            else:
                await _close_quietly(conn)
        finally:
            self._slots.release()


async def _close_quietly(conn: psycopg.AsyncConnection[Any]) -> None:
    with suppress(psycopg.Error):
        await conn.close()
