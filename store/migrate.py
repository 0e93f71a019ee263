"""Alembic, configured in code: no `alembic.ini` to find, so it works from an installed package.

`upgrade()` is idempotent and cheap when the database is already at head, which is why
commands that need the schema (`perfloop definitions publish`, `perfloop dev`) simply call
it first. Engineers adding a model generate the next migration with `revision()` (or
`perfloop db revision -m "..."`), which numbers it `NNNN_<slug>` and formats it with ruff.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from store.db import build_engine, resolve_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_NUMBERED = re.compile(r"^(\d{4})_")


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config for `url` (default: the configured database).

    The URL travels in `config.attributes` rather than the ini-style options, where `%`
    in a password would be taken for interpolation.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("version_locations", str(MIGRATIONS_DIR / "versions"))
    config.set_main_option("path_separator", "os")
    config.set_main_option("file_template", "%%(rev)s")
    config.attributes["database_url"] = resolve_url(url)
    config.set_section_option("post_write_hooks", "hooks", "ruff_format, ruff_check")
    for hook, options in (
        ("ruff_check", "check --fix --quiet REVISION_SCRIPT_FILENAME"),
        ("ruff_format", "format --quiet REVISION_SCRIPT_FILENAME"),
    ):
        config.set_section_option("post_write_hooks", f"{hook}.type", "module")
        config.set_section_option("post_write_hooks", f"{hook}.module", "ruff")
        config.set_section_option("post_write_hooks", f"{hook}.options", options)
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Bring the database at `url` (default: the configured one) up to `revision`.

    Processes that start together (API, workers) may all call this at once: they take
    turns, through an advisory lock on PostgreSQL (see `migrations/env.py`) and a lock
    file beside the database on SQLite, and the later ones find the schema at head.
    """
    config = alembic_config(url)
    with _sqlite_file_lock(config.attributes["database_url"]):
        command.upgrade(config, revision)


@contextmanager
def _sqlite_file_lock(url: str) -> Iterator[None]:
    sa_url = make_url(url)
    database = sa_url.database
    if sa_url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        yield
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: one process migrates at a time anyway
        yield
        return
    lock_path = Path(database).expanduser().with_name(Path(database).name + ".migrate-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def downgrade(url: str | None, revision: str) -> None:
    """Take the database at `url` down to `revision` ("base" drops every table)."""
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    """The revision the code expects the database to be at."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(url: str | None = None) -> str | None:
    """The revision the database at `url` is at; None for an empty database."""
    engine = build_engine(resolve_url(url))
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def revision(message: str, *, autogenerate: bool = True, url: str | None = None) -> Path:
    """Write the next migration file, compared against `url` when autogenerating.

    The database must be at head first (so the diff is only your change); the new file is
    named `NNNN_<slug>.py` with revision id `NNNN_<slug>`, keeping history readable.
    """
    config = alembic_config(url)
    script = ScriptDirectory.from_config(config)
    numbers = [int(r.revision[:4]) for r in script.walk_revisions() if _NUMBERED.match(r.revision)]
    slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")[:40] or "revision"
    rev_id = f"{max(numbers, default=0) + 1:04d}_{slug}"
    result = command.revision(config, message=message, autogenerate=autogenerate, rev_id=rev_id)
    scripts = result if isinstance(result, list) else [result]
    written = [s for s in scripts if s is not None]
    return Path(written[0].path)
