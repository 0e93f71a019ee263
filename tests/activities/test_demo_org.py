"""The demo organisation (`perfloop/data/demo-org.json`) loads, and fits the stock cycles."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

import perfloop
from activities.hris.base import Person
from activities.hris.embedded import list_employees, load_organisation, read_organisation_file
from definitions.loader import load_file
from tests.samples import stock_cycle_files

DEMO_ORG = Path(perfloop.__file__).resolve().parent / "data" / "demo-org.json"
DEPARTMENTS = {"Engineering", "Sales", "Marketing", "Operations", "Finance"}
CYCLE_START = date(2027, 1, 4)


@pytest.fixture(scope="module")
def people() -> list[Person]:
    return read_organisation_file(DEMO_ORG)


def test_the_demo_org_loads_into_the_store(session: Session) -> None:
    outcome = load_organisation(session, DEMO_ORG)
    session.commit()

    assert (outcome.created, outcome.updated) == (50, 0)
    stored = list_employees(session)
    assert [p.employee_id for p in stored] == [f"E{n:03}" for n in range(1, 51)]
    assert {p.department for p in stored} == DEPARTMENTS
    assert stored == sorted(read_organisation_file(DEMO_ORG), key=lambda p: p.employee_id)
    assert load_organisation(session, DEMO_ORG).unchanged == 50


def test_one_root_the_ceo_and_department_heads_under_it(people: list[Person]) -> None:
    by_id = {p.employee_id: p for p in people}
    roots = [p for p in people if p.manager_id is None]

    assert [p.employee_id for p in roots] == ["E001"]
    heads = {p.department for p in people if p.manager_id == "E001"}
    assert heads == DEPARTMENTS
    for person in people:  # every chain ends at the CEO (load_organisation refuses cycles)
        seen: set[str] = set()
        current = person
        while current.manager_id is not None:
            assert current.employee_id not in seen
            seen.add(current.employee_id)
            current = by_id[current.manager_id]
        assert current.employee_id == "E001"


def test_the_mix_the_demo_needs(people: list[Person]) -> None:
    types = Counter(p.employment_type for p in people)
    assert types["contractor"] == 1
    assert types["intern"] == 1
    assert types["part_time"] == 2
    assert types["full_time"] == 46
    assert {p.location for p in people} == {"Berlin", "Lisbon", "Remote"}
    assert {p.level for p in people} == set(range(1, 8))
    assert all(p.email.endswith("@example.com") for p in people)
    assert len({p.email for p in people}) == 50
    hired = [p.hire_date for p in people if p.hire_date]
    assert len(hired) == 50
    assert min(hired).year == 2015
    assert max(hired).year == 2026
    in_probation = [
        p
        for p in people
        if p.employment_type in ("full_time", "part_time")
        and (CYCLE_START - p.hire_date).days < 180  # type: ignore[operator]
    ]
    assert len(in_probation) >= 3
    ratios = [float(p.salary / p.range_midpoint) for p in people if p.salary and p.range_midpoint]
    assert 0.78 <= min(ratios) <= 0.82
    assert 1.22 <= max(ratios) <= 1.26


def test_hr_roles_of_the_stock_cycles_exist(people: list[Person]) -> None:
    by_id = {p.employee_id: p for p in people}
    files = stock_cycle_files()
    assert files, "no stock cycles found"
    for path in files:
        roles = load_file(path).definition.roles
        for admin in roles.hr_admins:
            assert admin in by_id, f"{path.parent.name}: hr_admin {admin} is not in the demo org"
            assert by_id[admin].department == "Operations"
        for department, partners in roles.hrbp.items():
            assert department in DEPARTMENTS, f"{path.parent.name}: hrbp for {department}"
            for partner in partners:
                assert partner in by_id, f"{path.parent.name}: hrbp {partner} is not in the org"
                assert "HR Business Partner" in (by_id[partner].job_title or "")
    assert by_id["E046"].job_title == "People Operations Specialist"
