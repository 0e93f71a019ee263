"""Limits: the body-size cap (413), page-size caps, and the submission rate limit (429)."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from httpx import AsyncClient

from api import pagination
from api.services.ratelimit import RateLimiter
from perfloop.settings import Settings
from store.db import session_scope
from store.models import Cycle, DefinitionVersion
from tests.api.conftest import T0, FakeTemporal, Token, add_tasks, app_for, make_task, serve
from workflows.messages import SubmitTaskInput, SubmitTaskResult

GOALS = {"goals": [{"title": "Grow as a reviewer", "type": "development", "weight": 100}]}


def accepted(submission: SubmitTaskInput) -> SubmitTaskResult:
    return SubmitTaskResult(
        task_id=submission.task_id, status="submitted", late=False, accepted_at=T0
    )


# --- body size ----------------------------------------------------------------------------


@pytest.fixture
async def small_bodies(settings: Settings, temporal: FakeTemporal) -> AsyncIterator[AsyncClient]:
    capped = settings.model_copy(update={"api_max_body_bytes": 1024})
    async for client in serve(app_for(capped, temporal)):
        yield client


async def test_a_body_over_the_cap_is_413(small_bodies: AsyncClient, auth: Token, db: str) -> None:
    body = {"payload": {"text": "x" * 2000}}

    response = await small_bodies.post("/v1/tasks/a/b/c/d/submit", json=body, headers=auth())

    assert response.status_code == 413
    assert response.json() == {
        "error": {
            "type": "PayloadTooLarge",
            "message": "the request body is larger than 1024 bytes",
            "details": {"max_bytes": 1024},
        }
    }


async def test_a_chunked_body_is_counted_as_it_arrives(
    small_bodies: AsyncClient, auth: Token, db: str
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"payload": {"text": "'
        for _ in range(20):
            yield b"x" * 100
        yield b'"}}'

    response = await small_bodies.post(
        "/v1/tasks/a/b/c/d/submit",
        content=chunks(),
        headers={**auth(), "Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert response.json()["error"]["type"] == "PayloadTooLarge"


async def test_a_body_under_the_cap_goes_through(
    small_bodies: AsyncClient, auth: Token, seeded: str, temporal: FakeTemporal
) -> None:
    [task_id] = add_tasks(seeded, make_task())
    temporal.update_outcomes["submit_task"] = accepted

    response = await small_bodies.post(
        f"/v1/tasks/{task_id}/submit", json={"payload": GOALS}, headers=auth("E012")
    )

    assert response.status_code == 200, response.text


# --- page sizes ---------------------------------------------------------------------------


def _seed_listings(url: str) -> None:
    with session_scope(url) as session:
        for n in range(5):
            session.add(
                DefinitionVersion(
                    name="review",
                    version=n + 1,
                    sha256=f"{n:064d}",
                    canonical={"definition": {}, "forms": {}},
                    source_text="",
                )
            )
            session.add(
                Cycle(
                    cycle_id=f"c{n}",
                    definition_ref="review@1",
                    sha256="0" * 64,
                    status="running",
                    nominal_start=T0,
                    nominal_end=T0 + timedelta(days=365),
                    created_at=T0 + timedelta(minutes=n),
                )
            )
    add_tasks(url, *(make_task("HR1", subject=f"E{n}", cycle_id="c0") for n in range(5)))


@pytest.mark.parametrize("path", ["/v1/cycles", "/v1/definitions", "/v1/me/tasks"])
async def test_every_listing_caps_its_page_size(
    client: AsyncClient, db: str, auth: Token, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed_listings(db)
    monkeypatch.setattr(pagination, "MAX_PAGE", 2)
    seen: list[object] = []
    cursor: str | None = None
    for _ in range(5):
        params: dict[str, str | int] = {"limit": 1000}
        if cursor:
            params["cursor"] = cursor
        response = await client.get(path, params=params, headers=auth("HR1", "hr-admin"))
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 2
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert len(seen) == 5, "capped pages still reach every row, once"
    assert len({str(item) for item in seen}) == 5


@pytest.mark.parametrize("path", ["/v1/cycles", "/v1/definitions", "/v1/me/tasks"])
async def test_a_listing_refuses_nonsense_paging(
    client: AsyncClient, db: str, auth: Token, path: str
) -> None:
    headers = auth("HR1", "hr-admin")
    for params in ({"limit": 0}, {"cursor": "not-a-cursor"}, {"cursor": "x" * 2000}):
        response = await client.get(path, params=params, headers=headers)
        assert response.status_code == 422, (params, response.text)


# --- the submission rate ------------------------------------------------------------------


def test_a_token_bucket_allows_a_burst_then_the_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=0.5, burst=2, clock=lambda: now[0])

    assert [limiter.acquire("E1") for _ in range(3)] == [0.0, 0.0, 2.0]
    assert limiter.acquire("E2") == 0.0, "each key has its own bucket"
    now[0] = 1.0
    assert limiter.acquire("E1") == pytest.approx(1.0)
    now[0] = 2.0
    assert limiter.acquire("E1") == 0.0
    now[0] = 100.0
    assert [limiter.acquire("E1") for _ in range(3)] == [0.0, 0.0, 2.0], "refills to the burst"


def test_a_token_bucket_forgets_the_least_recent_keys() -> None:
    limiter = RateLimiter(rate=1, burst=1, clock=lambda: 0.0, max_keys=2)
    for key in ("a", "b", "c"):
        assert limiter.acquire(key) == 0.0

    assert limiter.acquire("c") > 0
    assert limiter.acquire("a") == 0.0, "forgotten, so it starts over"


def test_a_rate_limit_needs_a_rate_and_a_burst() -> None:
    with pytest.raises(ValueError, match="positive rate"):
        RateLimiter(rate=0, burst=1)


async def test_submissions_beyond_the_rate_are_429_with_retry_after(
    settings: Settings, seeded: str, auth: Token, temporal: FakeTemporal
) -> None:
    mine, theirs = add_tasks(seeded, make_task("E012"), make_task("E013"))
    temporal.update_outcomes["submit_task"] = accepted
    limited = settings.model_copy(update={"submit_burst": 2, "submit_rate_per_minute": 6})
    app = app_for(limited, temporal)
    async for client in serve(app):
        statuses = [
            (
                await client.post(
                    f"/v1/tasks/{mine}/submit", json={"payload": GOALS}, headers=auth("E012")
                )
            ).status_code
            for _ in range(2)
        ]
        refused = await client.post(
            f"/v1/tasks/{mine}/submit",
            json={"payload": GOALS},
            headers={**auth("E012"), "Idempotency-Key": "after-429"},
        )
        other = await client.post(
            f"/v1/tasks/{theirs}/submit", json={"payload": GOALS}, headers=auth("E013")
        )
        # Ten seconds later (6 a minute) one more is allowed, and the refused key was
        # never claimed: it runs rather than replaying the 429.
        limiter = app.state.perfloop.submit_limiter
        limiter.clock = functools.partial(float.__add__, limiter.clock(), 10.5)
        retried = await client.post(
            f"/v1/tasks/{mine}/submit",
            json={"payload": GOALS},
            headers={**auth("E012"), "Idempotency-Key": "after-429"},
        )

    assert statuses == [200, 200]
    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "RateLimited"
    assert 1 <= int(refused.headers["retry-after"]) <= 10
    assert other.status_code == 200, "another person's bucket is their own"
    assert retried.status_code == 200
    assert "idempotent-replayed" not in retried.headers
    assert len(temporal.updates) == 4
