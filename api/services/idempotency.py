"""The store side of Idempotency-Key: claim a key, store or release the answer, sweep.

`api.idempotency` (the dependency and middleware routes use) documents the contract;
this module holds the rules that decide it against the `idempotency_keys` table.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Table, delete, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, sessionmaker

from api.errors import Conflict, Unprocessable
from store.base import utc_now
from store.models import IdempotencyKey
from store.models.idempotency import ROUTE_LENGTH
from store.together import Prepared, bound
from store.upsert import insert_if_absent_returning

log = logging.getLogger(__name__)

NOT_STORED = frozenset({401, 403, 408, 425, 429})
PURGE_EVERY = timedelta(minutes=10)
CLAIM_ATTEMPTS = 3


_KEYS = cast("Table", IdempotencyKey.__table__)
# On the table, not the mapped class: a plain UPDATE, without the ORM's bulk machinery
# (it evaluates the statement against the session for nothing); built once (see
# store.together), its parameters named apart from the writes it goes with.
STORE_ANSWER = (
    update(_KEYS)
    .where(_KEYS.c.id == bound(_KEYS.c.id, "answer_key_id"), _KEYS.c.status == "in_flight")
    .values(
        status="done",
        response_status=bound(_KEYS.c.response_status, "answer_status"),
        response_body=bound(_KEYS.c.response_body, "answer_body"),
        response_headers=bound(_KEYS.c.response_headers, "answer_headers"),
        expires_at=bound(_KEYS.c.expires_at, "answer_expires_at"),
    )
)

# PostgreSQL: the claim of a key not seen before, as a statement a route can read with
# (a CTE: `api.services.tasks` claims and reads its task in one round trip). No row
# comes back when the key is there; `claim_in` then decides replay, 409 or 422.
_CLAIMED_COLUMNS = (
    "user_id",
    "key",
    "route",
    "body_sha256",
    "status",
    "created_at",
    "claimed_at",
    "expires_at",
)
CLAIM_IF_ABSENT = (
    postgresql.insert(_KEYS)
    .values({name: bound(_KEYS.c[name], f"claim_{name}") for name in _CLAIMED_COLUMNS})
    .on_conflict_do_nothing(index_elements=[_KEYS.c.user_id, _KEYS.c.key])
    .returning(_KEYS.c.id)
)


def is_final(status: int) -> bool:
    """Whether an answer with `status` is stored and replayed (see `api.idempotency`)."""
    return 200 <= status < 300 or (400 <= status < 500 and status not in NOT_STORED)


def request_route(method: str, path: str) -> str:
    """`POST /v1/...`, shortened (with a hash of the whole) to fit its column."""
    route = f"{method.upper()} {path}"
    if len(route) > ROUTE_LENGTH:
        digest = hashlib.sha256(route.encode()).hexdigest()
        route = route[: ROUTE_LENGTH - len(digest) - 1] + "#" + digest
    return route


def body_sha256(body: bytes) -> str:
    """Hash of a request body; JSON is hashed in canonical form, so that a retry that
    orders its keys differently (or spaces them) is still the same request."""
    try:
        content = json.loads(body)
    except ValueError:
        return hashlib.sha256(body).hexdigest()
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Claim:
    """This request holds the key: its answer is stored (or the key released) at the end."""

    row_id: int
    user_id: str
    key: str


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: str
    headers: dict[str, str]


def key_reused() -> Unprocessable:
    return Unprocessable(
        "this Idempotency-Key was used for a different request (method, path or body); "
        "send a new key with a new request",
        type="IdempotencyKeyReused",
    )


def key_in_flight() -> Conflict:
    return Conflict(
        "a request with this Idempotency-Key is still being processed; retry shortly",
        type="IdempotencyKeyInFlight",
        headers={"Retry-After": "1"},
    )


class IdempotencyKeys:
    """The store side: claim a key, finish or release it, sweep expired ones.

    Each call is its own short transaction, committed at once: a claim must be visible to
    a concurrent request before the route starts its work. `claim_in` and
    `answer_write` do the same inside a caller's transaction, for a route that claims
    its key with its first read and stores its answer with its writes
    (`api.idempotency.InlineKey`).
    """

    def __init__(
        self,
        sessions: Callable[[], sessionmaker[Session]],
        *,
        ttl: timedelta,
        lease: timedelta,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._sessions = sessions
        self.ttl = ttl
        self.lease = lease
        self.clock = clock
        self._last_purge = float("-inf")

    def claim(self, user_id: str, key: str, route: str, digest: str) -> Claim | StoredResponse:
        """Claim `key` for this request, or the stored answer to replay; raises 422 (key
        used for another request) or 409 (that request is still running)."""
        with self._sessions()() as session, session.begin():
            return self.claim_in(session, user_id, key, route, digest)

    def claim_parameters(self, user_id: str, key: str, route: str, digest: str) -> dict[str, Any]:
        """The parameters of `CLAIM_IF_ABSENT` for this request."""
        values = self._claim_values(user_id, key, route, digest)
        return {f"claim_{name}": value for name, value in values.items()}

    def _claim_values(self, user_id: str, key: str, route: str, digest: str) -> dict[str, Any]:
        """The row that claims `key` now (`_CLAIMED_COLUMNS`)."""
        now = self.clock()
        return {
            "user_id": user_id,
            "key": key,
            "route": route,
            "body_sha256": digest,
            "status": "in_flight",
            "created_at": now,
            "claimed_at": now,
            "expires_at": now + self.ttl,
        }

    def claim_in(
        self, session: Session, user_id: str, key: str, route: str, digest: str
    ) -> Claim | StoredResponse:
        """`claim` inside the caller's transaction: the claim holds once the caller commits
        (a rival's insert of the same key waits on the unique index until then)."""
        for _ in range(CLAIM_ATTEMPTS):
            values = self._claim_values(user_id, key, route, digest)
            now = values["claimed_at"]
            row_id = insert_if_absent_returning(
                session, IdempotencyKey, values, ["user_id", "key"], "id"
            )
            if row_id is not None:
                return Claim(int(row_id), user_id, key)
            row = session.scalars(
                select(IdempotencyKey).where(
                    IdempotencyKey.user_id == user_id, IdempotencyKey.key == key
                )
            ).one_or_none()
            if row is None:  # deleted between our insert and select: try again
                continue
            if row.expires_at <= now:
                # Expired: free the key (unless a rival did already) and claim afresh.
                session.execute(
                    delete(IdempotencyKey).where(
                        IdempotencyKey.id == row.id, IdempotencyKey.expires_at <= now
                    )
                )
                continue
            if row.route != route or row.body_sha256 != digest:
                raise key_reused()
            if row.status == "done" and row.response_status is not None:
                return StoredResponse(
                    status=row.response_status,
                    body=row.response_body or "",
                    headers={str(k): str(v) for k, v in (row.response_headers or {}).items()},
                )
            if row.claimed_at <= now - self.lease and self._take_over(session, row.id, now):
                log.warning("idempotency key of %s taken over after its lease ran out", user_id)
                return Claim(row.id, user_id, key)
            raise key_in_flight()
        raise key_in_flight()

    def _take_over(self, session: Session, row_id: int, now: datetime) -> bool:
        """Claim an abandoned in-flight row; of two rivals, the conditional update lets one."""
        result = session.execute(
            update(IdempotencyKey)
            .where(
                IdempotencyKey.id == row_id,
                IdempotencyKey.status == "in_flight",
                IdempotencyKey.claimed_at <= now - self.lease,
            )
            .values(claimed_at=now, expires_at=now + self.ttl),
            execution_options={"preserve_rowcount": True},
        )
        return cast("CursorResult[Any]", result).rowcount == 1

    def finish(self, claim: Claim, status: int, body: bytes, headers: dict[str, str]) -> None:
        """Store a final answer for replays, or release the key so that a retry runs."""
        if not is_final(status):
            self.release(claim)
            return
        answer = self.answer_write(claim, status, body, headers)
        with self._sessions()() as session, session.begin():
            session.execute(answer.statement, dict(answer.params))

    def answer_write(
        self, claim: Claim, status: int, body: bytes, headers: dict[str, str]
    ) -> Prepared:
        """The write that stores a final answer, for a caller that sends it to the store
        with the writes it answers for, so that both or neither land."""
        if not is_final(status):
            raise ValueError(f"a {status} answer is not stored (see api.idempotency)")
        return Prepared(
            STORE_ANSWER,
            {
                "answer_key_id": claim.row_id,
                "answer_status": status,
                "answer_body": body.decode("utf-8", errors="replace"),
                "answer_headers": headers,
                "answer_expires_at": self.clock() + self.ttl,
            },
        )

    def release(self, claim: Claim) -> None:
        with self._sessions()() as session, session.begin():
            session.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.id == claim.row_id, IdempotencyKey.status == "in_flight"
                )
            )

    def purge_expired(self) -> int:
        """Delete every expired key; returns how many."""
        now = self.clock()
        with self._sessions()() as session, session.begin():
            result = session.execute(
                delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now),
                execution_options={"preserve_rowcount": True},
            )
            return cast("CursorResult[Any]", result).rowcount

    def purge_due(self) -> bool:
        """Whether this process should sweep now (at most every PURGE_EVERY)."""
        now = time.monotonic()
        if now - self._last_purge < PURGE_EVERY.total_seconds():
            return False
        self._last_purge = now
        return True
