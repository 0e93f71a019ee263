"""`store.together`: writes that land together, in one round trip on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Insert, Table, func, insert, select
from sqlalchemy.exc import IntegrityError

from store.base import utc_now
from store.db import session_factory
from store.models import IdempotencyKey
from store.together import autocommit_on_postgres, execute_together

KEYS = cast("Table", IdempotencyKey.__table__)


def claim(key: str) -> Insert:
    now = utc_now()
    values: dict[str, Any] = {
        "user_id": "E1",
        "key": key,
        "route": "POST /v1/x",
        "body_sha256": "0" * 64,
        "status": "in_flight",
        "created_at": now,
        "claimed_at": now,
        "expires_at": now + timedelta(hours=1),
    }
    return insert(KEYS).values(**values)


def stored_keys(db: str) -> list[str]:
    with session_factory(db)() as session:
        return list(session.scalars(select(IdempotencyKey.key).order_by(IdempotencyKey.key)))


def test_writes_land_together_under_autocommit(db: str) -> None:
    with session_factory(db)() as session:
        autocommit_on_postgres(session)
        execute_together(session, [claim("a"), claim("b"), claim("c")])
        session.commit()

    assert stored_keys(db) == ["a", "b", "c"]


def test_when_one_write_fails_none_lands(db: str) -> None:
    with session_factory(db)() as session:
        execute_together(session, [claim("taken")])
        session.commit()

    with session_factory(db)() as session:
        autocommit_on_postgres(session)
        with pytest.raises(IntegrityError):
            execute_together(session, [claim("new"), claim("taken")])
        session.rollback()

    assert stored_keys(db) == ["taken"]


def test_nothing_to_write_is_nothing_sent(db: str) -> None:
    with session_factory(db)() as session:
        execute_together(session, [])
        assert not session.in_transaction()
        assert session.scalar(select(func.count()).select_from(KEYS)) == 0
