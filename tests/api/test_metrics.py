"""`/metrics`: HTTP metrics by route template, and business metrics read from the store."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from httpx import AsyncClient
from prometheus_client.parser import text_string_to_metric_families

from perfloop.settings import Settings
from store.db import session_scope
from store.models import Notification, ParticipantPhase, TaskEvent
from store.models.monitoring import Anomaly
from tests.api.conftest import T0, FakeTemporal, Token, add_tasks, app_for, make_task, serve


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, frozenset(labels.items())))


async def test_http_metrics_use_route_templates_not_ids(client: AsyncClient, auth: Token) -> None:
    for task in ("annual-2027/E1/goals/goal_draft", "annual-2027/E2/goals/goal_draft"):
        await client.get(f"/v1/tasks/{task}", headers=auth("E012"))
    await client.get("/nowhere")

    text = (await client.get("/metrics")).text

    route = "/v1/tasks/{task_id:path}"
    assert (
        value(text, "perfloop_http_requests_total", method="GET", route=route, status="404") or 0
    ) >= 2
    assert value(text, "perfloop_http_request_duration_seconds_count", method="GET", route=route)
    assert value(
        text, "perfloop_http_requests_total", method="GET", route="<unmatched>", status="404"
    )
    assert "perfloop_http_requests_in_flight" in text
    assert "E1" not in text, "no employee id in any label"
    assert "E2/" not in text


async def test_a_submission_is_timed_by_step(
    client: AsyncClient, seeded: str, auth: Token, temporal: FakeTemporal
) -> None:
    from tests.api.test_idempotency import GOALS, accepted

    [task_id] = add_tasks(seeded, make_task())
    temporal.update_outcomes["submit_task"] = accepted
    steps = ("store_before", "engine", "store_after")

    def counts(text: str) -> list[float]:
        name = "perfloop_api_submit_step_seconds_count"
        return [value(text, name, step=step) or 0.0 for step in steps]

    before = counts((await client.get("/metrics")).text)
    submitted = await client.post(
        f"/v1/tasks/{task_id}/submit", json={"payload": GOALS}, headers=auth("E012")
    )
    after = counts((await client.get("/metrics")).text)

    assert submitted.status_code == 200, submitted.text
    assert [b - a for a, b in zip(before, after, strict=True)] == [1.0, 1.0, 1.0]


async def test_business_metrics_count_tasks_phases_and_nudges(seeded: str, app: FastAPI) -> None:
    now = T0 + timedelta(days=40)
    add_tasks(
        seeded,
        make_task("E1"),
        make_task("E2", status="overdue"),
        make_task("E3", status="submitted", submitted_at=now, revision=1),
        make_task(
            "M1",
            subject="E1",
            phase="evaluation",
            kind="manager_review",
            form="manager-review",
            due=T0 + timedelta(days=90),
        ),
    )
    with session_scope(seeded) as session:
        session.add(
            TaskEvent(
                task_id="annual-2027/E3/goals/goal_draft",
                event_key="s1",
                at=now,
                what="submitted",
                who="E3",
            )
        )
        for employee, status in (("E1", "active"), ("E2", "active"), ("E3", "completed")):
            session.add(
                ParticipantPhase(
                    cycle_id="annual-2027",
                    employee_id=employee,
                    phase_id="goals",
                    group="Engineering",
                    status=status,
                    updated_at=now,
                )
            )
        for n, employee in enumerate(("E1", "E2")):
            session.add(
                Anomaly(
                    anomaly_key=f"a{n}",
                    cycle_id="annual-2027",
                    employee_id=employee,
                    manager_id="M1",
                    phase_id="goals",
                    rule_id="behind-plan",
                    action="coach",
                    fired_at=now,
                    rests_until=now + timedelta(days=14),
                )
            )
        for n, kind in enumerate(("reminder", "reminder", "escalation", "task_opened")):
            session.add(
                Notification(
                    business_key=f"n{n}",
                    recipient_id="E2",
                    kind=kind,
                    subject="s",
                    cycle_id="annual-2027",
                )
            )

    async for client in serve(app):
        text = (await client.get("/metrics")).text

    goals = {"cycle": "annual-2027", "phase": "goals"}
    assert value(text, "perfloop_business_metrics_up") == 1
    assert value(text, "perfloop_cycles_running") == 1
    assert value(text, "perfloop_tasks_open", **goals, kind="goal_draft") == 2
    assert value(text, "perfloop_tasks_overdue", **goals, kind="goal_draft") == 1
    assert (
        value(
            text,
            "perfloop_tasks_open",
            cycle="annual-2027",
            phase="evaluation",
            kind="manager_review",
        )
        == 1
    )
    assert value(text, "perfloop_task_submissions_total", **goals, kind="goal_draft") == 1
    assert (
        value(text, "perfloop_notifications_sent_total", cycle="annual-2027", kind="reminder") == 2
    )
    assert (
        value(text, "perfloop_notifications_sent_total", cycle="annual-2027", kind="escalation")
        == 1
    )
    assert (
        value(text, "perfloop_notifications_sent_total", cycle="annual-2027", kind="task_opened")
        is None
    )
    assert (
        value(text, "perfloop_anomalies_fired_total", **goals, rule="behind-plan", action="coach")
        == 2
    )
    assert value(text, "perfloop_phase_participants", **goals) == 3
    assert value(text, "perfloop_phase_completion_ratio", **goals) == 1 / 3
    assert (
        value(
            text,
            "perfloop_phase_deadline_timestamp_seconds",
            cycle="annual-2027",
            phase="evaluation",
        )
        == (T0 + timedelta(days=90)).timestamp()
    )
    assert "E1" not in text, "no employee id in any label"
    assert "E2" not in text


async def test_a_store_that_does_not_answer_still_scrapes(settings: Settings) -> None:
    unreachable = settings.model_copy(
        update={"database_url": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    )
    async for client in serve(app_for(unreachable, FakeTemporal())):
        response = await client.get("/metrics")

    assert response.status_code == 200
    assert value(response.text, "perfloop_business_metrics_up") == 0
