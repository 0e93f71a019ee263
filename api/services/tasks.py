"""One task: reading it with its form, and submitting it to its workflow.

The store's task row (the read model) says where a task lives (`workflow_id`); the
workflow decides. A submission is the workflow's `submit_task` Update, whose validator
checks the payload against the form's JSON Schema, the task's state and the submitter
before anything is recorded; the API answers once the workflow has accepted it (the
Update, payload and all, is then in the workflow's history). The workflow records the
submission in the store a moment later; the API marks the task row submitted before it
answers, so the submitter reading their inbox or the task never sees it open again.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Executable, Table, or_, select, update
from sqlalchemy.orm import Session
from temporalio.client import Client

from api.errors import ApiError, NotFound, ServiceUnavailable
from api.idempotency import InlineKey, json_response
from api.metrics import SUBMIT_STEP
from api.permissions import MANAGERS, Access, relations
from api.schemas.tasks import FormPublic, TaskDetail, TaskPublic, TaskSubmitted
from api.services import audit
from api.services.forms import FormCatalog
from api.services.hints import task_hints
from api.services.idempotency import CLAIM_IF_ABSENT
from store.base import utc_now
from store.models import Task
from store.monitoring import OPEN_TASK_STATUSES
from store.together import Prepared, as_one_statement, bound, execute_together, is_postgres
from workflows.messages import SubmitTaskInput, SubmitTaskResult

SUBMIT_UPDATE = "submit_task"
ANONYMOUS_TASKS = frozenset({"peer_review", "upward_review"})
"""Review tasks whose assignee (the reviewer) is anonymous to the reviewee and their
managers, and shown to nobody but the assignee without an HR admin's stated reason."""
SUBMIT_TIMEOUT = timedelta(seconds=30)
"""How long a submission waits for the workflow before answering 503 (retry it with the
same Idempotency-Key: it is applied at most once)."""


T = TypeVar("T")

_TASKS = cast("Table", Task.__table__)
# The submit route's statements, built once (see store.together): plain Core on the
# table, without the ORM's loading or bulk machinery.
READ_FOR_SUBMIT = select(
    _TASKS.c.task_id,
    _TASKS.c.workflow_id,
    _TASKS.c.kind,
    _TASKS.c.subject_id,
    _TASKS.c.assignee_id,
).where(_TASKS.c.task_id == bound(_TASKS.c.task_id, "task_id"))
_CLAIM = CLAIM_IF_ABSENT.cte("claim")
# PostgreSQL, a key's first use: its claim and the task read in one statement. The claim
# row joins the task row, or nothing when there is no such task (a 404, stored like any
# answer); no row at all means the key was there already.
CLAIM_AND_READ = select(_CLAIM.c.id, *READ_FOR_SUBMIT.selected_columns).select_from(
    _CLAIM.outerjoin(_TASKS, _TASKS.c.task_id == bound(_TASKS.c.task_id, "task_id"))
)
MARK_SUBMITTED = (
    update(_TASKS)
    .where(
        _TASKS.c.task_id == bound(_TASKS.c.task_id, "mark_task_id"),
        _TASKS.c.revision < bound(_TASKS.c.revision, "mark_revision"),
        # Equalities rather than IN: an IN list is expanded into the SQL on every run.
        or_(*(_TASKS.c.status == status for status in OPEN_TASK_STATUSES)),
    )
    .values(
        status="submitted",
        submitted_at=bound(_TASKS.c.submitted_at, "mark_submitted_at"),
        submitted_by=bound(_TASKS.c.submitted_by, "mark_submitted_by"),
        late=bound(_TASKS.c.late, "mark_late"),
        # Explicitly: a CTE part gets no Python-side onupdate.
        updated_at=bound(_TASKS.c.updated_at, "mark_updated_at"),
    )
)


@dataclass(frozen=True, slots=True)
class SubmitTarget:
    """What a submission reads of its task row."""

    task_id: str
    workflow_id: str
    kind: str
    subject_id: str
    assignee_id: str


class SessionRunner(Protocol):
    """Runs `work(session)` in a session of its own, in autocommit on PostgreSQL, without
    blocking the event loop; with `durable=False` its commits do not wait for the disk
    (`api.state.Store.run_autocommit`). On PostgreSQL it also sends a statement built at
    import straight to the driver (`fetch_on_driver`)."""

    @property
    def on_driver(self) -> bool: ...

    async def run_autocommit(self, work: Callable[[Session], T], *, durable: bool = True) -> T: ...

    async def fetch_on_driver(
        self, statement: Executable, values: Mapping[str, Any], *, durable: bool = True
    ) -> tuple[Any, ...] | None: ...


def not_found(task_id: str) -> NotFound:
    return NotFound(f"no task {task_id}", type="TaskNotFound")


def find_task(session: Session, task_id: str) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise not_found(task_id)
    return task


