"""The `perfloop` command line: one Typer app, one sub-app per area.

Each area lives in `perfloop/cli_<area>.py` with its own `app = typer.Typer()`, and is
registered below with one `add_typer` line. Errors a user can act on (`PerfloopError`,
an unreachable database) are printed here once, as one clean message with exit status 1;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import Annotated, Any, NoReturn

import typer
from sqlalchemy.exc import OperationalError
from typer.core import TyperGroup

from definitions.errors import PerfloopError
from perfloop import __version__, cli_cycles, cli_db, cli_definitions, cli_org, cli_run, cli_token
from perfloop.cli_output import error


class PerfloopGroup(TyperGroup):
    """The root command group: turns documented errors into a message and exit 1.

    Sub-apps are invoked from within the root group's `invoke`, so catching here covers
    every command, including ones other modules add later.
    """

    def invoke(self, ctx: Any) -> Any:  # typer's (vendored) click Context type is private
        try:
            return super().invoke(ctx)
        except PerfloopError as exc:
            error(str(exc))
            raise typer.Exit(1) from None
        except OperationalError as exc:
            from store.db import masked_url

            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            error(f"cannot use the database at {masked_url()}: {reason}")
            raise typer.Exit(1) from None


app = typer.Typer(
    name="perfloop",
    cls=PerfloopGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="Closed-loop performance management: versioned review cycles run as Temporal workflows.",
)
app.add_typer(cli_db.app, name="db")
app.add_typer(cli_definitions.app, name="definitions")
app.add_typer(cli_cycles.app, name="cycles")
app.add_typer(cli_org.app, name="org")
app.add_typer(cli_run.app)  # top-level commands: worker, api, dev, demo
app.command("token")(cli_token.token)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"perfloop {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_show_version, help="Print the version."),
    ] = False,
) -> None:
    """Closed-loop performance management: versioned review cycles run as Temporal workflows.

    Settings come from PERFLOOP_* environment variables (see `perfloop.settings`).
    """


def main() -> None:
    """Console-script entry point (`perfloop`).

    A process that used a Temporal client ends with `os._exit` once its output is flushed:
    the SDK's native threads can otherwise abort the interpreter while it finalizes
    ("PyGILState_Release: thread state ... must be current", temporalio/sdk-python#300),
    turning a clean exit status into 134.
    """
    try:
        app()
    except SystemExit as done:
        from perfloop.temporal import runtime_started

        if not runtime_started():
            raise
        code = done.code
        status = code if isinstance(code, int) else (0 if code is None else 1)
        if code is not None and not isinstance(code, int):
            print(code, file=sys.stderr)
        _hard_exit(status)


def _hard_exit(status: int) -> NoReturn:
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)
