"""Loader details: where problems point, how paths read, and the duration helpers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from definitions.durations import (
    CalendarDelta,
    add_calendar,
    parse_calendar_duration,
    parse_duration,
    resolve_point,
)
from definitions.errors import DefinitionError, Problem
from definitions.loader import (
    MAX_DEPTH,
    LoadedDefinition,
    display_name,
    format_path,
    load_file,
    load_text,
)

BROKEN = Path(__file__).parent / "broken"
FORMS = BROKEN / "forms"
BASE_TEXT = (BROKEN / "_base.yaml").read_text(encoding="utf-8")


def edit(*replacements: tuple[str, str], text: str = BASE_TEXT) -> str:
    """The base definition with each `old` (which must occur once) replaced by `new`."""
    for old, new in replacements:
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
        text = text.replace(old, new)
    return text


def position(text: str, fragment: str) -> tuple[int, int]:
    """Line and column (1-based) of the one line holding `fragment`, at its start."""
    hits = [
        (n, line.index(fragment) + 1)
        for n, line in enumerate(text.splitlines(), 1)
        if fragment in line
    ]
    assert len(hits) == 1, f"{fragment!r} found on lines {hits}"
    return hits[0]


def problems_of(text: str | bytes, **kwargs: object) -> tuple[Problem, ...]:
    with pytest.raises(DefinitionError) as caught:
        load_text(text, file="cycle.yaml", forms_dir=FORMS, **kwargs)  # type: ignore[arg-type]
    return caught.value.problems


def only(problems: tuple[Problem, ...], path: str) -> Problem:
    matching = [problem for problem in problems if problem.path == path]
    assert len(matching) == 1, f"no single problem at {path}: {[str(p) for p in problems]}"
    return matching[0]


# --- format_path and Problem ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ((), ""),
        (("metadata",), "metadata"),
        (("phases", 1, "reminders", 0), "phases[1].reminders[0]"),
        (("phases", 0, "window", "due"), "phases[0].window.due"),
        ((0,), "[0]"),
        ((0, "a", 2, 3), "[0].a[2][3]"),
    ],
)
def test_format_path(path: tuple[str | int, ...], shown: str) -> None:
    assert format_path(path) == shown


def test_problem_str_and_order() -> None:
    located = Problem("c.yaml", 14, 9, "phases[1].reminders[0]", "expected a duration")
    assert str(located) == "c.yaml:14:9 phases[1].reminders[0]: expected a duration"
    assert str(Problem("c.yaml", 3, None, "", "bad")) == "c.yaml:3: bad"
    assert str(Problem("c.yaml", None, None, "", "file is binary")) == "c.yaml: file is binary"
    error = DefinitionError(
        [
            Problem("c.yaml", 20, 1, "b", "second"),
            Problem("c.yaml", None, None, "", "unlocated"),
            Problem("c.yaml", 3, 5, "a", "first"),
        ]
    )
    assert [p.message for p in error.problems] == ["unlocated", "first", "second"]
    assert str(error).splitlines()[1] == "c.yaml:3:5 a: first"


# --- positions ------------------------------------------------------------------------------


def test_unknown_key_points_at_the_key() -> None:
    text = edit(("    max_goals: 6\n", "    max_goal: 6\n"))
    problem = only(problems_of(text), "phases[0].max_goal")
    assert (problem.line, problem.column) == position(text, "max_goal:")
    assert problem.message == 'unknown key "max_goal"; did you mean "max_goals"?'


def test_unknown_key_with_a_block_value_points_at_the_key_not_the_value() -> None:
    text = edit(("  owner: people-ops\n", "  owner: people-ops\n  labels:\n    team: a\n"))
    problem = only(problems_of(text), "metadata.labels")
    assert (problem.line, problem.column) == position(text, "labels:")


def test_unknown_key_hint_comes_from_the_phase_kind_at_hand() -> None:
    text = edit(("      cadence: P2W\n", "      cadence: P2W\n      grase: P2D\n"))
    problem = only(problems_of(text), "phases[1].checkins.grase")
    assert problem.message == 'unknown key "grase"; did you mean "grace"?'
    text = edit(("    evaluate_rules_every: P1D\n", "    min_goals: 3\n"))
    problem = only(problems_of(text), "phases[1].min_goals")
    assert "anomaly_rules" in problem.message  # the monitoring phase's keys, listed
    assert "max_goals" not in problem.message


def test_missing_required_key_points_at_the_parent_key() -> None:
    text = edit(("  owner: people-ops\n", ""))
    problem = only(problems_of(text), "metadata")
    assert problem.message == 'missing required key "owner"'
    assert (problem.line, problem.column) == position(text, "metadata:")


def test_missing_required_key_in_a_list_item_points_at_the_item() -> None:
    text = edit(("      form: checkin\n", ""))
    problem = only(problems_of(text), "phases[1].checkins")
    assert problem.message == 'missing required key "form"'
    assert problem.line == position(text, "checkins:")[0]

    text = edit(("    kind: monitoring\n", ""))
    problem = only(problems_of(text), "phases[1]")
    assert problem.message == 'missing required key "kind"'
    assert problem.line == position(text, "- id: monitor")[0]


def test_missing_top_level_section_has_no_line() -> None:
    text = edit(("calendar:\n  start: 2027-01-04\n  length: P1Y\n  timezone: Europe/Berlin\n", ""))
    (problem,) = problems_of(text)
    assert (problem.path, problem.line, problem.message) == (
        "",
        None,
        'missing required key "calendar"',
    )


def test_wrong_value_points_at_the_value() -> None:
    text = edit(("  timezone: Europe/Berlin\n", "  timezone: Mars/Olympus\n"))
    problem = only(problems_of(text), "calendar.timezone")
    assert (problem.line, problem.column) == position(text, "Mars/Olympus")


def test_empty_value_points_at_its_own_key() -> None:
    """`title:` with nothing after it is null; the next line is not where the fault is."""
    text = edit(("        title: Delivery\n", "        title:\n"))
    problem = only(problems_of(text), "phases[2].competencies[0].title")
    (line,) = [n for n, content in enumerate(text.splitlines(), 1) if content == "        title:"]
    assert problem.line == line
    assert problem.message == "expected text, got null"


def test_union_tags_are_stripped_from_paths() -> None:
    text = edit(("      due: P10M\n", "      due: someday\n"))
    problem = only(problems_of(text), "phases[1].window.due")
    assert "monitoring" not in problem.path
    assert problem.line == position(text, "someday")[0]

    text = edit(("    min_goals: 2\n", "    min_goals: 9\n"))  # a model-level rule
    (problem,) = problems_of(text)
    assert problem.path == "phases[0]"
    assert problem.message == "min_goals (9) is greater than max_goals (6)"

    text = edit(("        action: coach\n        form: coaching\n", "        action: coach\n"))
    (problem,) = problems_of(text)
    assert problem.path == "phases[1].anomaly_rules[0]"


def test_dict_keys_in_paths_are_the_yaml_keys() -> None:
    text = edit(("      kpi: 30\n", "      kpi: thirty\n"))
    problem = only(problems_of(text), "phases[0].type_weights.kpi")
    assert problem.message == 'expected a whole number, got "thirty"'

    text = edit(("      okr: 50\n", "      okrs: 50\n"))
    problems = problems_of(text)
    assert any(p.path == "phases[0].type_weights.okrs" for p in problems), problems


def test_unknown_phase_kind_lists_the_kinds() -> None:
    text = edit(("    kind: results\n", "    kind: result\n"))
    (problem,) = problems_of(text)
    assert problem.path == "phases[4]"
    assert 'unknown kind "result"' in problem.message
    for kind in ("goal_setting", "monitoring", "evaluation", "interview", "results"):
        assert kind in problem.message


# --- YAML-level faults ----------------------------------------------------------------------


def test_duplicate_key_names_the_key_and_points_at_the_repeat() -> None:
    text = edit(("  length: P1Y\n", "  length: P1Y\n  length: P2Y\n"))
    (problem,) = problems_of(text)
    assert problem.message == 'invalid YAML: duplicate key "length"'
    assert problem.line == position(text, "length: P2Y")[0]


def test_impossible_dates_are_located_by_validation() -> None:
    text = edit(("  start: 2027-01-04\n", "  start: 2027-02-29\n"))
    problem = only(problems_of(text), "calendar.start")
    assert problem.line == position(text, "start:")[0]
    assert problem.message == 'expected a date like 2027-01-04, got "2027-02-29"'

    text = edit(("      due: P30D\n", "      due: 2027-04-31\n"))
    problem = only(problems_of(text), "phases[0].window.due")
    assert '"2027-04-31"' in problem.message


def test_valid_unquoted_dates_are_accepted() -> None:
    text = edit(("      due: P30D\n", "      due: 2027-02-03\n"))
    loaded = load_text(text, forms_dir=FORMS)
    assert loaded.definition.phases[0].window.due == "2027-02-03"
    text = edit(("  start: 2027-01-04\n", "  start: 2028-02-29\n"))
    assert load_text(text, forms_dir=FORMS).definition.calendar.start.isoformat() == "2028-02-29"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("!!bool maybe", 'cannot read "maybe" as !!bool'),
        ("!!int 0x", 'cannot read "0x" as !!int'),
        ("!!int twelve", 'cannot read "twelve" as !!int'),
        ("!!float abc", 'cannot read "abc" as !!float'),
        ("!!timestamp soon", "timestamp"),
        ("!!map [1]", "expected a mapping node"),
    ],
)
def test_tagged_scalars_that_cannot_be_built_are_located(value: str, fragment: str) -> None:
    text = edit(("    min_goals: 2\n", f"    min_goals: {value}\n"))
    (problem,) = problems_of(text)
    assert problem.message.startswith("invalid YAML: ")
    assert fragment in problem.message
    assert problem.line == position(text, value)[0]


def test_language_specific_tags_are_refused() -> None:
    text = edit(("  owner: people-ops\n", "  owner: !!python/object/apply:os.system [ls]\n"))
    problems = problems_of(text)
    assert problems[0].line == position(text, "owner:")[0]
    text = edit(("  owner: people-ops\n", "  owner: !custom people-ops\n"))
    problem = only(problems_of(text), "metadata.owner")
    assert problem.message == "YAML tags are not supported here, got !custom"


def test_nesting_limit_is_exact() -> None:
    def nested(levels: int) -> str:  # `levels` collections: the root mapping and its children
        return "".join("  " * i + f"k{i}:\n" for i in range(levels)) + "  " * levels + "leaf\n"

    at_limit = problems_of(nested(MAX_DEPTH))
    assert not any("nesting" in p.message for p in at_limit)
    (too_deep,) = problems_of(nested(MAX_DEPTH + 1))
    assert too_deep.message == f"nesting deeper than {MAX_DEPTH} levels"
    assert too_deep.line == MAX_DEPTH + 1


def test_aliases_within_the_node_budget_are_expanded() -> None:
    text = edit(
        ("  hr_admins:\n    - e-0001\n", "  hr_admins: &admins\n    - e-0001\n"),
        ("    engineering:\n      - e-0002\n", "    engineering: *admins\n    sales: *admins\n"),
    )
    loaded = load_text(text, forms_dir=FORMS)
    assert loaded.definition.roles.hrbp == {"engineering": ("e-0001",), "sales": ("e-0001",)}


def test_byte_order_mark_and_crlf_are_accepted() -> None:
    raw = b"\xef\xbb\xbf" + BASE_TEXT.replace("\n", "\r\n").encode("utf-8")
    assert load_text(raw, forms_dir=FORMS).ref == "broken-base@1"


def test_crlf_files_keep_line_numbers() -> None:
    text = edit(("  timezone: Europe/Berlin\n", "  timezone: Mars/Olympus\n")).replace("\n", "\r\n")
    problem = only(problems_of(text), "calendar.timezone")
    assert problem.line == position(text, "Mars/Olympus")[0]


# --- files, forms and the loaded result -----------------------------------------------------


def test_load_file_reports_missing_files_and_folders(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="no such file"):
        load_file(tmp_path / "nothing.yaml")
    with pytest.raises(DefinitionError, match="is a folder"):
        load_file(tmp_path)


def test_forms_are_found_next_to_the_file_without_forms_dir(tmp_path: Path) -> None:
    (tmp_path / "forms").mkdir()
    for form in FORMS.glob("*.json"):
        (tmp_path / "forms" / form.name).write_bytes(form.read_bytes())
    target = tmp_path / "cycle.yaml"
    target.write_text(BASE_TEXT, encoding="utf-8")
    loaded = load_file(target)
    assert loaded.path == target
    assert set(loaded.form_schemas) == loaded.definition.form_ids()


def test_stock_layout_requires_matching_name_and_version(tmp_path: Path) -> None:
    folder = tmp_path / "cycles" / "annual-review"
    folder.mkdir(parents=True)
    target = folder / "v2.yaml"
    target.write_text(BASE_TEXT, encoding="utf-8")
    assert display_name(target) == "annual-review/v2.yaml"
    with pytest.raises(DefinitionError) as caught:
        load_file(target, forms_dir=FORMS)
    messages = {p.path: p.message for p in caught.value.problems}
    assert (
        messages["metadata.name"] == 'name "broken-base" does not match its folder "annual-review"'
    )
    assert messages["metadata.version"] == "version 1 does not match the file name v2.yaml"
    assert all(p.file == "annual-review/v2.yaml" for p in caught.value.problems)


def test_loaded_definition_hash_covers_definition_and_forms(tmp_path: Path) -> None:
    first = load_text(BASE_TEXT, forms_dir=FORMS)
    reformatted = load_text(
        json.dumps(first.definition.model_dump(mode="json", by_alias=True)), forms_dir=FORMS
    )
    assert isinstance(first, LoadedDefinition)
    assert first.sha256 == reformatted.sha256  # layout and comments do not count
    assert first.canonical()["forms"]["potential"]["required"] == ["potential"]

    changed_forms = tmp_path / "forms"
    changed_forms.mkdir()
    for form in FORMS.glob("*.json"):
        (changed_forms / form.name).write_bytes(form.read_bytes())
    schema = json.loads((FORMS / "minutes.json").read_text())
    schema["title"] = "minutes, revised"
    (changed_forms / "minutes.json").write_text(json.dumps(schema))
    assert load_text(BASE_TEXT, forms_dir=changed_forms).sha256 != first.sha256

    retitled = load_text(edit(("  title: Base cycle", "  title: A base cycle")), forms_dir=FORMS)
    assert retitled.sha256 != first.sha256


# --- durations ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P7D", timedelta(days=7)),
        ("P2W", timedelta(weeks=2)),
        ("PT12H", timedelta(hours=12)),
        ("PT90M", timedelta(minutes=90)),
        ("PT30S", timedelta(seconds=30)),
        ("P1W2DT3H4M5S", timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)),
        ("P0D", timedelta()),
        ("P100000D", timedelta(days=100_000)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "P",
        "PT",
        "P1DT",
        "7 days",
        "1W",
        "p7d",
        "P1M",
        "P1Y",
        "P1.5D",
        "P-1D",
        "PT1D",
        " P1D",
        "P1D ",
    ],
)
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_parse_duration_refuses_absurd_parts() -> None:
    with pytest.raises(ValueError, match="too large"):
        parse_duration("P100001D")
    with pytest.raises(ValueError, match="too large"):
        parse_calendar_duration("P999999999999Y")


def test_parse_calendar_duration() -> None:
    assert parse_calendar_duration("P1Y2M3W4DT5H") == CalendarDelta(
        years=1, months=2, fixed=timedelta(weeks=3, days=4, hours=5)
    )
    assert parse_calendar_duration("P3M") == CalendarDelta(months=3)
    with pytest.raises(ValueError, match="duration"):
        parse_calendar_duration("P1M1Y")  # order matters


@pytest.mark.parametrize(
    ("start", "duration", "expected"),
    [
        ((2027, 1, 31), "P1M", (2027, 2, 28)),
        ((2028, 1, 31), "P1M", (2028, 2, 29)),
        ((2027, 3, 31), "P1M", (2027, 4, 30)),
        ((2028, 2, 29), "P1Y", (2029, 2, 28)),
        ((2028, 2, 29), "P4Y", (2032, 2, 29)),
        ((2027, 11, 15), "P3M", (2028, 2, 15)),
        ((2027, 12, 31), "P12M", (2028, 12, 31)),
        ((2027, 1, 31), "P1M1D", (2027, 3, 1)),  # months clamp first, then days are added
        ((2027, 1, 4), "P0D", (2027, 1, 4)),
        ((2027, 1, 4), "P1Y6M", (2028, 7, 4)),
    ],
)
def test_add_calendar_clamps_the_day_of_month(
    start: tuple[int, int, int], duration: str, expected: tuple[int, int, int]
) -> None:
    moment = datetime(*start, 9, 30, tzinfo=UTC)
    assert add_calendar(moment, duration) == datetime(*expected, 9, 30, tzinfo=UTC)


def test_add_calendar_adds_the_fixed_part_and_keeps_the_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    moment = datetime(2027, 1, 31, 12, 0, tzinfo=berlin)
    result = add_calendar(moment, "P1MT36H")
    assert result == datetime(2027, 3, 2, 0, 0, tzinfo=berlin)
    assert result.tzinfo is berlin
    with pytest.raises(ValueError, match="duration"):
        add_calendar(moment, "one month")


def test_resolve_point() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2027, 1, 4, 0, 0, tzinfo=berlin)
    assert resolve_point(start, "P30D") == datetime(2027, 2, 3, tzinfo=berlin)
    assert resolve_point(start, "P1M") == datetime(2027, 2, 4, tzinfo=berlin)
    assert resolve_point(start, "P0D") == start
    due = resolve_point(start, "2027-01-31")
    assert due == datetime(2027, 1, 31, 0, 0, tzinfo=berlin)
    assert due.tzinfo is berlin  # midnight where the cycle runs, not UTC
    with pytest.raises(ValueError, match=r"Invalid isoformat|month"):
        resolve_point(start, "2027-13-01")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("      - before_due: P3D\n", "      - before_due: PT100001M\n"),
        ("      cadence: P2W\n", "      cadence: P100001D\n"),
        ("      after: P5D\n", "      after: P100001D\n"),
        ("  length: P1Y\n", "  length: P100001Y\n"),
        ("      due: P12M\n", "      due: P100001M\n"),
    ],
)
def test_duration_part_too_large_is_a_located_problem(old: str, new: str) -> None:
    """The patterns admit any number; parts the engine cannot use are refused at load time
    (they once passed validation and crashed the checks, or a workflow at run time)."""
    text = edit((old, new))
    (problem,) = problems_of(text)
    value = new.split(": ")[1].strip()
    assert problem.message.startswith(f'cannot use "{value}": ')
    assert "too large" in problem.message
    assert problem.line == position(text, value)[0]
