"""`store.driver`: statements compiled once and sent on psycopg's own pooled connections,
the submit route's store steps on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, make_url, select, text

from api.services.tasks import CLAIM_AND_READ, MARK_SUBMITTED
from api.state import Store
from perfloop.settings import Settings
from store.db import get_engine, is_sqlite, session_factory
from store.driver import DriverPool, DriverStatement, PoolExhausted, connect_arguments
from store.models import IdempotencyKey

T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
CLAIM_VALUES: dict[str, Any] = {
    "claim_user_id": "E1",
    "claim_key": "k1",
    "claim_route": "POST /v1/tasks/t/submit",
    "claim_body_sha256": "0" * 64,
    "claim_status": "in_flight",
    "claim_created_at": T0,
    "claim_claimed_at": T0,
    "claim_expires_at": T0,
    "task_id": "c1/E1/goals/goal_draft",
}
MARK_VALUES: dict[str, Any] = {
    "mark_task_id": "c1/E1/goals/goal_draft",
    "mark_revision": 2,
    "mark_submitted_at": T0,
    "mark_submitted_by": "E1",
    "mark_late": False,
    "mark_updated_at": T0,
}


@pytest.fixture
def postgres(db: str) -> str:
    if is_sqlite(db):
        pytest.skip("psycopg's own connections: PostgreSQL only")
    return db


@pytest.fixture
async def pool(postgres: str) -> AsyncIterator[DriverPool]:
    pool = DriverPool(postgres, max_size=2)
    yield pool
    await pool.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sent_by_sqlalchemy(db: str, statement: Any, values: dict[str, Any]) -> dict[str, Any]:
    """The parameters SQLAlchemy's own execution hands psycopg for `statement`."""
    seen: list[dict[str, Any]] = []

    def record(_conn: Any, _cursor: Any, _sql: str, parameters: Any, *_: Any) -> None:
        seen.append(dict(parameters))

    engine = get_engine(db)
    event.listen(engine, "before_cursor_execute", record)
    try:
        with engine.connect() as connection:
            connection.execute(statement, values)
            connection.rollback()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    [parameters] = seen
    return parameters


@pytest.mark.parametrize(
    ("statement", "values"),
    [(CLAIM_AND_READ, CLAIM_VALUES), (MARK_SUBMITTED, MARK_VALUES)],
    ids=["claim-and-read", "mark-submitted"],
)
def test_a_statement_gets_the_sql_and_values_sqlalchemy_would_send(
    postgres: str, statement: Any, values: dict[str, Any]
) -> None:
    """The literals a statement holds (the open statuses, "submitted") and each value's
    type processing (aware timestamps) come out as they do from SQLAlchemy's execution."""
    compiled = DriverStatement.compile(statement)

    assert compiled.parameters(values) == sent_by_sqlalchemy(postgres, statement, values)
    assert "%(task_id)s" in compiled.sql or "%(mark_task_id)s" in compiled.sql


def test_a_missing_value_is_refused_before_anything_is_sent(postgres: str) -> None:
    compiled = DriverStatement.compile(MARK_SUBMITTED)
    with pytest.raises(Exception, match="mark_late"):
        compiled.parameters({k: v for k, v in MARK_VALUES.items() if k != "mark_late"})


async def test_the_claim_runs_on_the_driver_and_commits_at_once(
    postgres: str, pool: DriverPool
) -> None:
    """Autocommit: the row is there for every other session the moment the call returns;
    a second claim of the same key inserts nothing and returns no row."""
    statement = DriverStatement.compile(CLAIM_AND_READ)

    first = await pool.fetchone(statement, CLAIM_VALUES)
    again = await pool.fetchone(statement, CLAIM_VALUES)

    assert first is not None
    assert first[1] is None  # claimed; no such task
    assert again is None
    with session_factory(postgres)() as session:
        assert session.scalars(select(IdempotencyKey.id)).all() == [first[0]]


async def test_connections_are_reused_newest_first_up_to_the_bound(pool: DriverPool) -> None:
    async def backend() -> int:
        async with pool.connection() as conn:
            row = await (await conn.execute("SELECT pg_backend_pid()")).fetchone()
            assert row is not None
            return int(row[0])

    async with pool.connection() as held:
        other = await backend()
        held_pid = held.info.backend_pid
    assert pool.idle == 2
    # The newest idle one first: `held` went back last.
    assert await backend() == held_pid
    assert await backend() == held_pid
    assert other != held_pid


