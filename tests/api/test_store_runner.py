"""`api.state.Store.run_autocommit`: the submit route's sessions, without thread hops on
PostgreSQL, and closed with the application."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, make_url, select, text
from sqlalchemy.orm import Session

from api.state import Store
from perfloop.settings import Settings
from store.db import PING_AFTER_IDLE_SECONDS, get_engine, is_sqlite, session_factory
from store.models import IdempotencyKey

INSERT_KEY = text(
    "INSERT INTO idempotency_keys (user_id, key, route, body_sha256, status, created_at,"
    " claimed_at, expires_at) VALUES ('E1', :key, 'POST /v1/x', :digest, 'in_flight',"
    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
)


def keys(db: str) -> list[str]:
    with session_factory(db)() as session:
        return list(session.scalars(select(IdempotencyKey.key).order_by(IdempotencyKey.key)))


@pytest.fixture
async def store(db: str, tmp_path: Path) -> AsyncIterator[Store]:
    store = Store(Settings(home=tmp_path / "home", database_url=db))
    yield store
    await store.close()


async def test_postgres_sessions_wait_on_the_event_loop_and_sqlite_ones_in_a_thread(
    db: str, store: Store
) -> None:
    loop_thread = threading.get_ident()

    def where(session: Session) -> int:
        session.execute(text("SELECT 1"))
        return threading.get_ident()

    ran_on = await store.run_autocommit(where)

    if is_sqlite(db):
        assert ran_on != loop_thread
    else:
        assert ran_on == loop_thread


async def test_on_postgres_each_statement_commits_on_its_own(db: str, store: Store) -> None:
    """The contract the submit route relies on (one statement per write, or writes that
    go together in one statement); on SQLite the work commits its one transaction."""

    def claim_then_fail(session: Session) -> None:
        session.execute(INSERT_KEY, {"key": "a", "digest": "0" * 64})
        raise RuntimeError("after the first statement")

    with pytest.raises(RuntimeError):
        await store.run_autocommit(claim_then_fail)

    assert keys(db) == ([] if is_sqlite(db) else ["a"])


async def test_what_the_work_returns_and_commits_is_kept(db: str, store: Store) -> None:
    def claim(session: Session) -> int:
        session.execute(INSERT_KEY, {"key": "b", "digest": "1" * 64})
        session.commit()
        return int(session.scalar(select(func.count()).select_from(IdempotencyKey)) or 0)

    assert await store.run_autocommit(claim) == 1
    assert keys(db) == ["b"]


async def test_closing_the_store_closes_its_connections_and_a_later_run_reopens(
    db: str, store: Store
) -> None:
    def backend(session: Session) -> object:
        return session.scalar(text("SELECT 1"))

    assert await store.run_autocommit(backend) == 1
    await store.close()
    await store.close()  # twice is fine: the application's shutdown may race a test's
    assert await store.run_autocommit(backend) == 1


async def test_an_idle_postgres_connection_found_dead_is_replaced_before_use(
    db: str, store: Store
) -> None:
    """The asyncio pool pings connections that sat idle, as `store.db`'s does: a
    PostgreSQL restart under an idle API does not fail its next submission."""
    if is_sqlite(db):
        pytest.skip("a PostgreSQL pool's behaviour; SQLite connections do not die")

    def backend(session: Session) -> int:
        return int(session.scalar(text("SELECT pg_backend_pid()")) or 0)

    first = await store.run_autocommit(backend)
    with get_engine(db).connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    await asyncio.sleep(PING_AFTER_IDLE_SECONDS + 0.2)

    assert await store.run_autocommit(backend) not in (0, first)


async def test_commits_wait_for_the_disk_unless_told_not_to(db: str, store: Store) -> None:
    """`durable=False` runs on connections with `synchronous_commit = off`; what they
    commit is visible to every other session at once."""

    def setting(session: Session) -> str | None:
        return session.scalar(text("SHOW synchronous_commit")) if not is_sqlite(db) else None

    def claim(session: Session) -> None:
        session.execute(INSERT_KEY, {"key": "fast", "digest": "2" * 64})
        session.commit()

    await store.run_autocommit(claim, durable=False)
    assert keys(db) == ["fast"]
    if is_sqlite(db):
        return  # one file, one transaction per work: nothing to choose
    assert await store.run_autocommit(setting) == "on"
    assert await store.run_autocommit(setting, durable=False) == "off"
    assert await store.run_autocommit(setting, durable=True) == "on"


async def test_the_urls_own_connection_options_are_kept(db: str, tmp_path: Path) -> None:
    if is_sqlite(db):
        pytest.skip("libpq connection options")
    url = make_url(db).update_query_dict({"options": "-c application_name=perfloop-probe"})
    store = Store(Settings(home=tmp_path / "home", database_url=url.render_as_string(False)))
    try:

        def settings_seen(session: Session) -> tuple[str | None, str | None]:
            return (
                session.scalar(text("SHOW application_name")),
                session.scalar(text("SHOW synchronous_commit")),
            )

        assert await store.run_autocommit(settings_seen, durable=False) == (
            "perfloop-probe",
            "off",
        )
    finally:
        await store.close()
