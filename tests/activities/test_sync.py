"""Approved results reach the HRIS once per employee and kind, across retries and crashes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.hris.base import PushReceipt, ResultRecord
from activities.hris.embedded import EmbeddedHris
from activities.hris.scim import ScimHris
from activities.records import RecordActivities
from activities.sync import ResultsSyncActivities
from activities.types import ProposeResultsInput, SyncResultsInput
from definitions.models import ResultsPhase
from definitions.pinned import PinnedDefinition
from store.models.records import HrisOutbox, ResultProposal
from store.models.results import ResultSync
from tests.activities.conftest import CYCLE, launched
from tests.activities.fake_scim import TOKEN, FakeScim
from tests.activities.servers import LoopbackServer

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

    # Six results were pushed and each recorded as it was confirmed: the retry sends the
    # other ten and none of those six again.
    assert (retried.sent, retried.skipped, retried.unchanged) == (4 * len(ENGINEERING) - 6, 0, 6)
    assert len(session.scalars(select(HrisOutbox.id)).all()) == 4 * len(ENGINEERING)


class Crash(Exception):
    """The worker dies."""


class CrashAfterSending:
    """`after_push` seam: the worker dies after the HRIS confirmed push number `n` and
    before the engine recorded it."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.pushes = 0

    def __call__(self, record: ResultRecord, receipt: PushReceipt) -> None:
        self.pushes += 1
        if self.pushes == self.n:
            raise Crash(record.business_key)


@pytest.fixture
def scim() -> Iterator[tuple[FakeScim, LoopbackServer]]:
    fake = FakeScim()
    with fake.serve() as server:
        yield fake, server


async def test_a_fake_hris_receives_each_result_once_across_a_crash_retries_and_reruns(
    records: RecordActivities,
    pinned: PinnedDefinition,
    sessions: sessionmaker[Session],
    session: Session,
    employees: None,
    scim: tuple[FakeScim, LoopbackServer],
) -> None:
    """Against a fake HRIS that records every request: a crash between the HRIS's answer
    and the engine's record re-sends that one record (same idempotency key, not applied
    twice); a retry and a re-run send nothing else twice."""
    await propose_engineering(records, pinned)
    fake, server = scim
    hris = ScimHris(f"{server.url}/scim/v2/", TOKEN)
    keys = [f"{CYCLE}/{e}/{kind}" for e in sorted(ENGINEERING) for kind in sync_input().targets]
    seam = CrashAfterSending(n=7)

    with pytest.raises(Crash):
        await ActivityEnvironment().run(
            ResultsSyncActivities(sessions, hris, after_push=seam).sync_results, sync_input()
        )
    assert fake.result_posts == keys[:7]
    retried = await ActivityEnvironment().run(
        ResultsSyncActivities(sessions, hris).sync_results, sync_input()
    )
    rerun = await ActivityEnvironment().run(
        ResultsSyncActivities(sessions, hris).sync_results, sync_input()
    )

    # Only the seventh record, confirmed but not recorded, crossed the wire twice.
    assert fake.result_posts == keys[:7] + keys[6:]
    assert sorted(fake.results) == sorted(keys)
    assert (retried.sent, retried.skipped, retried.unchanged) == (len(keys) - 7, 1, 6)
    assert (rerun.sent, rerun.skipped, rerun.unchanged) == (0, 0, len(keys))
    statuses = session.scalars(
        select(ResultProposal.status).where(ResultProposal.group == "Engineering")
    ).all()
    assert set(statuses) == {"synced"}
    synced = dict(session.execute(select(ResultSync.business_key, ResultSync.status)).all())
    assert sorted(synced) == sorted(keys)
    assert synced[keys[6]] == "already_sent"
    assert all(fake.results[key]["business_key"] == key for key in keys)
