"""Approved results reach the HRIS once per employee and kind, across retries and crashes."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.hris.base import PushReceipt, ResultRecord
from activities.hris.embedded import EmbeddedHris
from activities.records import RecordActivities
from activities.sync import ResultsSyncActivities
from activities.types import ProposeResultsInput, SyncResultsInput
from definitions.models import ResultsPhase
from definitions.pinned import PinnedDefinition
from store.models.records import HrisOutbox, ResultProposal
from tests.activities.conftest import CYCLE, launched

ENGINEERING = ("E001", "E100", "E101", "E102")


async def propose_engineering(records: RecordActivities, pinned: PinnedDefinition) -> None:
    await launched(records, pinned)
    phase = next(p for p in pinned.definition.phases if isinstance(p, ResultsPhase))
    for employee_id, rating in zip(ENGINEERING, (4, 3, 5, 2), strict=True):
        await records.propose_results(
            ProposeResultsInput(cycle_id=CYCLE, employee_id=employee_id, phase=phase, rating=rating)
        )


def sync_input() -> SyncResultsInput:
    return SyncResultsInput(cycle_id=CYCLE, group="Engineering", approved_by="E002")


class CrashAfterPushes:
    """An HRIS adapter whose worker dies after `n` successful pushes (before recording)."""

    def __init__(self, inner: EmbeddedHris, n: int) -> None:
        self.inner = inner
        self.left = n

    async def list_people(self) -> Any:
        return await self.inner.list_people()

    async def push_result(self, record: ResultRecord) -> PushReceipt:
        if self.left == 0:
            raise ConnectionError("worker killed")
        self.left -= 1
        return await self.inner.push_result(record)


async def test_sync_sends_each_result_once_and_marks_proposals_synced(
    records: RecordActivities,
    pinned: PinnedDefinition,
    sessions: sessionmaker[Session],
    session: Session,
    employees: None,
) -> None:
    await propose_engineering(records, pinned)
    sync = ResultsSyncActivities(sessions, EmbeddedHris(sessions))
    env = ActivityEnvironment()

    first = await env.run(sync.sync_results, sync_input())
    again = await env.run(sync.sync_results, sync_input())

    assert first.sent == 4 * len(ENGINEERING)
    assert again.sent == 0
    keys = session.scalars(select(HrisOutbox.business_key)).all()
    assert sorted(keys) == sorted(
        f"{CYCLE}/{e}/{kind}" for e in ENGINEERING for kind in sync_input().targets
    )
    statuses = session.scalars(
        select(ResultProposal.status).where(ResultProposal.group == "Engineering")
    ).all()
    assert set(statuses) == {"synced"}
    merit = session.scalars(
        select(HrisOutbox.data).where(HrisOutbox.business_key == f"{CYCLE}/E101/merit")
    ).one()
    assert set(merit) == {"merit_percent", "merit_amount", "lump_sum", "currency"}


async def test_a_crash_between_sending_and_recording_sends_nothing_twice(
    records: RecordActivities,
    pinned: PinnedDefinition,
    sessions: sessionmaker[Session],
    session: Session,
    employees: None,
) -> None:
    await propose_engineering(records, pinned)
    embedded = EmbeddedHris(sessions)
    crashing = ResultsSyncActivities(sessions, CrashAfterPushes(embedded, n=6))
    with pytest.raises(ConnectionError):
        await ActivityEnvironment().run(crashing.sync_results, sync_input())

    retried = await ActivityEnvironment().run(
        ResultsSyncActivities(sessions, embedded).sync_results, sync_input()
    )

    # E001's four results were pushed and recorded; E100's first two were pushed but the
    # worker died before recording them: the HRIS answers "already sent" for those.
    assert retried.skipped == 2
    assert retried.sent == 4 * len(ENGINEERING) - 6
    assert len(session.scalars(select(HrisOutbox.id)).all()) == 4 * len(ENGINEERING)
