"""CEL expressions: what each site offers, what is refused, and how numbers behave."""

from __future__ import annotations

import contextlib
import pickle
import sys
import threading
import time
from typing import Any

import pytest

from definitions.errors import PerfloopError
from definitions.expressions import (
    EXPRESSION_SITES,
    MAX_DEPTH,
    MAX_LENGTH,
    ExpressionError,
    compile_expression,
    describe_sites,
    evaluate,
    evaluate_condition,
    evaluate_number,
)

PARTICIPANT = {
    "tenure_days": 400,
    "department": "Engineering",
    "location": "Berlin",
    "employment_type": "full_time",
    "is_manager": True,
    "direct_reports": 3,
    "level": 4,
}
BONUS_INPUTS: dict[str, Any] = {
    "base_salary": 100_000,
    "target_percent": 10,
    "rating": 4,
    "score": 3.8,
    "goal_attainment": 1.1,
    "compa_ratio": 0.95,
    "company_multiplier": 1,
    "department_multiplier": 1.2,
    "participant": PARTICIPANT,
}
ANOMALY_INPUTS: dict[str, Any] = {
    "progress": 0.3,
    "expected_by_now": 0.6,
    "days_since_checkin": 20,
    "checkins_missed": 2,
    "confidence": 2,
    "confidence_trend": -1,
    "blocked_count": 1,
    "open_goals": 4,
    "overdue_tasks": 0,
    "collaboration_events": 7,
    "participant": PARTICIPANT,
}


def error_of(src: str, site: str) -> str:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(src, site)
    return caught.value.message


# --- the site table -------------------------------------------------------------------


def test_the_site_table() -> None:
    assert set(EXPRESSION_SITES) == {"phase.when", "anomaly_rule.when", "bonus.formula"}
    assert EXPRESSION_SITES["phase.when"].variable_names == ("participant",)
    assert set(EXPRESSION_SITES["anomaly_rule.when"].variable_names) == set(ANOMALY_INPUTS)
    assert set(EXPRESSION_SITES["bonus.formula"].variable_names) == set(BONUS_INPUTS)
    participant = EXPRESSION_SITES["phase.when"].variable("participant")
    assert participant is not None
    assert {f.name for f in participant.fields} == set(PARTICIPANT)


def test_describe_sites_lists_every_variable() -> None:
    table = describe_sites()
    for site in EXPRESSION_SITES.values():
        for variable in site.variables:
            assert f"`{variable.name}`" in table
    assert "`participant.tenure_days`" in table


def test_expression_error_is_a_perfloop_error_and_pickles() -> None:
    assert issubclass(ExpressionError, PerfloopError)
    with pytest.raises(ExpressionError) as caught:
        compile_expression("nope > 1", "phase.when")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (copy.message, copy.site, copy.source) == (
        caught.value.message,
        "phase.when",
        "nope > 1",
    )
    assert str(copy) == caught.value.message


# --- allowed and unknown variables per site -------------------------------------------


@pytest.mark.parametrize(
    ("site", "src"),
    [
        ("phase.when", "participant.tenure_days > 90 && participant.employment_type != 'intern'"),
        ("phase.when", "participant.is_manager || participant.level >= 5"),
        ("phase.when", "participant.department in ['Sales', 'Support']"),
        ("phase.when", "has(participant.location) && participant.location.startsWith('Ber')"),
        ("anomaly_rule.when", "progress < expected_by_now - 0.2 && days_since_checkin > 14"),
        ("anomaly_rule.when", "confidence_trend <= -2 || blocked_count > 0"),
        ("anomaly_rule.when", "checkins_missed >= 2 && participant.direct_reports == 0"),
        ("bonus.formula", "base_salary * target_percent / 100 * company_multiplier"),
        ("bonus.formula", "min(base_salary * 0.3, base_salary * target_percent / 100 * score)"),
        ("bonus.formula", "rating >= 4 ? base_salary * 0.15 : rating >= 3 ? base_salary * 0.1 : 0"),
    ],
)
def test_allowed_expressions_compile(site: str, src: str) -> None:
    compiled = compile_expression(src, site)
    assert compiled.site == site
    assert compiled.source == src


