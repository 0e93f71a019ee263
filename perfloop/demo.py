"""`perfloop demo`: a whole review cycle for the demo organisation in about a minute and a half.

It starts an ephemeral Temporal dev server and a SQLite store in a temporary folder (or
uses `--address` / `--database-url`), publishes the stock definitions, loads the demo
organisation, runs a worker in-process, and launches `annual-review@1` on an accelerated
clock. Simulated people then do their tasks exactly as the API would have them do it:
they find open tasks in the store's inbox and submit the `submit_task` Update on the
task's workflow, with the idempotency key as the update id. Payloads come from each
form's JSON Schema (`perfloop.fake_forms`), validated before they are sent.

A progress bar per phase follows the cycle's `status` query; at the end a summary is read
from the store: tasks per phase, the rating distribution, the pay proposals and the 9-box.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import shutil
import signal
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table
from rich.text import Text
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from definitions.models import EvaluationPhase, GoalSettingPhase, InterviewPhase
from definitions.pinned import PinnedDefinition
from perfloop.fake_forms import FakeFormError, TaskContext, fill_task
from perfloop.settings import Settings
from workflows.builtin_forms import BUILTIN_FORMS
from workflows.messages import CycleStatus, SubmitTaskInput, SubmitTaskResult, cycle_workflow_id

log = logging.getLogger(__name__)

YEAR_SECONDS = 365.25 * 86_400
DEFAULT_DEMO_SECONDS = 90.0
DEFAULT_SPEED = round(YEAR_SECONDS / DEFAULT_DEMO_SECONDS)
"""Nominal seconds per real second: a one-year cycle in ~90 s (a nominal day is 0.25 s)."""

LEAD_SECONDS = 4.0
"""Real seconds between the launch and the cycle's nominal start: HR launches a little
before the calendar start (about two nominal weeks at the default speed), so snapshotting
and starting everyone is done when the first window opens."""

HR_ADMIN = "E002"
"""Who launches the demo cycle (the demo organisation's VP People)."""

DEMO_OBJECTIVES: tuple[dict[str, Any], ...] = (
    {"id": "org-growth", "title": "Grow recurring revenue by 25%"},
    {"id": "org-customers", "title": "Be the easiest vendor to work with"},
    {"id": "org-people", "title": "Build a team people want to join and stay in"},
)

BENIGN_REFUSALS = frozenset({"TaskNotOpen", "TaskNotFound", "PhaseOver", "CycleOver"})
"""Update refusals that only mean the task moved on before the person got to it."""


@dataclass
class DemoOptions:
    speed: float | None = None
    address: str | None = None
    database_url: str | None = None
    definition: str = "annual-review@1"
    home: Path | None = None
    seed: int = 7
    timeout: float = 300.0
    concurrency: int = 32
    console: Console | None = None


@dataclass
class BotStats:
    submitted: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    raced: int = 0
    problems: list[str] = field(default_factory=list)


# --- the simulated people -----------------------------------------------------------------


class People:
    """Everyone in the demo organisation, doing their tasks.

    Each open task is noticed on the next poll of the inbox, done after a short nominal
    "think time" (so some tasks come in late and reminders fire), and submitted through
    the workflow's `submit_task` Update. A few check-ins are skipped on purpose: people
    miss some, and the cycle must cope.
    """

    def __init__(
        self,
        client: Client,
        sessions: sessionmaker[Session],
        cycle_id: str,
        pinned: PinnedDefinition,
        *,
        speed: float,
        seed: int,
        concurrency: int,
    ) -> None:
        self.client = client
        self.sessions = sessions
        self.cycle_id = cycle_id
        self.pinned = pinned
        self.speed = speed
        self.rng = random.Random(seed)
        self.stats = BotStats()
        self._busy: set[str] = set()
        self._done: set[tuple[str, int]] = set()
        self._limit = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        definition = pinned.definition
        self.goal_phases = {p.id: p for p in definition.phases if isinstance(p, GoalSettingPhase)}
        self.competencies = {
            p.id: [c.id for c in p.competencies]
            for p in definition.phases
            if isinstance(p, EvaluationPhase)
        }
        self.declinable = {
            p.id
            for p in definition.phases
            if isinstance(p, EvaluationPhase) and (p.peers is None or p.peers.allow_decline)
        }
        self.sections = {
            p.id: [s.id for s in p.template]
            for p in definition.phases
            if isinstance(p, InterviewPhase)
        }

    def think_time(self, kind: str) -> float:
        """Real seconds a person takes: most within a nominal day, HR a little longer."""
        nominal_days = self.rng.uniform(0.05, 1.0)
        if kind in ("calibration", "results_approval", "department_objectives"):
            nominal_days = self.rng.uniform(1, 3)
        return nominal_days * 86_400 / self.speed

    async def run(self, stop: asyncio.Event, every: float = 0.15) -> None:
        try:
            while not stop.is_set():
                for task in await asyncio.to_thread(self._open_tasks):
                    key = (task["task_id"], task["revision"])
                    if task["task_id"] in self._busy or key in self._done:
                        continue
                    self._busy.add(task["task_id"])
                    job = asyncio.create_task(self._handle(task))
                    self._tasks.add(job)
                    job.add_done_callback(self._tasks.discard)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), every)
        finally:
            for job in list(self._tasks):
                job.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _open_tasks(self) -> list[dict[str, Any]]:
        from store.models import Task

        with self.sessions() as session:
            rows = session.execute(
                select(
                    Task.task_id,
                    Task.workflow_id,
                    Task.subject_id,
                    Task.assignee_id,
                    Task.phase_id,
                    Task.kind,
                    Task.form_id,
                    Task.prefill,
                    Task.revision,
                    Task.due_at,
                )
                .where(Task.cycle_id == self.cycle_id, Task.status.in_(("open", "overdue")))
                .order_by(Task.opened_at)
            ).all()
        return [dict(row._mapping) for row in rows]

    async def _handle(self, task: dict[str, Any]) -> None:
        task_id = task["task_id"]
        try:
            kind = task["kind"]
            if kind == "checkin" and self.rng.random() < 0.05:
                self.stats.skipped[kind] += 1
                self._done.add((task_id, task["revision"]))
                return
            if kind == "acknowledgment" and self.rng.random() < 0.04:
                self.stats.skipped[kind] += 1
                self._done.add((task_id, task["revision"]))
                return
            await asyncio.sleep(self.think_time(kind))
            async with self._limit:
                payload = await asyncio.to_thread(self._payload, task)
                await self._submit(task, payload)
        except FakeFormError as exc:
            self.stats.problems.append(f"{task_id}: {exc}")
        finally:
            self._busy.discard(task_id)

    def _payload(self, task: Mapping[str, Any]) -> dict[str, Any]:
        form_id = task["form_id"]
        schema = self.pinned.form_schemas.get(form_id) or BUILTIN_FORMS.get(form_id)
        if schema is None:
            raise FakeFormError(f"unknown form {form_id}")
        prefill = task["prefill"] or {}
        kind = task["kind"]
        context = TaskContext(
            kind=kind,
            form_schema=schema,
            subject_id=task["subject_id"],
            prefill=prefill,
            seq=_seq(task["task_id"]),
            today=task["due_at"].date(),
            goal_setting=self.goal_phases.get(task["phase_id"]),
            competencies=self.competencies.get(task["phase_id"], ()),
            sections=self.sections.get(task["phase_id"], ()),
        )
        if kind == "goal_draft":
            context.parent_ids = [str(o["id"]) for o in prefill.get("objectives", ()) if "id" in o]
        elif kind == "department_objectives":
            context.parent_ids = [
                str(o["id"]) for o in prefill.get("org_objectives", ()) if "id" in o
            ] or [str(o["id"]) for o in DEMO_OBJECTIVES]
        elif kind == "calibration":
            context.ratings = {
                str(r["employee_id"]): int(r["rating"])
                for r in prefill.get("ratings", ())
                if r.get("rating") is not None
            }
        elif kind == "checkin":
            context.goal_ids = self._goal_ids(task["subject_id"])
        elif kind == "peer_review":
            context.may_decline = task["phase_id"] in self.declinable
        return fill_task(context, self.rng)

    def _goal_ids(self, employee_id: str) -> list[str]:
        from store.models import Goal

        with self.sessions() as session:
            return list(
                session.scalars(
                    select(Goal.id)
                    .where(Goal.cycle_id == self.cycle_id, Goal.owner_id == employee_id)
                    .order_by(Goal.position)
                )
            )

    async def _submit(self, task: Mapping[str, Any], payload: dict[str, Any]) -> None:
        handle = self.client.get_workflow_handle(task["workflow_id"])
        key = (task["task_id"], task["revision"])
        try:
            await handle.execute_update(
                "submit_task",
                SubmitTaskInput(
                    task_id=task["task_id"], submitter_id=task["assignee_id"], payload=payload
                ),
                id=f"demo:{task['task_id']}:r{task['revision']}",
                result_type=SubmitTaskResult,
            )
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError) and cause.type in BENIGN_REFUSALS:
                self.stats.raced += 1
                self._done.add(key)
                return
            detail = cause.details if isinstance(cause, ApplicationError) else ()
            self.stats.problems.append(f"{task['task_id']}: {exc.cause} {list(detail)[:2]}")
            self._done.add(key)
            return
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                self._done.add(key)
                return
            raise
        self._done.add(key)
        self.stats.submitted[task["kind"]] += 1


