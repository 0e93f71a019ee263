"""Development sign-in: pick a demo person, get a development token for them.

Roles come from the data, as the engine itself decides who stands in for HR: the
`roles.hr_admins` and `roles.hrbp` of the published definitions, and whoever launched a
cycle (the cycle workflow falls back to its launcher when a definition names no HR
admin). Tokens are issued by `api.auth.issue_dev_token`, as `perfloop token` does, and
the route that calls this exists in development only.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.auth import DEFAULT_TTL, Role, issue_dev_token, normalise_roles
from api.errors import NotFound
from api.schemas.dev import DevPerson, DevSession
from definitions.pinned import PinnedDefinition
from perfloop.settings import Settings
from store.models import Cycle, DefinitionVersion, Employee

MAX_PEOPLE = 500


def _role_holders(
    session: Session, partnered: dict[str, set[str]] | None = None
) -> dict[str, set[Role]]:
    """Employee id -> the roles the published definitions and cycle launches give them;
    `partnered`, when given, gets each HRBP's departments."""
    holders: dict[str, set[Role]] = {}
    for row in session.scalars(select(DefinitionVersion)):
        roles = PinnedDefinition.from_canonical(row.ref, row.sha256, row.canonical).definition.roles
        for admin in roles.hr_admins:
            holders.setdefault(admin, set()).add(Role.HR_ADMIN)
        for department, partners in roles.hrbp.items():
            for partner in partners:
                holders.setdefault(partner, set()).add(Role.HRBP)
                if partnered is not None:
                    partnered.setdefault(partner, set()).add(department)
    for launcher in session.scalars(
        select(Cycle.launched_by).where(Cycle.launched_by.is_not(None))
    ):
        if launcher:
            holders.setdefault(launcher, set()).add(Role.HR_ADMIN)
    return holders


def _person(row: Employee, reports: int, roles: tuple[Role, ...]) -> DevPerson:
    return DevPerson(
        employee_id=row.employee_id,
        name=row.name,
        job_title=row.job_title,
        department=row.department,
        manager_id=row.manager_id,
        direct_reports=reports,
        roles=[role.value for role in roles],
    )


def _report_counts(session: Session) -> Counter[str]:
    rows = session.execute(
        select(Employee.manager_id, func.count())
        .where(Employee.active.is_(True), Employee.manager_id.is_not(None))
        .group_by(Employee.manager_id)
    ).all()
    return Counter({str(manager): int(count) for manager, count in rows})


def list_people(session: Session) -> list[DevPerson]:
    """The active people to sign in as, HR first, then by department and name."""
    holders = _role_holders(session)
    reports = _report_counts(session)
    rows = session.scalars(
        select(Employee)
        .where(Employee.active.is_(True))
        .order_by(Employee.department, Employee.name)
        .limit(MAX_PEOPLE)
    ).all()
    people = [
        _person(
            row, reports[row.employee_id], normalise_roles(sorted(holders.get(row.employee_id, ())))
        )
        for row in rows
    ]
    return sorted(people, key=lambda p: (len(p.roles) == 1, p.department, p.name))


def open_session(session: Session, settings: Settings, employee_id: str) -> DevSession:
    row = session.get(Employee, employee_id)
    if row is None or not row.active:
        raise NotFound(f"no active employee {employee_id}", type="EmployeeNotFound")
    partnered: dict[str, set[str]] = {}
    roles = normalise_roles(sorted(_role_holders(session, partnered).get(employee_id, set())))
    issued = datetime.now(UTC)
    token = issue_dev_token(
        settings,
        employee_id,
        roles,
        departments=sorted(partnered.get(employee_id, ())),
        ttl=DEFAULT_TTL,
        now=issued,
    )
    reports = _report_counts(session)[employee_id]
    return DevSession(
        token=token,
        expires_at=issued.replace(microsecond=0) + DEFAULT_TTL,
        person=_person(row, reports, roles),
    )
