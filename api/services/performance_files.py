"""The performance file: one person's records across cycles as one list, newest first.

Entries come from the record tables (`store/models/records.py`, `goals.py`,
`results.py`): goals and every change of them (the goal change log), check-ins,
reviews about the person, ratings, calibration changes, interview minutes,
acknowledgments, result proposals and talent decisions, plus the timeline events no
record stands for
(`MIRRORED_EVENTS` are left out: their record is the entry). The list is one SQL
`UNION ALL` of (kind, key, at) over those tables, paged by keyset on (at, kind, key), so
a page costs the same however long the file is; the page's rows are then loaded by id.

Who sees what (the route's permission is `performance-files:read`):

- the person, their managers up the chain, the HRBP of their department, HR admins;
  anyone else gets the 404 an unknown employee gets;
- result entries (merit, bonus) and talent decisions only with `employees:read-pay`:
  never managers;
- the author of a peer or upward review only with `performance-files:read-reviewers`
  (HR admins), and never when the HR admin is the person or one of their managers. The
  review's task id is withheld too: it names the task its author holds.

Every read is audited: one `performance-file.read` row, and one `<category>.read` row
(`review`, `rating`, `minutes`, `pay`) per sensitive category the page showed, so the
trail filtered by action finds these reads as it finds a task's.

The export (`export_performance_file`) is the whole file at once, grouped by cycle and
oldest first within each, for the same readers with the same redactions; it is audited
as `performance-file.export` plus the categories it holds. `api/services/
performance_file_page.py` renders it as a printable HTML page.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, get_args

from sqlalchemy import ColumnElement, Select, String, and_, cast, literal, or_, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import func, type_coerce

from activities import evaluation, evaluation_store
from activities.evaluation import EntryView
from api.errors import Unprocessable
from api.pagination import DEFAULT_PAGE, decode_cursor, encode_cursor, page_size
from api.permissions import MANAGERS, Access, Relation
from api.schemas.performance_files import (
    EntryKind,
    PerformanceFileCycle,
    PerformanceFileEntry,
    PerformanceFileExport,
    PerformanceFilePage,
)
from api.services import audit
from api.services.employees import find_employee, not_found
from store.base import UTCDateTime, utc_now
from store.models import (
    Acknowledgment,
    CalibrationChange,
    CheckIn,
    Goal,
    GoalChange,
    InterviewMinutes,
    PerformanceEvent,
    Rating,
    ResultProposal,
    Review,
    TalentDecision,
    Task,
)

ENTRY_KINDS: tuple[EntryKind, ...] = get_args(EntryKind)
PAY_KINDS = frozenset({"result", "talent"})
"""Entries shown only with `employees:read-pay` (talent decisions go out with the pay
results, to the same readers)."""
ANONYMOUS_REVIEWS = frozenset({"peer", "upward"})
CATEGORIES: dict[str, str] = {
    "review": "review",
    "rating": "rating",
    "calibration": "rating",
    "minutes": "minutes",
    "acknowledgment": "minutes",
    "result": "pay",
    "talent": "pay",
}
"""Entry kinds that carry reviews, ratings, minutes or pay: the audit action's first half."""
MIRRORED_EVENTS = frozenset(
    {
        "goal_draft",
        "checkin",
        "self_review",
        "manager_review",
        "peer_review",
        "upward_review",
        "interview_minutes",
        "acknowledgment",
        "rating_calibrated",
        "results_approved",
    }
)
"""Timeline events written alongside a record that is its own entry. Leaving them out
also keeps a peer review's event (which names its submitter) out of the file."""
REVIEW_TITLES = {
    "self": "Self-review",
    "manager": "Manager review",
    "peer": "Peer feedback",
    "upward": "Upward feedback",
}
CURSOR_KEYS = ("at", "kind", "key")
EntryRows = Select[str, str, datetime]
"""(kind, key, at) of one record table."""
KEY_LENGTH = 64
EXPORT_BATCH = 500
"""Rows per query when the export walks the whole file."""
GOAL_CHANGE_TITLES = {
    "created": "Goal drafted",
    "changed": "Goal changed",
    "status": "Goal status changed",
    "dropped": "Goal dropped",
    "assigned": "Goal assigned",
    "realign": "Goal re-aligned",
}
TALENT_TITLES = {
    "develop": "Talent decision: develop",
    "promote": "Talent decision: promote",
    "retain": "Talent decision: retain",
    "key_position": "Talent decision: key position",
}


