"""Progress pushed by project tools: validate, store once, move the goal.

The signature was verified before this runs (`api.signatures`). The body is parsed here,
from the very bytes that were signed; anything malformed is a 422 and nothing is stored.
The person (and the cycle and goal, when named) must exist. `(source, event_id)` is
unique in the store, so a replayed delivery answers `duplicate` and changes nothing, even
when two deliveries race. A `progress` event also sets the goal's progress, so the team
dashboard shows it at once.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.errors import Unprocessable
from api.schemas.progress_events import ProgressEventIn, ProgressEventReceipt
from api.signatures import SignedRequest
from store.models import Cycle, Employee, Goal, ProgressEvent
from store.upsert import insert_if_absent


def parse(signed: SignedRequest) -> ProgressEventIn:
    try:
        return ProgressEventIn.model_validate_json(signed.body)
    except ValidationError as exc:
        errors = [
            {
                "path": "/" + "/".join(str(p) for p in error["loc"]),
                "message": error["msg"],
            }
            for error in exc.errors(include_input=False, include_url=False)[:20]
        ]
        raise Unprocessable(
            "the progress event does not match its schema",
            type="InvalidRequest",
            details={"errors": errors},
        ) from None


def _refuse(path: str, message: str) -> Unprocessable:
    return Unprocessable(
        message, type="UnknownReference", details={"errors": [{"path": path, "message": message}]}
    )


def ingest(session: Session, signed: SignedRequest) -> tuple[ProgressEventReceipt, bool]:
    """Store the event; (receipt, True) when it is new."""
    event = parse(signed)
    if session.get(Employee, event.employee_id) is None:
        raise _refuse("/employee_id", f"no employee {event.employee_id}")
    if event.cycle_id is not None and session.get(Cycle, event.cycle_id) is None:
        raise _refuse("/cycle_id", f"no cycle {event.cycle_id}")
    goal: Goal | None = None
    if event.goal_id is not None:
        goal = session.get(Goal, event.goal_id)
        if goal is None or goal.owner_id != event.employee_id:
            raise _refuse("/goal_id", f"no goal {event.goal_id} of {event.employee_id}")
        if event.cycle_id is not None and goal.cycle_id != event.cycle_id:
            raise _refuse("/goal_id", f"goal {event.goal_id} is not in cycle {event.cycle_id}")
    values: dict[str, Any] = {
        "source_id": event.source,
        "event_id": event.event_id,
        "employee_id": event.employee_id,
        "cycle_id": event.cycle_id or (goal.cycle_id if goal is not None else None),
        "goal_id": event.goal_id,
        "kind": event.kind,
        "title": event.title or (event.milestone.title if event.milestone else None),
        "progress": event.progress,
        "occurred_at": event.occurred_at,
        "data": {"signed_at": signed.timestamp},
    }
    if event.milestone is not None:
        values |= {
            "milestone_id": event.milestone.id,
            "due_on": event.milestone.due_on,
            "achieved": event.milestone.achieved,
        }
    stored = insert_if_absent(session, ProgressEvent, values, ["source_id", "event_id"])
    if stored and goal is not None and event.progress is not None:
        goal.progress = event.progress
    session.commit()
    receipt = ProgressEventReceipt(
        event_id=event.event_id, source=event.source, status="stored" if stored else "duplicate"
    )
    return receipt, stored
