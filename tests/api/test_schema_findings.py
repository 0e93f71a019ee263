"""What the schema tests (`test_schemathesis.py`) found, pinned as plain examples."""

from __future__ import annotations

import psycopg
import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from psycopg.errors import UntranslatableCharacter
from sqlalchemy.exc import DataError

from api.errors import map_data_error
from api.permissions import declared_permissions, guarded_routes
from store.db import is_sqlite
from tests.api.conftest import CYCLE_ID, FakeTemporal, Token
from tests.api.org import SUBJECT, add_org
from tests.api.test_idempotency import PURE_POSTS
from workflows.messages import ControlResult


async def test_a_405_allows_every_method_the_path_serves(client: AsyncClient) -> None:
    # `/v1/cycles` is served by GET and POST, two routes; Starlette named only the first.
    response = await client.request("PUT", "/v1/cycles")

    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST"
    assert response.json()["error"]["type"] == "MethodNotAllowed"


async def test_an_unparsable_body_is_a_documented_422(client: AsyncClient, auth: Token) -> None:
    response = await client.post(
        f"/v1/cycles/{CYCLE_ID}/cancel",
        content=b"\xff\xfe not json",
        headers={**auth("H003", "hr-admin"), "Content-Type": "application/json"},
    )

    assert response.status_code == 422
    assert response.json()["error"]["type"] == "InvalidRequest"


@pytest.mark.parametrize(
    "body", [b"\xff\xfe not json", b'{"reason": ', b'{"reason": "r"}'], ids=["bytes", "json", "ok"]
)
@pytest.mark.parametrize("token", [None, "garbage"], ids=["no-token", "bad-token"])
async def test_without_a_valid_token_a_body_is_never_looked_at(
    client: AsyncClient, body: bytes, token: str | None
) -> None:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"

    response = await client.post(f"/v1/cycles/{CYCLE_ID}/cancel", content=body, headers=headers)

    assert response.status_code == 401
    assert response.json()["error"]["type"] == "Unauthenticated"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("new_due", [0, 1.5e9, "1700000000", True])
async def test_a_due_date_must_be_iso_8601_not_a_timestamp(
    seeded: str, client: AsyncClient, auth: Token, temporal: FakeTemporal, new_due: object
) -> None:
    temporal.update_outcomes["extend_deadline"] = ControlResult(detail="done", affected=1)

    response = await client.post(
        f"/v1/cycles/{CYCLE_ID}/deadlines",
        json={"phase_id": "goals", "new_due": new_due, "reason": "r"},
        headers=auth("H003", "hr-admin"),
    )

    assert response.status_code == 422, response.text
    assert temporal.updates == []


async def test_an_iso_due_date_is_still_accepted(
    seeded: str, client: AsyncClient, auth: Token, temporal: FakeTemporal
) -> None:
    temporal.update_outcomes["extend_deadline"] = ControlResult(detail="done", affected=1)

    response = await client.post(
        f"/v1/cycles/{CYCLE_ID}/deadlines",
        json={"phase_id": "goals", "new_due": "2099-01-01T00:00:00Z", "reason": "r"},
        headers=auth("H003", "hr-admin"),
    )

    assert response.status_code == 200, response.text


@pytest.mark.parametrize(("since", "status"), [("0.5", 422), ("2027-01-04T00:00:00Z", 200)])
async def test_audit_since_takes_iso_8601_only(
    db: str, client: AsyncClient, auth: Token, since: str, status: int
) -> None:
    response = await client.get(
        "/v1/audit", params={"since": since}, headers=auth("H003", "hr-admin")
    )

    assert response.status_code == status, response.text


def test_every_post_documents_a_key_in_flight_and_the_body_cap(app: FastAPI) -> None:
    # 409 `IdempotencyKeyInFlight` (api.idempotency) and 413 `PayloadTooLarge`
    # (api.limits) can answer any POST under /v1, before its route runs. The codec server's
    # POSTs (tests/api/test_idempotency.py) and signed routes (permit_signed) take no
    # Idempotency-Key, so never the 409.
    signed = {
        route.path
        for route in guarded_routes(app)
        if any(p.authentication == "hmac" for p in declared_permissions(route))
    }
    no_key = PURE_POSTS | signed
    undocumented = {
        path: sorted(({"413"} if path in no_key else {"409", "413"}) - set(operation["responses"]))
        for path, item in app.openapi()["paths"].items()
        if path.startswith("/v1/") and (operation := item.get("post")) is not None
    }

    assert {path: codes for path, codes in undocumented.items() if codes} == {}


@pytest.mark.parametrize(
    ("orig", "mapped"),
    [
        (psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"), True),
        (UntranslatableCharacter("unsupported Unicode escape sequence"), True),
        (psycopg.DataError("numeric field overflow"), False),
    ],
)
def test_nul_characters_are_the_requests_fault_other_data_errors_are_bugs(
    orig: Exception, mapped: bool
) -> None:
    # Wrapped by SQLAlchemy, or raised by psycopg itself (the submit route's statements
    # on the driver, `store.driver`).
    for raised in (DataError("INSERT ...", {}, orig), orig):
        assert isinstance(raised, DataError | psycopg.DataError)
        error = map_data_error(raised)

        assert (error is not None) == mapped
        if error is not None:
            assert (error.status, error.type) == (422, "InvalidRequest")


async def test_a_nul_character_in_a_submitted_task_id_is_a_422_on_postgres(
    db: str, client: AsyncClient, auth: Token
) -> None:
    if is_sqlite(db):
        pytest.skip("SQLite stores NUL characters; PostgreSQL's text cannot")

    for headers in (auth("E012"), {**auth("E012"), "Idempotency-Key": "nul"}):
        response = await client.post(
            "/v1/tasks/c1%00x/submit", json={"payload": {}}, headers=headers
        )

        assert response.status_code == 422, response.text
        assert response.json()["error"]["type"] == "InvalidRequest"


async def test_a_nul_character_in_text_is_a_422_on_postgres(
    db: str, client: AsyncClient, auth: Token
) -> None:
    if is_sqlite(db):
        pytest.skip("SQLite stores NUL characters; PostgreSQL's text cannot")
    add_org(db)

    response = await client.post(
        f"/v1/employees/{SUBJECT}/erase",
        json={"reason": "left\u0000"},
        headers=auth("H003", "hr-admin"),
    )

    assert response.status_code == 422, response.text
    assert response.json()["error"]["type"] == "InvalidRequest"