async def test_a_pool_at_its_bound_waits_then_gives_up(postgres: str) -> None:
    pool = DriverPool(postgres, max_size=1, timeout=0.2)
    try:
        async with pool.connection():
            with pytest.raises(PoolExhausted, match="no database connection came free"):
                async with pool.connection():
                    pass
            # An OperationalError: the API answers it 503, like a store that is down.
            assert issubclass(PoolExhausted, psycopg.OperationalError)

        async def soon_released() -> None:
            async with pool.connection():
                await asyncio.sleep(0.05)

        waiting = asyncio.create_task(soon_released())
        await asyncio.sleep(0)
        async with pool.connection():  # waits for the one above, then gets it
            pass
        await waiting
    finally:
        await pool.close()


async def test_an_idle_connection_found_dead_is_replaced_before_use(postgres: str) -> None:
    """Idle longer than `ping_after` (a PostgreSQL restart under an idle API, say): pinged,
    and a dead one is closed and another opened, without failing the caller."""
    clock = Clock()
    pool = DriverPool(postgres, max_size=2, ping_after=1.0, clock=clock)
    try:
        async with pool.connection() as conn:
            first = conn.info.backend_pid
        with get_engine(postgres).connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        clock.now += 1.5

        async with pool.connection() as conn:
            assert conn.info.backend_pid != first
            await conn.execute("SELECT 1")
    finally:
        await pool.close()


async def test_a_ping_cut_off_closes_its_connection_and_frees_the_slot(postgres: str) -> None:
    """A request cancelled while the pool pings an idle connection (its client went away,
    its timeout ran out): that connection is closed at once, not left open until the
    garbage collector finds it, and its slot serves the next caller."""
    clock = Clock()
    pool = DriverPool(postgres, max_size=1, ping_after=1.0, clock=clock)
    try:
        async with pool.connection() as conn:
            pinged = conn
        clock.now += 1.5

        async def use_the_pool_with_no_time() -> None:
            async with asyncio.timeout(0), pool.connection():
                pytest.fail("the ping should have been cut off")

        with pytest.raises(TimeoutError):
            await use_the_pool_with_no_time()

        assert pinged.closed
        assert pool.idle == 0
        async with asyncio.timeout(5):
            async with pool.connection() as conn:
                assert conn is not pinged
                await conn.execute("SELECT 1")
    finally:
        await pool.close()


async def test_a_connection_in_doubt_is_closed_not_reused(pool: DriverPool) -> None:
    """A connection that comes back inside a transaction (or broken, or cut off by a
    cancelled request) is closed; one whose statement merely failed is idle and kept."""
    async with pool.connection() as conn:
        await conn.execute("BEGIN")
    assert pool.idle == 0
    assert conn.closed

    with pytest.raises(psycopg.errors.DivisionByZero):
        async with pool.connection() as conn:
            await conn.execute("SELECT 1 / 0")
    assert pool.idle == 1
    assert not conn.closed


async def test_a_database_that_is_down_fails_at_once() -> None:
    pool = DriverPool(
        "postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2", max_size=1
    )
    with pytest.raises(psycopg.OperationalError):
        await pool.fetchone(DriverStatement.compile(CLAIM_AND_READ), CLAIM_VALUES)
    # The slot it took is free again: the next try connects again rather than waiting.
    with pytest.raises(psycopg.OperationalError):
        await pool.fetchone(DriverStatement.compile(CLAIM_AND_READ), CLAIM_VALUES)
    await pool.close()


def test_connect_arguments_are_those_sqlalchemy_would_pass() -> None:
    assert connect_arguments("postgresql+psycopg://u:p%40ss@h:5433/db?options=-c%20x%3Dy") == {
        "host": "h",
        "port": 5433,
        "user": "u",
        "password": "p@ss",
        "dbname": "db",
        "options": "-c x=y",
    }
    with pytest.raises(ValueError, match="sqlite"):
        connect_arguments("sqlite:///x.db")


@pytest.fixture
def store_with_options(postgres: str, tmp_path: Path) -> Store:
    url = make_url(postgres).update_query_dict({"options": "-c application_name=perfloop-probe"})
    return Store(Settings(home=tmp_path / "home", database_url=url.render_as_string(False)))


async def test_the_store_flushes_on_the_durable_pool_only(store_with_options: Store) -> None:
    """`fetch_on_driver(durable=False)` runs on connections with `synchronous_commit =
    off`, keeping the URL's own options; the durable pool leaves both as configured."""
    show = select(
        text("current_setting('synchronous_commit')"), text("current_setting('application_name')")
    )
    store = store_with_options
    try:
        fast = await store.fetch_on_driver(show, {}, durable=False)
        durable = await store.fetch_on_driver(show, {}, durable=True)
    finally:
        await store.close()

    assert fast == ("off", "perfloop-probe")
    assert durable == ("on", "perfloop-probe")
    assert store.driver_pools == {}  # closed with the store
