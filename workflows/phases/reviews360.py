"""The 360 part of the evaluation phase (patch `evaluation-360-reviews`).

1. **Nomination**: the nominator (`peers.nominated_by`: the employee, or their manager)
   gets a `peer_nomination` task; its prefill suggests colleagues (`peer_candidates`),
   and its rules hold the list within `min_peers`..`max_peers` (the minimum is lowered to
   the number of colleagues there are), never naming the person themselves.
2. **Approval** (`peers.approved_by: manager`, when the person has a manager): a
   `peer_approval` task (built-in form `builtin-peer-approval`) whose prefill lists the
   nominees; the manager removes and adds (`approved_nominations`: additions first,
   at most `max_peers`).
3. **Assignment**: the `assign_reviewers` activity grants the approved peers under
   `max_requests_per_reviewer`, counting every peer-review request of the cycle, and
   records who was at capacity on the person's timeline (`peer_reviewers`).
4. **Reviews**: one `peer_review` task per granted peer and, with an upward source, one
   `upward_review` task per direct report; assigned to the reviewer, owned by this
   participant's workflow, with the phase's reminders and due date; their escalation goes
   to the HRBP when the phase would escalate to the manager or skip-level.
5. **Decline** (`peers.allow_decline`): a peer reviewer submits `{"decline": true,
   "reason": "..."}`; the request no longer counts, and `propose_reviewer` names a
   replacement under the cap (nominees first, then colleagues), who gets a new task.

Waiting on the 360's tasks keeps firing the reminders of the self and manager reviews
(`others`), which stay open all along.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

from workflows.context import ParticipantContext
from workflows.tasks import DONE_STATUSES, _Task

with workflow.unsafe.imports_passed_through():
    from activities.evaluation import approved_nominations
    from activities.types import (
        ActivityName,
        AssignReviewersInput,
        AssignReviewersResult,
        PeerCandidatesInput,
        ProposeReviewerInput,
    )
    from definitions.models import EvaluationPhase, PeerReview
    from workflows.builtin_forms import BUILTIN_FORMS, DECLINE, PEER_APPROVAL, PEER_NOMINATION

REVIEWS_360 = "evaluation-360-reviews"
"""Patch: the evaluation phase runs nomination, approval, assignment and review tasks."""


def wants_peers(phase: EvaluationPhase) -> bool:
    return phase.sources.peer_review > 0 and phase.forms.peer_review is not None


def wants_upward(ctx: ParticipantContext, phase: EvaluationPhase) -> bool:
    return (
        phase.sources.upward_review > 0
        and phase.forms.upward_review is not None
        and ctx.profile.direct_reports > 0
    )


def wanted(ctx: ParticipantContext, phase: EvaluationPhase) -> bool:
    """Whether this participant has a 360 at all (peer or upward sources selected)."""
    return wants_peers(phase) or wants_upward(ctx, phase)


def declined(task: _Task) -> bool:
    return task.status == "submitted" and (task.payload or {}).get("decline") is True


def _ids(payload: dict[str, Any] | None, key: str) -> list[str]:
    value = (payload or {}).get(key)
    return [str(v) for v in value] if isinstance(value, list) else []


def nomination_rules(subject_id: str, low: int, high: int) -> Any:
    def rules(payload: dict[str, Any]) -> list[str]:
        peers = list(dict.fromkeys(_ids(payload, "peers")))
        problems = []
        if subject_id in peers:
            problems.append("you cannot nominate yourself")
        if not low <= len(peers) <= high:
            problems.append(f"nominate between {low} and {high} peers (got {len(peers)})")
        return problems

    return rules


def approval_rules(subject_id: str) -> Any:
    def rules(payload: dict[str, Any]) -> list[str]:
        if subject_id in _ids(payload, "add"):
            return ["a person cannot review themselves"]
        return []

    return rules


async def _until_done(ctx: ParticipantContext, task: _Task, others: list[_Task]) -> None:
    """Wait for `task`, firing the other open tasks' reminders meanwhile."""
    await ctx.wait(task, *others, stop=lambda: task.status in DONE_STATUSES)


