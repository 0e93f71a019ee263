"""`POST /v1/progress-events`: the signed webhook of project tools.

Every refusal is a clear 4xx and stores nothing: no signature, a malformed one, a wrong
one, a stale timestamp, a malformed body, an unknown person; a replay of the same event
id stores nothing twice.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import func, select

from api.permissions import PERMISSIONS, UndeclaredPermissionError, ensure_declared, permit
from api.signatures import SIGNATURE_HEADER, sign
from perfloop.settings import Settings
from store.db import session_scope
from store.models import Goal, ProgressEvent
from tests.api.conftest import CYCLE_ID, FakeTemporal, Token, app_for, serve
from tests.api.seed import add, person

SECRET = "progress-secret-0123456789"
URL = "/v1/progress-events"


@pytest.fixture
def settings(db: str, tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", database_url=db, progress_webhook_secret=SECRET)


@pytest.fixture
def people(seeded: str) -> str:
    with session_scope(seeded) as session:
        add(session, person("M1", "Maja Holm"), person("A1", "Ada Lund", manager="M1"))
        session.add(
            Goal(
                id="g-a1", cycle_id=CYCLE_ID, owner_id="A1", task_id="t", title="Ship",
                type="okr", weight=100, status="approved", progress=0.1,
            )
        )  # fmt: skip
    return seeded


def event(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": "evt-1",
        "source": "project-tracker",
        "employee_id": "A1",
        "kind": "progress",
        "occurred_at": "2027-03-01T10:00:00Z",
        "cycle_id": CYCLE_ID,
        "goal_id": "g-a1",
        "progress": 0.6,
    }
    body.update(changes)
    return body


def signed(
    body: dict[str, Any] | bytes, *, secret: str = SECRET, at: int | None = None
) -> tuple[bytes, dict[str, str]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    header = sign(secret, raw, int(time.time()) if at is None else at)
    return raw, {SIGNATURE_HEADER: header, "Content-Type": "application/json"}


def stored(url: str) -> int:
    with session_scope(url) as session:
        return session.scalar(select(func.count()).select_from(ProgressEvent)) or 0


async def test_a_signed_event_is_stored_and_moves_the_goal(
    client: AsyncClient, people: str
) -> None:
    raw, headers = signed(event())

    response = await client.post(URL, content=raw, headers=headers)

    assert response.status_code == 202, response.text
    assert response.json() == {"event_id": "evt-1", "source": "project-tracker", "status": "stored"}
    with session_scope(people) as session:
        row = session.scalars(select(ProgressEvent)).one()
        assert (row.employee_id, row.goal_id, row.progress) == ("A1", "g-a1", 0.6)
        assert session.get_one(Goal, "g-a1").progress == 0.6


async def test_a_replay_of_the_same_event_id_stores_nothing_twice(
    client: AsyncClient, people: str
) -> None:
    first = await client.post(URL, content=(s := signed(event()))[0], headers=s[1])
    # The same event id again, even with another body and a fresh signature.
    raw, headers = signed(event(progress=0.9))
    again = await client.post(URL, content=raw, headers=headers)

    assert first.status_code == 202
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "duplicate"
    assert stored(people) == 1
    with session_scope(people) as session:
        assert session.get_one(Goal, "g-a1").progress == 0.6, "the replay changed nothing"


@pytest.mark.parametrize(
    ("tamper", "kind"),
    [
        ("none", "MissingSignature"),
        ("garbled", "MalformedSignature"),
        ("wrong-secret", "BadSignature"),
        ("body-changed", "BadSignature"),
        ("stale", "StaleTimestamp"),
        ("future", "StaleTimestamp"),
    ],
)
async def test_a_bad_signature_or_stale_timestamp_is_401_and_nothing_is_stored(
    client: AsyncClient, people: str, tamper: str, kind: str
) -> None:
    raw, headers = signed(event())
    if tamper == "none":
        del headers[SIGNATURE_HEADER]
    elif tamper == "garbled":
        headers[SIGNATURE_HEADER] = "sha256=deadbeef"
    elif tamper == "wrong-secret":
        raw, headers = signed(event(), secret="another-secret-0123456789")
    elif tamper == "body-changed":
        raw = json.dumps(event(progress=1.0)).encode()
    elif tamper == "stale":
        raw, headers = signed(event(), at=int(time.time()) - 301)
    elif tamper == "future":
        raw, headers = signed(event(), at=int(time.time()) + 600)

    response = await client.post(URL, content=raw, headers=headers)

    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["type"] == kind
    assert SECRET not in response.text
    assert response.headers["WWW-Authenticate"].startswith("HMAC-SHA256")
    assert stored(people) == 0


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b"{not json", "/"),
        (event(unexpected="field"), "/unexpected"),
        (event(progress=1.5), "/progress"),
        (event(occurred_at="yesterday"), "/occurred_at"),
        (event(occurred_at="2027-03-01T10:00:00"), "/occurred_at"),  # no time zone
        (event(kind="milestone"), "/"),  # a milestone event without its milestone
        (event(goal_id=None), "/"),
        (event(event_id="has spaces"), "/event_id"),
        (event(employee_id="NOBODY"), "/employee_id"),
        (event(cycle_id="no-such-cycle"), "/cycle_id"),
        (event(goal_id="someone-elses"), "/goal_id"),
    ],
)
async def test_a_malformed_body_is_422_and_nothing_is_stored(
    client: AsyncClient, people: str, body: dict[str, Any] | bytes, path: str
) -> None:
    raw, headers = signed(body)

    response = await client.post(URL, content=raw, headers=headers)

    assert response.status_code == 422, response.text
    errors = response.json()["error"]["details"]["errors"]
    assert any(e["path"] == path or e["path"].startswith(path) for e in errors), errors
    assert stored(people) == 0


async def test_milestone_events_are_stored_with_their_outcome(
    client: AsyncClient, people: str
) -> None:
    body = event(
        event_id="ms-7",
        kind="milestone",
        goal_id=None,
        progress=None,
        milestone={"id": "beta", "title": "Beta", "due_on": "2027-03-01", "achieved": True},
    )
    raw, headers = signed(body)

    response = await client.post(URL, content=raw, headers=headers)

    assert response.status_code == 202, response.text
    with session_scope(people) as session:
        row = session.scalars(select(ProgressEvent)).one()
        assert (row.kind, row.milestone_id, row.achieved, str(row.due_on)) == (
            "milestone",
            "beta",
            True,
            "2027-03-01",
        )


async def test_a_bearer_token_is_not_a_signature(
    client: AsyncClient, people: str, auth: Token
) -> None:
    raw = json.dumps(event()).encode()
    response = await client.post(
        URL, content=raw, headers={**auth("A1", "hr-admin"), "Content-Type": "application/json"}
    )
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "MissingSignature"
    assert stored(people) == 0


async def test_without_a_secret_the_webhook_is_off(
    db: str, tmp_path: Path, temporal: FakeTemporal
) -> None:
    app = app_for(Settings(home=tmp_path / "h", database_url=db), temporal)
    client: AsyncClient
    async for client in serve(app):
        raw, headers = signed(event())
        response = await client.post(URL, content=raw, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "WebhookNotConfigured"


def test_the_secret_is_validated_at_load_and_never_echoed() -> None:
    with pytest.raises(ValueError, match="at least 16 characters") as caught:
        Settings(progress_webhook_secret="short-secret")
    assert "short-secret" not in str(caught.value)
    assert SECRET not in repr(Settings(progress_webhook_secret=SECRET))


# --- the permission model says so -------------------------------------------------------------


def test_the_webhook_permission_is_signed_and_cannot_be_declared_with_a_bearer_token() -> None:
    ingest = PERMISSIONS["progress-events:ingest"]
    assert ingest.authentication == "hmac"
    assert not ingest.roles, "no user, hence no role, stands behind a signature"
    with pytest.raises(KeyError, match="permit_signed"):
        permit("progress-events:ingest")


def test_a_signed_route_inside_the_bearer_router_is_refused(app: FastAPI) -> None:
    from fastapi import APIRouter, Depends

    from api.deps import authenticated
    from api.permissions import permit_signed

    bad = APIRouter(prefix="/v1", dependencies=[Depends(authenticated)])

    @bad.post("/signed-but-bearer", dependencies=[permit_signed("progress-events:ingest")])
    def route() -> None:
        return None

    app.include_router(bad)
    with pytest.raises(UndeclaredPermissionError, match="requires a bearer token"):
        ensure_declared(app)