def _seq(task_id: str) -> int:
    last = task_id.rsplit("/", 1)[-1]
    head, _, tail = last.rpartition("-")
    return int(tail) if head and tail.isdigit() else 1


# --- progress -----------------------------------------------------------------------------


class PhaseBars:
    """One bar per phase: participants through it (completed or skipped) of all."""

    def __init__(self, pinned: PinnedDefinition) -> None:
        self.progress = Progress(
            TextColumn("{task.description:<28}"),
            BarColumn(bar_width=36),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}", style="dim"),
        )
        self.bars: dict[str, TaskID] = {
            phase.id: self.progress.add_task(
                f"{phase.id} ({phase.kind})", total=None, detail="waiting to open"
            )
            for phase in pinned.definition.phases
        }
        self.header = Text("launching…")

    def renderable(self) -> Group:
        return Group(self.header, self.progress)

    def update(self, status: CycleStatus, stats: BotStats, started: float) -> None:
        progress = status.progress
        participants = progress.participants if progress else 0
        submitted = sum(stats.submitted.values())
        self.header = Text.assemble(
            ("cycle ", "dim"),
            (status.cycle_id, "bold"),
            ("  nominal ", "dim"),
            f"{status.nominal_now:%Y-%m-%d}",
            ("  status ", "dim"),
            status.status,
            ("  participants ", "dim"),
            str(participants),
            ("  tasks done ", "dim"),
            str(submitted),
            ("  elapsed ", "dim"),
            f"{time.monotonic() - started:.0f} s",
        )
        for phase_id, bar in self.bars.items():
            phase = status.phases.get(phase_id, {})
            counts = phase.get("counts") or {}
            through = int(counts.get("completed", 0)) + int(counts.get("skipped", 0))
            active = int(counts.get("active", 0))
            waiting = int(counts.get("waiting", 0))
            detail = "waiting to open"
            if active or waiting or through:
                detail = f"{active} active" + (f", {waiting} at the gate" if waiting else "")
            if participants and through >= participants:
                detail = "done"
            self.progress.update(bar, total=participants or None, completed=through, detail=detail)