@pytest.mark.parametrize(
    ("site", "src", "unknown"),
    [
        ("phase.when", "progress < 0.5", "progress"),
        ("phase.when", "rating > 3", "rating"),
        ("anomaly_rule.when", "base_salary > 1", "base_salary"),
        ("bonus.formula", "progress * base_salary", "progress"),
        ("bonus.formula", "salary * 0.1", "salary"),
    ],
)
def test_variables_of_other_sites_are_unknown(site: str, src: str, unknown: str) -> None:
    message = error_of(src, site)
    assert f'unknown variable "{unknown}"' in message
    allowed = ", ".join(EXPRESSION_SITES[site].variable_names)
    assert message.endswith(f"may use: {allowed}")


def test_a_typo_gets_a_suggestion() -> None:
    message = error_of("progres < 0.5", "anomaly_rule.when")
    assert message.startswith('unknown variable "progres" (did you mean "progress"?); ')
    assert "an anomaly rule's when may use: blocked_count, checkins_missed" in message


@pytest.mark.parametrize(
    ("src", "column"),
    [
        ("participant.departmnt == 'Sales'", 13),
        ("participant['departmnt'] == 'Sales'", 13),
        ("has(participant.departmnt)", 17),
    ],
)
def test_unknown_participant_fields(src: str, column: int) -> None:
    message = error_of(src, "phase.when")
    assert message.startswith(
        f'unknown participant field "departmnt" at column {column} (did you mean "department"?)'
    )
    assert message.endswith(
        "participant has: department, direct_reports, employment_type, is_manager, level, "
        "location, tenure_days"
    )


@pytest.mark.parametrize(
    ("src", "name"),
    [("now() > 0", "now"), ("timestamp('2027-01-01T00:00:00Z') != null", "timestamp")],
)
def test_unknown_functions(src: str, name: str) -> None:
    message = error_of(src, "phase.when")
    assert message.startswith(f'unknown function "{name}"')
    assert "expressions may call: contains, double, endsWith, int, matches, max, min" in message


@pytest.mark.parametrize("src", ["optional.of(1) == 1", "cel.bind(x, 1, x > 0)"])
def test_extension_namespaces_are_unknown_variables(src: str) -> None:
    assert error_of(src, "phase.when").startswith("unknown variable")


@pytest.mark.parametrize(
    "macro", ["all", "exists", "exists_one", "map", "filter"], ids=lambda m: str(m)
)
def test_comprehensions_are_refused(macro: str) -> None:
    message = error_of(f"[1, 2].{macro}(x, x > 1) == true", "phase.when")
    assert message.startswith(f'"{macro}(...)" at column 8 is not allowed')


def test_a_map_cannot_be_iterated() -> None:
    # CEL map order is random per process; a workflow must replay identically
    assert "not allowed" in error_of("participant.exists(k, k == 'level')", "phase.when")


# --- syntax, types, results -----------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("participant.level >", "CEL syntax error at column 20: the expression ends too early"),
        ("participant.level > > 3", "CEL syntax error at column 21: unexpected '>'"),
        ("participant.level # 3", "CEL syntax error at column 19: unexpected character '#'"),
        ("true &&\n  (false", "CEL syntax error at line 2, column 9: missing ')' at '<EOF>'"),
        ("a ? b ? c : d : e", "CEL syntax error at column 7: unexpected '?'"),
    ],
)
def test_syntax_errors_name_the_position(src: str, expected: str) -> None:
    assert error_of(src, "phase.when").startswith(expected)


@pytest.mark.parametrize("src", ["", "   ", "\n"])
def test_empty_expressions(src: str) -> None:
    assert error_of(src, "phase.when") == "expression is empty"


@pytest.mark.parametrize(
    ("site", "src", "expected"),
    [
        ("phase.when", "participant.tenure_days", "a phase's when must give true or false, got a"),
        ("phase.when", "participant.department", "must give true or false, got text"),
        ("bonus.formula", "rating > 3", "the bonus formula must give a number, got true or false"),
        ("bonus.formula", "'100'", "the bonus formula must give a number, got text"),
    ],
)
def test_result_types_are_checked(site: str, src: str, expected: str) -> None:
    assert expected in error_of(src, site)


