"""Fixtures for activity tests: in-memory fakes of the HRIS and the notifier, injected
through `RecordActivities`' constructor, and a small organisation to run cycles for.

The org (as of the stock cycle's start, 2027-01-04):

| id   | department  | manager | notes                                           |
| E001 | Engineering | -       | head of engineering, above range                |
| E100 | Engineering | E001    | manager of E101..E104                           |
| E101 | Engineering | E100    | below range                                     |
| E102 | Engineering | E100    | part time, no pay data                          |
| E103 | Engineering | E100    | contractor: not selected                        |
| E104 | Engineering | E100    | inactive: not selected                          |
| E200 | Sales       | -       |                                                 |
| E201 | Sales       | E200    | hired 2026-12-01: under the 90-day minimum      |
| E300 | Legal       | -       | department not selected                         |
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

import definitions
from activities.hris.base import Person, PushReceipt, ResultRecord
from activities.notify.base import OutgoingNotification
from activities.records import RecordActivities
from activities.types import OpenTaskInput, RecordCycleInput, SnapshotParticipantsInput
from definitions.loader import load_file, pin
from definitions.pinned import PinnedDefinition
from store.db import session_factory
from store.models import Employee

CYCLE = "ar-2027"
START = datetime(2027, 1, 4, tzinfo=UTC)
END = datetime(2028, 1, 4, tzinfo=UTC)
AS_OF = date(2027, 1, 4)
STOCK = Path(definitions.__file__).resolve().parent / "cycles"


def person(employee_id: str, department: str = "Engineering", **fields: Any) -> Person:
    values: dict[str, Any] = {
        "employee_id": employee_id,
        "name": f"Person {employee_id}",
        "email": f"{employee_id.lower()}@example.com",
        "department": department,
        "location": "Berlin",
        "hire_date": date(2020, 1, 1),
        "salary": Decimal("60000.00"),
        "range_midpoint": Decimal("60000.00"),
        "level": 2,
    }
    values.update(fields)
    return Person(**values)


def org() -> list[Person]:
    return [
        person(
            "E001", salary=Decimal("150000.00"), range_midpoint=Decimal("120000.00"), level=6
        ),
        person("E100", manager_id="E001", salary=Decimal("90000.00"),
               range_midpoint=Decimal("90000.00"), level=4),
        person("E101", manager_id="E100", salary=Decimal("50000.00"),
               range_midpoint=Decimal("60000.00")),
        person("E102", manager_id="E100", employment_type="part_time", salary=None,
               range_midpoint=None),
        person("E103", manager_id="E100", employment_type="contractor"),
        person("E104", manager_id="E100", active=False, terminated_on=date(2026, 6, 30)),
        person("E200", "Sales", salary=Decimal("80000.00"), range_midpoint=Decimal("80000.00")),
        person("E201", "Sales", manager_id="E200", hire_date=date(2026, 12, 1)),
        person("E300", "Legal"),
    ]  # fmt: skip


class FakeHris:
    """The HRIS as a list in memory; tests change `people` to simulate joiners and leavers."""

    def __init__(self, people: list[Person]) -> None:
        self.people = people
        self.pushed: dict[str, ResultRecord] = {}

    async def list_people(self) -> list[Person]:
        return list(self.people)

    async def push_result(self, record: ResultRecord) -> PushReceipt:
        status = "already_sent" if record.business_key in self.pushed else "sent"
        self.pushed.setdefault(record.business_key, record)
        return PushReceipt(business_key=record.business_key, status=status)

    def replace(self, employee_id: str, **fields: Any) -> None:
        self.people = [
            p.model_copy(update=fields) if p.employee_id == employee_id else p for p in self.people
        ]


class FakeNotifier:
    """Delivers each business key once, like every real channel must."""

    def __init__(self) -> None:
        self.calls: list[OutgoingNotification] = []
        self.delivered: dict[str, OutgoingNotification] = {}

    async def send(self, notification: OutgoingNotification) -> bool:
        self.calls.append(notification)
        if notification.business_key in self.delivered:
            return False
        self.delivered[notification.business_key] = notification
        return True


@pytest.fixture(scope="session")
def pinned() -> PinnedDefinition:
    return pin(load_file(STOCK / "annual-review" / "v1.yaml"))


@pytest.fixture
def sessions(db: str) -> sessionmaker[Session]:
    return session_factory(db)


@pytest.fixture
def hris() -> FakeHris:
    return FakeHris(org())


@pytest.fixture
def notifier() -> FakeNotifier:
    return FakeNotifier()


@pytest.fixture
def records(
    sessions: sessionmaker[Session], hris: FakeHris, notifier: FakeNotifier
) -> RecordActivities:
    return RecordActivities(sessions, hris, notifier)


@pytest.fixture
def employees(sessions: sessionmaker[Session], hris: FakeHris) -> None:
    """The fake HRIS's people also in the store's employee table (the embedded HRIS's
    source, and where pay for proposals comes from)."""
    with sessions() as session, session.begin():
        session.add_all(Employee(**p.model_dump()) for p in hris.people)


def cycle_input(cycle_id: str = CYCLE, **changes: Any) -> RecordCycleInput:
    values: dict[str, Any] = {
        "cycle_id": cycle_id,
        "definition_ref": "annual-review@1",
        "sha256": "a" * 64,
        "nominal_start": START,
        "nominal_end": END,
        "status": "running",
        "org_objectives": (
            {"id": "grow", "title": "Grow revenue 20%"},
            {"title": "Happy customers"},
        ),
    }
    values.update(changes)
    return RecordCycleInput(**values)


async def launched(
    records: RecordActivities, pinned: PinnedDefinition, cycle_id: str = CYCLE
) -> None:
    """A recorded cycle with its participants snapshotted: E001, E100, E101, E102, E200."""
    await records.record_cycle(cycle_input(cycle_id))
    await records.snapshot_participants(
        SnapshotParticipantsInput(
            cycle_id=cycle_id, selection=pinned.definition.participants, as_of=AS_OF
        )
    )


def open_input(
    subject: str,
    phase: str,
    kind: str,
    *,
    assignee: str | None = None,
    seq: int = 1,
    cycle_id: str = CYCLE,
    form: str | None = None,
    at: datetime = START,
) -> OpenTaskInput:
    from workflows.messages import participant_workflow_id, task_id

    return OpenTaskInput(
        task_id=task_id(cycle_id, subject, phase, kind, seq),
        cycle_id=cycle_id,
        workflow_id=participant_workflow_id(cycle_id, subject),
        subject_id=subject,
        assignee_id=assignee or subject,
        phase_id=phase,
        kind=kind,
        form_id=form or kind.replace("_", "-"),
        title=f"{kind} of {subject}",
        due_at=at.replace(month=at.month % 12 + 1) if at.month < 12 else at,
        opened_at=at,
    )  # fmt: skip