# --- the summary --------------------------------------------------------------------------


def summary(sessions: sessionmaker[Session], cycle_id: str, pinned: PinnedDefinition) -> Group:
    from store.models import ResultProposal, Task

    with sessions() as session:
        task_rows = session.execute(
            select(Task.phase_id, Task.status, Task.late, func.count())
            .where(Task.cycle_id == cycle_id)
            .group_by(Task.phase_id, Task.status, Task.late)
        ).all()
        ratings = _final_ratings(session, cycle_id)
        proposals = session.execute(
            select(
                ResultProposal.currency,
                func.count(),
                func.sum(ResultProposal.merit_amount),
                func.sum(ResultProposal.lump_sum),
                func.sum(ResultProposal.bonus),
            )
            .where(ResultProposal.cycle_id == cycle_id)
            .group_by(ResultProposal.currency)
        ).all()
        boxes = Counter(
            box
            for box in session.scalars(
                select(ResultProposal.nine_box).where(ResultProposal.cycle_id == cycle_id)
            )
            if box
        )
        statuses = Counter(
            session.scalars(
                select(ResultProposal.status).where(ResultProposal.cycle_id == cycle_id)
            )
        )

    tasks = Table(title="Tasks per phase", title_justify="left")
    for column in ("phase", "tasks", "submitted", "of them late", "closed / missed", "cancelled"):
        tasks.add_column(column, justify="left" if column == "phase" else "right")
    per_phase: dict[str, Counter[str]] = defaultdict(Counter)
    for phase_id, status, late, count in task_rows:
        per_phase[phase_id][status] += count
        per_phase[phase_id]["total"] += count
        if status == "submitted" and late:
            per_phase[phase_id]["late"] += count
    for phase in pinned.definition.phases:
        counts = per_phase.get(phase.id, Counter())
        tasks.add_row(
            phase.id,
            str(counts["total"]),
            str(counts["submitted"]),
            str(counts["late"]),
            str(counts["closed"] + counts["open"] + counts["overdue"]),
            str(counts["cancelled"]),
        )

    labels = _rating_labels(pinned)
    distribution = Table(title="Final ratings", title_justify="left")
    distribution.add_column("rating")
    distribution.add_column("people", justify="right")
    distribution.add_column("")
    total = sum(ratings.values()) or 1
    for value in sorted(labels, reverse=True):
        count = ratings.get(value, 0)
        distribution.add_row(
            f"{value} {labels[value]}", str(count), "█" * round(40 * count / total)
        )
    if ratings.get(None):
        distribution.add_row("unrated", str(ratings[None]), "")

    pay = Table(title="Pay proposals", title_justify="left")
    for column in ("currency", "people", "merit increases", "lump sums", "bonuses"):
        pay.add_column(column, justify="right")
    for currency, count, merit, lump, bonus in proposals:
        pay.add_row(currency, str(count), _money(merit), _money(lump), _money(bonus))
    if statuses:
        pay.caption = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))

    grid = Table(title="9-box (performance ↑, potential →)", title_justify="left")
    grid.add_column("")
    levels = ("low", "medium", "high")
    for potential in levels:
        grid.add_column(potential, justify="right")
    for performance in reversed(levels):
        grid.add_row(performance, *(str(boxes.get(f"{performance}/{p}", 0)) for p in levels))
    return Group(tasks, Text(""), distribution, Text(""), pay, Text(""), grid)