# --- which rows, in which order ------------------------------------------------------------


def _branch(kind: EntryKind, key: Any, at: Any, cycle: Any, cycle_id: str | None) -> EntryRows:
    """One table's (kind, key, at), the same column types for every table."""
    query = select(
        cast(literal(kind), String(16)).label("kind"),
        cast(key, String(KEY_LENGTH)).label("key"),
        type_coerce(at, UTCDateTime()).label("at"),
    )
    return query.where(cycle == cycle_id) if cycle_id is not None else query


def _branches(subject: str, kinds: Sequence[EntryKind], cycle_id: str | None) -> list[EntryRows]:
    wanted = set(kinds)
    branches: list[EntryRows] = []
    if "goal" in wanted:
        # A goal is placed at its draft's submission (its row changes with every check-in).
        branches.append(
            _branch(
                "goal",
                Goal.id,
                func.coalesce(Task.submitted_at, Goal.updated_at),
                Goal.cycle_id,
                cycle_id,
            )
            .select_from(Goal)
            .outerjoin(Task, Task.task_id == Goal.task_id)
            .where(Goal.owner_id == subject)
        )
    simple: list[tuple[EntryKind, Any, Any, Any]] = [
        ("goal_change", GoalChange, GoalChange.at, GoalChange.owner_id),
        ("checkin", CheckIn, CheckIn.at, CheckIn.employee_id),
        ("review", Review, Review.at, Review.subject_id),
        ("rating", Rating, Rating.updated_at, Rating.employee_id),
        ("calibration", CalibrationChange, CalibrationChange.at, CalibrationChange.employee_id),
        ("minutes", InterviewMinutes, InterviewMinutes.at, InterviewMinutes.employee_id),
        ("acknowledgment", Acknowledgment, Acknowledgment.at, Acknowledgment.employee_id),
        ("result", ResultProposal, ResultProposal.updated_at, ResultProposal.employee_id),
        ("talent", TalentDecision, TalentDecision.at, TalentDecision.employee_id),
    ]
    for kind, model, at, person in simple:
        if kind in wanted:
            branches.append(
                _branch(kind, model.id, at, model.cycle_id, cycle_id).where(person == subject)
            )
    if "event" in wanted:
        branches.append(
            _branch(
                "event",
                PerformanceEvent.id,
                PerformanceEvent.at,
                PerformanceEvent.cycle_id,
                cycle_id,
            ).where(
                PerformanceEvent.employee_id == subject,
                PerformanceEvent.kind.not_in(sorted(MIRRORED_EVENTS)),
            )
        )
    return branches


def _after(cursor: str) -> tuple[datetime, str, str]:
    values = decode_cursor(cursor, CURSOR_KEYS)
    kind, key = values["kind"], values["key"]
    try:
        at = datetime.fromisoformat(str(values["at"]))
    except ValueError:
        raise Unprocessable("the cursor is damaged", type="InvalidCursor") from None
    if at.tzinfo is None or kind not in ENTRY_KINDS or not isinstance(key, str):
        raise Unprocessable("the cursor is damaged", type="InvalidCursor")
    return at, kind, key


# --- what each row shows -------------------------------------------------------------------


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _goal(row: Goal) -> dict[str, Any]:
    return {
        "task_id": row.task_id,
        "summary": row.title,
        "author_id": row.owner_id,
        "data": {
            "goal_id": row.id,
            "title": row.title,
            "description": row.description,
            "type": row.type,
            "weight": row.weight,
            "parent_id": row.parent_id,
            "target": dict(row.target or {}),
            "status": row.status,
            "progress": row.progress,
            "confidence": row.confidence,
        },
    }


def _goal_change(row: GoalChange) -> dict[str, Any]:
    summary = GOAL_CHANGE_TITLES.get(row.action, "Goal changed")
    if row.status != "applied":
        summary = f"{summary} ({row.status})"
    return {
        "task_id": row.task_id,
        "summary": summary,
        "author_id": row.changed_by,
        "data": {
            "goal_id": row.goal_id,
            "action": row.action,
            "changes": dict(row.changes or {}),
            "reason": row.reason,
            "status": row.status,
            "decided_by": row.decided_by,
            "decided_at": row.decided_at.isoformat() if row.decided_at else None,
            "decision_comment": row.decision_comment,
        },
    }


