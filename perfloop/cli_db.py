"""`perfloop db ...`: the store's schema, migrated with Alembic."""

from __future__ import annotations

from typing import Annotated

import typer

from perfloop.cli_output import note, ok

app = typer.Typer(no_args_is_help=True, help="The store's database: migrate and inspect it.")


@app.command()
def upgrade(
    revision: Annotated[str, typer.Option(help="Alembic revision to migrate to.")] = "head",
) -> None:
    """Migrate the configured database (PERFLOOP_DATABASE_URL, or the SQLite file) to head.

    Safe to run at every start: an up-to-date database is left as it is.
    """
    from store import migrate
    from store.db import masked_url

    url = masked_url()
    note(f"database: {url}")
    migrate.upgrade(revision=revision)
    ok(f"{url} is at revision {migrate.current_revision()}")


@app.command()
def current() -> None:
    """Print the revision the configured database is at, and the one the code expects."""
    from store import migrate
    from store.db import masked_url

    head = migrate.head_revision()
    at = migrate.current_revision()
    state = "up to date" if at == head else "needs `perfloop db upgrade`"
    typer.echo(f"{masked_url()}: at {at or 'nothing (empty database)'}, head {head} ({state})")


@app.command()
def revision(
    message: Annotated[str, typer.Option("--message", "-m", help="What the migration does.")],
    empty: Annotated[
        bool, typer.Option(help="Write an empty migration instead of comparing.")
    ] = False,
) -> None:
    """For developers: write the next migration by comparing the models with the database.

    Upgrade the database first, so that the new migration holds only your change.
    """
    from store import migrate

    path = migrate.revision(message, autogenerate=not empty)
    ok(f"wrote {path}; read it before committing")
