"""Approved results out to the HRIS, each exactly once.

HR approves a group's results; this activity marks the group's proposals approved and
pushes one record per participant and target (rating, merit, bonus, talent flags) to the
HRIS adapter under the business key `<cycle>/<employee>/<kind>`. The adapter is
idempotent on that key, so a retry after a crash (even between sending and recording)
sends nothing twice; heartbeats let a retried attempt skip what it already pushed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from temporalio import activity

from activities.hris.base import Hris, ResultRecord
from activities.types import ActivityName, SyncResultsInput, SyncResultsResult
from perfloop.faults import AfterCommit
from store.base import utc_now
from store.models.records import ResultProposal


def result_data(proposal: ResultProposal, kind: str) -> dict[str, Any]:
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
    return {"nine_box": proposal.nine_box, "flags": list(proposal.flags)}


class ResultsSyncActivities:
    def __init__(
        self,
        sessions: Callable[[], Session],
        hris: Hris,
        *,
        after_commit: AfterCommit | None = None,
    ) -> None:
        self._sessions = sessions
        self._hris = hris
        # Fault drills only (`perfloop.faults`): called after each result the HRIS took.
        self._after_commit = after_commit

    def _approve_group(self, input: SyncResultsInput) -> list[tuple[str, list[ResultRecord]]]:
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
            return [
                (
                    p.employee_id,
                    [
                        ResultRecord(
                            business_key=f"{input.cycle_id}/{p.employee_id}/{kind}",
                            cycle_id=input.cycle_id,
                            employee_id=p.employee_id,
                            kind=kind,
                            data=result_data(p, kind),
                        )
                        for kind in input.targets
                    ],
                )
                for p in proposals
                if p.status != "synced"
            ]

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
        pending = await asyncio.to_thread(self._approve_group, input)
        details = activity.info().heartbeat_details
        done_before = int(details[0]) if details else 0
        sent = skipped = 0
        for index, (employee_id, records) in enumerate(pending):
            if index < done_before:
                continue
            for record in records:
                receipt = await self._hris.push_result(record)
                if self._after_commit is not None:
                    self._after_commit(ActivityName.SYNC_RESULTS)
                if receipt.status == "sent":
                    sent += 1
                else:
                    skipped += 1
            await asyncio.to_thread(self._mark_synced, input.cycle_id, employee_id)
            activity.heartbeat(index + 1)
        activity.logger.info(
            "results synced", extra={"cycle_id": input.cycle_id, "sent": sent, "skipped": skipped}
        )
        return SyncResultsResult(sent=sent, skipped=skipped)