def _talent(row: TalentDecision) -> dict[str, Any]:
    return {
        "task_id": row.task_id,
        "summary": TALENT_TITLES.get(row.decision, "Talent decision"),
        "author_id": row.decided_by,
        "data": {"decision": row.decision, "position": row.position, "note": row.note},
    }


def _checkin(row: CheckIn) -> dict[str, Any]:
    return {
        "task_id": row.task_id,
        "summary": "Check-in",
        "author_id": row.employee_id,
        "data": dict(row.payload or {}),
    }


def _review(row: Review) -> dict[str, Any]:
    return {
        "task_id": row.task_id,
        "summary": REVIEW_TITLES.get(row.kind, "Review"),
        "author_id": row.reviewer_id,
        "anonymous": row.kind in ANONYMOUS_REVIEWS,
        "data": {
            "review_kind": row.kind,
            "ratings": dict(row.ratings or {}),
            "overall": row.overall,
            "comments": dict(row.comments or {}),
        },
    }


def _rating(row: Rating) -> dict[str, Any]:
    final = row.final_rating if row.final_rating is not None else row.rating
    label = f" ({row.label})" if row.label else ""
    return {
        "task_id": None,
        "summary": f"Rated {final}{label}" if final is not None else "Not rated",
        "author_id": row.calibrated_by,
        "data": {
            "score": row.score,
            "rating": row.rating,
            "label": row.label,
            "sources": dict(row.sources or {}),
            "calibrated_rating": row.calibrated_rating,
            "calibration_reason": row.calibration_reason,
            "final_rating": row.final_rating,
        },
    }


def _calibration(row: CalibrationChange) -> dict[str, Any]:
    return {
        "task_id": row.task_id,
        "summary": f"Rating changed in calibration from {row.from_rating} to {row.to_rating}",
        "author_id": row.calibrator_id,
        "data": {
            "from_rating": row.from_rating,
            "to_rating": row.to_rating,
            "reason": row.reason,
            "group": row.group,
        },
    }


def _minutes(row: InterviewMinutes) -> dict[str, Any]:
    return {
        "task_id": row.task_id,
        "summary": "Performance conversation recorded",
        "author_id": row.recorded_by,
        "data": {
            "sections": dict(row.sections or {}),
            "strengths": row.strengths,
            "development_areas": row.development_areas,
            "action_items": list(row.action_items or []),
            "agreed_next_goals": list(row.agreed_next_goals or []),
        },
    }


def _acknowledgment(row: Acknowledgment) -> dict[str, Any]:
    return {
        "task_id": row.task_id,
        "summary": (
            "Acknowledged the conversation minutes"
            if row.decision == "acknowledge"
            else "Disagreed with the conversation minutes"
        ),
        "author_id": row.employee_id,
        "data": {"decision": row.decision, "comment": row.comment},
    }


def _result(row: ResultProposal) -> dict[str, Any]:
    return {
        "task_id": None,
        "summary": f"Results {row.status}",
        "author_id": None,
        "data": {
            "status": row.status,
            "rating": row.rating,
            "currency": row.currency,
            "merit_percent": _money(row.merit_percent),
            "merit_amount": _money(row.merit_amount),
            "lump_sum": _money(row.lump_sum),
            "bonus": _money(row.bonus),
            "nine_box": row.nine_box,
            "flags": list(row.flags or []),
        },
    }


def _event(row: PerformanceEvent) -> dict[str, Any]:
    data = dict(row.data or {})
    author = data.pop("submitted_by", None)
    return {
        "task_id": row.ref,
        "summary": row.summary,
        "author_id": author if isinstance(author, str) else None,
        "data": {"event": row.kind, **data},
    }


LOADERS: dict[EntryKind, tuple[Any, Callable[[Any], dict[str, Any]]]] = {
    "goal": (Goal, _goal),
    "goal_change": (GoalChange, _goal_change),
    "checkin": (CheckIn, _checkin),
    "review": (Review, _review),
    "rating": (Rating, _rating),
    "calibration": (CalibrationChange, _calibration),
    "minutes": (InterviewMinutes, _minutes),
    "acknowledgment": (Acknowledgment, _acknowledgment),
    "result": (ResultProposal, _result),
    "talent": (TalentDecision, _talent),
    "event": (PerformanceEvent, _event),
}


