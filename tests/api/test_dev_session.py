"""`/dev/people` and `/dev/session`: development sign-in, roles from the data, 404 in
production."""

from __future__ import annotations

from httpx import AsyncClient

from perfloop.settings import Settings
from store.db import session_scope
from tests.api.conftest import FakeTemporal, app_for, serve
from tests.api.seed import add, person


def org(url: str) -> None:
    with session_scope(url) as session:
        add(
            session,
            person("E002", "Joana Ferreira", department="Operations", title="VP People"),
            person("E010", "Clara Neumann", manager="E002", department="Operations"),
            person("E020", "Mara Lind", title="Engineering Manager"),
            person("E021", "Ola Berg", manager="E020"),
            person("E022", "Tom Ek", manager="E020", active=False),
            person("HR1", "Hedda Rask", department="Operations"),
        )


async def test_people_come_with_the_roles_the_data_gives_them(
    client: AsyncClient, seeded: str
) -> None:
    org(seeded)  # annual-review@1: hr_admins E002, E003; hrbp E010 (Engineering), ...

    response = await client.get("/dev/people")

    assert response.status_code == 200, response.text
    people = {p["employee_id"]: p for p in response.json()}
    assert set(people) == {"E002", "E010", "E020", "E021", "HR1"}  # leavers are not listed
    assert people["E002"]["roles"] == ["employee", "hr-admin"]
    assert people["E010"]["roles"] == ["employee", "hrbp"]
    assert people["HR1"]["roles"] == ["employee", "hr-admin"]  # launched the seeded cycle
    assert people["E021"]["roles"] == ["employee"]
    assert people["E020"]["direct_reports"] == 1
    assert people["E021"]["manager_id"] == "E020"
    assert list(people)[-2:] == ["E020", "E021"]  # HR first, then everyone else


async def test_a_session_token_speaks_for_the_chosen_person(
    client: AsyncClient, seeded: str
) -> None:
    org(seeded)

    response = await client.post("/dev/session", json={"employee_id": "E002"})

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["person"]["name"] == "Joana Ferreira"
    headers = {"Authorization": f"Bearer {body['token']}"}
    me = await client.get("/v1/me", headers=headers)
    assert me.json() == {
        "employee_id": "E002",
        "roles": ["employee", "hr-admin"],
        "departments": [],
    }
    assert (await client.get("/v1/cycles", headers=headers)).status_code == 200

    plain = (await client.post("/dev/session", json={"employee_id": "E021"})).json()
    forbidden = await client.get(
        "/v1/cycles", headers={"Authorization": f"Bearer {plain['token']}"}
    )
    assert forbidden.status_code == 403


async def test_unknown_people_and_bad_bodies_are_refused(client: AsyncClient, seeded: str) -> None:
    org(seeded)

    unknown = await client.post("/dev/session", json={"employee_id": "E999"})
    leaver = await client.post("/dev/session", json={"employee_id": "E022"})
    extra = await client.post("/dev/session", json={"employee_id": "E021", "roles": ["hr-admin"]})

    assert unknown.status_code == 404
    assert unknown.json()["error"]["type"] == "EmployeeNotFound"
    assert leaver.status_code == 404
    assert extra.status_code == 422


async def test_production_has_no_dev_sign_in(settings: Settings, seeded: str) -> None:
    org(seeded)
    production = settings.model_copy(update={"environment": "production"})
    async for client in serve(app_for(production, FakeTemporal())):
        session = await client.post("/dev/session", json={"employee_id": "E002"})
        people = await client.get("/dev/people")
        page = await client.get("/app/")
    assert session.status_code == 404
    assert people.status_code == 404
    assert page.status_code == 200  # the web app itself is served; only its dev sign-in is not
