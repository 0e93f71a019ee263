"""`perfloop org ...`: the embedded HRIS's people, loaded from a CSV or JSON file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from perfloop.cli_output import note, ok, stdout

app = typer.Typer(
    no_args_is_help=True,
    help="The organisation of the embedded HRIS: load people from a file, list them.",
)


@app.command()
def load(
    path: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="A .csv or .json file of people."
        ),
    ],
) -> None:
    """Load (create or update, by employee_id) everyone in PATH into the store.

    The file is checked whole first (every field of every row, duplicate ids, managers
    that do not exist, management cycles); nothing is written unless all of it is valid.
    People already stored but absent from the file are kept: mark leavers with
    `active: false` or `terminated_on`.
    """
    from activities.hris.embedded import load_organisation
    from store.db import masked_url, session_scope

    note(f"database: {masked_url()}")
    with session_scope() as session:
        result = load_organisation(session, path)
    ok(
        f"loaded {result.total} people from {path.name}: {result.created} new, "
        f"{result.updated} updated, {result.unchanged} unchanged"
    )


@app.command("list")
def list_(
    department: Annotated[
        str | None, typer.Option("--department", "-d", help="Only this department.")
    ] = None,
) -> None:
    """List the people in the store (no pay data), ordered by employee id."""
    from activities.hris.embedded import list_employees
    from store.db import session_scope

    with session_scope() as session:
        people = list_employees(session, department=department)
    if not people:
        note("nobody" + (f" in {department}" if department else "") + "; load a file first")
        return
    table = Table(box=None, pad_edge=False)
    for column in ("id", "name", "title", "department", "manager", "location", "type", "hired"):
        table.add_column(column)
    for person in people:
        cells = (
            person.employee_id + ("" if person.active else " (inactive)"),
            person.name,
            person.job_title or "",
            person.department,
            person.manager_id or "",
            person.location or "",
            person.employment_type,
            person.hire_date.isoformat() if person.hire_date else "",
        )
        table.add_row(*(Text(cell) for cell in cells))  # data is never Rich markup
    stdout().print(table)