async def run(ctx: ParticipantContext, phase: EvaluationPhase, *, others: list[_Task]) -> None:
    peers = phase.peers or PeerReview()
    employee = ctx.employee_id
    approved: tuple[str, ...] = ()
    nominated: list[str] = []
    record_on: str | None = None
    if wants_peers(phase):
        candidates: list[str] = await ctx.activity(
            ActivityName.PEER_CANDIDATES,
            PeerCandidatesInput(
                cycle_id=ctx.cycle_id, employee_id=employee, limit=max(12, peers.max_peers)
            ),
            list,
        )
        nominator = (
            employee if peers.nominated_by == "employee" else ctx.manager_id or ctx.role_id("hr")
        )
        if candidates and nominator is not None:
            low = min(peers.min_peers, len(candidates))
            nomination = await ctx.open_task(
                phase,
                kind="peer_nomination",
                form_id=phase.forms.nomination or PEER_NOMINATION,
                assignee_id=nominator,
                title="Choose your peer reviewers"
                if nominator == employee
                else f"Choose peer reviewers for {employee}",
                prefill={"peers": candidates[: peers.max_peers]},
                rules=nomination_rules(employee, max(low, 1), peers.max_peers),
            )
            record_on = nomination.spec.task_id
            await _until_done(ctx, nomination, others)
            if ctx.closed(phase.id):
                return
            nominated = _ids(nomination.payload, "peers")
        removed: list[str] = []
        added: list[str] = []
        if nominated and peers.approved_by == "manager" and ctx.manager_id is not None:
            approval = await ctx.open_task(
                phase,
                kind="peer_approval",
                form_id=PEER_APPROVAL,
                assignee_id=ctx.manager_id,
                title=f"Approve peer reviewers for {employee}",
                prefill={"nominated": nominated, "max_peers": peers.max_peers},
                rules=approval_rules(employee),
            )
            record_on = approval.spec.task_id
            await _until_done(ctx, approval, others)
            if ctx.closed(phase.id):
                return
            removed, added = _ids(approval.payload, "remove"), _ids(approval.payload, "add")
        approved = approved_nominations(
            nominated, removed=removed, added=added, subject_id=employee, max_peers=peers.max_peers
        )
    upward = wants_upward(ctx, phase)
    if not approved and not upward:
        return
    assignment: AssignReviewersResult = await ctx.activity(
        ActivityName.ASSIGN_REVIEWERS,
        AssignReviewersInput(
            cycle_id=ctx.cycle_id,
            employee_id=employee,
            requested=approved,
            min_peers=peers.min_peers,
            max_peers=peers.max_peers,
            max_per_reviewer=peers.max_requests_per_reviewer,
            upward=upward,
            record_on_task=record_on,
            at=ctx.clock.now(),
        ),
        AssignReviewersResult,
    )
    decline = BUILTIN_FORMS[DECLINE] if peers.allow_decline else None
    # An overdue anonymous review is escalated to the HRBP, never to the reviewee's
    # manager (who would learn who was asked and has not answered).
    escalation = phase.escalation
    if escalation is not None and escalation.to in ("manager", "skip_level"):
        escalation = escalation.model_copy(update={"to": "hrbp"})
    reviews: list[_Task] = []
    seq = 0

    async def ask(reviewer: str) -> None:
        nonlocal seq
        seq += 1
        assert phase.forms.peer_review is not None
        reviews.append(
            await ctx.open_task(
                phase,
                kind="peer_review",
                form_id=phase.forms.peer_review,
                assignee_id=reviewer,
                title=f"Peer feedback for {employee}",
                seq=seq,
                decline_schema=decline,
                escalation=escalation,
            )
        )

    for reviewer in assignment.peers:
        await ask(reviewer)
    if upward and phase.forms.upward_review is not None:
        for index, report in enumerate(assignment.direct_reports, start=1):
            reviews.append(
                await ctx.open_task(
                    phase,
                    kind="upward_review",
                    form_id=phase.forms.upward_review,
                    assignee_id=report,
                    title=f"Feedback for your manager {employee}",
                    seq=index,
                    escalation=escalation,
                )
            )

    asked = list(assignment.peers)
    declined_by: list[str] = []
    handled: set[str] = set()

    def unhandled() -> list[_Task]:
        return [t for t in reviews if t.spec.task_id not in handled and declined(t)]

    while True:
        for task in unhandled():
            handled.add(task.spec.task_id)
            declined_by.append(task.assignee_id)
            if ctx.closed(phase.id):
                continue
            replacement: str | None = await ctx.activity(
                ActivityName.PROPOSE_REVIEWER,
                ProposeReviewerInput(
                    cycle_id=ctx.cycle_id,
                    employee_id=employee,
                    declined_by=task.assignee_id,
                    reason=str((task.payload or {}).get("reason") or "") or None,
                    declined_task_id=task.spec.task_id,
                    candidates=(*approved, *nominated),
                    asked=tuple(asked),
                    declined=tuple(declined_by),
                    max_per_reviewer=peers.max_requests_per_reviewer,
                    at=ctx.clock.now(),
                ),
                str,
            )
            if replacement is not None:
                asked.append(replacement)
                await ask(replacement)
        pending = [t for t in reviews if t.status not in DONE_STATUSES]
        if not pending:
            return
        await ctx.wait(
            *pending,
            *others,
            stop=lambda: bool(unhandled()) or all(t.status in DONE_STATUSES for t in reviews),
        )
