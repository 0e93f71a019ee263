"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL.

If this fails after you changed a model, generate a migration:
`perfloop db upgrade && perfloop db revision -m "what changed"`.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import URL

from store import migrate
from store.db import build_engine, is_sqlite
from store.models import Base
from tests.conftest import postgres_database


@pytest.fixture
def fresh_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the same kind as the session's store."""
    if is_sqlite(database_url):
        yield URL.create("sqlite", database=str(tmp_path / "fresh" / "p.db")).render_as_string()
    else:
        with postgres_database(database_url) as url:
            yield url


def test_upgrade_builds_the_models_schema(fresh_url: str) -> None:
    migrate.upgrade(fresh_url)

    engine = build_engine(fresh_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            differences = compare_metadata(context, Base.metadata)
            tables = set(inspect(connection).get_table_names())
    finally:
        engine.dispose()

    assert differences == [], "models and migrations differ; add a migration"
    assert set(Base.metadata.tables) <= tables


def test_upgrade_is_idempotent_and_reaches_head(fresh_url: str) -> None:
    migrate.upgrade(fresh_url)
    migrate.upgrade(fresh_url)

    assert migrate.current_revision(fresh_url) == migrate.head_revision()


def test_downgrade_to_base_removes_every_table(fresh_url: str) -> None:
    migrate.upgrade(fresh_url)
    migrate.downgrade(fresh_url, "base")

    engine = build_engine(fresh_url)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert tables <= {"alembic_version"}
    assert migrate.current_revision(fresh_url) is None


def _upgrade_together(url: str, barrier: Barrier, results: Queue[str]) -> None:
    barrier.wait(timeout=60)
    try:
        migrate.upgrade(url)
    except Exception as exc:
        results.put(f"{type(exc).__name__}: {exc}")
    else:
        results.put("ok")


def test_processes_starting_together_upgrade_in_turn(fresh_url: str) -> None:
    """API and workers may all run `upgrade()` at start: none may fail on the others."""
    processes = 3
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    results = context.Queue()
    workers = [
        context.Process(target=_upgrade_together, args=(fresh_url, barrier, results))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    results.close()
    results.join_thread()

    assert outcomes == ["ok"] * processes
    assert migrate.current_revision(fresh_url) == migrate.head_revision()


def test_sqlite_file_folder_is_created(tmp_path: Path) -> None:
    url = URL.create("sqlite", database=str(tmp_path / "a" / "b" / "p.db")).render_as_string()

    migrate.upgrade(url)

    assert (tmp_path / "a" / "b" / "p.db").is_file()
