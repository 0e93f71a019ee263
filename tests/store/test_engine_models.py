"""Guarantees of the engine's tables that other parts rely on, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from activities.hris.base import Person
from store.models import (
    Cycle,
    CycleParticipant,
    Employee,
    Notification,
    NotificationDelivery,
    Task,
    TaskEvent,
)
from store.upsert import insert_many_if_absent, upsert

START = datetime(2027, 1, 4, tzinfo=UTC)


def cycle(cycle_id: str = "c1") -> Cycle:
    return Cycle(
        cycle_id=cycle_id,
        definition_ref="annual-review@1",
        sha256="a" * 64,
        nominal_start=START,
        nominal_end=START + timedelta(days=365),
    )


def task(task_id: str = "c1/E1/goals/goal_draft", **fields: object) -> Task:
    values: dict[str, object] = {
        "task_id": task_id,
        "cycle_id": "c1",
        "workflow_id": "cycle/c1/E1",
        "subject_id": "E1",
        "assignee_id": "E1",
        "phase_id": "goals",
        "kind": "goal_draft",
        "form_id": "goal-draft",
        "title": "Draft your goals",
        "due_at": START + timedelta(days=14),
        "opened_at": START,
    }
    values.update(fields)
    return Task(**values)


def test_employee_columns_are_the_hris_person_fields() -> None:
    assert set(Employee.__table__.columns.keys()) == set(Person.model_fields)


def test_an_org_chart_loads_in_any_order_but_not_with_a_dangling_manager(session: Session) -> None:
    with session.begin():
        session.add(
            Employee(employee_id="E2", name="B", email="b@x", manager_id="E1", department="D")
        )
        session.flush()  # the manager arrives later in the same transaction
        session.add(
            Employee(
                employee_id="E1", name="A", email="a@x", department="D",
                salary=Decimal("123456789012.34"), hire_date=date(2020, 1, 1),
            )
        )  # fmt: skip

    assert session.get(Employee, "E1").salary == Decimal("123456789012.34")  # type: ignore[union-attr]
    session.rollback()
    with pytest.raises(IntegrityError), session.begin():
        session.add(
            Employee(employee_id="E3", name="C", email="c@x", manager_id="E9", department="D")
        )


def test_timestamps_come_back_in_utc(session: Session) -> None:
    berlin = timezone(timedelta(hours=1))
    with session.begin():
        session.add(cycle())
        session.add(task(due_at=datetime(2027, 1, 18, 9, tzinfo=berlin)))
    session.expire_all()

    row = session.get(Task, "c1/E1/goals/goal_draft")
    assert row is not None
    assert row.due_at == datetime(2027, 1, 18, 8, tzinfo=UTC)
    assert row.due_at.tzinfo is not None
    assert row.updated_at.tzinfo is not None


def test_unknown_statuses_are_refused(session: Session) -> None:
    with session.begin():
        session.add(cycle())
    with pytest.raises(IntegrityError), session.begin():
        session.add(task(status="done"))


def test_a_notification_business_key_is_delivered_once(session: Session) -> None:
    with session.begin():
        session.add(Notification(business_key="k", recipient_id="E1", kind="info", subject="s"))
        session.add(NotificationDelivery(business_key="k", channel="email"))
        session.add(NotificationDelivery(business_key="k", channel="webhook"))
    with pytest.raises(IntegrityError), session.begin():
        session.add(Notification(business_key="k", recipient_id="E2", kind="info", subject="t"))


def test_deleting_a_cycle_deletes_what_belongs_to_it(session: Session) -> None:
    with session.begin():
        session.add(cycle())
        session.add(task())
        session.flush()
        session.add(
            TaskEvent(task_id="c1/E1/goals/goal_draft", event_key="k", at=START, what="opened")
        )
        session.add(
            CycleParticipant(
                cycle_id="c1", employee_id="E1", group="D", joined_at=START, profile={}
            )
        )
    with session.begin():
        session.delete(session.get(Cycle, "c1"))

    for model in (Task, TaskEvent, CycleParticipant):
        assert session.scalar(select(func.count()).select_from(model)) == 0


def test_bulk_insert_if_absent_and_upsert(session: Session) -> None:
    with session.begin():
        session.add(cycle())
    rows = [
        {"cycle_id": "c1", "employee_id": f"E{n}", "group": "D", "joined_at": START,
         "profile": {"n": n}}
        for n in range(1200)
    ]  # fmt: skip
    with session.begin():
        assert (
            insert_many_if_absent(session, CycleParticipant, rows, ("cycle_id", "employee_id"))
            == 1200
        )
        assert (
            insert_many_if_absent(session, CycleParticipant, rows, ("cycle_id", "employee_id")) == 0
        )
    with session.begin():
        upsert(
            session,
            CycleParticipant,
            {**rows[0], "group": "E"},
            ("cycle_id", "employee_id"),
            ("group",),
        )
    session.expire_all()

    assert session.scalar(select(func.count()).select_from(CycleParticipant)) == 1200
    assert (
        session.scalar(select(CycleParticipant.group).where(CycleParticipant.employee_id == "E0"))
        == "E"
    )
