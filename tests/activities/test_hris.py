"""HRIS adapters: the embedded one over the store, and SCIM against a local fake server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from activities.errors import IntegrationConfigError, IntegrationUnavailable
from activities.hris.base import Person, ResultRecord
from activities.hris.embedded import (
    EmbeddedHris,
    OrganisationError,
    load_organisation,
    read_organisation_file,
)
from activities.hris.scim import ScimHris, map_users
from perfloop import cli_org
from perfloop.cli import PerfloopGroup
from store.db import session_factory
from store.models.cycles import Cycle
from store.models.org import Employee
from store.models.records import HrisOutbox
from tests.activities.fake_scim import TOKEN, FakeScim
from tests.activities.servers import LoopbackServer, closed_port

HEADER = (
    "employee_id,name,email,manager_id,department,location,employment_type,hire_date,"
    "salary,range_midpoint,level,job_title,active\n"
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def small_org_csv(tmp_path: Path) -> Path:
    return write(
        tmp_path / "org.csv",
        HEADER + "E1,Ada Lovelace,ada@example.com,,Operations,Berlin,full_time,2015-03-02,"
        "180000.50,170000,7,CEO,true\n"
        "E3,Alan Turing,alan@example.com,E2,Engineering,Remote,contractor,2021-01-04,,,3,,no\n"
        "E2,Grace Hopper,grace@example.com,E1,Engineering,Lisbon,part_time,2019-05-06,"
        "90000,94000,5,Engineering Manager,1\n",
    )


def add_cycle(session: Session, cycle_id: str) -> None:
    start = datetime(2027, 1, 4, tzinfo=UTC)
    session.add(
        Cycle(
            cycle_id=cycle_id,
            definition_ref="annual-review@1",
            sha256="0" * 64,
            nominal_start=start,
            nominal_end=start + timedelta(days=365),
        )
    )


def result(key: str = "cycle-1/E1/merit") -> ResultRecord:
    return ResultRecord(
        business_key=key,
        cycle_id="cycle-1",
        employee_id="E1",
        kind="merit",
        data={"merit_percent": 3.5, "amount": "4200.00"},
    )


# --- the embedded HRIS: loading ------------------------------------------------------------


def test_load_a_csv_file_and_list_it_back(session: Session, tmp_path: Path) -> None:
    outcome = load_organisation(session, small_org_csv(tmp_path))
    session.commit()

    assert (outcome.created, outcome.updated, outcome.unchanged) == (3, 0, 0)
    people = {p.employee_id: p for p in cli_org_people(session)}
    assert people["E1"] == Person(
        employee_id="E1",
        name="Ada Lovelace",
        email="ada@example.com",
        department="Operations",
        location="Berlin",
        hire_date=date(2015, 3, 2),
        salary=Decimal("180000.50"),
        range_midpoint=Decimal("170000"),
        level=7,
        job_title="CEO",
    )
    assert people["E3"].active is False
    assert people["E3"].salary is None
    assert people["E3"].manager_id == "E2"
    assert people["E2"].employment_type == "part_time"


def cli_org_people(session: Session) -> list[Person]:
    from activities.hris.embedded import list_employees

    return list_employees(session)


def test_load_json_and_reload_counts_changes(session: Session, tmp_path: Path) -> None:
    people: list[dict[str, Any]] = [
        {
            "employee_id": "E1",
            "name": "Ada",
            "email": "ada@example.com",
            "department": "Operations",
            "salary": 61234.10,
        },
        {
            "employee_id": "E2",
            "name": "Grace",
            "email": "grace@example.com",
            "department": "Sales",
            "manager_id": "E1",
            "hire_date": "2020-02-03",
        },
    ]
    path = write(tmp_path / "org.json", json.dumps({"people": people}))
    load_organisation(session, path)
    session.commit()

    people[1]["department"] = "Marketing"
    people.append(
        {
            "employee_id": "E3",
            "name": "Alan",
            "email": "alan@example.com",
            "department": "Sales",
            "manager_id": "E2",
        }
    )
    outcome = load_organisation(session, write(path, json.dumps(people)))
    session.commit()

    assert (outcome.created, outcome.updated, outcome.unchanged) == (1, 1, 1)
    stored = session.get(Employee, "E1")
    assert stored is not None
    assert stored.salary == Decimal("61234.10")
    assert session.get(Employee, "E2").department == "Marketing"  # type: ignore[union-attr]


def test_every_bad_row_is_reported_at_once_and_nothing_is_written(
    session: Session, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "bad.csv",
        HEADER
        + "E1,Ada,ada@example.com,,Operations,,full_time,2015-03-02,,,7,,\n"  # row 2: fine
        + "E2,Grace,,E1,Engineering,,full_time,yesterday,,,5,,\n"  # row 3: email, date
        + "E3,Alan,alan@example.com,E9,Engineering,,freelance,,,,x,,\n"  # row 4: 3 problems
        + "E1,Ada again,ada2@example.com,,Sales,,,,,,,,\n"  # row 5: duplicate id
        + "E4,Edsger,e@example.com,E5,Sales,,,,,,,,\n"  # rows 6-7: a cycle
        + "E5,Barbara,b@example.com,E4,Sales,,,,,,,,\n"
        + "E6,Extra,x@example.com,,Sales,,,,,,,,,surplus\n",  # row 8: too many values
    )

    with pytest.raises(OrganisationError) as caught:
        load_organisation(session, path)

    problems = caught.value.problems
    text = str(caught.value)
    assert text.startswith("bad.csv: not loaded, ")
    assert any(p.startswith("row 3 (E2): email") for p in problems), problems
    assert any(p.startswith("row 3 (E2): hire_date") for p in problems), problems
    assert any(p.startswith("row 4 (E3): employment_type") for p in problems), problems
    assert any(p.startswith("row 4 (E3): level") for p in problems), problems
    assert "row 4 (E3): manager_id E9 does not exist" not in problems  # row is invalid anyway
    assert "row 5 (E1): employee_id E1 is also on row 2" in problems
    assert "rows 6, 7: management cycle E4 → E5 → E4" in problems
    assert "row 8 (E6): more values than columns" in problems
    assert [int(p.split()[1].rstrip(",:")) for p in problems] == sorted(
        int(p.split()[1].rstrip(",:")) for p in problems
    )
    assert session.scalar(select(func.count()).select_from(Employee)) == 0


def test_unknown_managers_and_cycles_through_stored_people(
    session: Session, tmp_path: Path
) -> None:
    load_organisation(session, small_org_csv(tmp_path))
    session.commit()
    path = write(
        tmp_path / "change.json",
        json.dumps(
            [
                # E1 would report to E3, who reports to E2 (stored), who reports to E1.
                {
                    "employee_id": "E1",
                    "name": "Ada",
                    "email": "a@example.com",
                    "department": "Operations",
                    "manager_id": "E3",
                },
                {
                    "employee_id": "E7",
                    "name": "Nobody's report",
                    "email": "n@example.com",
                    "department": "Sales",
                    "manager_id": "E99",
                },
                {
                    "employee_id": "E8",
                    "name": "Self",
                    "email": "s@example.com",
                    "department": "Sales",
                    "manager_id": "E8",
                },
                "not an object",
            ]
        ),
    )

    with pytest.raises(OrganisationError) as caught:
        load_organisation(session, path)

    assert caught.value.problems == (
        "row 1: management cycle E1 → E3 → E2 → E1",
        "row 2 (E7): manager_id E99 does not exist",
        "row 3: management cycle E8 → E8",
        "row 4: expected an object, got str",
    )


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("org.xlsx", "", "unsupported file type '.xlsx': use .csv or .json"),
        ("org.json", "[{", "line 1 column 3: invalid JSON: "),
        ("org.json", '{"staff": []}', 'expected a list of people, or an object {"people": [...]}'),
        ("org.csv", "employee_id,name,mail,department\n", "row 1: unknown column(s) 'mail'"),
        ("org.csv", "employee_id,name,department\n", "row 1: missing required column(s) email"),
    ],
)
def test_file_level_problems(tmp_path: Path, name: str, text: str, problem: str) -> None:
    with pytest.raises(OrganisationError) as caught:
        read_organisation_file(write(tmp_path / name, text))

    assert caught.value.problems[0].startswith(problem), caught.value.problems


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(OrganisationError, match=r"(?s)missing\.csv: not loaded.*cannot read"):
        read_organisation_file(tmp_path / "missing.csv")


# --- the embedded HRIS: the adapter ----------------------------------------------------------


async def test_embedded_lists_people_and_pushes_results_once(
    session: Session, tmp_path: Path, db: str
) -> None:
    load_organisation(session, small_org_csv(tmp_path))
    add_cycle(session, "cycle-1")
    session.commit()
    hris = EmbeddedHris(session_factory(db))

    people = await hris.list_people()
    first = await hris.push_result(result())
    again = await hris.push_result(result())
    other = await hris.push_result(result("cycle-1/E1/bonus"))

    assert [p.employee_id for p in people] == ["E1", "E2", "E3"]
    assert people[0].salary == Decimal("180000.50")
    assert (first.status, again.status, other.status) == ("sent", "already_sent", "sent")
    rows = session.scalars(select(HrisOutbox).order_by(HrisOutbox.business_key)).all()
    assert [r.business_key for r in rows] == ["cycle-1/E1/bonus", "cycle-1/E1/merit"]
    assert rows[1].data == {"merit_percent": 3.5, "amount": "4200.00"}
    assert rows[1].status == "sent"


# --- the CLI -----------------------------------------------------------------------------------


@pytest.fixture
def org_cli() -> typer.Typer:
    """The root app as perfloop.cli builds it, with the `org` sub-app registered."""
    root = typer.Typer(cls=PerfloopGroup)
    root.add_typer(cli_org.app, name="org")
    return root


def test_cli_loads_and_lists(db: str, tmp_path: Path, org_cli: typer.Typer) -> None:
    runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})

    loaded = runner.invoke(org_cli, ["org", "load", str(small_org_csv(tmp_path))])
    listed = runner.invoke(org_cli, ["org", "list", "--department", "Engineering"])

    assert loaded.exit_code == 0, loaded.output
    assert "loaded 3 people from org.csv: 3 new, 0 updated, 0 unchanged" in loaded.stdout
    assert listed.exit_code == 0, listed.output
    assert "Grace Hopper" in listed.stdout
    assert "E3 (inactive)" in listed.stdout
    assert "Ada Lovelace" not in listed.stdout
    assert "180000" not in listed.stdout  # no pay in listings


def test_cli_reports_a_bad_file_without_a_traceback(
    db: str, tmp_path: Path, org_cli: typer.Typer
) -> None:
    path = write(tmp_path / "bad.csv", HEADER + "E1,Ada,,,Operations,,,,,,,,\n")

    outcome = CliRunner().invoke(org_cli, ["org", "load", str(path)])

    assert outcome.exit_code == 1
    assert "row 2 (E1): email: Field required" in outcome.output
    assert "Traceback" not in outcome.output


# --- SCIM --------------------------------------------------------------------------------------


@pytest.fixture
def scim() -> Iterator[tuple[FakeScim, LoopbackServer]]:
    fake = FakeScim()
    with fake.serve() as server:
        yield fake, server


def scim_client(server: LoopbackServer, **kwargs: Any) -> ScimHris:
    return ScimHris(f"{server.url}/scim/v2/", TOKEN, **kwargs)


async def test_scim_lists_people_page_by_page(
    scim: tuple[FakeScim, LoopbackServer], caplog: pytest.LogCaptureFixture
) -> None:
    fake, server = scim

    people = {p.employee_id: p for p in await scim_client(server, page_size=4).list_people()}

    assert fake.user_queries == [(1, 4), (5, 4)]
    assert sorted(people) == ["E001", "E002", "E003", "E004", "E005"]
    assert people["E001"] == Person(
        employee_id="E001",
        name="Ada Lovelace",
        email="ada@example.com",
        department="Operations",
        location="Berlin",
        employment_type="full_time",
        hire_date=date(2015, 3, 2),
        salary=Decimal("180000.5"),
        range_midpoint=Decimal("170000.00"),
        currency="EUR",
        level=7,
        job_title="Chief Executive Officer",
    )
    grace = people["E002"]
    assert (grace.name, grace.manager_id, grace.location) == ("Grace Hopper", "E001", "Lisbon")
    assert (grace.employment_type, grace.hire_date) == ("part_time", date(2019, 5, 6))
    alan = people["E003"]
    assert (alan.name, alan.manager_id, alan.active) == ("Alan Turing", "E002", False)
    assert alan.terminated_on == date(2026, 6, 30)
    katherine = people["E004"]
    assert (katherine.email, katherine.manager_id) == ("katherine@example.com", "E002")
    assert (katherine.name, katherine.employment_type) == ("katherine@example.com", "intern")
    assert people["E005"].manager_id is None
    # The user without an address is skipped, and the log names the field, not the person.
    assert "scim users skipped count=1 reasons=u-6: email" in caplog.text
    assert "No Address" not in caplog.text


async def test_scim_filters_by_organization(scim: tuple[FakeScim, LoopbackServer]) -> None:
    _, server = scim

    people = await scim_client(server, organization="Acme Lda").list_people()

    assert [p.employee_id for p in people] == ["E005"]


async def test_scim_uses_an_injected_client_and_leaves_it_open(
    scim: tuple[FakeScim, LoopbackServer],
) -> None:
    fake, server = scim
    async with httpx.AsyncClient() as client:
        hris = scim_client(server, client=client, page_size=100)
        assert len(await hris.list_people()) == 5
        assert len(await hris.list_people()) == 5
        assert not client.is_closed
    assert fake.user_queries == [(1, 100), (1, 100)]


async def test_scim_refused_token_is_a_configuration_error(
    scim: tuple[FakeScim, LoopbackServer],
) -> None:
    _, server = scim
    hris = ScimHris(f"{server.url}/scim/v2", "wrong-token")

    with pytest.raises(IntegrationConfigError) as caught:
        await hris.list_people()
    with pytest.raises(IntegrationConfigError):
        await hris.push_result(result())

    assert caught.value.non_retryable
    assert "answered 401: check the SCIM URL and token" in str(caught.value)
    assert "wrong-token" not in str(caught.value)


async def test_scim_forbidden_is_a_configuration_error(
    scim: tuple[FakeScim, LoopbackServer],
) -> None:
    fake, server = scim
    fake.fail_next.append((403, {}))

    with pytest.raises(IntegrationConfigError, match="answered 403"):
        await scim_client(server).list_people()


async def test_scim_server_errors_are_retryable_after_retry_after(
    scim: tuple[FakeScim, LoopbackServer],
) -> None:
    fake, server = scim
    fake.fail_next.append((503, {"Retry-After": "7"}))
    hris = scim_client(server)

    with pytest.raises(IntegrationUnavailable) as caught:
        await hris.list_people()

    assert not caught.value.non_retryable
    assert caught.value.next_retry_delay == timedelta(seconds=7)
    assert caught.value.type == "IntegrationUnavailable"
    assert len(await hris.list_people()) == 5  # the retry succeeds


async def test_scim_unreachable_and_slow_servers_are_retryable(
    scim: tuple[FakeScim, LoopbackServer],
) -> None:
    fake, server = scim
    fake.delay_seconds = 1.0

    with pytest.raises(IntegrationUnavailable, match="timed out"):
        await scim_client(server, timeout=0.2).list_people()
    with pytest.raises(IntegrationUnavailable, match="ConnectError"):
        await ScimHris(f"http://127.0.0.1:{closed_port()}/scim/v2", TOKEN).list_people()


async def test_scim_rejects_a_body_that_is_not_a_list_response(
    scim: tuple[FakeScim, LoopbackServer],
) -> None:
    _, server = scim

    with pytest.raises(IntegrationConfigError, match="404"):
        await ScimHris(f"{server.url}/elsewhere", TOKEN).list_people()


async def test_scim_results_are_posted_once_per_key(
    scim: tuple[FakeScim, LoopbackServer],
) -> None:
    fake, server = scim
    hris = scim_client(server)

    first = await hris.push_result(result())
    again = await hris.push_result(result())
    fake.already_seen_status = 409
    conflict = await hris.push_result(result())

    assert (first.status, again.status, conflict.status) == ("sent", "already_sent", "already_sent")
    assert fake.result_posts == ["cycle-1/E1/merit"] * 3
    assert fake.results["cycle-1/E1/merit"] == result().model_dump(mode="json")


async def test_scim_results_endpoint_is_configurable(
    scim: tuple[FakeScim, LoopbackServer],
) -> None:
    fake, server = scim
    hris = ScimHris(
        f"{server.url}/not-used", TOKEN, results_url=f"{server.url}/scim/v2/perfloop/results"
    )

    assert (await hris.push_result(result("k-1"))).status == "sent"
    assert list(fake.results) == ["k-1"]


def test_map_users_needs_an_employee_id_and_known_employment_type() -> None:
    users: list[dict[str, Any]] = [
        {
            "userName": "x@example.com",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales"},
        },
        {
            "id": "u-9",
            "userName": "y@example.com",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales"},
            "urn:perfloop:params:scim:schemas:extension:hr:1.0:User": {"employmentType": "gig"},
        },
    ]

    assert map_users(users) == []


def test_csv_cells_may_be_quoted_across_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path / "quoted.csv",
        "employee_id,name,email,department,job_title\n"
        'E1,"Lovelace, Ada",ada@example.com,Operations,"Chief\nExecutive"\n'
        "E2,Grace,,Sales,\n",
    )

    with pytest.raises(OrganisationError) as caught:
        read_organisation_file(path)

    assert caught.value.problems == ("row 4 (E2): email: Field required",)