def authorised_task(session: Session, access: Access, task_id: str) -> Task:
    """The task, if the declared permission lets the caller at it: 404 exactly as for a
    missing task when they may not see it, 403 when they may see it but not act on it."""
    task = find_task(session, task_id)
    access.require(session, task.subject_id, task=task, not_found=not_found(task_id))
    return task


def task_detail(session: Session, forms: FormCatalog, access: Access, task_id: str) -> TaskDetail:
    """The task with its form: for its assignee, the HRBP of its subject's department and
    HR admins. Reading a review, minutes, rating or pay task is audited."""
    task = authorised_task(session, access, task_id)
    schema = forms.schema(session, task.cycle_id, task.form_id)
    action = audit.task_action(task.kind, "read")
    if action is not None:
        _audit_task(session, access, task, action)
        session.commit()
    base = TaskPublic.model_validate(task)
    if task.kind in ANONYMOUS_TASKS and task.assignee_id != access.user.subject:
        base = base.model_copy(update={"assignee_id": _reviewer_shown(session, access, task)})
    return TaskDetail(
        **base.model_dump(),
        form=FormPublic(id=task.form_id, json_schema=schema),
        ui=task_hints(session, forms.definition(session, task.cycle_id), task),
        prefill=dict(task.prefill or {}),
        payload=dict(task.payload) if task.payload is not None else None,
    )


def _reviewer_shown(session: Session, access: Access, task: Task) -> str | None:
    """Who holds an anonymous review task, for someone other than its assignee: only an HR
    admin who states why (`X-Perfloop-Reason`) and is not the person reviewed; audited."""
    user = access.user
    if not user.is_hr_admin or access.reason is None or task.subject_id == user.subject:
        return None
    if relations(session, user, task.subject_id, wanted=MANAGERS):
        return None  # an HR admin who manages the person reviewed is their manager here
    audit.record(
        session,
        access,
        "reviewer.reveal",
        resource_type="task",
        resource_id=task.task_id,
        subject_id=task.subject_id,
    )
    session.commit()
    return task.assignee_id


def submission_update_id(task_id: str, submitter_id: str, idempotency_key: str | None) -> str:
    """The Update id, which Temporal deduplicates within a workflow run.

    Scoped by task and submitter: one workflow holds tasks of several people, and one
    person's key must never replay another's submission.
    """
    key = idempotency_key or uuid.uuid4().hex
    return f"submit:{task_id}:{submitter_id}:{key}"


async def submit_task(
    store: SessionRunner,
    client: Client,
    access: Access,
    task_id: str,
    payload: dict[str, Any],
    *,
    idempotency: InlineKey | None = None,
) -> TaskSubmitted:
    """Submit the caller's task; a review, minutes, rating or pay submission is audited
    once the workflow has accepted it.

    The store is met twice, once on each side of the Update: the Idempotency-Key claimed
    and the task read, then the task's mark, audit entry and stored answer together. On
    PostgreSQL that is two statements when the key is new, each committing on its own,
    built once at import and sent on psycopg's own connections (`Store.fetch_on_driver`).

    Neither commit waits for the disk unless it holds an audit entry (`durable=False`):
    a retry with the same key redoes whatever a PostgreSQL crash loses of them (why, in
    api/README.md).
    """
    user = access.user
    began = time.perf_counter()
    task = None
    seen_before = False
    if store.on_driver:
        task = await _claim_and_read_on_driver(store, access, task_id, idempotency)
        seen_before = task is None
    if task is None:
        task = await store.run_autocommit(
            partial(
                _claim_and_read,
                access=access,
                task_id=task_id,
                idempotency=idempotency,
                joined=not seen_before,
            ),
            durable=False,
        )
    read = time.perf_counter()
    SUBMIT_STEP.labels("store_before").observe(read - began)
    handle = client.get_workflow_handle(task.workflow_id)
    request = SubmitTaskInput(task_id=task_id, submitter_id=user.subject, payload=payload)
    key = idempotency.key if idempotency is not None else None
    try:
        async with asyncio.timeout(SUBMIT_TIMEOUT.total_seconds()):
            result: SubmitTaskResult = await handle.execute_update(
                SUBMIT_UPDATE,
                request,
                id=submission_update_id(task_id, user.subject, key),
                result_type=SubmitTaskResult,
            )
    except TimeoutError:
        advice = (
            "retry with the same Idempotency-Key"
            if key
            else "check the task before retrying, or send an Idempotency-Key"
        )
        raise ServiceUnavailable(
            f"the workflow did not answer in time; {advice}", type="EngineTimeout"
        ) from None
    accepted = time.perf_counter()
    SUBMIT_STEP.labels("engine").observe(accepted - read)
    answer = TaskSubmitted(
        task_id=result.task_id,
        status=result.status,
        late=result.late,
        accepted_at=result.accepted_at,
    )
    action = audit.task_action(task.kind, "submit")
    writes = _closing_writes(access, task, result, action, idempotency, answer)
    if writes and store.on_driver:
        together = as_one_statement(writes)
        await store.fetch_on_driver(together.statement, together.params, durable=action is not None)
    elif writes:
        await store.run_autocommit(partial(_execute_and_commit, writes=writes))
    if idempotency is not None:
        idempotency.stored()
    SUBMIT_STEP.labels("store_after").observe(time.perf_counter() - accepted)
    return answer


