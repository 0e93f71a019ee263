"""`perfloop cycles ...`: launch a cycle, watch it, list them, cancel one.

These talk to Temporal (PERFLOOP_TEMPORAL_ADDRESS; `perfloop dev` runs one) and, to
resolve a definition, to the store. The same service functions back the API.
"""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text
from temporalio.client import Client

from perfloop.cli_output import note, ok, stdout
from workflows.messages import CycleStatus

app = typer.Typer(no_args_is_help=True, help="Review cycles: start, watch, list, cancel.")

T = TypeVar("T")

PHASE_COLUMNS = ("pending", "active", "waiting", "completed", "skipped")


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def with_client(work: Callable[[Client], Awaitable[T]]) -> T:
    """Run `work` with a client for the configured server, in a fresh event loop."""
    from perfloop.settings import get_settings
    from perfloop.temporal import connect

    async def main() -> T:
        client = await connect(get_settings())
        return await work(client)

    return asyncio.run(main())


@app.command()
def start(
    ref: Annotated[
        str, typer.Argument(help="NAME@VERSION (or NAME@latest) of a published definition.")
    ],
    cycle_id: Annotated[
        str | None, typer.Option("--id", help="Cycle id; default NAME-YEAR-<random>.")
    ] = None,
    start_date: Annotated[
        datetime | None,
        typer.Option(
            "--start",
            formats=["%Y-%m-%d"],
            help="Nominal start date; default the definition's calendar.start.",
        ),
    ] = None,
    speed: Annotated[
        float,
        typer.Option(
            "--speed",
            min=0.0,
            help="Clock scale: nominal seconds per real second (1 = real time; 350000 runs "
            "a year in about 90 s).",
        ),
    ] = 1.0,
    by: Annotated[
        str | None, typer.Option("--by", help="Who launches (employee id); HR fallback.")
    ] = None,
    objectives: Annotated[
        Path | None,
        typer.Option(
            "--objectives",
            exists=True,
            dir_okay=False,
            help="JSON file with the company objectives: a list of objects.",
        ),
    ] = None,
) -> None:
    """Start a cycle of a published definition for its whole population."""
    from perfloop.cycles import start_cycle
    from store.db import session_scope
    from store.migrate import upgrade

    org_objectives: list[dict[str, Any]] = []
    if objectives is not None:
        loaded = json.loads(objectives.read_text(encoding="utf-8"))
        if not isinstance(loaded, list) or not all(isinstance(item, dict) for item in loaded):
            raise typer.BadParameter("the objectives file must hold a JSON list of objects")
        org_objectives = loaded
    upgrade()

    async def work(client: Client) -> str:
        with session_scope() as session:
            return await start_cycle(
                client,
                session,
                ref,
                cycle_id=cycle_id,
                start=start_date.date() if start_date else None,
                speed=speed,
                launched_by=by,
                org_objectives=org_objectives,
            )

    started = with_client(work)
    ok(f"started cycle {started}")
    note(f"watch it with `perfloop cycles status {started}`")


@app.command()
def status(
    cycle_id: Annotated[str, typer.Argument(help="The cycle id.")],
    as_json: Annotated[bool, typer.Option("--json", help="The raw status as JSON.")] = False,
) -> None:
    """A cycle's phases with per-phase counts, its gates and open group tasks."""
    from perfloop.cycles import cycle_status

    result = with_client(lambda client: cycle_status(client, cycle_id))
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    stdout().print(render_status(result))


def render_status(status: CycleStatus) -> Group:
    """The status as a header line, a phase table and the open group tasks."""
    progress = status.progress
    header = Text.assemble(
        (status.cycle_id, "bold"),
        f"  {status.definition_ref}  ",
        (status.status, "green" if status.status in ("running", "completed") else "yellow"),
        f"  nominal now {status.nominal_now:%Y-%m-%d %H:%M}",
    )
    if progress is not None:
        header.append(
            f"  participants {progress.participants}, active {progress.active}, "
            f"finished {progress.finished}"
        )
    table = Table(title=None, show_edge=False)
    table.add_column("phase", no_wrap=True)
    table.add_column("kind")
    table.add_column("opens")
    table.add_column("due")
    for column in PHASE_COLUMNS:
        table.add_column(column, justify="right")
    table.add_column("")
    for phase_id, phase in status.phases.items():
        counts = phase.get("counts") or {}
        table.add_row(
            phase_id,
            str(phase.get("kind", "")),
            _day(phase.get("opens")),
            _day(phase.get("due")),
            *(str(counts.get(column, 0)) for column in PHASE_COLUMNS),
            Text("closed", style="yellow") if phase.get("closed") else "",
        )
    parts: list[Any] = [header, table]
    if status.open_group_tasks:
        tasks = Table(title="open group tasks", show_edge=False)
        for column in ("task", "assignee", "status", "due"):
            tasks.add_column(column)
        for task in status.open_group_tasks:
            tasks.add_row(task.task_id, task.assignee_id, task.status, f"{task.due_at:%Y-%m-%d}")
        parts.append(tasks)
    if status.gates_released:
        parts.append(Text("gates released: " + ", ".join(status.gates_released), style="dim"))
    return Group(*parts)


def _day(value: Any) -> str:
    if not value:
        return ""
    try:
        return date.fromisoformat(str(value)[:10]).isoformat()
    except ValueError:
        return str(value)


@app.command("list")
def list_(
    definition: Annotated[
        str | None, typer.Option("--definition", help="Only cycles of this NAME@VERSION.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 50,
) -> None:
    """Cycles known to Temporal, newest first."""
    from perfloop.cycles import list_cycles

    cycles = with_client(lambda client: list_cycles(client, definition=definition, limit=limit))
    if not cycles:
        note("no cycles")
        return
    table = Table()
    for column in ("cycle", "definition", "phase", "status", "started (UTC)", "closed (UTC)"):
        table.add_column(column, overflow="fold")
    for cycle in cycles:
        table.add_row(
            cycle.cycle_id,
            cycle.definition_ref or "",
            cycle.phase or "",
            cycle.status,
            f"{cycle.started_at:%Y-%m-%d %H:%M}" if cycle.started_at else "",
            f"{cycle.closed_at:%Y-%m-%d %H:%M}" if cycle.closed_at else "",
        )
    stdout().print(table)


@app.command()
def cancel(
    cycle_id: Annotated[str, typer.Argument(help="The cycle id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why; recorded on every task.")],
    by: Annotated[str | None, typer.Option("--by", help="Who cancels.")] = None,
) -> None:
    """Cancel a running cycle: withdraw every participant and cancel open tasks."""
    from perfloop.cycles import cancel_cycle

    result = with_client(
        lambda client: cancel_cycle(client, cycle_id, reason=reason, requested_by=by or _user())
    )
    ok(f"{cycle_id}: {result.detail} ({result.affected} participants withdrawn)")