def _load(
    session: Session, keys: dict[EntryKind, list[str]]
) -> dict[tuple[str, str], tuple[str | None, dict[str, Any]]]:
    """Each wanted row's cycle and shown fields, by (kind, key)."""
    loaded: dict[tuple[str, str], tuple[str | None, dict[str, Any]]] = {}
    for kind, wanted in keys.items():
        model, show = LOADERS[kind]
        ids: list[Any] = wanted if kind == "goal" else [int(key) for key in wanted]
        for row in session.scalars(select(model).where(model.id.in_(ids))):
            loaded[(kind, str(row.id))] = (row.cycle_id, show(row))
    return loaded


def reveals_reviewers(access: Access, found: frozenset[Relation]) -> bool:
    """Whether anonymous reviews show their author: an HR admin's privilege, but never to
    the person reviewed or their managers, whatever roles they also hold."""
    if found & (MANAGERS | {Relation.SELF}):
        return False
    return access.grants("performance-files:read-reviewers", found)


def _anonymous_views(
    session: Session,
    employee_id: str,
    cycle_id: str | None,
    cache: dict[str | None, dict[int, EntryView | None]],
) -> dict[int, EntryView | None]:
    """How each of a person's reviews in one cycle may be shown to someone who may not
    learn its author: its rater group's thresholds decide, computed over all the cycle's
    reviews of the person (never over a page or a filter) by the rules scoring uses."""
    if cycle_id in cache:
        return cache[cycle_id]
    rows = session.scalars(
        select(Review)
        .where(Review.subject_id == employee_id, Review.cycle_id == cycle_id)
        .order_by(Review.at, Review.id)
    ).all()
    phase = (
        evaluation_store.evaluation_phase(evaluation_store.definition_of(session, cycle_id))
        if cycle_id is not None
        else None
    )
    anonymity = phase.anonymity if phase is not None else {}
    shown = evaluation.entry_views([evaluation.review_in(row) for row in rows], anonymity)
    cache[cycle_id] = {row.id: view for row, view in zip(rows, shown, strict=True)}
    return cache[cycle_id]


# --- reading -----------------------------------------------------------------------------


class _Reader:
    """What one caller may see of one person's file: checked once, then used per batch."""

    def __init__(
        self, session: Session, access: Access, employee_id: str, kinds: Sequence[EntryKind]
    ) -> None:
        find_employee(session, employee_id)
        found = access.check(session, employee_id, not_found=not_found(employee_id))
        pay = access.grants("employees:read-pay", found)
        self.session = session
        self.access = access
        self.employee_id = employee_id
        self.reveal = reveals_reviewers(access, found)
        self.kinds = list(
            dict.fromkeys(
                kind
                for kind in (kinds or ENTRY_KINDS)
                if kind in ENTRY_KINDS and (pay or kind not in PAY_KINDS)
            )
        )
        self.views: dict[str | None, dict[int, EntryView | None]] = {}

    def rows(self, cycle_id: str | None, size: int, cursor: str | None) -> Sequence[Any]:
        """Up to `size + 1` (kind, key, at) rows after `cursor`, newest first."""
        branches = _branches(self.employee_id, self.kinds, cycle_id)
        if not branches:
            return []
        entries = union_all(*branches).subquery("entries")
        at, kind, key = entries.c.at, entries.c.kind, entries.c.key
        query = select(kind, key, at)
        if cursor:
            last_at, last_kind, last_key = _after(cursor)
            condition: ColumnElement[bool] = or_(
                at < last_at,
                and_(
                    at == last_at,
                    or_(kind < last_kind, and_(kind == last_kind, key < last_key)),
                ),
            )
            query = query.where(condition)
        return self.session.execute(
            query.order_by(at.desc(), kind.desc(), key.desc()).limit(size + 1)
        ).all()

    def entries(self, page: Sequence[Any]) -> list[PerformanceFileEntry]:
        """The rows as entries, with what this caller may not see left out."""
        session = self.session
        keys: dict[EntryKind, list[str]] = defaultdict(list)
        for row in page:
            keys[row.kind].append(row.key)
        loaded = _load(session, keys)
        task_ids = {shown["task_id"] for _, shown in loaded.values() if shown["task_id"]}
        phases: dict[str, str] = {
            task: phase
            for task, phase in session.execute(
                select(Task.task_id, Task.phase_id).where(Task.task_id.in_(task_ids))
            )
        }
        items: list[PerformanceFileEntry] = []
        for row in page:
            if (row.kind, row.key) not in loaded:
                continue  # deleted between the two queries
            cycle, shown = loaded[(row.kind, row.key)]
            task_id = shown["task_id"]
            entry = PerformanceFileEntry(
                id=f"{row.kind}:{row.key}",
                kind=row.kind,
                cycle_id=cycle,
                phase_id=phases.get(task_id) if task_id else None,
                task_id=task_id,
                at=row.at,
                summary=shown["summary"],
                author_id=shown["author_id"],
                anonymous=shown.get("anonymous", False),
                data=shown["data"],
            )
            if entry.anonymous and not self.reveal:
                view = _anonymous_views(session, self.employee_id, cycle, self.views).get(
                    int(row.key)
                )
                shown_data = view.redact(entry.data) if view else {"withheld": "not shown"}
                entry = entry.model_copy(
                    update={
                        "author_id": None,
                        "task_id": None,
                        "phase_id": None,
                        "summary": REVIEW_TITLES[shown_data["review_kind"]]
                        if "review_kind" in shown_data
                        else entry.summary,
                        "data": shown_data,
                    }
                )
            items.append(entry)
        return items

    def audit(self, action: str, items: Sequence[PerformanceFileEntry]) -> None:
        """`action` once, and `<category>.read` once per sensitive category shown."""
        actions = [action] + [
            f"{category}.read"
            for category in sorted({CATEGORIES[e.kind] for e in items if e.kind in CATEGORIES})
        ]
        for each in actions:
            audit.record(
                self.session,
                self.access,
                each,
                resource_type="performance-file",
                resource_id=self.employee_id,
                subject_id=self.employee_id,
            )


