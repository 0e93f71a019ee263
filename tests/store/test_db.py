"""Engines, sessions and the shared column types behave the same on both databases."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError, StatementError
from sqlalchemy.orm import Session

from store.db import (
    PING_AFTER_IDLE_SECONDS,
    build_engine,
    dispose_engines,
    get_engine,
    is_sqlite,
    masked_url,
    session_factory,
    session_scope,
)
from store.models import DefinitionVersion
from store.upsert import insert_if_absent, insert_many_if_absent, upsert


def _row(version: int = 1, **overrides: object) -> DefinitionVersion:
    values: dict[str, object] = {
        "name": "annual-review",
        "version": version,
        "sha256": "a" * 64,
        "canonical": {"definition": {"metadata": {"title": "Ünïcode ✓"}}, "n": [1, 2.5]},
        "source_text": "apiVersion: perfloop.io/v1\n",
    }
    values.update(overrides)
    return DefinitionVersion(**values)


def test_engine_is_cached_per_url_and_built_lazily(tmp_path: Path) -> None:
    url = URL.create("sqlite", database=str(tmp_path / "lazy" / "p.db")).render_as_string()

    first = get_engine(url)

    assert get_engine(url) is first
    assert session_factory(url) is session_factory(url)
    dispose_engines()
    assert get_engine(url) is not first
    dispose_engines()


def test_sqlite_connections_enforce_foreign_keys_and_use_wal(tmp_path: Path) -> None:
    url = URL.create("sqlite", database=str(tmp_path / "p.db")).render_as_string()
    try:
        with get_engine(url).connect() as connection:
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            # NORMAL (1): commits are not fsynced one by one (see store.db.SQLITE_SYNCHRONOUS).
            assert connection.execute(text("PRAGMA synchronous")).scalar() == 1
    finally:
        dispose_engines()


def test_masked_url_hides_the_password() -> None:
    masked = masked_url("postgresql+psycopg://app:s3cret@db.example:5432/perfloop")

    assert "s3cret" not in masked
    assert masked == "postgresql+psycopg://app:***@db.example:5432/perfloop"


def test_timestamps_come_back_aware_in_utc(session: Session) -> None:
    berlin = timezone(timedelta(hours=2))
    published = datetime(2027, 3, 1, 14, 30, tzinfo=berlin)
    session.add(_row(published_at=published))
    session.commit()
    session.expunge_all()

    row = session.scalars(select(DefinitionVersion)).one()

    assert row.published_at == published
    assert row.published_at.tzinfo == UTC
    assert row.published_at.hour == 12


def test_naive_timestamps_are_refused(session: Session) -> None:
    session.add(_row(published_at=datetime(2027, 3, 1, 14, 30)))

    with pytest.raises(StatementError, match="naive datetime"):
        session.flush()


def test_json_content_round_trips(session: Session) -> None:
    row = _row()
    session.add(row)
    session.commit()
    session.expunge_all()

    stored = session.scalars(select(DefinitionVersion)).one()

    assert stored.canonical == row.canonical


def test_session_scope_commits_or_rolls_back(db: str) -> None:
    with session_scope(db) as session:
        session.add(_row(1))

    def fail_midway() -> None:
        with session_scope(db) as session:
            session.add(_row(2))
            session.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_midway()

    with session_scope(db) as session:
        versions = session.scalars(select(DefinitionVersion.version)).all()
    assert versions == [1]


def test_insert_if_absent_reports_whether_it_inserted(session: Session) -> None:
    values = {
        "name": "annual-review",
        "version": 1,
        "sha256": "b" * 64,
        "canonical": {},
        "source_text": "",
        "published_at": datetime.now(UTC),
    }

    assert insert_if_absent(session, DefinitionVersion, values, ["name", "version"]) is True
    again = {**values, "sha256": "c" * 64}
    assert insert_if_absent(session, DefinitionVersion, again, ["name", "version"]) is False
    assert session.scalars(select(DefinitionVersion.sha256)).all() == ["b" * 64]


def test_upsert_inserts_then_overwrites_only_the_named_columns(session: Session) -> None:
    published = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    values = {
        "name": "annual-review",
        "version": 1,
        "sha256": "b" * 64,
        "canonical": {"definition": {}},
        "source_text": "first",
        "published_at": published,
    }
    upsert(session, DefinitionVersion, values, ["name", "version"], ["sha256", "canonical"])
    # The same statement again, with other values: they travel as parameters, not SQL.
    changed = {**values, "sha256": "c" * 64, "canonical": {"n": [1]}, "source_text": "second"}
    upsert(session, DefinitionVersion, changed, ["name", "version"], ["sha256", "canonical"])
    upsert(session, DefinitionVersion, {**values, "version": 2}, ["name", "version"], ["sha256"])

    rows = session.execute(
        select(
            DefinitionVersion.version,
            DefinitionVersion.sha256,
            DefinitionVersion.canonical,
            DefinitionVersion.source_text,
            DefinitionVersion.published_at,
        ).order_by(DefinitionVersion.version)
    ).all()
    assert [tuple(row) for row in rows] == [
        (1, "c" * 64, {"n": [1]}, "first", published),
        (2, "b" * 64, {"definition": {}}, "first", published),
    ]


def test_insert_if_absent_and_insert_many_agree_on_what_exists(session: Session) -> None:
    def values(version: int, sha: str) -> dict[str, object]:
        return {
            "name": "annual-review",
            "version": version,
            "sha256": sha * 64,
            "canonical": {},
            "source_text": "",
            "published_at": datetime.now(UTC),
        }

    assert insert_if_absent(session, DefinitionVersion, values(2, "b"), ["name", "version"])
    inserted = insert_many_if_absent(
        session, DefinitionVersion, [values(v, "c") for v in (1, 2, 3)], ["name", "version"]
    )

    assert inserted == 2
    assert session.scalars(
        select(DefinitionVersion.sha256).order_by(DefinitionVersion.version)
    ).all() == ["c" * 64, "b" * 64, "c" * 64]


def test_an_idle_postgres_connection_found_dead_is_replaced_before_use(db: str) -> None:
    """`build_engine` pings only connections that sat idle (`PING_AFTER_IDLE_SECONDS`); one
    whose backend died meanwhile (a PostgreSQL restart, say) is swapped for a new one
    instead of failing the request that draws it."""
    if is_sqlite(db):
        pytest.skip("a PostgreSQL pool's behaviour; SQLite connections do not die")
    engine = build_engine(db, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as connection:
            first = connection.scalar(text("SELECT pg_backend_pid()"))
        with get_engine(db).connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        time.sleep(PING_AFTER_IDLE_SECONDS + 0.2)
        with engine.connect() as connection:
            second = connection.scalar(text("SELECT pg_backend_pid()"))
        assert second != first

        # In steady use there is no ping: a connection killed under a busy pool fails the
        # one request that draws it, and the pool is then recycled.
        with get_engine(db).connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": second})
        with pytest.raises(OperationalError), engine.connect() as connection:
            connection.scalar(text("SELECT 1"))
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT pg_backend_pid()")) not in (first, second)
    finally:
        engine.dispose()
