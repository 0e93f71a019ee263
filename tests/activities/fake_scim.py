"""A fake SCIM 2.0 service: `/Users` with startIndex/count paging and bearer auth, and the
perfloop results endpoint with Idempotency-Key handling.

Run it for real with `FakeScim().serve()` (a uvicorn server on 127.0.0.1, see
`servers.LoopbackServer`); everything it received is kept on the instance for the test to
inspect, and `fail_next` makes the next requests answer an error status.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from activities.hris.scim import ENTERPRISE_USER, LIST_RESPONSE, PERFLOOP_HR_USER
from tests.activities.servers import LoopbackServer

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
TOKEN = "scim-test-token"
PREFIX = "/scim/v2"


def _user(
    scim_id: str,
    number: str,
    *,
    manager: str | None = None,
    department: str = "Engineering",
    organization: str = "Acme GmbH",
    hr: dict[str, Any] | None = None,
    **core: Any,
) -> dict[str, Any]:
    enterprise: dict[str, Any] = {
        "employeeNumber": number,
        "department": department,
        "organization": organization,
    }
    if manager:
        enterprise["manager"] = {"value": manager, "$ref": f"../Users/{manager}"}
    user: dict[str, Any] = {
        "schemas": [CORE_USER, ENTERPRISE_USER, PERFLOOP_HR_USER],
        "id": scim_id,
        ENTERPRISE_USER: enterprise,
        **core,
    }
    if hr is not None:
        user[PERFLOOP_HR_USER] = hr
    return user


def sample_users() -> list[dict[str, Any]]:
    """Six users: five that map, in every supported shape, and one without any address."""
    return [
        _user(
            "2819c223-7f76-453a-919d-413861904646",
            "E001",
            userName="ada",
            name={"formatted": "Ada Lovelace", "givenName": "Ada", "familyName": "Lovelace"},
            title="Chief Executive Officer",
            emails=[
                {"value": "ada@home.example", "type": "home"},
                {"value": "ada@example.com", "type": "work", "primary": True},
            ],
            active=True,
            department="Operations",
            hr={
                "hireDate": "2015-03-02",
                "location": "Berlin",
                "employmentType": "Full-time",
                "salary": 180000.5,
                "rangeMidpoint": "170000.00",
                "currency": "EUR",
                "level": 7,
            },
        ),
        _user(
            "u-2",
            "E002",
            manager="2819c223-7f76-453a-919d-413861904646",
            userName="grace@example.com",
            name={"givenName": "Grace", "familyName": "Hopper"},
            emails=[{"value": "grace@example.com", "type": "work"}],
            addresses=[{"type": "work", "locality": "Lisbon", "primary": True}],
            userType="Part-Time",
            hr={"hireDate": "2019-05-06T09:00:00Z", "level": 5},
        ),
        _user(
            "u-3",
            "E003",
            manager="u-2",
            userName="alan",
            displayName="Alan Turing",
            emails=[{"value": "alan@example.com"}],
            active=False,
            hr={"employmentType": "contractor", "terminationDate": "2026-06-30"},
        ),
        _user(
            "u-4",
            "E004",
            manager="E002",  # a service that puts the employee number in manager.value
            userName="katherine@example.com",
            department="Sales",
            hr={"location": "Remote", "employmentType": "intern"},
        ),
        _user(
            "u-5",
            "E005",
            manager="u-missing",  # a manager outside the listing: no manager_id
            userName="edsger",
            name={"formatted": "Edsger Dijkstra"},
            emails=[{"value": "edsger@example.com", "primary": True}],
            organization="Acme Lda",
        ),
        _user("u-6", "E006", userName="nobody", name={"formatted": "No Address"}),
    ]


@dataclass
class FakeScim:
    users: list[dict[str, Any]] = field(default_factory=sample_users)
    token: str = TOKEN
    max_count: int = 50
    already_seen_status: int = 200
    delay_seconds: float = 0.0
    fail_next: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    user_queries: list[tuple[int, int]] = field(default_factory=list)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    result_posts: list[str] = field(default_factory=list)

    @property
    def base_path(self) -> str:
        return PREFIX

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def guard(request: Request, call_next: Any) -> Response:
            if self.delay_seconds:
                await asyncio.sleep(self.delay_seconds)
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return _error(401, "authentication failed")
            if self.fail_next:
                status, headers = self.fail_next.pop(0)
                return _error(status, "injected failure", headers)
            response: Response = await call_next(request)
            return response

        @app.get(f"{PREFIX}/Users")
        async def users(startIndex: int = 1, count: int = 100) -> Response:
            self.user_queries.append((startIndex, count))
            start = max(startIndex, 1)
            count = min(max(count, 0), self.max_count)
            page = self.users[start - 1 : start - 1 + count]
            return JSONResponse(
                {
                    "schemas": [LIST_RESPONSE],
                    "totalResults": len(self.users),
                    "itemsPerPage": len(page),
                    "startIndex": start,
                    "Resources": page,
                },
                media_type="application/scim+json",
            )

        @app.post(f"{PREFIX}/perfloop/results")
        async def results(request: Request) -> Response:
            key = request.headers.get("idempotency-key")
            if not key:
                return _error(400, "Idempotency-Key is required")
            self.result_posts.append(key)
            if key in self.results:
                return JSONResponse({"business_key": key}, status_code=self.already_seen_status)
            self.results[key] = await request.json()
            return JSONResponse({"business_key": key}, status_code=201)

        return app

    def serve(self) -> LoopbackServer:
        return LoopbackServer(self.app())


def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(
        {"schemas": [ERROR], "status": str(status), "detail": detail},
        status_code=status,
        headers=headers,
        media_type="application/scim+json",
    )
