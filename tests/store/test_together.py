"""`store.together`: writes that land together, in one round trip on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Insert, Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from store.base import utc_now
from store.db import session_factory
from store.models import IdempotencyKey
from store.together import (
    Prepared,
    _combined,
    autocommit_on_postgres,
    bound,
    execute_together,
)

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


CLAIM = insert(KEYS).values(
    {
        name: bound(KEYS.c[name], f"claim_{name}")
        for name in ("user_id", "key", "route", "body_sha256", "status", "created_at")
    }
    | {"claimed_at": bound(KEYS.c.claimed_at, "claim_created_at")}
    | {"expires_at": bound(KEYS.c.expires_at, "claim_expires_at")}
)
RENAME = (
    update(KEYS)
    .where(KEYS.c.key == bound(KEYS.c.key, "rename_from"))
    .values(key=bound(KEYS.c.key, "rename_to"))
)


def prepared_claim(key: str) -> Prepared:
    now = utc_now()
    return Prepared(
        CLAIM,
        {
            "claim_user_id": "E1",
            "claim_key": key,
            "claim_route": "POST /v1/x",
            "claim_body_sha256": "0" * 64,
            "claim_status": "in_flight",
            "claim_created_at": now,
            "claim_expires_at": now + timedelta(hours=1),
        },
    )


def test_prepared_writes_land_together_with_their_own_values(db: str) -> None:
    with session_factory(db)() as session:
        execute_together(session, [claim("old")])
        session.commit()

    with session_factory(db)() as session:
        autocommit_on_postgres(session)
        execute_together(
            session,
            [
                prepared_claim("new"),
                Prepared(RENAME, {"rename_from": "old", "rename_to": "renamed"}),
            ],
        )
        session.commit()

    assert stored_keys(db) == ["new", "renamed"]


def test_prepared_writes_that_fail_together_leave_nothing(db: str) -> None:
    with session_factory(db)() as session:
        execute_together(session, [claim("taken"), claim("other")])
        session.commit()

    with session_factory(db)() as session:
        autocommit_on_postgres(session)
        with pytest.raises(IntegrityError):
            execute_together(
                session,
                [
                    prepared_claim("new"),
                    Prepared(RENAME, {"rename_from": "other", "rename_to": "taken"}),
                ],
            )
        session.rollback()

    assert stored_keys(db) == ["other", "taken"]


def test_writes_that_share_a_parameter_name_are_refused_before_anything_is_sent(
    db: str,
) -> None:
    with session_factory(db)() as session:
        with pytest.raises(ValueError, match="claim_key"):
            execute_together(session, [prepared_claim("a"), prepared_claim("b")])
        assert not session.in_transaction()
        session.rollback()

    assert stored_keys(db) == []


def test_the_same_statements_combine_into_the_same_statement() -> None:
    """SQLAlchemy's compiled cache then knows the combination by identity: no new
    statement, and no new cache key, per request."""
    assert _combined((RENAME, CLAIM)) is _combined((RENAME, CLAIM))
    assert _combined((RENAME, CLAIM)) is not _combined((CLAIM, RENAME))