def _final_ratings(session: Session, cycle_id: str) -> Counter[int | None]:
    from store.models import Rating

    rows = session.execute(
        select(Rating.final_rating, Rating.calibrated_rating, Rating.rating).where(
            Rating.cycle_id == cycle_id
        )
    ).all()
    return Counter(
        final if final is not None else calibrated if calibrated is not None else rating
        for final, calibrated, rating in rows
    )


def _rating_labels(pinned: PinnedDefinition) -> dict[int, str]:
    for phase in pinned.definition.phases:
        if isinstance(phase, EvaluationPhase):
            return {level.value: level.label for level in phase.rating_scale.levels}
    return {value: "" for value in range(1, 6)}


def _money(value: Decimal | None) -> str:
    return f"{value or 0:,.0f}"


# --- the run ------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _temporal(options: DemoOptions, home: Path) -> AsyncIterator[tuple[str, str | None]]:
    """The Temporal address (and its Web UI): the given one, or an ephemeral dev server."""
    if options.address:
        yield options.address, None
        return
    from perfloop.temporal import DevServer, free_port

    server = DevServer(home, port=free_port(), ui_port=free_port())
    await server.start()
    try:
        yield server.address, server.ui_url
    finally:
        await server.stop()


async def run_demo(options: DemoOptions) -> bool:
    """Run the demo; True when the cycle completed.

    Logs (the worker's, Temporal's) go to `demo.log` in the data folder, out of the way of
    the progress display. The data folder is removed afterwards unless it was given
    (`--keep`) or the cycle did not complete (then it is kept for a look, and named).
    """
    console = options.console or Console()
    speed = options.speed or DEFAULT_SPEED
    keep = options.home is not None
    home = options.home or Path(tempfile.mkdtemp(prefix="perfloop-demo-"))
    home.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    completed = False
    handler = _log_to(home / "demo.log")
    try:
        async with _temporal(options, home) as (address, ui):
            settings = Settings(
                home=home,
                database_url=options.database_url,
                temporal_address=address,
                task_queue=f"perfloop-demo-{random.Random().getrandbits(32):08x}",
            )
            console.print(
                Text.assemble(
                    ("perfloop demo", "bold"),
                    f"  {options.definition} at {speed:,.0f}x speed (a nominal day every "
                    f"{86_400 / speed:.2f} s)",
                )
            )
            console.print(Text(f"  data in {home}", style="dim"))
            if ui:
                console.print(Text(f"  Temporal UI {ui}  (watch the workflows live)", style="dim"))
            completed = await _run(options, settings, speed, console, started)
            return completed
    finally:
        from store.db import dispose_engines

        dispose_engines()
        logging.getLogger().removeHandler(handler)
        handler.close()
        if not keep and completed:
            shutil.rmtree(home, ignore_errors=True)
        elif not completed:
            console.print(Text(f"data and logs kept in {home}", style="dim"))


def _log_to(path: Path) -> logging.Handler:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.WARNING)
    logging.getLogger("perfloop").setLevel(logging.INFO)
    return handler


