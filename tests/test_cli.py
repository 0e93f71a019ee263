"""The `perfloop` command line: exit codes, messages, and no tracebacks for user errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from perfloop.cli import app
from tests.samples import cycle_yaml, write_cycle


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})


def run(runner: CliRunner, *args: str | Path) -> Result:
    return runner.invoke(app, [str(arg) for arg in args])


def assert_clean_exit(result: Result, code: int) -> None:
    """The command ended with `code` through a normal exit, not an escaping exception."""
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output


def test_version(runner: CliRunner) -> None:
    result = run(runner, "--version")

    assert_clean_exit(result, 0)
    assert result.stdout.startswith("perfloop ")


def test_no_arguments_shows_help(runner: CliRunner) -> None:
    result = run(runner)

    assert "definitions" in result.output
    assert "db" in result.output


# --- validate ---------------------------------------------------------------------


def test_validate_a_valid_file(runner: CliRunner, tmp_path: Path) -> None:
    path = write_cycle(tmp_path)

    result = run(runner, "definitions", "validate", path)

    assert_clean_exit(result, 0)
    assert f"✓ {path}: tiny-review@1 is valid" in result.stdout


def test_validate_reports_every_problem_with_its_location(
    runner: CliRunner, tmp_path: Path
) -> None:
    text = cycle_yaml().replace("kind: Cycle", "kind: Cycle\nfrobnicate: 1", 1)
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace("title: Tiny review", "title: 12"), encoding="utf-8")

    result = run(runner, "definitions", "validate", path)

    assert_clean_exit(result, 1)
    line_no = text.splitlines().index("frobnicate: 1") + 1
    lines = [line for line in result.stdout.splitlines() if line.startswith("✗ ")]
    assert any(f"bad.yaml:{line_no}:1 frobnicate: unknown key" in line for line in lines), lines
    assert any(" metadata.title: " in line for line in lines), lines
    assert "1 invalid" in result.stderr


def test_validate_a_missing_path_is_a_clean_error(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"

    result = run(runner, "definitions", "validate", missing)

    assert_clean_exit(result, 1)
    assert f"✗ {missing}: no such file or folder" in result.stdout


def test_validate_a_folder_recurses_and_fails_if_any_file_fails(
    runner: CliRunner, tmp_path: Path
) -> None:
    write_cycle(tmp_path, "alpha-review", 1)
    write_cycle(tmp_path, "beta-review", 2)
    (tmp_path / "cycles" / "broken.yaml").write_text("apiVersion: [", encoding="utf-8")

    result = run(runner, "definitions", "validate", tmp_path)

    assert_clean_exit(result, 1)
    assert "alpha-review@1 is valid" in result.stdout
    assert "beta-review@2 is valid" in result.stdout
    assert "broken.yaml" in result.stdout
    assert "2 valid, 1 invalid" in result.stderr


def test_validate_an_empty_folder_fails(runner: CliRunner, tmp_path: Path) -> None:
    result = run(runner, "definitions", "validate", tmp_path)

    assert_clean_exit(result, 1)
    assert "no .yaml files" in result.stdout


# --- publish and the read commands -------------------------------------------------


def test_publish_then_unchanged_then_conflict(runner: CliRunner, db: str, tmp_path: Path) -> None:
    path = write_cycle(tmp_path, title="First")

    first = run(runner, "definitions", "publish", path, "--by", "hr@example.com")
    again = run(runner, "definitions", "publish", path)
    path.write_text(cycle_yaml(title="Edited in place"), encoding="utf-8")
    conflict = run(runner, "definitions", "publish", path)

    assert_clean_exit(first, 0)
    assert "tiny-review@1 published (sha256 " in first.stdout
    assert_clean_exit(again, 0)
    assert "tiny-review@1 unchanged" in again.stdout
    assert_clean_exit(conflict, 1)
    assert "error: tiny-review@1 is already published" in conflict.stderr
    assert "bump metadata.version to 2" in conflict.stderr


def test_publish_is_all_or_nothing(runner: CliRunner, db: str, tmp_path: Path) -> None:
    good = write_cycle(tmp_path, "alpha-review")
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Cycle\n", encoding="utf-8")

    result = run(runner, "definitions", "publish", good, bad)
    listed = run(runner, "definitions", "list")

    assert_clean_exit(result, 1)
    assert "nothing published" in result.stderr
    assert "no published definitions" in listed.stderr


def test_list_show_diff_deprecate(runner: CliRunner, db: str, tmp_path: Path) -> None:
    v1 = write_cycle(tmp_path, version=1, title="Old title")
    v2 = write_cycle(tmp_path, version=2, title="New title")
    assert_clean_exit(run(runner, "definitions", "publish", tmp_path / "cycles"), 0)

    listed = run(runner, "definitions", "list")
    assert_clean_exit(listed, 0)
    rows = [line for line in listed.stdout.splitlines() if "tiny-review" in line]
    assert len(rows) == 2
    assert " 1 " in rows[0]
    assert " 2 " in rows[1]

    shown = run(runner, "definitions", "show", "tiny-review@latest")
    assert_clean_exit(shown, 0)
    assert "title: New title" in shown.stdout

    as_json = run(runner, "definitions", "show", "tiny-review@1", "--json")
    assert_clean_exit(as_json, 0)
    assert json.loads(as_json.stdout)["definition"]["metadata"]["title"] == "Old title"

    source = run(runner, "definitions", "show", "tiny-review@1", "--source")
    assert source.stdout == v1.read_text(encoding="utf-8")
    assert v2.is_file()

    diffed = run(runner, "definitions", "diff", "tiny-review@1", "tiny-review@2")
    assert_clean_exit(diffed, 0)
    assert "changed: definition.metadata" in diffed.stdout
    assert "+    title: New title" in diffed.stdout

    deprecated = run(runner, "definitions", "deprecate", "tiny-review@2", "--reason", "typo")
    assert_clean_exit(deprecated, 0)
    assert "tiny-review@2 deprecated since" in deprecated.stdout
    active = run(runner, "definitions", "list", "--active")
    assert [line for line in active.stdout.splitlines() if "tiny-review" in line] == rows[:1]
    latest = run(runner, "definitions", "show", "tiny-review@latest", "--json")
    assert json.loads(latest.stdout)["definition"]["metadata"]["version"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", "tiny-review"), "is not a definition reference"),
        (("show", "tiny-review@4"), "tiny-review@4 is not published"),
        (("diff", "tiny-review@1", "x@1"), "x@1 is not published"),
        (("deprecate", "tiny-review@latest", "--reason", "x"), "explicit version"),
    ],
)
def test_reference_errors_are_clean(
    runner: CliRunner, db: str, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    assert_clean_exit(run(runner, "definitions", "publish", write_cycle(tmp_path)), 0)

    result = run(runner, "definitions", *args)

    assert_clean_exit(result, 1)
    assert "error: " in result.stderr
    assert message in result.stderr


# --- db and schema ----------------------------------------------------------------


def test_db_upgrade_prints_the_masked_url(runner: CliRunner, db: str) -> None:
    from store.db import masked_url
    from store.migrate import head_revision

    result = run(runner, "db", "upgrade")

    assert_clean_exit(result, 0)
    assert f"{masked_url(db)} is at revision {head_revision()}" in result.stdout


def test_db_current_says_up_to_date(runner: CliRunner, db: str) -> None:
    result = run(runner, "db", "current")

    assert_clean_exit(result, 0)
    assert "up to date" in result.stdout


def test_unreachable_database_is_a_clean_error(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from perfloop.settings import get_settings

    monkeypatch.setenv(
        "PERFLOOP_DATABASE_URL", "postgresql+psycopg://perfloop:s3cret@127.0.0.1:1/none"
    )
    get_settings.cache_clear()
    try:
        result = run(runner, "definitions", "list")
    finally:
        get_settings.cache_clear()

    assert_clean_exit(result, 1)
    assert "cannot use the database at postgresql+psycopg://perfloop:***@127.0.0.1:1/none" in (
        result.stderr
    )
    assert "s3cret" not in result.output


def test_schema_prints_and_writes(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "schema" / "cycle.schema.json"

    printed = run(runner, "definitions", "schema")
    stale = run(runner, "definitions", "schema", "--check", "--path", str(target))
    written = run(runner, "definitions", "schema", "--write", "--path", str(target))
    fresh = run(runner, "definitions", "schema", "--check", "--path", str(target))
    package = run(runner, "definitions", "schema", "--check")

    assert_clean_exit(printed, 0)
    assert isinstance(json.loads(printed.stdout), dict)
    assert_clean_exit(stale, 1)
    assert "out of date" in stale.stderr
    assert_clean_exit(written, 0)
    assert target.read_text(encoding="utf-8") == printed.stdout
    assert_clean_exit(fresh, 0)
    assert_clean_exit(package, 0)
