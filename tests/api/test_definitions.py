"""`/v1/definitions`: list, show with forms, publish YAML (HR admins), deprecate."""

from __future__ import annotations

import re

import pytest
from httpx import AsyncClient

from definitions.loader import MAX_FILE_BYTES
from tests.api.conftest import STOCK, Token, publish_stock

YAML = {"Content-Type": "application/yaml"}


def source(version: int = 1) -> str:
    text = (STOCK / "annual-review" / "v1.yaml").read_text(encoding="utf-8")
    return re.sub(r"(?m)^  version: 1\b", f"  version: {version}", text, count=1)


def hr(auth: Token, key: str | None = None, *, yaml: bool = True) -> dict[str, str]:
    headers = {**auth("HR1", "hr-admin"), **(YAML if yaml else {})}
    return {**headers, "Idempotency-Key": key} if key else headers


async def test_publish_then_publish_again_is_a_no_op(
    client: AsyncClient, db: str, auth: Token
) -> None:
    first = await client.post("/v1/definitions", content=source(), headers=hr(auth))
    again = await client.post("/v1/definitions", content=source(), headers=hr(auth))

    assert first.status_code == 201, first.text
    published = first.json()
    assert published["ref"] == "annual-review@1"
    assert published["status"] == "published"
    assert published["published_by"] == "HR1"
    assert published["deprecated_at"] is None
    assert first.headers["location"] == "/v1/definitions/annual-review/1"
    assert again.status_code == 200
    assert again.json()["status"] == "unchanged"
    assert again.json()["sha256"] == published["sha256"]


async def test_an_invalid_definition_is_422_with_every_problem(
    client: AsyncClient, db: str, auth: Token
) -> None:
    broken = source().replace("  version: 1", "  version: zero", 1)
    broken = broken.replace("timezone:", "time_zone:", 1)

    response = await client.post("/v1/definitions", content=broken, headers=hr(auth))

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["type"] == "DefinitionError"
    problems = error["details"]["problems"]
    assert len(problems) >= 2
    for problem in problems:
        assert problem["file"] == "<request body>"
        assert isinstance(problem["line"], int)
        assert problem["path"]
        assert problem["message"]
    assert "metadata.version" in {problem["path"] for problem in problems}


async def test_unparseable_and_oversized_bodies_are_422(
    client: AsyncClient, db: str, auth: Token
) -> None:
    garbage = await client.post("/v1/definitions", content="a: [1, 2", headers=hr(auth))
    huge = await client.post(
        "/v1/definitions", content="#" * (MAX_FILE_BYTES + 1), headers=hr(auth)
    )

    for response in (garbage, huge):
        assert response.status_code == 422, response.text
        assert response.json()["error"]["type"] == "DefinitionError"
    assert "larger than" in huge.json()["error"]["details"]["problems"][0]["message"]


async def test_other_content_under_a_published_version_is_409(
    client: AsyncClient, db: str, auth: Token
) -> None:
    publish_stock(db)
    changed = source().replace("Annual", "Yearly")

    response = await client.post("/v1/definitions", content=changed, headers=hr(auth))

    assert response.status_code == 409, response.text
    assert response.json()["error"]["type"] == "VersionConflict"


async def test_only_hr_admins_publish_and_deprecate(
    client: AsyncClient, db: str, auth: Token
) -> None:
    publish_stock(db)
    for role in ("hrbp", "ops", "employee"):
        headers = {**auth("X1", role), **YAML}
        published = await client.post("/v1/definitions", content=source(2), headers=headers)
        deprecated = await client.post(
            "/v1/definitions/annual-review/1/deprecate", json={"reason": "r"}, headers=headers
        )
        assert (published.status_code, deprecated.status_code) == (403, 403)


async def test_list_and_show_with_forms(client: AsyncClient, db: str, auth: Token) -> None:
    publish_stock(db)
    publish_stock(db, "quarterly-okr")
    reader = auth("X1", "hrbp")

    listed = await client.get("/v1/definitions", headers=reader)
    one_name = await client.get("/v1/definitions", params={"name": "quarterly-okr"}, headers=reader)
    shown = await client.get("/v1/definitions/annual-review/1", headers=reader)
    latest = await client.get("/v1/definitions/annual-review/latest", headers=reader)
    employee = await client.get("/v1/definitions", headers=auth("E012"))

    assert listed.status_code == 200, listed.text
    assert [item["ref"] for item in listed.json()["items"]] == [
        "annual-review@1",
        "quarterly-okr@1",
    ]
    assert [item["ref"] for item in one_name.json()["items"]] == ["quarterly-okr@1"]
    detail = shown.json()
    assert detail["definition"]["metadata"]["name"] == "annual-review"
    assert "goal-draft" in detail["forms"]
    assert detail["forms"]["goal-draft"]["type"] == "object"
    assert latest.json()["ref"] == "annual-review@1"
    assert employee.status_code == 403


@pytest.mark.parametrize(
    ("path", "status", "type_"),
    [
        ("/v1/definitions/annual-review/7", 404, "DefinitionNotFound"),
        ("/v1/definitions/nothing/1", 404, "DefinitionNotFound"),
        ("/v1/definitions/Not%20a%20name/1", 422, "InvalidDefinitionRef"),
        ("/v1/definitions/annual-review/zero", 422, "InvalidDefinitionRef"),
    ],
)
async def test_unknown_versions(
    client: AsyncClient, db: str, auth: Token, path: str, status: int, type_: str
) -> None:
    publish_stock(db)

    response = await client.get(path, headers=auth("X1", "ops"))

    assert response.status_code == status, response.text
    assert response.json()["error"]["type"] == type_


async def test_deprecate_hides_a_version_from_latest(
    client: AsyncClient, db: str, auth: Token
) -> None:
    publish_stock(db)
    await client.post("/v1/definitions", content=source(2), headers=hr(auth))

    response = await client.post(
        "/v1/definitions/annual-review/2/deprecate",
        json={"reason": "a typo in the goals phase"},
        headers=hr(auth, "dep-1", yaml=False),
    )
    latest = await client.get("/v1/definitions/annual-review/latest", headers=hr(auth))
    active = await client.get(
        "/v1/definitions", params={"include_deprecated": False}, headers=hr(auth)
    )
    blank = await client.post(
        "/v1/definitions/annual-review/1/deprecate",
        json={"reason": " "},
        headers=hr(auth, yaml=False),
    )
    latest_alias = await client.post(
        "/v1/definitions/annual-review/latest/deprecate",
        json={"reason": "r"},
        headers=hr(auth, yaml=False),
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ref"] == "annual-review@2"
    assert body["deprecation_reason"] == "a typo in the goals phase"
    assert body["deprecated_at"] is not None
    assert latest.json()["ref"] == "annual-review@1"
    assert [item["ref"] for item in active.json()["items"]] == ["annual-review@1"]
    assert blank.status_code == 422
    assert latest_alias.status_code == 422


async def test_a_retried_publish_replays_its_first_answer(
    client: AsyncClient, db: str, auth: Token
) -> None:
    first = await client.post("/v1/definitions", content=source(), headers=hr(auth, "pub-1"))
    again = await client.post("/v1/definitions", content=source(), headers=hr(auth, "pub-1"))
    other = await client.post("/v1/definitions", content=source(2), headers=hr(auth, "pub-1"))

    assert first.status_code == again.status_code == 201, first.text
    assert again.json() == first.json(), "published, not the `unchanged` of a second run"
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == "/v1/definitions/annual-review/1"
    assert other.status_code == 422
    assert other.json()["error"]["type"] == "IdempotencyKeyReused"
