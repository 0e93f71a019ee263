"""`perfloop definitions ...`: validate, publish and inspect cycle definitions.

Validation needs no database. Every other command migrates the store first (a no-op when
it is up to date), so a fresh install works without a separate setup step.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text
from sqlalchemy.orm import Session

from definitions.errors import DefinitionError, PerfloopError
from perfloop.cli_output import error, fail, note, ok, stdout

if TYPE_CHECKING:
    from definitions.loader import LoadedDefinition

app = typer.Typer(no_args_is_help=True, help="Cycle definitions: validate, publish, inspect.")

YAML_SUFFIXES = (".yaml", ".yml")


class SchemaOutOfDateError(PerfloopError):
    """The checked-in JSON Schema no longer matches the models."""


def expand_paths(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """Files to load (folders searched recursively for YAML) and one message per bad path."""
    files: list[Path] = []
    problems: list[str] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file())
            if not found:
                problems.append(f"{path}: no .yaml files in this folder")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(f"{path}: no such file or folder")
    return files, problems


def load_all(paths: list[Path]) -> tuple[list[LoadedDefinition], int]:
    """Load every file, printing a ✓ line per valid file and every problem of the others.

    Returns the loaded definitions and the number of failures (bad paths included).
    """
    from definitions.loader import load_file

    files, path_problems = expand_paths(paths)
    for message in path_problems:
        fail(message)
    loaded: list[LoadedDefinition] = []
    failures = len(path_problems)
    for file in files:
        try:
            definition = load_file(file)
        except DefinitionError as exc:
            failures += 1
            for problem in exc.problems:
                fail(str(problem))
            continue
        loaded.append(definition)
        ok(f"{file}: {definition.ref} is valid")
    return loaded, failures


@contextmanager
def _store() -> Iterator[Session]:
    """A session on the configured store, migrated to head first."""
    from store.db import session_scope
    from store.migrate import upgrade

    upgrade()
    with session_scope() as session:
        yield session


def _default_publisher() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


@app.command()
def validate(
    paths: Annotated[list[Path], typer.Argument(help="Definition files, or folders to search.")],
) -> None:
    """Check definition files; print every problem as `file:line:col path: message`."""
    loaded, failures = load_all(paths)
    if failures:
        note(f"{len(loaded)} valid, {failures} invalid")
        raise typer.Exit(1)


@app.command()
def publish(
    paths: Annotated[list[Path], typer.Argument(help="Definition files, or folders to search.")],
    by: Annotated[
        str | None,
        typer.Option("--by", help="Who publishes (recorded); default: the current user."),
    ] = None,
) -> None:
    """Publish definitions as immutable `name@version` entries in the store.

    All or nothing: if any file is invalid or conflicts with a published version, nothing
    is published. Publishing identical content again is a no-op.
    """
    from definitions.registry import publish as publish_one

    loaded, failures = load_all(paths)
    if failures:
        error(f"{failures} file(s) invalid; nothing published")
        raise typer.Exit(1)
    publisher = by or _default_publisher()
    with _store() as session:
        results = [publish_one(session, item, published_by=publisher) for item in loaded]
    for result in results:
        line = f"{result.ref} {result.status} (sha256 {result.sha256[:12]})"
        if result.status == "published":
            ok(line)
        else:
            stdout().print(Text.assemble(("= ", "bold"), line))


@app.command("list")
def list_(
    name: Annotated[str | None, typer.Argument(help="Only this definition's versions.")] = None,
    active: Annotated[bool, typer.Option("--active", help="Hide deprecated versions.")] = False,
) -> None:
    """List published versions."""
    from definitions.registry import SHA_PREFIX, list_versions

    with _store() as session:
        rows = list_versions(session, name, include_deprecated=not active)
    if not rows:
        note("no published definitions" + (f" named {name}" if name else ""))
        return
    table = Table()
    for header in ("name", "version", "sha256", "published (UTC)", "by"):
        table.add_column(header, no_wrap=True)
    table.add_column("deprecated")
    for row in rows:
        deprecated = ""
        if row.deprecated_at is not None:
            deprecated = f"{_when(row.deprecated_at)}: {row.deprecation_reason or ''}"
        table.add_row(
            row.name,
            str(row.version),
            row.sha256[:SHA_PREFIX],
            _when(row.published_at),
            row.published_by or "",
            Text(deprecated, style="yellow"),
        )
    stdout().print(table)


@app.command()
def show(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION or NAME@latest.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of YAML.")] = False,
    source: Annotated[
        bool, typer.Option("--source", help="The YAML exactly as published.")
    ] = False,
) -> None:
    """Print a published version's canonical content (what cycles pin)."""
    from definitions.registry import canonical_json, get_version, render_canonical

    with _store() as session:
        row = get_version(session, ref)
    if source:
        text = row.source_text
    elif as_json:
        text = canonical_json(row.canonical)
    else:
        text = render_canonical(row.canonical)
    typer.echo(text, nl=not text.endswith("\n"))


@app.command()
def diff(
    ref_a: Annotated[str, typer.Argument(help="NAME@VERSION (the old one).")],
    ref_b: Annotated[str, typer.Argument(help="NAME@VERSION (the new one).")],
) -> None:
    """Compare two published versions: a summary, then a unified diff."""
    from definitions.registry import diff as diff_versions

    with _store() as session:
        text = diff_versions(session, ref_a, ref_b)
    console = stdout()
    for line in text.splitlines():
        style = ""
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        elif line.startswith("@@"):
            style = "cyan"
        console.print(Text(line, style=style))


@app.command()
def deprecate(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION to deprecate.")],
    reason: Annotated[str, typer.Option("--reason", help="Why; shown to whoever looks it up.")],
) -> None:
    """Deprecate a version: `NAME@latest` skips it; cycles already running are unaffected."""
    from definitions.registry import deprecate as deprecate_version

    with _store() as session:
        row = deprecate_version(session, ref, reason)
    ok(f"{row.ref} deprecated since {_when(row.deprecated_at)} UTC: {row.deprecation_reason}")


@app.command()
def schema(
    write: Annotated[
        bool, typer.Option("--write", help="Write it to the package's schema file.")
    ] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 if the schema file is stale.")
    ] = False,
    path: Annotated[
        Path | None,
        typer.Option("--path", help="The schema file (default: the package's)."),
    ] = None,
) -> None:
    """Print the JSON Schema of cycle definitions (for editor autocompletion)."""
    from definitions.schema import SCHEMA_PATH, render_schema, write_schema

    target = path or SCHEMA_PATH
    text = render_schema()
    if check:
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        if current != text:
            raise SchemaOutOfDateError(
                f"{target} is out of date; run `perfloop definitions schema --write`"
            )
        ok(f"{target} is up to date")
    elif write:
        ok(f"wrote {write_schema(target)}")
    else:
        typer.echo(text, nl=False)
