"""Monitoring activities against the store: the pull adapter against a local fake
GitHub-issues server, pulled events stored once, milestone achievement rates, the
anomaly-rule variables, and a rule's firing recorded once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from activities.errors import IntegrationConfigError, IntegrationUnavailable
from activities.monitoring import MonitoringActivities, default_adapter
from activities.progress.github import GitHubIssuesAdapter
from activities.records import RecordActivities
from activities.types import (
    MonitoringSignalsInput,
    PullProgressInput,
    RecordAnomalyInput,
)
from definitions.pinned import PinnedDefinition
from store.models import Anomaly, CheckIn, Goal, PerformanceEvent, ProgressEvent, Task
from store.monitoring import milestone_rates
from tests.activities.conftest import CYCLE, START, FakeNotifier, launched, open_input
from tests.activities.fake_github import TOKEN, FakeGitHub
from tests.activities.servers import LoopbackServer

TODAY = date(2027, 3, 15)
AT = datetime(2027, 3, 15, 9, tzinfo=UTC)


def github_world() -> FakeGitHub:
    gh = FakeGitHub()
    on_time = gh.milestone(1, "Beta", "2027-02-28T00:00:00Z", closed_at="2027-02-20T10:00:00Z")
    late = gh.milestone(2, "GA", "2027-03-01T00:00:00Z", closed_at="2027-03-05T10:00:00Z")
    missed = gh.milestone(3, "Docs", "2027-03-10T00:00:00Z")
    future = gh.milestone(4, "v2", "2027-06-30T00:00:00Z")
    gh.milestone(5, "Somebody else's", "2027-02-01T00:00:00Z")
    gh.issue(10, "e101", milestone=on_time, closed_at="2027-02-19T10:00:00Z")
    gh.issue(11, "e101", milestone=late, closed_at="2027-03-04T10:00:00Z")
    gh.issue(12, "e101", milestone=missed)
    gh.issue(13, "e101", milestone=future, closed_at="2027-03-01T10:00:00Z")
    gh.issue(14, "e101", pull_request=True, closed_at="2027-03-02T10:00:00Z")
    gh.issue(15, "e101")
    gh.issue(20, "e102", milestone=on_time, closed_at="2027-02-10T10:00:00Z")
    return gh


@pytest.fixture
def github() -> Iterator[tuple[FakeGitHub, str]]:
    gh = github_world()
    with LoopbackServer(gh.app()) as server:
        yield gh, f"{server.url}/repos/example-org/roadmap"


def pull_input(url: str, employee: str = "E101") -> PullProgressInput:
    return PullProgressInput(
        cycle_id=CYCLE,
        employee_id=employee,
        source_id="roadmap",
        kind="github_issues",
        url=url,
        secret_env="PERFLOOP_TEST_GITHUB_TOKEN",
        at=AT,
    )


# --- the adapter against the fake server ---------------------------------------------------


async def test_the_adapter_reads_closed_issues_and_decided_milestones(
    github: tuple[FakeGitHub, str],
) -> None:
    gh, url = github
    events = await GitHubIssuesAdapter(url, TOKEN, per_page=2).pull("e101", today=TODAY)

    closed = sorted(e.event_id for e in events if e.kind == "issue_closed")
    assert closed == ["issue-10/e101", "issue-11/e101", "issue-13/e101"], "no pull requests"
    milestones = {e.milestone_id: e for e in events if e.kind == "milestone"}
    assert sorted(milestones) == ["milestone-1", "milestone-2", "milestone-3"], (
        "the future milestone is undecided; milestone 5 has none of e101's issues"
    )
    assert milestones["milestone-1"].achieved is True
    assert milestones["milestone-1"].due_on == date(2027, 2, 28)
    assert milestones["milestone-2"].achieved is True
    assert milestones["milestone-2"].occurred_at == datetime(2027, 3, 5, 10, tzinfo=UTC)
    assert milestones["milestone-3"].achieved is False
    assert milestones["milestone-3"].data == {"number": 3, "issues": 1, "issues_closed": 0}
    # Paged by 2: 6 issues of e101 (4 pages: 2, 2, 2, 0) and 5 milestones (3 pages).
    assert sum("/issues" in r for r in gh.requests) == 4
    assert sum("/milestones" in r for r in gh.requests) == 3
    assert all("assignee=e101" in r for r in gh.requests if "/issues" in r)


async def test_the_adapter_classifies_errors(github: tuple[FakeGitHub, str]) -> None:
    gh, url = github
    with pytest.raises(IntegrationConfigError, match="answered 401"):
        await GitHubIssuesAdapter(url, "wrong").pull("e101", today=TODAY)
    gh.fail_next = [503]
    with pytest.raises(IntegrationUnavailable, match="answered 503"):
        await GitHubIssuesAdapter(url, TOKEN).pull("e101", today=TODAY)
    with pytest.raises(IntegrationUnavailable):
        await GitHubIssuesAdapter("http://127.0.0.1:9/repos/x/y", TOKEN).pull("e", today=TODAY)


def test_the_token_comes_from_the_named_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PERFLOOP_TEST_GITHUB_TOKEN", raising=False)
    with pytest.raises(IntegrationConfigError, match=r"\$PERFLOOP_TEST_GITHUB_TOKEN is not set"):
        default_adapter(pull_input("http://127.0.0.1:9/r"))
    monkeypatch.setenv("PERFLOOP_TEST_GITHUB_TOKEN", TOKEN)
    assert isinstance(default_adapter(pull_input("http://127.0.0.1:9/r")), GitHubIssuesAdapter)


# --- pulled events in the store ------------------------------------------------------------


@pytest.fixture
async def monitoring(
    sessions: sessionmaker[Session],
    records: RecordActivities,
    pinned: PinnedDefinition,
    notifier: FakeNotifier,
    employees: None,
    monkeypatch: pytest.MonkeyPatch,
) -> MonitoringActivities:
    monkeypatch.setenv("PERFLOOP_TEST_GITHUB_TOKEN", TOKEN)
    await launched(records, pinned)
    return MonitoringActivities(sessions, notifier)


async def test_a_pull_stores_each_event_once_and_rates_milestones(
    monitoring: MonitoringActivities,
    sessions: sessionmaker[Session],
    github: tuple[FakeGitHub, str],
) -> None:
    _, url = github
    first = await monitoring.pull_progress(pull_input(url))
    again = await monitoring.pull_progress(pull_input(url))

    assert (first.seen, first.stored) == (6, 6)
    assert (again.seen, again.stored) == (6, 0), "a repeated pull stores nothing twice"
    with sessions() as session:
        rows = session.scalars(select(ProgressEvent).order_by(ProgressEvent.event_id)).all()
        assert {r.employee_id for r in rows} == {"E101"}, "e101 is E101 (e-mail local part)"
        assert {r.source_id for r in rows} == {"roadmap"}
        assert {r.cycle_id for r in rows} == {CYCLE}
        rates = milestone_rates(session, ["E101", "E102"])
    # Beta on time, GA late, Docs missed: one in three reached on time.
    assert (rates["E101"].achieved, rates["E101"].total) == (1, 3)
    assert rates["E101"].rate == pytest.approx(1 / 3)
    assert rates["E102"].rate is None, "nothing pulled for E102 yet"


def test_milestone_rates_count_a_milestone_once_and_respect_since(session: Session) -> None:
    def milestone(source: str, event: str, who: str, ms: str, *, ok: bool, at: str) -> None:
        session.add(
            ProgressEvent(
                source_id=source,
                event_id=event,
                employee_id=who,
                kind="milestone",
                milestone_id=ms,
                due_on=date(2027, 3, 1),
                achieved=ok,
                occurred_at=datetime.fromisoformat(at).replace(tzinfo=UTC),
            )
        )

    milestone("a", "1", "E1", "m1", ok=False, at="2027-03-01T00:00:00")
    milestone("b", "1", "E1", "m1", ok=True, at="2027-03-01T12:00:00")  # same milestone
    milestone("a", "2", "E1", "m2", ok=True, at="2027-01-10T00:00:00")
    milestone("a", "3", "E2", "m3", ok=True, at="2027-03-02T00:00:00")  # a day late
    session.commit()

    rates = milestone_rates(session, ["E1", "E2", "E3"])
    assert (rates["E1"].achieved, rates["E1"].total) == (2, 2), "the latest report wins"
    assert (rates["E2"].achieved, rates["E2"].total) == (0, 1)
    assert rates["E3"].total == 0
    since = milestone_rates(session, ["E1"], since=datetime(2027, 2, 1, tzinfo=UTC))
    assert (since["E1"].achieved, since["E1"].total) == (1, 1)


# --- the anomaly-rule variables ------------------------------------------------------------


async def test_the_signals_are_the_documented_variables(
    monitoring: MonitoringActivities,
    records: RecordActivities,
    sessions: sessionmaker[Session],
) -> None:
    opens = START
    due = START + timedelta(days=100)
    at = START + timedelta(days=50)
    for kind, seq, status in (("checkin", 1, "closed"), ("checkin", 2, "closed")):
        await records.open_task(open_input("E101", "monitoring", kind, seq=seq, at=opens))
        with sessions() as session, session.begin():
            session.get_one(
                Task, open_input("E101", "monitoring", kind, seq=seq).task_id
            ).status = status
    # An overdue task of E101's: past due at `at`.
    await records.open_task(open_input("E101", "evaluation", "self_review"))
    with sessions() as session, session.begin():
        for goal_id, weight, progress in (("g1", 60, 0.5), ("g2", 40, 1.0)):
            session.add(
                Goal(
                    id=goal_id, cycle_id=CYCLE, owner_id="E101", task_id="t", title=goal_id,
                    type="okr", weight=weight, status="approved", progress=progress,
                )
            )  # fmt: skip
        for n, (day, confidence) in enumerate(((20, 4), (40, 2))):
            session.add(
                CheckIn(
                    task_id=f"c{n}",
                    cycle_id=CYCLE,
                    employee_id="E101",
                    at=START + timedelta(days=day),
                    payload={
                        "goals": [{"goal_id": "g1", "progress": 0.5, "confidence": confidence}],
                        "blockers": [{"description": "x", "goal_id": "g1"}, {"description": "y"}],
                    },
                )
            )
        session.add(
            PerformanceEvent(
                event_key="fb", employee_id="E101", cycle_id=CYCLE, at=at - timedelta(days=3),
                kind="feedback", summary="Thanks",
            )
        )  # fmt: skip

    found = await monitoring.monitoring_signals(
        MonitoringSignalsInput(
            cycle_id=CYCLE, employee_id="E101", phase_id="monitoring", opens=opens, due=due, at=at
        )
    )

    assert found.values == {
        "progress": 0.7,
        "expected_by_now": 0.5,
        "days_since_checkin": 10.0,
        "checkins_missed": 2.0,
        "confidence": 2.0,
        "confidence_trend": -2.0,
        "blocked_count": 2.0,
        "open_goals": 1.0,
        "overdue_tasks": 1.0,
        "collaboration_events": 1.0,
    }


# --- a rule's firing -------------------------------------------------------------------------


async def test_a_firing_is_stored_put_on_the_timeline_and_sent_to_the_manager_once(
    monitoring: MonitoringActivities, sessions: sessionmaker[Session], notifier: FakeNotifier
) -> None:
    firing = RecordAnomalyInput(
        anomaly_key=f"{CYCLE}/E101/behind-plan/1",
        cycle_id=CYCLE,
        employee_id="E101",
        manager_id="E100",
        phase_id="monitoring",
        rule_id="behind-plan",
        action="coach",
        description="Behind plan",
        evidence={"progress": 0.1, "expected_by_now": 0.5},
        task_id=f"{CYCLE}/E101/monitoring/coaching",
        fired_at=AT,
        rests_until=AT + timedelta(days=28),
    )
    assert await monitoring.record_anomaly(firing) is True
    assert await monitoring.record_anomaly(firing) is False

    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Anomaly)) == 1
        event = session.scalars(
            select(PerformanceEvent).where(PerformanceEvent.event_key.startswith("anomaly/"))
        ).one()
        assert event.kind == "significant_event"
        assert event.data["evidence"] == {"progress": 0.1, "expected_by_now": 0.5}
    sent = [n for n in notifier.delivered.values() if n.kind == "coaching"]
    assert len(sent) == 1
    assert sent[0].recipient_id == "E100"
    assert "expected_by_now = 0.5" in sent[0].body

    flag = firing.model_copy(
        update={"anomaly_key": f"{CYCLE}/E101/flag/2", "action": "flag", "task_id": None}
    )
    await monitoring.record_anomaly(flag)
    assert len([n for n in notifier.delivered.values() if n.kind == "coaching"]) == 1, (
        "a flag only marks the dashboard"
    )
