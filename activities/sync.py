"""Approved results out to the HRIS, each exactly once.

HR approves a group's results; this activity marks the group's proposals approved and
pushes one record per participant and target (rating, merit, bonus, talent flags) to the
HRIS adapter under the business key `<cycle>/<employee>/<kind>`.

Exactly once, record by record:

1. a key already in `result_syncs` (the HRIS confirmed it before) is not sent again, so a
   re-run or a retry after a crash sends nothing that was confirmed;
2. otherwise the record is pushed with its business key as the HRIS's idempotency key,
   and the receipt is written to `result_syncs` in its own transaction right after.

The only window left is a crash between the HRIS's answer and that write: the retry sends
that one record again, with the same idempotency key, and the HRIS answers "already sent"
without applying it twice. `after_push` is the seam tests use to crash exactly there.
A proposal becomes `synced` once all its targets are confirmed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from temporalio import activity

from activities.hris.base import Hris, PushReceipt, ResultRecord
from activities.types import ActivityName, SyncResultsInput, SyncResultsResult
from perfloop.faults import AfterCommit
from store.base import utc_now
from store.models.records import ResultProposal
from store.models.results import ResultSync, TalentDecision
from store.upsert import insert_if_absent

AfterPush = Callable[[ResultRecord, PushReceipt], None]
"""Called after the HRIS answered and before the answer is recorded (a test seam)."""


def result_data(
    proposal: ResultProposal, kind: str, decisions: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """What the HRIS receives for one target; money as strings, exact to the cent."""

    def money(value: Decimal) -> str:
        return f"{value:.2f}"

    if kind == "rating":
        return {"rating": proposal.rating}
    if kind == "merit":
        return {
            "merit_percent": f"{proposal.merit_percent:.4f}",
            "merit_amount": money(proposal.merit_amount),
            "lump_sum": money(proposal.lump_sum),
            "currency": proposal.currency,
        }
    if kind == "bonus":
        return {"bonus": money(proposal.bonus), "currency": proposal.currency}
    data: dict[str, Any] = {"nine_box": proposal.nine_box, "flags": list(proposal.flags)}
    if decisions:
        data["decisions"] = decisions
    return data


def _decisions(session: Session, cycle_id: str, group: str) -> dict[str, list[dict[str, Any]]]:
    rows = session.scalars(
        select(TalentDecision)
        .where(TalentDecision.cycle_id == cycle_id, TalentDecision.group == group)
        .order_by(TalentDecision.employee_id, TalentDecision.decision)
    )
    result: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        item: dict[str, Any] = {"decision": row.decision, "decided_by": row.decided_by}
        if row.position:
            item["position"] = row.position
        result.setdefault(row.employee_id, []).append(item)
    return result


class ResultsSyncActivities:
    def __init__(
        self,
        sessions: Callable[[], Session],
        hris: Hris,
        *,
        after_push: AfterPush | None = None,
        after_commit: AfterCommit | None = None,
    ) -> None:
        self._sessions = sessions
        self._hris = hris
        self._after_push = after_push
        # Fault drills only (`perfloop.faults`): called after each result the HRIS took.
        self._after_commit = after_commit

    def _approve_group(self, input: SyncResultsInput) -> tuple[list[ResultRecord], int]:
        """Approve the group's proposals; the records still to send, and how many of the
        group's records were confirmed before."""
        with self._sessions() as session, session.begin():
            session.execute(
                update(ResultProposal)
                .where(
                    ResultProposal.cycle_id == input.cycle_id,
                    ResultProposal.group == input.group,
                    ResultProposal.status == "proposed",
                )
                .values(status="approved", updated_at=utc_now())
            )
            proposals = session.scalars(
                select(ResultProposal)
                .where(
                    ResultProposal.cycle_id == input.cycle_id,
                    ResultProposal.group == input.group,
                )
                .order_by(ResultProposal.employee_id)
            ).all()
            confirmed = set(
                session.scalars(
                    select(ResultSync.business_key).where(
                        ResultSync.cycle_id == input.cycle_id,
                        ResultSync.employee_id.in_([p.employee_id for p in proposals]),
                    )
                )
            )
            decisions = _decisions(session, input.cycle_id, input.group)
            records = [
                ResultRecord(
                    business_key=f"{input.cycle_id}/{p.employee_id}/{kind}",
                    cycle_id=input.cycle_id,
                    employee_id=p.employee_id,
                    kind=kind,
                    data=result_data(p, kind, decisions.get(p.employee_id)),
                )
                for p in proposals
                for kind in input.targets
            ]
            pending = [r for r in records if r.business_key not in confirmed]
            return pending, len(records) - len(pending)

    def _record(self, record: ResultRecord, receipt: PushReceipt, approved_by: str) -> None:
        with self._sessions() as session, session.begin():
            insert_if_absent(
                session,
                ResultSync,
                {
                    "business_key": record.business_key,
                    "cycle_id": record.cycle_id,
                    "employee_id": record.employee_id,
                    "kind": record.kind,
                    "status": receipt.status,
                    "approved_by": approved_by,
                    "at": utc_now(),
                },
                ["business_key"],
            )

    def _mark_synced(self, cycle_id: str, employee_id: str) -> None:
        with self._sessions() as session, session.begin():
            session.execute(
                update(ResultProposal)
                .where(
                    ResultProposal.cycle_id == cycle_id,
                    ResultProposal.employee_id == employee_id,
                )
                .values(status="synced", updated_at=utc_now())
            )

    @activity.defn(name=ActivityName.SYNC_RESULTS)
    async def sync_results(self, input: SyncResultsInput) -> SyncResultsResult:
        pending, unchanged = await asyncio.to_thread(self._approve_group, input)
        sent = skipped = 0
        left: dict[str, int] = {}
        for record in pending:
            left[record.employee_id] = left.get(record.employee_id, 0) + 1
        for record in pending:
            receipt = await self._hris.push_result(record)
            if self._after_push is not None:
                self._after_push(record, receipt)
            if self._after_commit is not None:
                self._after_commit(ActivityName.SYNC_RESULTS)
            await asyncio.to_thread(self._record, record, receipt, input.approved_by)
            if receipt.status == "sent":
                sent += 1
            else:
                skipped += 1
            left[record.employee_id] -= 1
            if left[record.employee_id] == 0:
                await asyncio.to_thread(self._mark_synced, input.cycle_id, record.employee_id)
            activity.heartbeat(sent + skipped)
        activity.logger.info(
            "results synced",
            extra={
                "cycle_id": input.cycle_id,
                "sent": sent,
                "skipped": skipped,
                "unchanged": unchanged,
            },
        )
        return SyncResultsResult(sent=sent, skipped=skipped, unchanged=unchanged)
