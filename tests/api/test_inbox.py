"""`GET /v1/me/tasks`: the caller's tasks, latest due first, in keyset pages."""

from __future__ import annotations

from datetime import timedelta

from httpx import AsyncClient

from tests.api.conftest import T0, Token, add_tasks, make_task


def seed_inbox(url: str) -> list[str]:
    """Seven tasks of E012 (two share a due date), in the order the inbox lists them,
    plus tasks of other people that must never show."""
    mine = [
        make_task(kind="goal_draft", due=T0 + timedelta(days=30)),
        make_task(kind="checkin", due=T0 + timedelta(days=90), seq=1),
        make_task(kind="checkin", due=T0 + timedelta(days=90), seq=2),
        make_task(kind="self_review", due=T0 + timedelta(days=200), status="overdue"),
        make_task(kind="peer_review", subject="E020", due=T0 + timedelta(days=210)),
        make_task(kind="acknowledgment", due=T0 + timedelta(days=300)),
        make_task(kind="goal_realign", due=T0 + timedelta(days=10), status="submitted"),
    ]
    others = [
        make_task("E020", kind="goal_draft", due=T0 + timedelta(days=31)),
        make_task("E001", subject="E012", kind="manager_review", due=T0 + timedelta(days=220)),
    ]
    add_tasks(url, *mine, *others)
    ordered = sorted(mine, key=lambda t: (t.due_at, t.task_id), reverse=True)
    return [task.task_id for task in ordered]


async def test_inbox_lists_open_and_overdue_tasks_latest_due_first(
    client: AsyncClient, seeded: str, auth: Token
) -> None:
    expected = [task_id for task_id in seed_inbox(seeded) if not task_id.endswith("goal_realign")]

    response = await client.get("/v1/me/tasks", headers=auth("E012"))

    assert response.status_code == 200, response.text
    page = response.json()
    assert [item["task_id"] for item in page["items"]] == expected
    assert page["next_cursor"] is None
    first = page["items"][0]
    assert first["kind"] == "acknowledgment"
    assert first["due_at"] == (T0 + timedelta(days=300)).isoformat().replace("+00:00", "Z")
    assert {item["status"] for item in page["items"]} == {"open", "overdue"}


async def test_inbox_pages_with_a_cursor_without_gaps_or_repeats(
    client: AsyncClient, seeded: str, auth: Token
) -> None:
    expected = seed_inbox(seeded)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"status": "all", "limit": "2", **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/me/tasks", params=params, headers=auth("E012"))
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 2
        seen += [item["task_id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == expected
    assert pages == 4


async def test_inbox_filters_by_status(client: AsyncClient, seeded: str, auth: Token) -> None:
    seed_inbox(seeded)

    async def kinds(status: str) -> list[str]:
        response = await client.get("/v1/me/tasks", params={"status": status}, headers=auth("E012"))
        assert response.status_code == 200, response.text
        return [item["kind"] for item in response.json()["items"]]

    assert await kinds("overdue") == ["self_review"]
    assert await kinds("submitted") == ["goal_realign"]
    assert await kinds("cancelled") == []
    assert len(await kinds("all")) == 7


async def test_page_size_is_capped_at_200(client: AsyncClient, seeded: str, auth: Token) -> None:
    add_tasks(
        seeded,
        *(make_task(kind="checkin", seq=n, due=T0 + timedelta(hours=n)) for n in range(1, 206)),
    )

    response = await client.get("/v1/me/tasks", params={"limit": 1000}, headers=auth("E012"))

    assert response.status_code == 200
    assert len(response.json()["items"]) == 200
    assert response.json()["next_cursor"] is not None


async def test_bad_paging_parameters_are_422(client: AsyncClient, db: str, auth: Token) -> None:
    for params in ({"limit": "0"}, {"status": "pending"}, {"cursor": "bm90LWEtY3Vyc29y"}):
        response = await client.get("/v1/me/tasks", params=params, headers=auth("E012"))
        assert response.status_code == 422, (params, response.text)
        error = response.json()["error"]
        assert error["type"] in ("InvalidRequest", "InvalidCursor")
    response = await client.get("/v1/me/tasks", params={"limit": "0"}, headers=auth("E012"))
    assert response.json()["error"]["details"]["errors"][0]["path"] == "/query/limit"


async def test_an_empty_inbox(client: AsyncClient, db: str, auth: Token) -> None:
    response = await client.get("/v1/me/tasks", headers=auth("E999"))

    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}
