"""Semantic checks: the rules that span a definition, after the models have accepted it.

`check_definition` yields every problem it finds (never only the first) as a key path
and a message; the loader turns the path into `file:line:col path: message`. Each
problem stands at the most precise path: the offending value when the YAML has one,
otherwise the key that should hold it (the loader then points at its parent's line).
Form contents are checked only for forms the loader could load: a missing or invalid
form file is the loader's report, not repeated here.

The checks, each as: rule -- path -- message. `{x}` is filled in; a path without a
`forms.`/`roles.`/`calendar.` prefix is relative to `phases[i]`.

Ids
  1. Phase ids are unique. -- `id` --
     `duplicate phase id "{id}" (also phases[{j}])`
  2. Form ids are unique. -- `forms[k].id` --
     `duplicate form id "{id}" (also forms[{j}])`
  3. Ids inside lists are unique: competencies, anomaly rules, progress sources,
     interview template sections, compa-ratio bands. -- `competencies[k].id`,
     `anomaly_rules[k].id`, `progress_sources[k].id`, `template[k].id`,
     `merit_matrix.compa_ratio_bands[k].id` --
     `duplicate {competency|anomaly rule|progress source|template section|compa-ratio
     band} id "{id}" (also {list}[{j}])`
  4. Merit rows, calibration guideline bands and rating labels (ignoring case) are
     unique. -- `merit_matrix.rows[k].rating`, `calibration.guideline[k].rating`,
     `rating_scale.levels[k].label` --
     `duplicate merit row for rating {r} (also rows[{j}])`,
     `duplicate guideline for rating {r} (also guideline[{j}])`,
     `duplicate label "{label}" (also levels[{j}])`
  5. Literal lists repeat no value: goal_types, significant_events.categories,
     calibration.calibrators, hris_sync.targets, template prefill,
     succession.candidate_boxes. -- the repeated item, e.g. `goal_types[2]` --
     `"{value}" is listed twice (also {list}[{j}])`

Phases
  6. At most one phase of each kind. -- `kind` --
     `a cycle has at most one {kind} phase; phases[{j}] is one already`
  7. Phases are listed goal_setting, monitoring, evaluation, interview, results (any
     may be left out). -- `kind` --
     `{kind} phase "{id}" must come before {kind} phase "{id}" (phases[{j}]); the
     order is goal_setting, monitoring, evaluation, interview, results`
  8. Monitoring needs a goal_setting phase; interview and results need an evaluation
     phase. -- `kind` --
     `{a|an} {kind} phase needs {a|an} {needed} phase before it (there is none)`

Windows (points resolve from calendar.start at midnight in calendar.timezone; the
cycle ends at start + length; `{point}` is `P30D (2027-02-03)` or a date)
  9. The cycle length and every point can be placed on the calendar. --
     `calendar.length`, `window.opens`, `window.due` --
     `cannot place {point} on the calendar: {reason}`
  10. A window does not open before the cycle starts. -- `window.opens` --
      `opens {point} is before the cycle starts ({start})`
  11. A window opens before the cycle ends. -- `window.opens` --
      `opens {point} is not before the cycle ends ({end} = {start} + {length})`
  12. A window is due after it opens. -- `window.due` --
      `due {point} must be after opens {point}`
  13. A window is due no later than the cycle ends. -- `window.due` --
      `due {point} is after the cycle ends ({end} = {start} + {length})`
  14. A phase opens no earlier than the phases listed before it. -- `window.opens` --
      `opens {point}, before phase "{id}" opens ({point}); phases open in the order
      they are listed`
  15. Reminders fall inside the window (strictly shorter than it). --
      `reminders[k].before_due`, `reminders[k].after_open` --
      `reminder {d} before due falls before the window opens (the window is {n} days
      long)`, `reminder {d} after opening falls after the due date (the window is {n}
      days long)`
  16. The check-in cadence is shorter than the monitoring window. --
      `checkins.cadence` --
      `check-in cadence {d} is not shorter than the monitoring window ({n} days); no
      check-in would fall due`

Forms
  17. Every form reference names a form declared in `forms`. -- the reference:
      `forms.{draft|review|realign}`, `objectives.{org|department}.form`,
      `checkins.form`, `anomaly_rules[k].form`,
      `forms.{self_review|manager_review|peer_review|upward_review|nomination}`,
      `calibration.form`, `minutes.form`, `acknowledgment.form`,
      `nine_box.potential.form`, `approval.form` --
      `form "{id}" is not declared in forms (did you mean "{id}"?); declared: {ids}`
      (the hint only when a close match exists; `declared: none` if none)
  18. A self_review, peer_review or upward_review weight above 0 needs its form. --
      `forms.{source}` -- `{source} weight {w} needs forms.{source}`
  19. A form that feeds a score (its source's weight is above 0, manager_review
      included) has a top-level `rating` or `competencies` property. --
      `forms.{source}` --
      `form "{id}" feeds the {source} score but has neither a "rating" nor a
      "competencies" property (it has: {properties})`
  20. The 9-box potential form has the named property. --
      `nine_box.potential.field` --
      `form "{id}" has no property "{field}" (it has: {properties})`

Weights
  21. Evaluation source weights sum to 100. -- `sources` --
      `evaluation sources must sum to 100, got {n} ({source} {w} + ...)` (sources
      with weight 0 left out)
  22. type_weights name only types in goal_types. -- `type_weights.{type}` --
      `type_weights names "{type}", which is not in goal_types ({types})`
  23. type_weights give every goal type a weight. -- `type_weights` --
      `type_weights has no weight for goal type "{type}"; give every type in
      goal_types a weight (0 is allowed)`
  24. type_weights sum to 100. -- `type_weights` --
      `type_weights must sum to 100, got {n} ({type} {w} + ...)`
  25. The minimum number of goals fits in 100%. -- `min_goal_weight` --
      `min_goals {n} x min_goal_weight {w} = {p}, more than 100`
  26. Calibration guideline percents sum to 100 (when a guideline is given). --
      `calibration.guideline` --
      `calibration guideline percents must sum to 100, got {n} (rating {r}: {p} + ...)`
  27. A goal_attainment weight above 0 needs a goal_setting phase. --
      `sources.goal_attainment` --
      `goal_attainment weight {w} needs a goal_setting phase`

Rating scale (levels ascend; a level covers scores in [min_score, max_score))
  28. Level values increase strictly. -- `rating_scale.levels[k].value` --
      `level values must increase strictly, got {v} after {v}`
  29. Every score band is non-empty. -- `rating_scale.levels[k].max_score` --
      `max_score {x} must be greater than min_score {y}`
  30. Score bands are contiguous. -- `rating_scale.levels[k].min_score` --
      `min_score {x} must equal the max_score {y} of the level before: score bands are
      contiguous`
  31. Calibration guideline ratings are on the scale. --
      `calibration.guideline[k].rating` --
      `rating {r} is not on the rating scale ({values})`

Peers and anonymity (a rater group gives reviews when -- peers: peer_review weight
above 0 or a `peers` section; direct_reports: upward_review weight above 0 or
`forms.upward_review`)
  32. A peer_review weight above 0 needs a `peers` section. -- `peers` --
      `peer_review weight {w} needs a peers section (who nominates, how many peers)`
  33. Anonymity is set only for groups that give reviews. -- `anonymity.{group}` --
      `anonymity for {group} is set, but no {group} reviews are collected ({why})`
  34. roll_into does not name its own group. -- `anonymity.{group}.roll_into` --
      `{group} may not roll into itself`
  35. roll_into does not form a cycle. -- `anonymity.{group}.roll_into` --
      `roll_into forms a cycle: {a} -> {b} -> {a}`
  36. roll_into names a group that gives reviews. -- `anonymity.{group}.roll_into` --
      `rolls into {group}, but no {group} reviews are collected ({why})`

Results (rating values are those of the evaluation phase's scale)
  37. Merit rows cover exactly the scale. -- `merit_matrix.rows`,
      `merit_matrix.rows[k].rating` --
      `merit matrix has no row for rating {r, ...} (the rating scale has {values})`,
      `rating {r} is not on the rating scale ({values})`
  38. Each row's increases name exactly the compa-ratio bands. --
      `merit_matrix.rows[k].increases`, `merit_matrix.rows[k].increases.{band}` --
      `no increase for compa-ratio band "{id}", ...; expected one per band: {ids}`,
      `unknown compa-ratio band "{id}"; bands: {ids}`
  39. Compa-ratio bands are open only at the extremes. --
      `merit_matrix.compa_ratio_bands[k]` --
      `band "{id}" needs a min: only the first band may be open below`,
      `band "{id}" needs a max: only the last band may be open above`
  40. A band's min is below its max. -- `merit_matrix.compa_ratio_bands[k].max` --
      `max {x} must be greater than min {y}`
  41. Bands ascend without gaps or overlaps. --
      `merit_matrix.compa_ratio_bands[k].min` --
      `min {x} must equal the max {y} of band "{id}" before it: bands are ascending and
      contiguous`
  42. A budget needs a merit matrix. -- `budget` --
      `budget needs a merit_matrix (the budget caps merit increases)`
  43. 9-box performance ratings are on the scale. --
      `nine_box.performance.{level}[k]` --
      `rating {r} is not on the rating scale ({values})`
  44. Every rating is in exactly one 9-box performance level. --
      `nine_box.performance.{level}[k]`, `nine_box.performance` --
      `rating {r} is already in {level}`,
      `rating {r, ...} is in none of low, medium, high; every rating needs exactly one`
  45. 9-box performance levels ascend. -- `nine_box.performance.{level}` --
      `{level} ratings must all be above {lower} ratings, got {r} in {level} and {r}
      in {lower}`
  46. Succession needs a 9-box. -- `succession` --
      `succession needs a nine_box (candidates are chosen by their 9-box position)`

Interview
  47. Prefill items have a source: goal_attainment needs a goal_setting phase,
      checkin_highlights a monitoring phase, significant_events a monitoring phase
      with significant_events enabled. -- `template[k].prefill[m]` --
      `prefill {item} needs a {kind} phase`,
      `prefill significant_events needs monitoring with significant_events enabled`

Expressions (sites and variables: `definitions.expressions`)
  48. Phase `when`, anomaly rule `when` and bonus `formula` compile and use only the
      variables and functions of their site, and give the right type. -- `when`,
      `anomaly_rules[k].when`, `bonus.formula` -- the `ExpressionError` message:
      `CEL syntax error at column {c}: {what}`,
      `unknown variable "{name}" (did you mean "{name}"?); {site} may use: {names}`,
      `unknown participant field "{name}" at column {c}; participant has: {names}`,
      `unknown function "{name}"; expressions may call: {names}`,
      `"{macro}(...)" at column {c} is not allowed: expressions have no
      comprehensions ...`, `type error: {what} (every number is a double: ...)`,
      `{site} must give true or false, got {what}`,
      `{site} must give a number, got {what}`,
      `expression nests brackets deeper than 32 levels`

Roles (`hrbp` means the participant's department's HR business partners; a
department without one falls back to `roles.hr_admins`)
  49. Routing to hrbp needs someone to route to: `roles.hrbp` or `roles.hr_admins`
      non-empty. -- `escalation.to`, `acknowledgment.on_timeout`,
      `calibration.calibrators` (enabled calibration), `approval.by` --
      `{escalation to|acknowledgment on_timeout|calibration by|approval by} hrbp needs
      roles.hrbp (HR business partners per department) or roles.hr_admins, who stand
      in for departments without one; both are empty`
  50. No department lists an empty set of HR business partners. --
      `roles.hrbp.{department}` --
      `no HR business partner listed for department "{department}"`

Decisions: routing to `hr` is not checked against `roles.hr_admins` (HR admins may
also be known to the API's authentication); a declared but unreferenced form is fine
(a later version may use it); `participants` filters are not cross-checked; compa-ratio
bands must be contiguous (a gap would leave some salaries without a band).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from definitions.durations import add_calendar, parse_duration, resolve_point
from definitions.expressions import ExpressionError, compile_expression
from definitions.models import (
    CycleDefinition,
    EvaluationPhase,
    GoalSettingPhase,
    InterviewPhase,
    MonitoringPhase,
    Phase,
    ResultsPhase,
)

KeyPath = tuple[str | int, ...]
Found = Iterator[tuple[KeyPath, str]]

PHASE_ORDER: tuple[str, ...] = ("goal_setting", "monitoring", "evaluation", "interview", "results")
NEEDS_BEFORE: dict[str, str] = {
    "monitoring": "goal_setting",
    "interview": "evaluation",
    "results": "evaluation",
}
_SCORED_SOURCES = ("self_review", "manager_review", "peer_review", "upward_review")


def check_definition(
    definition: CycleDefinition, form_schemas: Mapping[str, Mapping[str, Any]]
) -> Iterator[tuple[KeyPath, str]]:
    """Every semantic problem of `definition`, as (key path, message); see the list above."""
    yield from _phase_ids_and_order(definition)
    yield from _windows(definition)
    yield from _forms(definition)
    yield from _roles(definition)
    kinds: set[str] = {phase.kind for phase in definition.phases}
    scale = _scale_values(definition)
    for index, phase in enumerate(definition.phases):
        at: KeyPath = ("phases", index)
        if phase.when is not None:
            yield from _expression(phase.when, "phase.when", (*at, "when"))
        if isinstance(phase, GoalSettingPhase):
            yield from _goal_setting(phase, at)
        elif isinstance(phase, MonitoringPhase):
            yield from _monitoring(phase, at)
        elif isinstance(phase, EvaluationPhase):
            yield from _evaluation(phase, at, kinds, form_schemas)
        elif isinstance(phase, InterviewPhase):
            yield from _interview(phase, at, definition)
        elif isinstance(phase, ResultsPhase):
            yield from _results(phase, at, scale, form_schemas)


# --- helpers --------------------------------------------------------------------------


def _a(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _num(value: float) -> str:
    """12.0 -> "12", 12.5 -> "12.5": numbers as HR wrote them."""
    return f"{value:g}" if not float(value).is_integer() else str(int(value))


def _duplicates(
    keys: Iterable[Hashable],
    path: KeyPath,
    describe: Callable[[int], str],
    *,
    also: str,
    key: str | None = None,
) -> Found:
    """Report every repeat of a key at `path[index].key`; `describe(index)` says what."""
    seen: dict[Hashable, int] = {}
    for index, value in enumerate(keys):
        if value in seen:
            where: KeyPath = (*path, index) if key is None else (*path, index, key)
            yield where, f"{describe(index)} (also {also}[{seen[value]}])"
        else:
            seen[value] = index


def _repeated(values: Sequence[Any], path: KeyPath, name: str) -> Found:
    """A literal list (goal_types, calibrators, ...) naming the same value twice."""
    seen: dict[Any, int] = {}
    for index, value in enumerate(values):
        if value in seen:
            yield (*path, index), f'"{_plain(value)}" is listed twice (also {name}[{seen[value]}])'
        else:
            seen[value] = index


def _plain(value: Any) -> str:
    if hasattr(value, "model_dump"):
        return ", ".join(f"{k}: {v}" for k, v in value.model_dump().items())
    return str(value)


def _sum_text(parts: Sequence[tuple[str, float]]) -> str:
    shown = [f"{name} {_num(weight)}" for name, weight in parts if weight]
    return " + ".join(shown) if shown else "nothing"


def _values_text(values: Iterable[int]) -> str:
    return ", ".join(str(v) for v in values)


def _expression(source: str, site: str, path: KeyPath) -> Found:
    try:
        compile_expression(source, site)
    except ExpressionError as exc:
        yield path, exc.message


def _scale_values(definition: CycleDefinition) -> tuple[int, ...] | None:
    for phase in definition.phases:
        if isinstance(phase, EvaluationPhase):
            return tuple(level.value for level in phase.rating_scale.levels)
    return None


# --- phases: ids, kinds, order --------------------------------------------------------


def _phase_ids_and_order(definition: CycleDefinition) -> Found:
    phases = definition.phases
    yield from _duplicates(
        (p.id for p in phases),
        ("phases",),
        lambda i: f'duplicate phase id "{phases[i].id}"',
        also="phases",
        key="id",
    )
    first_of_kind: dict[str, int] = {}
    for index, phase in enumerate(phases):
        if phase.kind in first_of_kind:
            yield (
                ("phases", index, "kind"),
                (
                    f"a cycle has at most one {phase.kind} phase; "
                    f"phases[{first_of_kind[phase.kind]}] is one already"
                ),
            )
        else:
            first_of_kind[phase.kind] = index
    for index, phase in enumerate(phases):
        rank = PHASE_ORDER.index(phase.kind)
        for earlier_index in range(index):
            earlier = phases[earlier_index]
            if PHASE_ORDER.index(earlier.kind) > rank:
                yield (
                    ("phases", index, "kind"),
                    (
                        f'{phase.kind} phase "{phase.id}" must come before {earlier.kind} phase '
                        f'"{earlier.id}" (phases[{earlier_index}]); the order is '
                        + ", ".join(PHASE_ORDER)
                    ),
                )
                break
        needed = NEEDS_BEFORE.get(phase.kind)
        if needed is not None and needed not in first_of_kind:
            yield (
                ("phases", index, "kind"),
                f"{_a(phase.kind)} {phase.kind} phase needs {_a(needed)} {needed} phase "
                "before it (there is none)",
            )


# --- windows --------------------------------------------------------------------------


def _show(point: str, moment: datetime) -> str:
    if not point.startswith("P"):
        return point
    when = (
        moment.date().isoformat() if moment.time() == time() else moment.strftime("%Y-%m-%d %H:%M")
    )
    return f"{point} ({when})"


def _span(delta: timedelta) -> str:
    if delta % timedelta(days=1) == timedelta():
        days = delta.days
        return f"{days} day" if days == 1 else f"{days} days"
    hours = delta / timedelta(hours=1)
    return f"{_num(hours)} hours"


def _at_least(duration: str | None, length: timedelta) -> bool:
    """`duration` is given and not shorter than `length` (the models refuse durations
    `parse_duration` cannot read; one that slips through is not this check's report)."""
    if duration is None:
        return False
    try:
        return parse_duration(duration) >= length
    except (ValueError, OverflowError):
        return False


def _windows(definition: CycleDefinition) -> Found:
    calendar = definition.calendar
    start = datetime.combine(calendar.start, time(), tzinfo=ZoneInfo(calendar.timezone))
    try:
        end: datetime | None = add_calendar(start, calendar.length)
    except (ValueError, OverflowError) as exc:
        yield ("calendar", "length"), f"cannot place {calendar.length} on the calendar: {exc}"
        end = None
    end_text = (
        f"{end.date().isoformat()} = {calendar.start.isoformat()} + {calendar.length}"
        if end is not None
        else ""
    )
    latest: tuple[datetime, str, str] | None = None  # opens, its text, phase id
    for index, phase in enumerate(definition.phases):
        at: KeyPath = ("phases", index, "window")
        points: dict[str, datetime] = {}
        for key in ("opens", "due"):
            point: str = getattr(phase.window, key)
            try:
                points[key] = resolve_point(start, point)
            except (ValueError, OverflowError) as exc:
                yield (*at, key), f"cannot place {point} on the calendar: {exc}"
        opens, due = points.get("opens"), points.get("due")
        opens_text = _show(phase.window.opens, opens) if opens else phase.window.opens
        due_text = _show(phase.window.due, due) if due else phase.window.due
        if opens is not None:
            if opens < start:
                yield (
                    (*at, "opens"),
                    (
                        f"opens {opens_text} is before the cycle starts "
                        f"({calendar.start.isoformat()})"
                    ),
                )
            if end is not None and opens >= end:
                yield (
                    (*at, "opens"),
                    f"opens {opens_text} is not before the cycle ends ({end_text})",
                )
            if latest is not None and opens < latest[0]:
                yield (
                    (*at, "opens"),
                    (
                        f'opens {opens_text}, before phase "{latest[2]}" opens ({latest[1]}); '
                        "phases open in the order they are listed"
                    ),
                )
            if latest is None or opens >= latest[0]:
                latest = (opens, opens_text, phase.id)
        if due is not None and end is not None and due > end:
            yield (*at, "due"), f"due {due_text} is after the cycle ends ({end_text})"
        if opens is None or due is None:
            continue
        if due <= opens:
            yield (*at, "due"), f"due {due_text} must be after opens {opens_text}"
            continue
        length = due - opens
        for r_index, reminder in enumerate(phase.reminders):
            r_at: KeyPath = ("phases", index, "reminders", r_index)
            if _at_least(reminder.before_due, length):
                yield (
                    (*r_at, "before_due"),
                    (
                        f"reminder {reminder.before_due} before due falls before the window opens "
                        f"(the window is {_span(length)} long)"
                    ),
                )
            if _at_least(reminder.after_open, length):
                yield (
                    (*r_at, "after_open"),
                    (
                        f"reminder {reminder.after_open} after opening falls after the due date "
                        f"(the window is {_span(length)} long)"
                    ),
                )
        if isinstance(phase, MonitoringPhase) and _at_least(phase.checkins.cadence, length):
            yield (
                ("phases", index, "checkins", "cadence"),
                (
                    f"check-in cadence {phase.checkins.cadence} is not shorter than the monitoring "
                    f"window ({_span(length)}); no check-in would fall due"
                ),
            )


# --- forms ----------------------------------------------------------------------------


def _form_refs(phase: Phase, at: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    """Every form a phase references, with the path of the reference."""
    refs: list[tuple[KeyPath, str | None]] = []
    if isinstance(phase, GoalSettingPhase):
        refs += [
            ((*at, "forms", name), getattr(phase.forms, name))
            for name in ("draft", "review", "realign")
        ]
        refs.append(((*at, "objectives", "org", "form"), phase.objectives.org.form))
        if phase.objectives.department is not None:
            refs.append(
                ((*at, "objectives", "department", "form"), phase.objectives.department.form)
            )
    elif isinstance(phase, MonitoringPhase):
        refs.append(((*at, "checkins", "form"), phase.checkins.form))
        refs += [
            ((*at, "anomaly_rules", k, "form"), rule.form)
            for k, rule in enumerate(phase.anomaly_rules)
        ]
    elif isinstance(phase, EvaluationPhase):
        refs += [
            ((*at, "forms", name), getattr(phase.forms, name))
            for name in (
                "self_review",
                "manager_review",
                "peer_review",
                "upward_review",
                "nomination",
            )
        ]
        if phase.calibration is not None:
            refs.append(((*at, "calibration", "form"), phase.calibration.form))
    elif isinstance(phase, InterviewPhase):
        refs.append(((*at, "minutes", "form"), phase.minutes.form))
        if phase.acknowledgment is not None:
            refs.append(((*at, "acknowledgment", "form"), phase.acknowledgment.form))
    elif isinstance(phase, ResultsPhase):
        if phase.nine_box is not None:
            refs.append(((*at, "nine_box", "potential", "form"), phase.nine_box.potential.form))
        refs.append(((*at, "approval", "form"), phase.approval.form))
    for path, form_id in refs:
        if form_id is not None:
            yield path, form_id


def _forms(definition: CycleDefinition) -> Found:
    forms = definition.forms
    yield from _duplicates(
        (form.id for form in forms),
        ("forms",),
        lambda i: f'duplicate form id "{forms[i].id}"',
        also="forms",
        key="id",
    )
    declared = [form.id for form in definition.forms]
    shown = ", ".join(declared) if declared else "none"
    for index, phase in enumerate(definition.phases):
        for path, form_id in _form_refs(phase, ("phases", index)):
            if form_id not in declared:
                close = difflib.get_close_matches(form_id, declared, n=1)
                hint = f' (did you mean "{close[0]}"?)' if close else ""
                yield path, f'form "{form_id}" is not declared in forms{hint}; declared: {shown}'


def _properties(schema: Mapping[str, Any]) -> list[str]:
    properties = schema.get("properties")
    return sorted(properties) if isinstance(properties, Mapping) else []


# --- goal setting and monitoring ------------------------------------------------------


def _goal_setting(phase: GoalSettingPhase, at: KeyPath) -> Found:
    yield from _repeated(phase.goal_types, (*at, "goal_types"), "goal_types")
    if phase.type_weights is not None:
        for goal_type in phase.type_weights:
            if goal_type not in phase.goal_types:
                yield (
                    (*at, "type_weights", goal_type),
                    (
                        f'type_weights names "{goal_type}", which is not in goal_types '
                        f"({', '.join(phase.goal_types)})"
                    ),
                )
        for goal_type in dict.fromkeys(phase.goal_types):
            if goal_type not in phase.type_weights:
                yield (
                    (*at, "type_weights"),
                    (
                        f'type_weights has no weight for goal type "{goal_type}"; give every type '
                        "in goal_types a weight (0 is allowed)"
                    ),
                )
        total = sum(phase.type_weights.values())
        if total != 100:
            yield (
                (*at, "type_weights"),
                (
                    f"type_weights must sum to 100, got {total} "
                    f"({_sum_text(list(phase.type_weights.items()))})"
                ),
            )
    least = phase.min_goals * phase.min_goal_weight
    if least > 100:
        yield (
            (*at, "min_goal_weight"),
            (
                f"min_goals {phase.min_goals} x min_goal_weight {phase.min_goal_weight} = {least}, "
                "more than 100"
            ),
        )


def _monitoring(phase: MonitoringPhase, at: KeyPath) -> Found:
    yield from _ids(phase.anomaly_rules, (*at, "anomaly_rules"), "anomaly rule")
    yield from _ids(phase.progress_sources, (*at, "progress_sources"), "progress source")
    yield from _repeated(
        phase.significant_events.categories,
        (*at, "significant_events", "categories"),
        "categories",
    )
    for index, rule in enumerate(phase.anomaly_rules):
        yield from _expression(
            rule.when, "anomaly_rule.when", (*at, "anomaly_rules", index, "when")
        )


def _ids(items: Sequence[Any], path: KeyPath, what: str) -> Found:
    yield from _duplicates(
        (item.id for item in items),
        path,
        lambda i: f'duplicate {what} id "{items[i].id}"',
        also=str(path[-1]),
        key="id",
    )


# --- evaluation -----------------------------------------------------------------------


def _active_groups(phase: EvaluationPhase) -> dict[str, str | None]:
    """Rater group -> None if it gives reviews, else why not."""
    sources, forms = phase.sources, phase.forms
    return {
        "peers": None
        if sources.peer_review > 0 or phase.peers is not None
        else "peer_review weight is 0 and there is no peers section",
        "direct_reports": None
        if sources.upward_review > 0 or forms.upward_review is not None
        else "upward_review weight is 0 and there is no forms.upward_review",
    }


def _evaluation(
    phase: EvaluationPhase,
    at: KeyPath,
    kinds: set[str],
    form_schemas: Mapping[str, Mapping[str, Any]],
) -> Found:
    sources = phase.sources
    weights = [(name, getattr(sources, name)) for name in type(sources).model_fields]
    total = sum(weight for _, weight in weights)
    if total != 100:
        yield (
            (*at, "sources"),
            (f"evaluation sources must sum to 100, got {total} ({_sum_text(weights)})"),
        )
    if sources.goal_attainment > 0 and "goal_setting" not in kinds:
        yield (
            (*at, "sources", "goal_attainment"),
            (f"goal_attainment weight {sources.goal_attainment} needs a goal_setting phase"),
        )
    for name in ("self_review", "peer_review", "upward_review"):
        weight = getattr(sources, name)
        if weight > 0 and getattr(phase.forms, name) is None:
            yield (*at, "forms", name), f"{name} weight {weight} needs forms.{name}"
    if sources.peer_review > 0 and phase.peers is None:
        yield (
            (*at, "peers"),
            (
                f"peer_review weight {sources.peer_review} needs a peers section "
                "(who nominates, how many peers)"
            ),
        )
    for name in _SCORED_SOURCES:
        form_id = getattr(phase.forms, name)
        if getattr(sources, name) > 0 and form_id in form_schemas:
            properties = _properties(form_schemas[form_id])
            if "rating" not in properties and "competencies" not in properties:
                yield (
                    (*at, "forms", name),
                    (
                        f'form "{form_id}" feeds the {name} score but has neither a "rating" nor a '
                        f'"competencies" property (it has: {", ".join(properties) or "none"})'
                    ),
                )

    active = _active_groups(phase)
    for group, rules in phase.anonymity.items():
        g_at: KeyPath = (*at, "anonymity", group)
        if active[group] is not None:
            yield (
                g_at,
                (
                    f"anonymity for {group} is set, but no {group} reviews are collected "
                    f"({active[group]})"
                ),
            )
        target = rules.roll_into
        if target is None:
            continue
        if target == group:
            yield (*g_at, "roll_into"), f"{group} may not roll into itself"
            continue
        if active[target] is not None:
            yield (
                (*g_at, "roll_into"),
                (f"rolls into {target}, but no {target} reviews are collected ({active[target]})"),
            )
    yield from _roll_cycles(phase, at)

    yield from _ids(phase.competencies, (*at, "competencies"), "competency")
    yield from _rating_scale(phase, at)
    if phase.calibration is not None:
        yield from _calibration(phase, at)


def _roll_cycles(phase: EvaluationPhase, at: KeyPath) -> Found:
    edges = {
        group: rules.roll_into
        for group, rules in phase.anonymity.items()
        if rules.roll_into is not None and rules.roll_into != group
    }
    reported: set[str] = set()
    for group in edges:
        chain = [group]
        node = edges.get(group)
        while node is not None and node not in chain:
            chain.append(node)
            node = edges.get(node)
        if node == group and not reported & set(chain):
            reported |= set(chain)
            yield (
                (*at, "anonymity", group, "roll_into"),
                (f"roll_into forms a cycle: {' -> '.join([*chain, group])}"),
            )


def _rating_scale(phase: EvaluationPhase, at: KeyPath) -> Found:
    levels = phase.rating_scale.levels
    l_at: KeyPath = (*at, "rating_scale", "levels")
    yield from _duplicates(
        (level.label.casefold() for level in levels),
        l_at,
        lambda i: f'duplicate label "{levels[i].label}"',
        also="levels",
        key="label",
    )
    for index, level in enumerate(levels):
        if level.max_score <= level.min_score:
            yield (
                (*l_at, index, "max_score"),
                (
                    f"max_score {_num(level.max_score)} must be greater than min_score "
                    f"{_num(level.min_score)}"
                ),
            )
        if index == 0:
            continue
        before = levels[index - 1]
        if level.value <= before.value:
            yield (
                (*l_at, index, "value"),
                (f"level values must increase strictly, got {level.value} after {before.value}"),
            )
        if not math.isclose(level.min_score, before.max_score, abs_tol=1e-9):
            yield (
                (*l_at, index, "min_score"),
                (
                    f"min_score {_num(level.min_score)} must equal the max_score "
                    f"{_num(before.max_score)} of the level before: score bands are contiguous"
                ),
            )


def _calibration(phase: EvaluationPhase, at: KeyPath) -> Found:
    assert phase.calibration is not None
    calibration = phase.calibration
    c_at: KeyPath = (*at, "calibration")
    yield from _repeated(calibration.calibrators, (*c_at, "calibrators"), "calibrators")
    if not calibration.guideline:
        return
    values = [level.value for level in phase.rating_scale.levels]
    guideline = calibration.guideline
    yield from _duplicates(
        (band.rating for band in guideline),
        (*c_at, "guideline"),
        lambda i: f"duplicate guideline for rating {guideline[i].rating}",
        also="guideline",
        key="rating",
    )
    for index, band in enumerate(calibration.guideline):
        if band.rating not in values:
            yield (
                (*c_at, "guideline", index, "rating"),
                (f"rating {band.rating} is not on the rating scale ({_values_text(values)})"),
            )
    total = sum(band.percent for band in calibration.guideline)
    if not math.isclose(total, 100, abs_tol=1e-6):
        parts = [(f"rating {band.rating}:", band.percent) for band in calibration.guideline]
        yield (
            (*c_at, "guideline"),
            (
                f"calibration guideline percents must sum to 100, got {_num(round(total, 6))} "
                f"({_sum_text(parts)})"
            ),
        )


# --- interview ------------------------------------------------------------------------


def _interview(phase: InterviewPhase, at: KeyPath, definition: CycleDefinition) -> Found:
    yield from _ids(phase.template, (*at, "template"), "template section")
    kinds = {p.kind for p in definition.phases}
    monitoring = next((p for p in definition.phases if isinstance(p, MonitoringPhase)), None)
    for s_index, section in enumerate(phase.template):
        p_at: KeyPath = (*at, "template", s_index, "prefill")
        yield from _repeated(section.prefill, p_at, "prefill")
        for index, item in enumerate(section.prefill):
            if item == "goal_attainment" and "goal_setting" not in kinds:
                yield (*p_at, index), "prefill goal_attainment needs a goal_setting phase"
            elif item == "checkin_highlights" and monitoring is None:
                yield (*p_at, index), "prefill checkin_highlights needs a monitoring phase"
            elif item == "significant_events" and (
                monitoring is None or not monitoring.significant_events.enabled
            ):
                yield (
                    (*p_at, index),
                    ("prefill significant_events needs monitoring with significant_events enabled"),
                )


# --- results --------------------------------------------------------------------------


def _results(
    phase: ResultsPhase,
    at: KeyPath,
    scale: tuple[int, ...] | None,
    form_schemas: Mapping[str, Mapping[str, Any]],
) -> Found:
    yield from _repeated(phase.hris_sync.targets, (*at, "hris_sync", "targets"), "targets")
    if phase.merit_matrix is not None:
        yield from _merit_matrix(phase, at, scale)
    elif phase.budget is not None:
        yield (*at, "budget"), "budget needs a merit_matrix (the budget caps merit increases)"
    if phase.bonus is not None:
        yield from _expression(phase.bonus.formula, "bonus.formula", (*at, "bonus", "formula"))
    if phase.nine_box is not None:
        yield from _nine_box(phase, at, scale, form_schemas)
    if phase.succession is not None:
        yield from _repeated(
            phase.succession.candidate_boxes,
            (*at, "succession", "candidate_boxes"),
            "candidate_boxes",
        )
        if phase.nine_box is None:
            yield (
                (*at, "succession"),
                ("succession needs a nine_box (candidates are chosen by their 9-box position)"),
            )


def _merit_matrix(phase: ResultsPhase, at: KeyPath, scale: tuple[int, ...] | None) -> Found:
    assert phase.merit_matrix is not None
    matrix = phase.merit_matrix
    m_at: KeyPath = (*at, "merit_matrix")
    bands = matrix.compa_ratio_bands
    yield from _ids(bands, (*m_at, "compa_ratio_bands"), "compa-ratio band")
    last = len(bands) - 1
    for index, band in enumerate(bands):
        b_at: KeyPath = (*m_at, "compa_ratio_bands", index)
        if index > 0 and band.min is None:
            yield b_at, f'band "{band.id}" needs a min: only the first band may be open below'
        if index < last and band.max is None:
            yield b_at, f'band "{band.id}" needs a max: only the last band may be open above'
        if band.min is not None and band.max is not None and band.max <= band.min:
            yield (*b_at, "max"), f"max {_num(band.max)} must be greater than min {_num(band.min)}"
        before = bands[index - 1] if index > 0 else None
        if (
            before is not None
            and before.max is not None
            and band.min is not None
            and not math.isclose(band.min, before.max, abs_tol=1e-9)
        ):
            yield (
                (*b_at, "min"),
                (
                    f"min {_num(band.min)} must equal the max {_num(before.max)} of band "
                    f'"{before.id}" before it: bands are ascending and contiguous'
                ),
            )

    rows = matrix.rows
    yield from _duplicates(
        (row.rating for row in rows),
        (*m_at, "rows"),
        lambda i: f"duplicate merit row for rating {rows[i].rating}",
        also="rows",
        key="rating",
    )
    if scale is not None:
        scale_text = _values_text(scale)
        for index, row in enumerate(rows):
            if row.rating not in scale:
                yield (
                    (*m_at, "rows", index, "rating"),
                    (f"rating {row.rating} is not on the rating scale ({scale_text})"),
                )
        missing = [value for value in scale if value not in {row.rating for row in rows}]
        if missing:
            yield (
                (*m_at, "rows"),
                (
                    f"merit matrix has no row for rating {_values_text(missing)} "
                    f"(the rating scale has {scale_text})"
                ),
            )
    band_ids = list(dict.fromkeys(band.id for band in bands))
    for index, row in enumerate(rows):
        r_at: KeyPath = (*m_at, "rows", index, "increases")
        for band_id in row.increases:
            if band_id not in band_ids:
                yield (
                    (*r_at, band_id),
                    (f'unknown compa-ratio band "{band_id}"; bands: {", ".join(band_ids)}'),
                )
        absent = [band_id for band_id in band_ids if band_id not in row.increases]
        if absent:
            names = ", ".join(f'"{band_id}"' for band_id in absent)
            yield (
                r_at,
                (
                    f"no increase for compa-ratio band {names}; expected one per band: "
                    f"{', '.join(band_ids)}"
                ),
            )


def _nine_box(
    phase: ResultsPhase,
    at: KeyPath,
    scale: tuple[int, ...] | None,
    form_schemas: Mapping[str, Mapping[str, Any]],
) -> Found:
    assert phase.nine_box is not None
    box = phase.nine_box
    p_at: KeyPath = (*at, "nine_box", "performance")
    axis = box.performance
    levels = (("low", axis.low), ("medium", axis.medium), ("high", axis.high))
    placed: dict[int, str] = {}
    for level, ratings in levels:
        for index, rating in enumerate(ratings):
            if scale is not None and rating not in scale:
                yield (
                    (*p_at, level, index),
                    (f"rating {rating} is not on the rating scale ({_values_text(scale)})"),
                )
            elif rating in placed:
                yield (*p_at, level, index), f"rating {rating} is already in {placed[rating]}"
            else:
                placed[rating] = level
    if scale is not None:
        missing = [value for value in scale if value not in placed]
        if missing:
            yield (
                p_at,
                (
                    f"rating {_values_text(missing)} is in none of low, medium, high; every rating "
                    "needs exactly one"
                ),
            )
    for (lower, lower_ratings), (level, ratings) in pairwise(levels):
        if lower_ratings and ratings and min(ratings) <= max(lower_ratings):
            yield (
                (*p_at, level),
                (
                    f"{level} ratings must all be above {lower} ratings, got {min(ratings)} in "
                    f"{level} and {max(lower_ratings)} in {lower}"
                ),
            )
    form_id = box.potential.form
    if form_id in form_schemas:
        properties = _properties(form_schemas[form_id])
        if box.potential.field not in properties:
            yield (
                (*at, "nine_box", "potential", "field"),
                (
                    f'form "{form_id}" has no property "{box.potential.field}" '
                    f"(it has: {', '.join(properties) or 'none'})"
                ),
            )


# --- roles ----------------------------------------------------------------------------


def _roles(definition: CycleDefinition) -> Found:
    roles = definition.roles
    for department, people in roles.hrbp.items():
        if not people:
            yield (
                ("roles", "hrbp", department),
                (f'no HR business partner listed for department "{department}"'),
            )
    if any(roles.hrbp.values()) or roles.hr_admins:
        return
    for index, phase in enumerate(definition.phases):
        at: KeyPath = ("phases", index)
        uses: list[tuple[KeyPath, str]] = []
        if phase.escalation is not None and phase.escalation.to == "hrbp":
            uses.append(((*at, "escalation", "to"), "escalation to"))
        if (
            isinstance(phase, InterviewPhase)
            and phase.acknowledgment is not None
            and phase.acknowledgment.on_timeout == "hrbp"
        ):
            uses.append(((*at, "acknowledgment", "on_timeout"), "acknowledgment on_timeout"))
        if (
            isinstance(phase, EvaluationPhase)
            and phase.calibration is not None
            and phase.calibration.enabled
            and "hrbp" in phase.calibration.calibrators
        ):
            uses.append(((*at, "calibration", "calibrators"), "calibration by"))
        if isinstance(phase, ResultsPhase) and phase.approval.by == "hrbp":
            uses.append(((*at, "approval", "by"), "approval by"))
        for path, what in uses:
            yield (
                path,
                (
                    f"{what} hrbp needs roles.hrbp (HR business partners per department) or "
                    "roles.hr_admins, who stand in for departments without one; both are empty"
                ),
            )