# --- the routes ----------------------------------------------------------------------------


def performance_file(
    session: Session,
    access: Access,
    employee_id: str,
    *,
    cycle_id: str | None = None,
    kinds: Sequence[EntryKind] | None = None,
    limit: int = DEFAULT_PAGE,
    cursor: str | None = None,
) -> PerformanceFilePage:
    """One page of `employee_id`'s file, newest first; audited."""
    reader = _Reader(session, access, employee_id, kinds or ())
    size = page_size(limit)
    rows = reader.rows(cycle_id, size, cursor)
    page = rows[:size]
    next_cursor = None
    if len(rows) > size:
        last = page[-1]
        next_cursor = encode_cursor({"at": last.at.isoformat(), "kind": last.kind, "key": last.key})
    items = reader.entries(page)
    reader.audit("performance-file.read", items)
    session.commit()
    return PerformanceFilePage(employee_id=employee_id, items=items, next_cursor=next_cursor)


def export_performance_file(
    session: Session, access: Access, employee_id: str
) -> PerformanceFileExport:
    """The whole file, by cycle, each cycle oldest first: the same entries and redactions
    as the pages, audited as one `performance-file.export` (and one `<category>.read` per
    sensitive category it holds)."""
    reader = _Reader(session, access, employee_id, ())
    newest_first: list[PerformanceFileEntry] = []
    cursor: str | None = None
    while True:
        rows = reader.rows(None, EXPORT_BATCH, cursor)
        batch = rows[:EXPORT_BATCH]
        newest_first.extend(reader.entries(batch))
        if len(rows) <= EXPORT_BATCH:
            break
        last = batch[-1]
        cursor = encode_cursor({"at": last.at.isoformat(), "kind": last.kind, "key": last.key})
    by_cycle: dict[str | None, list[PerformanceFileEntry]] = {}
    for entry in reversed(newest_first):
        by_cycle.setdefault(entry.cycle_id, []).append(entry)
    # Cycles in the order they began (their oldest entry); entries of no cycle last.
    order = sorted(by_cycle, key=lambda cycle: (cycle is None, by_cycle[cycle][0].at))
    reader.audit("performance-file.export", newest_first)
    employee = find_employee(session, employee_id)
    export = PerformanceFileExport(
        employee_id=employee_id,
        employee_name=employee.name,
        generated_at=utc_now(),
        exported_by=access.user.subject,
        cycles=[PerformanceFileCycle(cycle_id=cycle, items=by_cycle[cycle]) for cycle in order],
    )
    session.commit()
    return export