def _claim_and_read(
    session: Session,
    *,
    access: Access,
    task_id: str,
    idempotency: InlineKey | None,
    joined: bool = True,
) -> SubmitTarget:
    """The Idempotency-Key's claim, then the caller's task, ended before the route waits
    on the workflow: a session in a transaction holds a pooled connection, and fifty
    people submitting at once would hold the whole pool for as long as their Updates take
    (the rest then time out waiting for one).

    The claim holds whatever the read finds (a 404 is stored and replays like any
    answer). On PostgreSQL `_claim_and_read_on_driver` does this in one round trip, and
    comes here with `joined=False` for a key it found there already; a key seen before,
    or SQLite, takes two.
    The read takes the five columns a submission needs, without the ORM's loading (a
    task's prefill can be large)."""
    row = _claim_then_read(session, task_id, idempotency, joined=joined)
    try:
        if row is None:
            raise not_found(task_id)
        task = SubmitTarget(*row)
        access.require(session, task.subject_id, task=task, not_found=not_found(task_id))
    except ApiError:
        session.commit()
        raise
    session.commit()
    return task


def _claim_then_read(
    session: Session, task_id: str, idempotency: InlineKey | None, *, joined: bool = True
) -> Sequence[Any] | None:
    """The key's claim (raising its replay, 409 or 422), then the task's row or None;
    `joined=False` when `CLAIM_AND_READ` already found the key there."""
    if idempotency is not None and joined and is_postgres(session):
        parameters = {**idempotency.claim_parameters(), "task_id": task_id}
        row = session.execute(CLAIM_AND_READ, parameters).one_or_none()
        if row is not None:  # a new key: claimed, and the task read with it
            idempotency.claimed(row[0])
            return None if row[1] is None else row[1:]
    if idempotency is not None:
        idempotency.claim_in(session)
    return session.execute(READ_FOR_SUBMIT, {"task_id": task_id}).one_or_none()


async def _claim_and_read_on_driver(
    store: SessionRunner, access: Access, task_id: str, idempotency: InlineKey | None
) -> SubmitTarget | None:
    """`_claim_and_read` on PostgreSQL, in one statement on the driver; None when the key
    was there already (its replay, 409 or 422 is the session path's to tell). A caller
    whom the task row alone does not allow (`Access.allowed_by_task`: not its assignee)
    is looked up in a session, as `_claim_and_read` does."""
    if idempotency is None:
        row = await store.fetch_on_driver(READ_FOR_SUBMIT, {"task_id": task_id}, durable=False)
    else:
        claimed = await store.fetch_on_driver(
            CLAIM_AND_READ, {**idempotency.claim_parameters(), "task_id": task_id}, durable=False
        )
        if claimed is None:
            return None
        idempotency.claimed(claimed[0])
        row = None if claimed[1] is None else claimed[1:]
    if row is None:
        raise not_found(task_id)
    task = SubmitTarget(*row)
    if not access.allowed_by_task(task.subject_id, task):
        await store.run_autocommit(
            partial(_require_access, access=access, task=task, task_id=task_id), durable=False
        )
    return task


def _require_access(session: Session, *, access: Access, task: SubmitTarget, task_id: str) -> None:
    access.require(session, task.subject_id, task=task, not_found=not_found(task_id))


def _closing_writes(
    access: Access,
    task: SubmitTarget,
    result: SubmitTaskResult,
    action: str | None,
    idempotency: InlineKey | None,
    answer: TaskSubmitted,
) -> list[Prepared]:
    """Together (one statement on PostgreSQL): the task row marked submitted (unless the
    workflow's own write, or a later reopening, got there first), the audit entry of a
    sensitive kind, and the answer stored for the Idempotency-Key."""
    writes: list[Prepared] = []
    if result.revision is not None:
        writes.append(
            Prepared(
                MARK_SUBMITTED,
                {
                    "mark_task_id": task.task_id,
                    "mark_revision": result.revision,
                    "mark_submitted_at": result.accepted_at,
                    "mark_submitted_by": access.user.subject,
                    "mark_late": result.late,
                    "mark_updated_at": utc_now(),
                },
            )
        )
    if action is not None:
        writes.append(
            audit.insert_write(
                access,
                action,
                resource_type="task",
                resource_id=task.task_id,
                subject_id=task.subject_id,
            )
        )
    if idempotency is not None:
        writes.append(idempotency.answer_write(json_response(answer)))
    return writes


def _execute_and_commit(session: Session, *, writes: list[Prepared]) -> None:
    execute_together(session, writes)
    session.commit()


def _audit_task(session: Session, access: Access, task: Task, action: str) -> None:
    audit.record(
        session,
        access,
        action,
        resource_type="task",
        resource_id=task.task_id,
        subject_id=task.subject_id,
    )