@pytest.mark.parametrize(
    "src",
    [
        "participant.department * 2 > 1",
        "size(participant.department) + 1 > 3",
        "participant.is_manager > 1",
        "min(participant.department, 1) > 0",
    ],
)
def test_type_errors_are_found_when_compiling(src: str) -> None:
    message = error_of(src, "phase.when")
    assert message.startswith(("type error:", "Function 'min' error"))


def test_the_type_error_message_explains_doubles() -> None:
    message = error_of("size(participant.department) + 1 > 3", "phase.when")
    assert "every number is a double" in message
    compile_expression("double(size(participant.department)) + 1 > 3", "phase.when")


def test_unknown_site() -> None:
    with pytest.raises(ExpressionError, match=r'unknown expression site "results\.when"'):
        compile_expression("true", "results.when")


# --- numbers are doubles --------------------------------------------------------------


def test_int_inputs_and_int_literals_mix_with_doubles() -> None:
    compiled = compile_expression("base_salary * target_percent / 100", "bonus.formula")
    assert evaluate_number(compiled, {"base_salary": 100_000, "target_percent": 10}) == 10_000.0
    assert evaluate_number(compiled, {"base_salary": 100_000.0, "target_percent": 7.5}) == 7_500.0


def test_results_of_a_realistic_formula() -> None:
    compiled = compile_expression(
        "base_salary * target_percent / 100 * (rating >= 4 ? 1.5 : 1) "
        "* company_multiplier * department_multiplier",
        "bonus.formula",
    )
    assert evaluate_number(compiled, BONUS_INPUTS) == pytest.approx(18_000.0)


def test_map_keys_and_list_indexes_stay_integers() -> None:
    lookup = compile_expression(
        "base_salary * {1: 0, 2: 0.05, 3: 0.1, 4: 0.15, 5: 0.2}[int(rating)]", "bonus.formula"
    )
    assert evaluate_number(lookup, BONUS_INPUTS) == pytest.approx(15_000.0)
    index = compile_expression("[0.5, 1, 1.5][1] * base_salary", "bonus.formula")
    assert evaluate_number(index, BONUS_INPUTS) == 100_000.0


def test_literals_inside_strings_and_comments_are_left_alone() -> None:
    compiled = compile_expression(
        "participant.department == 'R2 100' // a comment with 12 and 'quotes'\n"
        '|| participant.location == """Floor 3""" || participant.location == r"\\d 7"',
        "phase.when",
    )
    inputs = {"participant": {**PARTICIPANT, "department": "R2 100"}}
    assert evaluate_condition(compiled, inputs) is True
    assert evaluate_condition(compiled, {"participant": {**PARTICIPANT, "location": "\\d 7"}})


def test_hex_literals_are_doubles_too() -> None:
    compiled = compile_expression("0x10 * base_salary", "bonus.formula")
    assert evaluate_number(compiled, {"base_salary": 2}) == 32.0


def test_bools_stay_bools() -> None:
    compiled = compile_expression("participant.is_manager && participant.level > 3", "phase.when")
    assert evaluate_condition(compiled, {"participant": PARTICIPANT}) is True
    assert (
        evaluate_condition(compiled, {"participant": {**PARTICIPANT, "is_manager": False}}) is False
    )


def test_anomaly_rules_evaluate() -> None:
    compiled = compile_expression(
        "progress < expected_by_now - 0.2 && days_since_checkin > 14", "anomaly_rule.when"
    )
    assert evaluate_condition(compiled, ANOMALY_INPUTS) is True
    assert evaluate_condition(compiled, {**ANOMALY_INPUTS, "progress": 0.55}) is False


# --- evaluation failures --------------------------------------------------------------


def test_a_missing_variable() -> None:
    compiled = compile_expression("base_salary * rating", "bonus.formula")
    with pytest.raises(ExpressionError, match="needs rating, which the caller did not provide"):
        evaluate(compiled, {"base_salary": 1})


def test_a_missing_map_key_at_run_time() -> None:
    compiled = compile_expression("{1: 0.5, 2: 1}[int(rating)] * base_salary", "bonus.formula")
    with pytest.raises(ExpressionError, match="the bonus formula failed: no such key"):
        evaluate(compiled, {**BONUS_INPUTS, "rating": 5})


