"""Idempotency-Key: replays, reuse with another body, in flight, per caller, expiry.

Every test here runs on the session's store, so `make test` proves them on SQLite and
again on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import Engine, event, func, select

from api.errors import ApiError
from api.permissions import declared_permissions, guarded_routes
from api.services.idempotency import Claim, IdempotencyKeys, StoredResponse, body_sha256, is_final
from store.db import session_factory, session_scope
from store.models import AuditEvent, IdempotencyKey, Task
from tests.api.conftest import T0, FakeTemporal, Token, add_tasks, make_task
from workflows.messages import SubmitTaskInput, SubmitTaskResult

GOALS = {"goals": [{"title": "Grow as a reviewer", "type": "development", "weight": 100}]}


def accepted(submission: SubmitTaskInput) -> SubmitTaskResult:
    return SubmitTaskResult(
        task_id=submission.task_id, status="submitted", late=False, accepted_at=T0
    )


@pytest.fixture
def task_url(seeded: str) -> str:
    [task_id] = add_tasks(seeded, make_task())
    return f"/v1/tasks/{task_id}/submit"


def keyed(auth: Token, key: str, subject: str = "E012", *roles: str) -> dict[str, str]:
    return {**auth(subject, *roles), "Idempotency-Key": key}


def key_rows(url: str) -> list[IdempotencyKey]:
    with session_scope(url) as session:
        rows = list(session.scalars(select(IdempotencyKey).order_by(IdempotencyKey.id)))
        session.expunge_all()
    return rows


def keys_of(app: FastAPI) -> IdempotencyKeys:
    keys: IdempotencyKeys = app.state.perfloop.idempotency
    return keys


# --- the contract through the API ----------------------------------------------------------


async def test_the_same_key_and_body_replays_the_stored_answer(
    client: AsyncClient, task_url: str, auth: Token, temporal: FakeTemporal, db: str
) -> None:
    temporal.update_outcomes["submit_task"] = accepted

    first = await client.post(task_url, json={"payload": GOALS}, headers=keyed(auth, "k1"))
    # The same JSON with its keys in another order and other spacing is the same body.
    again = await client.post(
        task_url,
        content=b'{ "payload" : {"goals": [{"weight": 100, "type": "development", '
        b'"title": "Grow as a reviewer"}]} }',
        headers={**keyed(auth, "k1"), "Content-Type": "application/json"},
    )

    assert first.status_code == 200, first.text
    assert "idempotent-replayed" not in first.headers
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"] == "application/json"
    assert len(temporal.updates) == 1, "the replay never reached the workflow"
    [row] = key_rows(db)
    assert (row.user_id, row.key, row.status, row.response_status) == ("E012", "k1", "done", 200)
    assert row.route == f"POST {task_url}"


async def test_a_final_refusal_replays_too(
    client: AsyncClient, task_url: str, auth: Token, temporal: FakeTemporal
) -> None:
    from tests.api.test_tasks import rejected

    temporal.update_outcomes["submit_task"] = rejected("TaskNotOpen", "the task is submitted")

    first = await client.post(task_url, json={"payload": GOALS}, headers=keyed(auth, "k"))
    temporal.update_outcomes["submit_task"] = accepted
    again = await client.post(task_url, json={"payload": GOALS}, headers=keyed(auth, "k"))

    assert first.status_code == again.status_code == 409
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert len(temporal.updates) == 1


async def test_the_same_key_with_another_request_is_422(
    client: AsyncClient, task_url: str, seeded: str, auth: Token, temporal: FakeTemporal
) -> None:
    [other_task] = add_tasks(seeded, make_task(kind="self_review", phase="evaluation"))
    temporal.update_outcomes["submit_task"] = accepted
    await client.post(task_url, json={"payload": GOALS}, headers=keyed(auth, "k"))

    other_body = await client.post(task_url, json={"payload": {}}, headers=keyed(auth, "k"))
    other_path = await client.post(
        f"/v1/tasks/{other_task}/submit", json={"payload": GOALS}, headers=keyed(auth, "k")
    )

    for response in (other_body, other_path):
        assert response.status_code == 422
        assert response.json()["error"]["type"] == "IdempotencyKeyReused"
    assert len(temporal.updates) == 1


async def test_a_request_still_in_flight_is_409(
    client: AsyncClient, task_url: str, auth: Token, temporal: FakeTemporal
) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(submission: SubmitTaskInput) -> SubmitTaskResult:
        started.set()
        await release.wait()
        return accepted(submission)

    temporal.update_outcomes["submit_task"] = slow
    body, headers = {"payload": GOALS}, keyed(auth, "slow")

    first = asyncio.create_task(client.post(task_url, json=body, headers=headers))
    await asyncio.wait_for(started.wait(), timeout=5)
    during = await client.post(task_url, json=body, headers=headers)
    release.set()
    done = await first
    after = await client.post(task_url, json=body, headers=headers)

    assert during.status_code == 409
    assert during.json()["error"]["type"] == "IdempotencyKeyInFlight"
    assert during.headers["retry-after"] == "1"
    assert done.status_code == 200
    assert after.status_code == 200
    assert after.headers["idempotent-replayed"] == "true"
    assert len(temporal.updates) == 1


async def test_a_pre_claimed_key_is_409(
    app: FastAPI, client: AsyncClient, task_url: str, auth: Token, temporal: FakeTemporal
) -> None:
    temporal.update_outcomes["submit_task"] = accepted
    body = b'{"payload":{}}'
    keys_of(app).claim("E012", "busy", f"POST {task_url}", body_sha256(body))

    response = await client.post(
        task_url, content=body, headers={**keyed(auth, "busy"), "Content-Type": "application/json"}
    )

    assert response.status_code == 409
    assert temporal.updates == []


async def test_keys_are_scoped_per_caller(
    client: AsyncClient, seeded: str, auth: Token, temporal: FakeTemporal, db: str
) -> None:
    mine, theirs = add_tasks(seeded, make_task("E012"), make_task("E013"))
    temporal.update_outcomes["submit_task"] = accepted

    a = await client.post(
        f"/v1/tasks/{mine}/submit", json={"payload": GOALS}, headers=keyed(auth, "same")
    )
    b = await client.post(
        f"/v1/tasks/{theirs}/submit", json={"payload": GOALS}, headers=keyed(auth, "same", "E013")
    )

    assert a.status_code == b.status_code == 200
    assert "idempotent-replayed" not in b.headers, "E013 never sees E012's stored answer"
    assert b.json()["task_id"] == theirs
    assert len(temporal.updates) == 2
    assert sorted(row.user_id for row in key_rows(db)) == ["E012", "E013"]


async def test_an_expired_key_runs_again(
    app: FastAPI, client: AsyncClient, task_url: str, auth: Token, temporal: FakeTemporal
) -> None:
    temporal.update_outcomes["submit_task"] = accepted
    keys = keys_of(app)
    await client.post(task_url, json={"payload": GOALS}, headers=keyed(auth, "old"))

    later = datetime.now(UTC) + keys.ttl + timedelta(seconds=1)
    keys.clock = lambda: later
    reused = await client.post(task_url, json={"payload": {}}, headers=keyed(auth, "old"))

    assert reused.status_code == 200, "expired: another body is a new request, not a reuse"
    assert "idempotent-replayed" not in reused.headers
    assert len(temporal.updates) == 2


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (RuntimeError("a bug"), 500),
        (ApiError("the engine is down", type="EngineTimeout", status=503), 503),
    ],
)
async def test_server_errors_are_not_stored_so_a_retry_runs(
    app: FastAPI,
    task_url: str,
    auth: Token,
    temporal: FakeTemporal,
    db: str,
    error: Exception,
    status: int,
) -> None:
    temporal.update_outcomes["submit_task"] = error
    # The app answers a bug with 500; don't let the test transport raise it instead.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://perfloop.test") as client,
    ):
        failed = await client.post(task_url, json={"payload": GOALS}, headers=keyed(auth, "r"))
        rows_after_failure = key_rows(db)
        temporal.update_outcomes["submit_task"] = accepted
        retried = await client.post(task_url, json={"payload": GOALS}, headers=keyed(auth, "r"))

    assert failed.status_code == status
    assert rows_after_failure == []
    assert retried.status_code == 200
    assert "idempotent-replayed" not in retried.headers
    assert len(temporal.updates) == 2


async def test_forbidden_is_not_stored(client: AsyncClient, auth: Token, db: str) -> None:
    body = {"reason": "duplicate"}

    refused = await client.post("/v1/cycles/c1/cancel", json=body, headers=keyed(auth, "x"))

    assert refused.status_code == 403
    assert key_rows(db) == []


async def test_requests_without_a_key_are_not_recorded(
    client: AsyncClient, task_url: str, auth: Token, temporal: FakeTemporal, db: str
) -> None:
    temporal.update_outcomes["submit_task"] = accepted

    for _ in range(2):
        response = await client.post(task_url, json={"payload": GOALS}, headers=auth("E012"))
        assert response.status_code == 200

    assert len(temporal.updates) == 2
    assert key_rows(db) == []


# --- a route that claims and stores its key itself (InlineIdempotent: the task submit) ---


async def test_the_submit_stores_the_very_bytes_it_sent_with_the_task_mark(
    client: AsyncClient, task_url: str, auth: Token, temporal: FakeTemporal, db: str
) -> None:
    temporal.update_outcomes["submit_task"] = lambda s: SubmitTaskResult(
        task_id=s.task_id, status="submitted", late=False, accepted_at=T0, revision=1
    )

    first = await client.post(task_url, json={"payload": GOALS}, headers=keyed(auth, "k"))

    assert first.status_code == 200, first.text
    [row] = key_rows(db)
    assert (row.status, row.response_status) == ("done", 200)
    assert row.response_body == first.text
    assert row.response_headers == {"content-type": "application/json"}
    task_id = task_url.removeprefix("/v1/tasks/").removesuffix("/submit")
    with session_scope(db) as session:
        assert session.get(Task, task_id).status == "submitted"  # type: ignore[union-attr]


async def test_a_first_use_of_a_key_claims_it_with_the_task_read(
    app: FastAPI, client: AsyncClient, task_url: str, auth: Token, temporal: FakeTemporal, db: str
) -> None:
    """Before the Update, a new key costs one statement on PostgreSQL (the claim and the
    read together, on the driver) and two on SQLite; a replay sends no Update at all."""
    store = app.state.perfloop.store
    sent: list[str] = []
    before_update: list[list[str]] = []
    on_driver: list[int] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    def accept(submission: SubmitTaskInput) -> SubmitTaskResult:
        before_update.append(list(sent))
        on_driver.append(sum(pool.executed for pool in store.driver_pools.values()))
        return accepted(submission)

    temporal.update_outcomes["submit_task"] = accept
    event.listen(Engine, "before_cursor_execute", record)
    try:
        first = await client.post(task_url, json={"payload": GOALS}, headers=keyed(auth, "f"))
        again = await client.post(task_url, json={"payload": GOALS}, headers=keyed(auth, "f"))
    finally:
        event.remove(Engine, "before_cursor_execute", record)

    assert first.status_code == again.status_code == 200, first.text
    assert again.headers["idempotent-replayed"] == "true"
    # The app's first request also sweeps expired keys (housekeeping, every few minutes).
    statements = [s for s in before_update[0] if not s.startswith("DELETE FROM idempotency")]
    assert len(before_update) == 1
    if db.startswith("postgresql"):
        assert statements == []
        assert on_driver == [1]  # CLAIM_AND_READ
    else:
        assert [s.split()[0].upper() for s in statements] == ["INSERT", "SELECT"]
    [row] = key_rows(db)
    assert (row.status, row.response_body) == ("done", first.text)


async def test_a_sensitive_submit_marks_audits_and_stores_in_one_go(
    client: AsyncClient, seeded: str, auth: Token, temporal: FakeTemporal, db: str
) -> None:
    """All three closing writes (one statement on PostgreSQL), each with all its values."""
    [task_id] = add_tasks(
        seeded, make_task(kind="self_review", phase="evaluation", form="self-review")
    )
    temporal.update_outcomes["submit_task"] = lambda s: SubmitTaskResult(
        task_id=s.task_id, status="submitted", late=False, accepted_at=T0, revision=1
    )

    answer = await client.post(
        f"/v1/tasks/{task_id}/submit", json={"payload": {"x": 1}}, headers=keyed(auth, "s")
    )

    assert answer.status_code == 200, answer.text
    [row] = key_rows(db)
    assert (row.status, row.response_body) == ("done", answer.text)
    with session_scope(db) as session:
        task = session.get(Task, task_id)
        assert task is not None
        assert (task.status, task.submitted_by) == ("submitted", "E012")
        assert task.updated_at is not None
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.resource_id == task_id)
        ).all()
    assert actions == ["review.submit"]


async def test_only_a_submission_with_an_audit_entry_waits_for_the_disk(
    app: FastAPI,
    client: AsyncClient,
    seeded: str,
    task_url: str,
    auth: Token,
    temporal: FakeTemporal,
    db: str,
) -> None:
    """On PostgreSQL the claim and an unaudited closing write commit without waiting for
    the WAL flush (a retry redoes them); the closing write that holds an audit entry
    waits."""
    if not db.startswith("postgresql"):
        pytest.skip("SQLite's store steps run in one durable transaction each")
    [review_id] = add_tasks(
        seeded, make_task(kind="self_review", phase="evaluation", form="self-review")
    )
    temporal.update_outcomes["submit_task"] = lambda s: SubmitTaskResult(
        task_id=s.task_id, status="submitted", late=False, accepted_at=T0, revision=1
    )
    store = app.state.perfloop.store
    review_url = f"/v1/tasks/{review_id}/submit"

    def executed() -> dict[bool, int]:
        return {durable: pool.executed for durable, pool in store.driver_pools.items()}

    answer = await client.post(task_url, json={"payload": GOALS}, headers=keyed(auth, "g"))
    assert answer.status_code == 200, answer.text
    # The claim with the task read, then the closing writes together: neither waits.
    assert executed() == {False: 2}

    answer = await client.post(review_url, json={"payload": {"x": 1}}, headers=keyed(auth, "r"))
    assert answer.status_code == 200, answer.text
    # The claim does not wait; the closing writes, with the audit entry, do.
    assert executed() == {False: 3, True: 1}


async def test_a_submit_refused_before_the_workflow_is_stored_and_replays(
    client: AsyncClient, auth: Token, temporal: FakeTemporal, db: str
) -> None:
    """The claim and the task read share a transaction: a 404 still keeps the claim, so the
    answer is stored like any final one."""
    url = "/v1/tasks/c1/E404/goals/goal_draft-0/submit"

    first = await client.post(url, json={"payload": GOALS}, headers=keyed(auth, "k"))
    again = await client.post(url, json={"payload": GOALS}, headers=keyed(auth, "k"))

    assert first.status_code == again.status_code == 404
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert temporal.updates == []
    [row] = key_rows(db)
    assert (row.status, row.response_status) == ("done", 404)


async def test_a_submit_whose_closing_write_fails_stores_nothing_and_runs_again(
    app: FastAPI, task_url: str, auth: Token, temporal: FakeTemporal, db: str
) -> None:
    """Accepted by the workflow, but the transaction with the task's mark and the stored
    answer failed (here a naive timestamp the store refuses): nothing is stored, the key
    is free, and the retry (same key, so the same Update id) runs."""
    temporal.update_outcomes["submit_task"] = lambda s: SubmitTaskResult(
        task_id=s.task_id,
        status="submitted",
        late=False,
        accepted_at=T0.replace(tzinfo=None),
        revision=1,
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://perfloop.test") as client,
    ):
        failed = await client.post(task_url, json={"payload": GOALS}, headers=keyed(auth, "w"))
        rows_after_failure = key_rows(db)
        temporal.update_outcomes["submit_task"] = accepted
        retried = await client.post(task_url, json={"payload": GOALS}, headers=keyed(auth, "w"))

    assert failed.status_code == 500
    assert rows_after_failure == []
    assert retried.status_code == 200, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert len(temporal.updates) == 2
    assert len({update.id for update in temporal.updates}) == 1


PURE_POSTS = frozenset({"/v1/codec/decode", "/v1/codec/encode"})
"""POSTs that change nothing (the codec server: a function of the body). They must not
store their answers either: a decoded payload is review text or pay in clear."""


def test_every_state_changing_post_under_v1_takes_an_idempotency_key(app: FastAPI) -> None:
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    # Signed machine routes (permit_signed) have no caller to scope a key to; their body's
    # event id is the idempotency key (tests/api/test_progress_events.py).
    signed = {
        route.path
        for route in guarded_routes(app)
        if any(p.authentication == "hmac" for p in declared_permissions(route))
    }
    posts = {
        path: ops["post"] for path, ops in paths.items() if "post" in ops and path not in signed
    }
    assert len(posts) >= 10
    for path, operation in posts.items():
        assert path.startswith("/v1/"), path
        if path in PURE_POSTS:
            continue
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        assert "Idempotency-Key" in headers, path


# --- the store side, on both databases -----------------------------------------------------


@pytest.fixture
def keys(db: str) -> IdempotencyKeys:
    return IdempotencyKeys(
        lambda: session_factory(db), ttl=timedelta(hours=24), lease=timedelta(minutes=2)
    )


def test_a_claim_is_exclusive_under_concurrency(keys: IdempotencyKeys, db: str) -> None:
    racers = 8
    barrier = threading.Barrier(racers)
    outcomes: list[object] = []
    lock = threading.Lock()

    def race() -> None:
        barrier.wait(timeout=10)
        try:
            outcome: object = keys.claim("E1", "k", "POST /v1/x", "0" * 64)
        except ApiError as exc:
            outcome = exc.status
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=race) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    claims = [o for o in outcomes if isinstance(o, Claim)]
    assert len(claims) == 1
    assert sorted(o for o in outcomes if isinstance(o, int)) == [409] * (racers - 1)
    assert len(key_rows(db)) == 1


def test_finish_stores_final_answers_and_releases_others(keys: IdempotencyKeys, db: str) -> None:
    done = keys.claim("E1", "a", "POST /v1/x", "h")
    failed = keys.claim("E1", "b", "POST /v1/x", "h")
    assert isinstance(done, Claim)
    assert isinstance(failed, Claim)

    keys.finish(done, 201, b'{"ok":true}', {"location": "/v1/x/1"})
    keys.finish(failed, 503, b"{}", {})

    assert keys.claim("E1", "a", "POST /v1/x", "h") == StoredResponse(
        201, '{"ok":true}', {"location": "/v1/x/1"}
    )
    assert isinstance(keys.claim("E1", "b", "POST /v1/x", "h"), Claim), "released: runs again"


@pytest.mark.parametrize(
    ("status", "final"),
    [
        (200, True),
        (201, True),
        (404, True),
        (409, True),
        (422, True),
        (401, False),
        (403, False),
        (429, False),
        (500, False),
        (503, False),
    ],
)
def test_which_answers_are_final(status: int, final: bool) -> None:
    assert is_final(status) is final


def test_an_abandoned_claim_is_taken_over_after_its_lease(keys: IdempotencyKeys) -> None:
    first = keys.claim("E1", "k", "POST /v1/x", "h")
    assert isinstance(first, Claim)
    with pytest.raises(ApiError) as busy:
        keys.claim("E1", "k", "POST /v1/x", "h")
    assert busy.value.status == 409

    later = datetime.now(UTC) + keys.lease + timedelta(seconds=1)
    keys.clock = lambda: later
    second = keys.claim("E1", "k", "POST /v1/x", "h")

    assert isinstance(second, Claim)
    assert second.row_id == first.row_id


def test_expired_keys_are_purged(keys: IdempotencyKeys, db: str) -> None:
    for key in ("a", "b"):
        claim = keys.claim("E1", key, "POST /v1/x", "h")
        assert isinstance(claim, Claim)
        keys.finish(claim, 200, b"{}", {})
    keys.clock = lambda: datetime.now(UTC) + timedelta(hours=1)
    fresh = keys.claim("E1", "c", "POST /v1/x", "h")
    assert isinstance(fresh, Claim)

    keys.clock = lambda: datetime.now(UTC) + keys.ttl + timedelta(seconds=1)
    purged = keys.purge_expired()

    assert purged == 2
    assert [row.key for row in key_rows(db)] == ["c"]
    with session_scope(db) as session:
        assert session.scalar(select(func.count()).select_from(IdempotencyKey)) == 1


def test_the_sweep_runs_at_most_every_few_minutes(keys: IdempotencyKeys) -> None:
    assert keys.purge_due() is True
    assert keys.purge_due() is False


async def test_a_replayed_launch_keeps_its_status_and_location(
    client: AsyncClient, seeded: str, auth: Token, temporal: FakeTemporal
) -> None:
    body = {"definition": "annual-review@1"}
    headers = keyed(auth, "launch-1", "HR1", "hr-admin")

    first = await client.post("/v1/cycles", json=body, headers=headers)
    again = await client.post("/v1/cycles", json=body, headers=headers)

    assert first.status_code == again.status_code == 201, first.text
    assert again.headers["location"] == first.headers["location"]
    assert again.json() == first.json()
    assert len(temporal.started) == 1, "one cycle, though its id was made up"
