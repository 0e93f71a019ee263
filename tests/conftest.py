"""Fixtures shared by every test: an isolated data folder and a migrated, isolated store.

The store is SQLite by default. With `PERFLOOP_DATABASE_URL` pointing at PostgreSQL
(`make test-postgres`), each test session creates its own uniquely named database on that
server and drops it at the end, so parallel runs (and developers' data) never collide.
Either way the schema is built once per session by the real migrations, and each test
that uses the store (`db`, `session`) starts from empty tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

from perfloop.settings import get_settings
from store.db import dispose_engines, is_sqlite, session_factory, session_scope
from store.migrate import upgrade
from store.models import Base


@pytest.fixture(scope="session", autouse=True)
def perfloop_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """PERFLOOP_HOME in a temporary folder: no test touches a developer's `.perfloop/`."""
    home = tmp_path_factory.mktemp("perfloop-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PERFLOOP_HOME", str(home))
        get_settings.cache_clear()
        yield home
    get_settings.cache_clear()
    dispose_engines()


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server of `server_url`, dropped (even if still in use)
    afterwards. The `postgres` maintenance database is used to create and drop it."""
    server = make_url(server_url)
    name = f"perfloop_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            dispose_engines()
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(perfloop_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """This session's store URL, migrated to head and exported as PERFLOOP_DATABASE_URL so
    that code reading the settings (the CLI, the API) uses the same database."""
    configured = os.environ.get("PERFLOOP_DATABASE_URL", "")
    with ExitStack() as stack:
        if configured and not is_sqlite(configured):
            url = stack.enter_context(postgres_database(configured))
        else:
            folder = tmp_path_factory.mktemp("store")
            url = URL.create("sqlite", database=str(folder / "perfloop.db")).render_as_string()
        upgrade(url)
        patch = stack.enter_context(pytest.MonkeyPatch.context())
        patch.setenv("PERFLOOP_DATABASE_URL", url)
        get_settings.cache_clear()
        yield url
        get_settings.cache_clear()
        dispose_engines()


APPEND_ONLY = frozenset({"audit_events"})
"""Tables whose rows PostgreSQL refuses to DELETE (a trigger); tests empty them with
TRUNCATE, which the table's owner may still do."""


def clear_tables(url: str) -> None:
    """Delete every row of every model's table, children before parents."""
    with session_scope(url) as session:
        postgres = session.get_bind().dialect.name == "postgresql"
        for table in reversed(Base.metadata.sorted_tables):
            if postgres and table.name in APPEND_ONLY:
                session.execute(text(f'TRUNCATE TABLE "{table.name}"'))
            else:
                session.execute(delete(table))


@pytest.fixture
def db(database_url: str) -> Iterator[str]:
    """The migrated store, empty at the start of the test and emptied after it."""
    get_settings.cache_clear()
    clear_tables(database_url)
    yield database_url
    clear_tables(database_url)


@pytest.fixture
def session(db: str) -> Iterator[Session]:
    """A session on the empty store; whatever the test leaves uncommitted is rolled back."""
    with session_factory(db)() as session:
        yield session
        session.rollback()


STORE_FIXTURES = frozenset({"database_url", "db", "session"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With PERFLOOP_STORE_TESTS_ONLY=1 (the PostgreSQL pass of `make test`), run only the
    tests that touch the store: the rest already ran on SQLite and would prove nothing new."""
    if not os.environ.get("PERFLOOP_STORE_TESTS_ONLY"):
        return
    keep, drop = [], []
    for item in items:
        uses_store = STORE_FIXTURES & set(getattr(item, "fixturenames", ()))
        (keep if uses_store else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