def test_a_missing_participant_field_at_run_time() -> None:
    compiled = compile_expression("participant.level > 3", "phase.when")
    with pytest.raises(ExpressionError, match="a phase's when failed"):
        evaluate(compiled, {"participant": {}})


def test_division_by_zero_is_not_a_number() -> None:
    compiled = compile_expression("base_salary / (rating - rating)", "bonus.formula")
    with pytest.raises(ExpressionError, match=r"gave inf \(a division by zero\?\)"):
        evaluate_number(compiled, BONUS_INPUTS)


def test_integer_division_by_zero() -> None:
    when = compile_expression(
        "int(participant.level) / int(participant.direct_reports) > 1", "phase.when"
    )
    with pytest.raises(ExpressionError, match="a phase's when failed: division by zero"):
        evaluate(when, {"participant": {**PARTICIPANT, "direct_reports": 0}})


def test_wrong_result_types_at_run_time() -> None:
    condition = compile_expression("participant.is_manager", "phase.when")
    with pytest.raises(ExpressionError, match="must give true or false, got null"):
        evaluate_condition(condition, {"participant": {**PARTICIPANT, "is_manager": None}})


def test_unconvertible_inputs() -> None:
    compiled = compile_expression("participant.level > 1", "phase.when")
    with pytest.raises(ExpressionError, match="failed"):
        evaluate(compiled, {"participant": {**PARTICIPANT, "level": object()}})


# --- safety ---------------------------------------------------------------------------


def test_too_long_is_refused_before_parsing() -> None:
    message = error_of("1 + " * 600 + "1 > 0", "phase.when")
    assert message == f"expression is 2405 characters; the limit is {MAX_LENGTH}"


def test_deep_nesting_is_refused_before_parsing() -> None:
    src = "(" * (MAX_DEPTH + 1) + "true" + ")" * (MAX_DEPTH + 1)
    assert error_of(src, "phase.when") == (
        f"expression nests brackets deeper than {MAX_DEPTH} levels"
    )


HOSTILE = [
    "(" * 32 + "true" + ")" * 32,
    "[" * 32 + "]" * 32 + " == []",
    "!" * 1990 + "true",
    "-" * 1980 + "1.0 > 0.0",
    " + ".join(["1"] * 480) + " > 0",
    "participant.department" + ".size()" * 280 + " > 0",
    "participant.department.matches('" + "(a+)+" * 60 + "$')",
    "participant.department in [" + ", ".join(["'x'"] * 380) + "]",
    "true ? " * 130 + "true" + " : false" * 130,
    "'" + "a" * 1970 + "' == participant.department",
]


@pytest.mark.parametrize("src", HOSTILE, ids=[f"hostile-{i}" for i in range(len(HOSTILE))])
def test_hostile_expressions_fail_or_finish_fast(src: str) -> None:
    assert len(src) <= MAX_LENGTH
    started = time.perf_counter()
    with contextlib.suppress(ExpressionError):
        compiled = compile_expression(src, "phase.when")
        evaluate(compiled, {"participant": {**PARTICIPANT, "department": "a" * 30 + "!"}})
    assert time.perf_counter() - started < 1.0


def test_evaluation_is_deterministic_and_shareable_across_threads() -> None:
    compiled = compile_expression(
        "base_salary * target_percent / 100 * department_multiplier", "bonus.formula"
    )
    results: list[float] = []

    def run() -> None:
        results.extend(evaluate_number(compiled, BONUS_INPUTS) for _ in range(50))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 200
    assert set(results) == {12_000.0}


def test_compiling_and_evaluating_do_no_io() -> None:
    """No file, socket or process activity visible to CPython's audit hooks."""
    events: list[str] = []
    watching = threading.Event()

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if watching.is_set() and event.split(".")[0] in {"open", "socket", "subprocess", "os"}:
            events.append(event)

    sys.addaudithook(hook)  # cannot be removed; it only records while `watching` is set
    watching.set()
    try:
        compiled = compile_expression(
            "participant.department.matches('^Eng') && participant.level >= 3 // fresh",
            "phase.when",
        )
        evaluate_condition(compiled, {"participant": PARTICIPANT})
    finally:
        watching.clear()
    assert events == []