async def _run(
    options: DemoOptions, settings: Settings, speed: float, console: Console, started: float
) -> bool:
    from perfloop.cycles import resolve_pinned, start_cycle
    from perfloop.dev import prepare_store
    from perfloop.temporal import connect, ensure_search_attributes
    from perfloop.worker import build_worker, release_worker
    from store.db import session_factory, session_scope

    url = settings.effective_database_url
    published, people = await asyncio.to_thread(prepare_store, settings)
    sessions = session_factory(url)
    client = await connect(settings)
    await ensure_search_attributes(client)
    with session_scope(url) as session:
        pinned = resolve_pinned(session, options.definition)
    console.print(
        Text(
            f"  store ready: {people or 'existing'} people, {len(published)} definitions published",
            style="dim",
        )
    )
    worker = build_worker(
        client, settings, session_factory=sessions, graceful_shutdown=timedelta(seconds=5)
    )
    stop = asyncio.Event()
    interrupted = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupted.set)
    worker_task = asyncio.create_task(worker.run(), name="worker")
    bot_task: asyncio.Task[None] | None = None
    outcome: CycleStatus | None = None
    bars = PhaseBars(pinned)
    people_sim: People | None = None
    try:
        with session_scope(url) as session:
            cycle_id = await start_cycle(
                client,
                session,
                options.definition,
                speed=speed,
                launched_by=HR_ADMIN,
                org_objectives=DEMO_OBJECTIVES,
                task_queue=settings.task_queue,
                options=demo_cycle_options(speed),
                real_start=datetime.now(UTC) + timedelta(seconds=LEAD_SECONDS),
            )
        people_sim = People(
            client,
            sessions,
            cycle_id,
            pinned,
            speed=speed,
            seed=options.seed,
            concurrency=options.concurrency,
        )
        bot_task = asyncio.create_task(people_sim.run(stop), name="people")
        handle = client.get_workflow_handle(cycle_workflow_id(cycle_id), result_type=CycleStatus)
        result = asyncio.create_task(handle.result())
        deadline = started + options.timeout
        with Live(bars.renderable(), console=console, refresh_per_second=4) as live:
            while not result.done():
                if worker_task.done():
                    raise RuntimeError("the worker stopped") from worker_task.exception()
                if time.monotonic() > deadline or interrupted.is_set():
                    break
                with contextlib.suppress(RPCError, TimeoutError, Exception):
                    status = await asyncio.wait_for(
                        handle.query("status", result_type=CycleStatus), 2.0
                    )
                    bars.update(status, people_sim.stats, started)
                    live.update(bars.renderable())
                await asyncio.wait({result}, timeout=0.5)
            if result.done() and result.exception() is None:
                outcome = result.result()
                bars.update(outcome, people_sim.stats, started)
                live.update(bars.renderable())
        if not console.is_terminal:
            console.print()  # a non-terminal gets the last frame without a line end
        if not result.done():
            result.cancel()
    finally:
        stop.set()
        if bot_task is not None:
            await bot_task
        await worker.shutdown()
        release_worker(worker)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    if interrupted.is_set():
        raise KeyboardInterrupt
    elapsed = time.monotonic() - started
    assert people_sim is not None
    stats = people_sim.stats
    for problem in stats.problems[:10]:
        console.print(Text(f"problem: {problem}", style="yellow"))
    if len(stats.problems) > 10:
        console.print(Text(f"... and {len(stats.problems) - 10} more problems", style="yellow"))
    if outcome is None:
        console.print(Text(f"the cycle did not finish in {options.timeout:.0f} s", style="red"))
        return False
    console.print()
    console.print(summary(sessions, outcome.cycle_id, pinned))
    console.print(
        Text(
            f"\n{sum(stats.submitted.values())} tasks submitted by simulated people "
            f"({', '.join(f'{n} {k}' for k, n in stats.submitted.most_common())}); "
            f"{sum(stats.skipped.values())} left undone on purpose, {stats.raced} overtaken",
            style="dim",
        )
    )
    completed = outcome.status == "completed"
    console.print(
        Text(
            f"cycle {outcome.cycle_id} {outcome.status} in {elapsed:.0f} s",
            style="bold green" if completed else "bold red",
        )
    )
    return completed


def demo_cycle_options(speed: float) -> dict[str, Any]:
    """Cycle polling tuned for an accelerated clock: the cycle looks at its read model
    about every half second of real time (a nominal day at the default speed), so gates
    open promptly without flooding its history."""
    real_poll = 0.5
    nominal = timedelta(seconds=max(60.0, real_poll * speed))
    return {
        "poll_every": _iso_duration(nominal),
        "min_poll_seconds": real_poll,
        "launch_batch_size": 100,
    }


def _iso_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    text = "P" + (f"{days}D" if days else "")
    time_part = "".join(
        f"{value}{unit}" for value, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if value
    )
    return text + ("T" + time_part if time_part else "") if text != "P" or time_part else "PT0S"
