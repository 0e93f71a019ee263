"""The store side of 360 reviews: who could review someone, reviewer assignment under the
per-reviewer cap, and a replacement when a reviewer declines.

The decisions are the pure functions of `activities.evaluation` (`assign_reviewers`,
`propose_replacement`); these activities only read the load and the organisation from
the store and record the outcome on the nomination's timeline.

**The cap across participants.** A reviewer's load is the number of peer-review tasks of
the cycle assigned to them that are open or answered (a declined, closed or cancelled
request does not count). Each participant workflow assigns its own reviewers, so the
load is read at assignment time inside a transaction that first locks the cycle row on
PostgreSQL (SQLite has one writer at a time); the tasks themselves are opened by the
workflow right after. Two participants assigned in the same instant can therefore
still both see the old load (the window is one activity round trip); the assignment
that follows sees both.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio import activity

from activities import evaluation
from activities.types import (
    ActivityName,
    AssignReviewersInput,
    AssignReviewersResult,
    PeerCandidatesInput,
    ProposeReviewerInput,
)
from store.db import writer_lock
from store.models import Cycle, Employee, Task

SessionFactory = Callable[[], Session]
T = TypeVar("T")

PEER_REVIEW = "peer_review"
COUNTED_STATUSES = ("open", "overdue", "submitted")


def declined(payload: Any) -> bool:
    """A peer-review submission that declines the request (`{"decline": true, ...}`)."""
    return isinstance(payload, dict) and payload.get("decline") is True


def reviewer_load(session: Session, cycle_id: str) -> Counter[str]:
    """Peer-review requests each reviewer of the cycle carries (open or answered)."""
    rows = session.execute(
        select(Task.assignee_id, Task.payload).where(
            Task.cycle_id == cycle_id,
            Task.kind == PEER_REVIEW,
            Task.status.in_(COUNTED_STATUSES),
        )
    )
    return Counter(assignee for assignee, payload in rows if not declined(payload))


def colleagues(session: Session, employee_id: str, limit: int) -> tuple[str, ...]:
    """Active teammates (same manager), then the department, by id; never the person,
    their manager or their direct reports (those are other rater groups)."""
    person = session.get(Employee, employee_id)
    if person is None:
        return ()
    rows = session.execute(
        select(Employee.employee_id, Employee.manager_id).where(
            Employee.department == person.department,
            Employee.active.is_(True),
            Employee.employee_id != employee_id,
        )
    ).all()
    excluded = {person.manager_id}
    eligible = [(r.employee_id, r.manager_id) for r in rows if r.employee_id not in excluded]
    eligible = [(e, m) for e, m in eligible if m != employee_id]
    team = sorted(e for e, m in eligible if m == person.manager_id)
    rest = sorted(e for e, m in eligible if m != person.manager_id)
    return tuple((team + rest)[:limit])


def active_ids(session: Session, ids: tuple[str, ...]) -> set[str]:
    if not ids:
        return set()
    rows = session.scalars(
        select(Employee.employee_id).where(Employee.employee_id.in_(ids), Employee.active.is_(True))
    )
    return set(rows)


def lock_cycle(session: Session, cycle_id: str) -> None:
    """Serialise assignments of one cycle on PostgreSQL (a no-op lock on SQLite)."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(select(Cycle.cycle_id).where(Cycle.cycle_id == cycle_id).with_for_update())


class Review360Activities:
    """Register `activities()` with a worker."""

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    def activities(self) -> list[Callable[..., Any]]:
        return [self.peer_candidates, self.assign_reviewers, self.propose_reviewer]

    async def _transaction(self, work: Callable[[Session], T]) -> T:
        def run() -> T:
            with self._sessions() as session, writer_lock(session.get_bind()), session.begin():
                return work(session)

        return await asyncio.to_thread(run)

    @activity.defn(name=ActivityName.PEER_CANDIDATES)
    async def peer_candidates(self, input: PeerCandidatesInput) -> tuple[str, ...]:
        """Colleagues to suggest in the nomination form (its prefill)."""
        return await self._transaction(
            lambda session: colleagues(session, input.employee_id, input.limit)
        )

    @activity.defn(name=ActivityName.ASSIGN_REVIEWERS)
    async def assign_reviewers(self, input: AssignReviewersInput) -> AssignReviewersResult:
        """Grant the approved peers under the cap, counting the cycle's current load;
        unknown or inactive people are left out. Records who was capped."""

        def work(session: Session) -> AssignReviewersResult:
            lock_cycle(session, input.cycle_id)
            known = active_ids(session, input.requested)
            requested = [p for p in input.requested if p in known]
            outcome = evaluation.assign_reviewers(
                {input.employee_id: requested},
                max_per_reviewer=input.max_per_reviewer,
                min_peers=input.min_peers,
                max_peers=input.max_peers,
                load=reviewer_load(session, input.cycle_id),
            )
            capped = tuple(sorted(outcome.capped))
            short = outcome.short.get(input.employee_id, 0)
            reports: tuple[str, ...] = ()
            if input.upward:
                reports = tuple(
                    session.scalars(
                        select(Employee.employee_id)
                        .where(
                            Employee.manager_id == input.employee_id,
                            Employee.active.is_(True),
                        )
                        .order_by(Employee.employee_id)
                    )
                )
            if input.requested:
                record_assignment(
                    session,
                    input,
                    {
                        "requested": len(input.requested),
                        "unknown": sorted(set(input.requested) - known),
                        "assigned": len(outcome.assigned.get(input.employee_id, ())),
                        "capped": list(capped),
                        "short": short,
                    },
                )
            return AssignReviewersResult(
                peers=outcome.assigned.get(input.employee_id, ()),
                capped=capped,
                short=short,
                direct_reports=reports,
            )

        return await self._transaction(work)

    @activity.defn(name=ActivityName.PROPOSE_REVIEWER)
    async def propose_reviewer(self, input: ProposeReviewerInput) -> str | None:
        """Who to ask instead of a reviewer who declined (None: nobody under the cap).
        The decline itself is recorded with its submission (`record_submission`)."""

        def work(session: Session) -> str | None:
            lock_cycle(session, input.cycle_id)
            pool = [*input.candidates, *colleagues(session, input.employee_id, 50)]
            known = active_ids(session, tuple(dict.fromkeys(pool)))
            proposal = evaluation.propose_replacement(
                input.employee_id,
                input.declined_by,
                [c for c in pool if c in known],
                assigned=input.asked,
                load=reviewer_load(session, input.cycle_id),
                max_per_reviewer=input.max_per_reviewer,
                declined=input.declined,
            )
            return proposal

        return await self._transaction(work)


def record_assignment(session: Session, input: AssignReviewersInput, data: dict[str, Any]) -> None:
    """The outcome on the person's timeline (kind `peer_reviewers`): how many were asked,
    who of the approved nominees was at capacity, how many short of `min_peers`."""
    from activities.records import _performance_event

    _performance_event(
        session,
        key=f"peer-assignment:{input.cycle_id}:{input.employee_id}",
        employee_id=input.employee_id,
        cycle_id=input.cycle_id,
        at=input.at,
        kind="peer_reviewers",
        ref=input.record_on_task,
        summary=(
            f"{data['assigned']} peer reviewer{'s' if data['assigned'] != 1 else ''} asked"
            + (f"; at capacity: {', '.join(data['capped'])}" if data["capped"] else "")
            + (f"; {data['short']} short of the minimum" if data["short"] else "")
        ),
        data=data,
    )
