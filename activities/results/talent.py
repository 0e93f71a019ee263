"""Talent decisions HR records with a group's results: develop, promote, retain, key
position, each with who decided.

They come with the results approval (`talent_decisions` in its form, whether HR approves
or returns): one row per person and decision, keyed by the task, so a re-submission of
the same task replaces that task's decisions and a retried write changes nothing. Only
people with a result proposal in the approving group can be decided about; other entries
are ignored (and counted).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from store.models.records import ResultProposal
from store.models.results import TALENT_DECISIONS, TalentDecision

DECISION_FORM_ITEM: dict[str, Any] = {
    "type": "object",
    "title": "Talent decision",
    "additionalProperties": False,
    "required": ["employee_id", "decision"],
    "properties": {
        "employee_id": {
            "type": "string",
            "minLength": 1,
            "maxLength": 64,
            "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$",
            "title": "Employee",
        },
        "decision": {"enum": list(TALENT_DECISIONS), "title": "Decision"},
        "position": {"type": "string", "minLength": 1, "maxLength": 200, "title": "Position"},
        "note": {"type": "string", "minLength": 1, "maxLength": 2000, "title": "Note"},
    },
}
"""One entry of the `talent_decisions` array of the results approval forms."""


def record_talent_decisions(
    session: Session,
    *,
    cycle_id: str,
    group: str,
    task_id: str,
    decided_by: str,
    at: datetime,
    entries: Any,
) -> tuple[int, int]:
    """Replace the task's decisions with `entries`; (recorded, ignored)."""
    if not isinstance(entries, list):
        return 0, 0
    members = set(
        session.scalars(
            select(ResultProposal.employee_id).where(
                ResultProposal.cycle_id == cycle_id, ResultProposal.group == group
            )
        )
    )
    session.execute(delete(TalentDecision).where(TalentDecision.task_id == task_id))
    seen: set[tuple[str, str]] = set()
    recorded = ignored = 0
    for entry in entries:
        if not isinstance(entry, dict):
            ignored += 1
            continue
        employee_id, decision = entry.get("employee_id"), entry.get("decision")
        if (
            employee_id not in members
            or decision not in TALENT_DECISIONS
            or (str(employee_id), str(decision)) in seen
        ):
            ignored += 1
            continue
        seen.add((str(employee_id), str(decision)))
        position, note = entry.get("position"), entry.get("note")
        session.add(
            TalentDecision(
                cycle_id=cycle_id,
                employee_id=str(employee_id),
                group=group,
                decision=str(decision),
                position=str(position)[:200] if position else None,
                note=str(note) if note else None,
                decided_by=decided_by,
                task_id=task_id,
                at=at,
            )
        )
        recorded += 1
    session.flush()
    return recorded, ignored


def decisions_by_person(
    session: Session, cycle_id: str, group: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The cycle's decisions (one group's, given one) per person, oldest first."""
    query = select(TalentDecision).where(TalentDecision.cycle_id == cycle_id)
    if group is not None:
        query = query.where(TalentDecision.group == group)
    result: dict[str, list[dict[str, Any]]] = {}
    for row in session.scalars(query.order_by(TalentDecision.at, TalentDecision.id)):
        result.setdefault(row.employee_id, []).append(
            {
                "decision": row.decision,
                "position": row.position,
                "note": row.note,
                "decided_by": row.decided_by,
                "at": row.at.isoformat(),
            }
        )
    return result


def talent_decisions_prefill(session: Session, cycle_id: str, group: str) -> list[dict[str, Any]]:
    """The group's recorded decisions as the approval form's `talent_decisions` entries,
    so a returned and re-opened approval starts from them."""
    entries = []
    for row in session.scalars(
        select(TalentDecision)
        .where(TalentDecision.cycle_id == cycle_id, TalentDecision.group == group)
        .order_by(TalentDecision.employee_id, TalentDecision.id)
    ):
        entry: dict[str, Any] = {"employee_id": row.employee_id, "decision": row.decision}
        if row.position:
            entry["position"] = row.position
        if row.note:
            entry["note"] = row.note
        entries.append(entry)
    return entries
