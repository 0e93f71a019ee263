"""Property tests of the loader, with Hypothesis (derandomized, no example database).

- Round trip: a generated valid `CycleDefinition`, dumped to YAML (block or flow style) or
  JSON (which is YAML), loads back equal to itself.
- Robustness: arbitrary text, arbitrary bytes and mutations of a valid file either load or
  raise `DefinitionError`, never anything else, and every problem has a message and a
  line inside the file (or no line at all).

The generator stays inside the semantic rules (weights summing to 100, contiguous rating
bands, merit rows covering the scale, ...), so every generated definition must pass
`definitions.checks` too: a failure there is a bug in the checks or in this generator.
"""

from __future__ import annotations

import io
import json
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import hypothesis.strategies as st
from hypothesis import HealthCheck, Phase, given, settings
from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from definitions.checks import check_definition
from definitions.durations import resolve_point
from definitions.errors import DefinitionError
from definitions.loader import LoadedDefinition, load_file, load_text
from definitions.models import CycleDefinition

BROKEN = Path(__file__).parent / "broken"
FORMS = BROKEN / "forms"
BASE_LOADED = load_file(BROKEN / "_base.yaml", forms_dir=FORMS)
BASE_TEXT = BASE_LOADED.source_text
BASE_DATA: dict[str, Any] = BASE_LOADED.definition.model_dump(mode="json", by_alias=True)
FORM_SCHEMAS = BASE_LOADED.form_schemas


def deterministic(max_examples: int, *, shrink: bool = True) -> Any:
    """Same examples on every run and machine; no timing-based failures.

    `shrink=False` for the whole-definition generator: shrinking a failing definition of
    a few hundred drawn values takes minutes, and the unshrunk example is readable enough.
    """
    phases = [Phase.explicit, Phase.reuse, Phase.generate]
    return settings(
        derandomize=True,
        database=None,
        deadline=None,
        max_examples=max_examples,
        phases=[*phases, Phase.target, Phase.shrink] if shrink else phases,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- scalar strategies ----------------------------------------------------------------------

# Any Unicode scalar value that UTF-8 can carry (no lone surrogates).
CHARS = st.characters(codec="utf-8")
identifiers = st.from_regex(r"[a-z][a-z0-9]{0,10}(?:[-_][a-z0-9]{1,6}){0,2}", fullmatch=True)


def texts(max_size: int) -> st.SearchStrategy[str]:
    return st.text(CHARS, min_size=1, max_size=max_size)


# Mostly short text, now and then up to the 200-character limit of ShortText.
short_texts = st.one_of(texts(16), texts(16), texts(16), st.text(CHARS, min_size=150, max_size=200))
long_texts = texts(300)
employee_ids = texts(64)
# Keys of roles.hrbp. JSON escapes a character outside the BMP as 12 characters, and YAML
# reads an implicit key of at most 1024 characters: a JSON file with a longer key is not
# YAML. 80 characters keep every key under that limit.
hrbp_keys = texts(80)


def unique_subset(values: list[str], *, min_size: int = 1) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(values), unique=True, min_size=min_size, max_size=len(values))


@st.composite
def fixed_durations(draw: st.DrawFn, *, max_days: int = 1000) -> str:
    """A fixed ISO-8601 duration no longer than `max_days` (weeks, days, hours, minutes)."""
    unit = draw(st.sampled_from(["W", "D", "H", "M", "mixed"]))
    if unit == "W":
        return f"P{draw(st.integers(0, max_days // 7))}W"
    if unit == "D":
        return f"P{draw(st.integers(0, max_days))}D"
    if unit == "H":  # every part stays within what `parse_duration` accepts (100000)
        return f"PT{draw(st.integers(0, min(max_days * 24, 100_000)))}H"
    if unit == "M":
        return f"PT{draw(st.integers(1, min(max_days * 24 * 60, 100_000)))}M"
    days = draw(st.integers(0, max_days - 1))
    hours = draw(st.integers(0, 23))
    minutes = draw(st.integers(0, 59))
    return f"P{days}DT{hours}H{minutes}M"


def partition(total: int, parts: int) -> st.SearchStrategy[list[int]]:
    """`parts` non-negative integers summing to `total`."""
    cuts = st.lists(st.integers(0, total), min_size=parts - 1, max_size=parts - 1)
    return cuts.map(
        lambda c: [b - a for a, b in zip([0, *sorted(c)], [*sorted(c), total], strict=True)]
    )


percent_floats = st.floats(0, 100, allow_nan=False, allow_infinity=False)

PHASE_WHEN = [
    "participant.tenure_days > 90.0",
    'participant.department in ["Sales", "Support"]',
    "participant.is_manager",
    "!participant.is_manager || participant.direct_reports > 2.0",
]
RULE_WHEN = [
    "progress < 0.5 * expected_by_now",
    "days_since_checkin > 21.0",
    "blocked_count >= 2.0 && confidence < 0.4",
    "checkins_missed > 1.0 || overdue_tasks > 3.0",
]
BONUS = [
    "base_salary * target_percent / 100.0 * company_multiplier",
    "rating >= 3.0 ? 1.5 : 1.0",
    "max(0.0, score - 1.0)",
    "goal_attainment * (participant.is_manager ? 1.2 : 1.0)",
]
TIMEZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"]
LENGTHS = ["P1Y", "P12M", "P13M", "P1Y6M", "P2Y", "P400D"]  # every window below fits


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def put(target: dict[str, Any], key: str, value: Any) -> None:
    """Set an optional key; None means "leave it out" (the default applies)."""
    if value is None:
        target.pop(key, None)
    else:
        target[key] = value


# --- the definition generator ---------------------------------------------------------------


def _common(draw: st.DrawFn, phase: dict[str, Any], phase_id: str, window_days: int) -> None:
    phase["id"] = phase_id
    put(phase, "title", draw(maybe(short_texts)))
    put(phase, "when", draw(maybe(st.sampled_from(PHASE_WHEN))))
    limit = window_days - 1  # reminders must fall inside the window
    reminder = st.one_of(
        fixed_durations(max_days=limit).map(lambda d: {"before_due": d}),
        fixed_durations(max_days=limit).map(lambda d: {"after_open": d}),
    )
    phase["reminders"] = draw(st.lists(reminder, max_size=3))
    put(
        phase,
        "escalation",
        draw(
            maybe(
                st.fixed_dictionaries(
                    {
                        "after": fixed_durations(),
                        "to": st.sampled_from(["manager", "skip_level", "hrbp", "hr"]),
                    }
                )
            )
        ),
    )


def _goal_setting(draw: st.DrawFn, phase: dict[str, Any]) -> None:
    types = draw(unique_subset(["okr", "kpi", "development"]))
    phase["goal_types"] = types
    phase["min_goals"] = draw(st.integers(1, 5))
    phase["max_goals"] = draw(st.integers(phase["min_goals"], 12))
    phase["min_goal_weight"] = draw(st.integers(0, 100 // phase["min_goals"]))
    if draw(st.booleans()):
        phase["type_weights"] = dict(zip(types, draw(partition(100, len(types))), strict=True))
    else:
        phase["type_weights"] = None
    low = draw(st.integers(0, 98))
    mid = draw(st.integers(low + 1, 99))
    phase["target_ranges"] = {
        "from_history": draw(st.booleans()),
        "lookback_cycles": draw(st.integers(1, 10)),
        "basis": draw(unique_subset(["person", "role", "department"])),
        "min_data_points": draw(st.integers(1, 20)),
        "percentiles": {
            "threshold": low,
            "target": mid,
            "stretch": draw(st.integers(mid + 1, 100)),
        },
    }
    phase["alignment"] = {
        "required": draw(st.booleans()),
        "parents": draw(unique_subset(["org", "department", "manager"])),
    }
    phase["approval"] = {
        "by": draw(st.sampled_from(["manager", "none"])),
        "changes_after_approval": draw(st.sampled_from(["manager", "free", "locked"])),
        "max_rounds": draw(st.integers(1, 10)),
    }
    source = st.one_of(
        st.sampled_from(["launch", "api"]).map(lambda s: {"source": s, "form": None}),
        st.just({"source": "task", "form": "goal-review"}),
    )
    phase["objectives"] = {"org": draw(source), "department": draw(maybe(source))}
    phase["forms"] = {
        "draft": "goal-draft",
        "review": draw(st.sampled_from([None, "goal-review"])),
        "realign": draw(st.sampled_from([None, "goal-draft"])),
    }


def _monitoring(draw: st.DrawFn, phase: dict[str, Any]) -> None:
    phase["checkins"] = {
        "cadence": draw(st.sampled_from(["P1W", "P2W", "P4W", "P30D", "PT240H"])),
        "form": "checkin",
        "grace": draw(fixed_durations(max_days=14)),
    }
    sources = []
    for source_id in draw(st.lists(identifiers, unique=True, max_size=2)):
        kind = draw(st.sampled_from(["webhook", "github_issues"]))
        url = draw(
            st.from_regex(r"https?://[a-z]{1,10}\.example\.com/[a-z0-9/]{0,20}", fullmatch=True)
        )
        sources.append(
            {
                "id": source_id,
                "kind": kind,
                "url": url if kind == "github_issues" or draw(st.booleans()) else None,
                "secret_env": draw(maybe(st.from_regex(r"[A-Z][A-Z0-9_]{0,20}", fullmatch=True))),
            }
        )
    phase["progress_sources"] = sources
    rules = []
    for rule_id in draw(st.lists(identifiers, unique=True, max_size=3)):
        action = draw(st.sampled_from(["coach", "notify", "flag"]))
        rules.append(
            {
                "id": rule_id,
                "description": draw(maybe(long_texts)),
                "when": draw(st.sampled_from(RULE_WHEN)),
                "action": action,
                "cooldown": draw(fixed_durations()),
                "form": "coaching"
                if action == "coach"
                else draw(st.sampled_from([None, "coaching"])),
            }
        )
    phase["anomaly_rules"] = rules
    phase["evaluate_rules_every"] = draw(st.sampled_from(["P1D", "PT6H", "P1W"]))
    phase["significant_events"] = {
        "enabled": draw(st.booleans()),
        "categories": draw(st.lists(identifiers, unique=True, max_size=4)),
    }


@st.composite
def rating_scales(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(2, 6))
    values = sorted(draw(st.lists(st.integers(1, 10), unique=True, min_size=count, max_size=count)))
    bounds = sorted(
        draw(
            st.lists(
                st.floats(0, 10, allow_nan=False),
                unique=True,
                min_size=count + 1,
                max_size=count + 1,
            )
        )
    )
    labels = draw(st.lists(texts(40), min_size=count, max_size=count, unique_by=str.casefold))
    return [
        {"value": v, "label": label, "min_score": lo, "max_score": hi}
        for v, label, lo, hi in zip(values, labels, bounds, bounds[1:], strict=False)
    ]


def _evaluation(draw: st.DrawFn, phase: dict[str, Any]) -> list[int]:
    names = ["goal_attainment", "self_review", "manager_review", "peer_review", "upward_review"]
    sources = dict(zip(names, draw(partition(100, len(names))), strict=True))
    phase["sources"] = sources
    forms: dict[str, Any] = {"manager_review": "manager-review"}
    for name, form in (
        ("self_review", "self-review"),
        ("peer_review", "peer-review"),
        ("upward_review", "peer-review"),
    ):
        forms[name] = form if sources[name] > 0 or draw(st.booleans()) else None
    forms["nomination"] = draw(st.sampled_from([None, "nomination"]))
    phase["forms"] = forms
    if sources["peer_review"] > 0 or draw(st.booleans()):
        min_peers = draw(st.integers(0, 5))
        phase["peers"] = {
            "min_peers": min_peers,
            "max_peers": draw(st.integers(max(min_peers, 1), 10)),
            "nominated_by": draw(st.sampled_from(["employee", "manager"])),
            "approved_by": draw(st.sampled_from(["manager", "none"])),
            "max_requests_per_reviewer": draw(st.integers(1, 10)),
            "allow_decline": draw(st.booleans()),
        }
    else:
        phase["peers"] = None
    active = {
        "peers": phase["peers"] is not None,
        "direct_reports": forms["upward_review"] is not None,
    }
    anonymity: dict[str, Any] = {}
    for group in [g for g, on in active.items() if on and draw(st.booleans())]:
        scores = draw(st.integers(1, 5))
        other = "direct_reports" if group == "peers" else "peers"
        roll = (
            active[other] and not anonymity.get(other, {}).get("roll_into") and draw(st.booleans())
        )
        anonymity[group] = {
            "scores_threshold": scores,
            "comments_threshold": draw(st.integers(scores, 8)),
            "below_threshold": "roll_into" if roll else "drop",
            "roll_into": other if roll else None,
        }
    phase["anonymity"] = anonymity
    phase["competencies"] = [
        {"id": cid, "title": draw(short_texts), "description": draw(maybe(long_texts))}
        for cid in draw(st.lists(identifiers, unique=True, max_size=4))
    ]
    levels = draw(rating_scales())
    phase["rating_scale"] = {"levels": levels}
    scale = [level["value"] for level in levels]
    phase["bias_checks"] = {
        "halo": draw(maybe(st.just({"max_stddev": 0.3, "min_competencies": 2}))),
        "leniency": draw(maybe(st.just({"z_threshold": 2.0, "min_reviews": 4}))),
        "severity": draw(maybe(st.just({"z_threshold": 1.5, "min_reviews": 3}))),
        "central_tendency": draw(maybe(st.just({"max_share_middle": 0.7, "min_reviews": 5}))),
        "recency": draw(maybe(st.just({"window": "P21D", "max_share": 0.5}))),
    }
    if draw(st.booleans()):
        rated = draw(unique_subset([str(v) for v in scale]))
        guideline = [
            {"rating": int(r), "percent": float(p)}
            for r, p in zip(rated, draw(partition(100, len(rated))), strict=True)
        ]
        phase["calibration"] = {
            "enabled": draw(st.booleans()),
            "group_by": draw(st.sampled_from(["department", "location", "manager"])),
            "calibrators": draw(unique_subset(["hrbp", "hr", "department_head"])),
            "guideline": draw(st.sampled_from([[], guideline])),
            "tolerance_points": draw(st.floats(0, 100, allow_nan=False)),
            "form": draw(st.sampled_from([None, "calibration"])),
        }
    else:
        phase["calibration"] = None
    return scale


def _interview(draw: st.DrawFn, phase: dict[str, Any], prefill_items: list[str]) -> None:
    phase["template"] = [
        {
            "id": sid,
            "title": draw(short_texts),
            "prompt": draw(maybe(long_texts)),
            "prefill": draw(unique_subset(prefill_items, min_size=0)),
        }
        for sid in draw(st.lists(identifiers, unique=True, min_size=1, max_size=3))
    ]
    phase["minutes"] = {"recorded_by": "manager", "form": "minutes"}
    if draw(st.booleans()):
        phase["acknowledgment"] = {
            "required": draw(st.booleans()),
            "due": draw(fixed_durations(max_days=30)),
            "form": "acknowledgment",
            "on_timeout": draw(st.sampled_from(["manager", "skip_level", "hrbp", "hr"])),
        }
    else:
        phase["acknowledgment"] = None
    phase["action_items"] = {"become_development_goals": draw(st.booleans())}


@st.composite
def increase_ranges(draw: st.DrawFn) -> dict[str, float]:
    low, high = sorted([draw(percent_floats), draw(percent_floats)])
    return {"min_percent": low, "max_percent": high}


def _results(draw: st.DrawFn, phase: dict[str, Any], scale: list[int]) -> None:
    if draw(st.booleans()):
        count = draw(st.integers(1, 4))
        cuts = sorted(
            draw(
                st.lists(
                    st.floats(0.01, 3, allow_nan=False),
                    unique=True,
                    min_size=count - 1,
                    max_size=count - 1,
                )
            )
        )
        band_ids = draw(st.lists(identifiers, unique=True, min_size=count, max_size=count))
        edges: list[float | None] = [None, *cuts, None]
        bands = [
            {"id": bid, "min": lo, "max": hi}
            for bid, lo, hi in zip(band_ids, edges, edges[1:], strict=False)
        ]
        rows = [
            {"rating": value, "increases": {bid: draw(increase_ranges()) for bid in band_ids}}
            for value in draw(st.permutations(scale))
        ]
        phase["merit_matrix"] = {
            "compa_ratio_bands": bands,
            "rows": rows,
            "above_range_max": draw(st.sampled_from(["lump_sum", "cap"])),
        }
        put(
            phase,
            "budget",
            draw(
                maybe(
                    st.fixed_dictionaries(
                        {
                            "percent_of_payroll": percent_floats,
                            "scope": st.sampled_from(["department", "company"]),
                            "when_exceeded": st.sampled_from(["scale", "flag"]),
                        }
                    )
                )
            ),
        )
    else:
        phase.pop("merit_matrix", None)
        phase.pop("budget", None)
    put(
        phase,
        "bonus",
        draw(
            maybe(
                st.fixed_dictionaries(
                    {"formula": st.sampled_from(BONUS), "target_percent": percent_floats}
                )
            )
        ),
    )
    if draw(st.booleans()):
        a = draw(st.integers(0, len(scale)))
        b = draw(st.integers(a, len(scale)))
        phase["nine_box"] = {
            "performance": {"low": scale[:a], "medium": scale[a:b], "high": scale[b:]},
            "potential": {"form": "potential", "field": "potential"},
        }
        boxes = [
            {"performance": p, "potential": q}
            for p in ("low", "medium", "high")
            for q in ("low", "medium", "high")
        ]
        put(
            phase,
            "succession",
            draw(
                maybe(
                    st.fixed_dictionaries(
                        {
                            "key_positions": st.lists(short_texts, max_size=2),
                            "candidate_boxes": st.lists(
                                st.sampled_from(boxes), unique_by=str, min_size=1, max_size=3
                            ),
                            "min_tenure_days": st.integers(0, 2000),
                            "max_candidates_per_position": st.integers(1, 5),
                        }
                    )
                )
            ),
        )
    else:
        phase.pop("nine_box", None)
        phase.pop("succession", None)
    phase["hris_sync"] = {
        "targets": draw(unique_subset(["rating", "merit", "bonus", "talent_flags"], min_size=0))
    }
    phase["carry_over"] = {
        "action_items_to_development_goals": draw(st.booleans()),
        "actuals_to_target_history": draw(st.booleans()),
        "open_goals": draw(st.sampled_from(["drop", "carry"])),
    }
    phase["approval"] = {
        "by": draw(st.sampled_from(["hr", "hrbp"])),
        "per": draw(st.sampled_from(["department", "company"])),
    }


@st.composite
def definitions(draw: st.DrawFn) -> CycleDefinition:
    """A valid cycle: the base's shape (the five phase kinds, its windows and forms) with
    every other field drawn, optional sections present or absent."""
    data = json.loads(json.dumps(BASE_DATA))
    include = {
        "monitoring": draw(st.booleans()),
        "interview": draw(st.booleans()),
        "results": draw(st.booleans()),
    }
    data["metadata"] = {
        "name": draw(identifiers),
        "version": draw(st.integers(1, 2**40)),
        "title": draw(short_texts),
        "description": draw(maybe(long_texts)),
        "owner": draw(short_texts),
    }
    people = draw(st.lists(employee_ids, unique=True, max_size=4))
    split = draw(st.integers(0, len(people)))
    data["participants"] = {
        "departments": draw(st.lists(short_texts, max_size=3)),
        "locations": draw(st.lists(short_texts, max_size=2)),
        "employment_types": draw(
            unique_subset(["full_time", "part_time", "contractor", "intern"], min_size=0)
        ),
        "min_tenure_days": draw(st.integers(0, 5000)),
        "include": people[:split],
        "exclude": people[split:],
    }
    start = draw(st.dates(date(2000, 1, 1), date(2200, 12, 31)))
    zone = draw(st.sampled_from(TIMEZONES))
    data["calendar"] = {
        "start": start.isoformat(),
        "length": draw(st.sampled_from(LENGTHS)),
        "timezone": zone,
    }
    data["roles"] = {
        "hr_admins": draw(st.lists(employee_ids, min_size=1, max_size=2)),
        "hrbp": draw(
            st.dictionaries(hrbp_keys, st.lists(employee_ids, min_size=1, max_size=2), max_size=2)
        ),
    }
    data["forms"] = [
        {**form, "title": draw(maybe(short_texts))} for form in draw(st.permutations(data["forms"]))
    ]

    phase_ids = draw(st.lists(identifiers, unique=True, min_size=5, max_size=5))
    moment = datetime.combine(start, time(), tzinfo=ZoneInfo(zone))
    phases = []
    scale: list[int] = []
    for phase, phase_id in zip(data["phases"], phase_ids, strict=True):
        kind = phase["kind"]
        if not include.get(kind, True):
            continue
        window = phase["window"]
        opens = resolve_point(moment, window["opens"])
        window_days = (resolve_point(moment, window["due"]) - opens).days
        for key in ("opens", "due"):  # a duration from the start, or the same day as a date
            if draw(st.booleans()):
                window[key] = resolve_point(moment, window[key]).date().isoformat()
        _common(draw, phase, phase_id, window_days)
        if kind == "goal_setting":
            _goal_setting(draw, phase)
        elif kind == "monitoring":
            _monitoring(draw, phase)
        elif kind == "evaluation":
            scale = _evaluation(draw, phase)
        elif kind == "interview":
            items = ["rating", "goal_attainment", "feedback_themes", "development_goals"]
            monitoring = next((p for p in phases if p["kind"] == "monitoring"), None)
            if monitoring is not None:
                items.append("checkin_highlights")
                if monitoring["significant_events"]["enabled"]:
                    items.append("significant_events")
            _interview(draw, phase, items)
        else:
            _results(draw, phase, scale)
        phases.append(phase)
    data["phases"] = phases
    definition = CycleDefinition.model_validate_json(json.dumps(data))
    problems = list(check_definition(definition, FORM_SCHEMAS))
    assert not problems, f"generator produced a definition the checks refuse: {problems}"
    return definition


# --- round trips ----------------------------------------------------------------------------


def differences(before: Any, after: Any, path: str = "") -> list[str]:
    """Where two JSON-like values differ, as `path: before != after` lines."""
    if isinstance(before, dict) and isinstance(after, dict):
        return [
            line
            for key in sorted(set(before) | set(after), key=str)
            for line in differences(before.get(key), after.get(key), f"{path}.{key}")
        ]
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [
            line
            for index, (a, b) in enumerate(zip(before, after, strict=True))
            for line in differences(a, b, f"{path}[{index}]")
        ]
    return [] if before == after else [f"{path}: {before!r} != {after!r}"]


def assert_same(loaded: LoadedDefinition, definition: CycleDefinition, text: str) -> None:
    if loaded.definition != definition:
        changed = differences(
            definition.model_dump(mode="json", by_alias=True),
            loaded.definition.model_dump(mode="json", by_alias=True),
        )
        raise AssertionError("\n".join(["changed in the round trip:", *changed, "text:", text]))


# Ruamel's emitter (0.19) has bugs of its own, which are not the loader's: it writes NEL,
# LINE SEPARATOR and PARAGRAPH SEPARATOR raw inside plain and single-quoted scalars, where
# YAML reads them as line breaks; it writes a plain `?0` in flow style, which no parser
# accepts; and when it folds a long double-quoted scalar just before an escape such as
# `\N`, it drops the `\` that keeps the fold from becoming a space. So the generated YAML
# double-quotes strings holding such breaks (in flow style, every string) and is not
# folded (a wide line width).
_RAW_BREAKS = ("\x85", "\u2028", "\u2029")


def _quoted(data: Any, *, everything: bool) -> Any:
    if isinstance(data, dict):
        return {
            _quoted(k, everything=everything): _quoted(v, everything=everything)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [_quoted(item, everything=everything) for item in data]
    if isinstance(data, str) and (everything or any(c in data for c in _RAW_BREAKS)):
        return DoubleQuotedScalarString(data)
    return data


def to_yaml(data: Any, *, flow: bool) -> str:
    yaml = YAML(typ="rt", pure=True)
    yaml.default_flow_style = flow
    yaml.width = 100_000
    stream = io.StringIO()
    yaml.dump(_quoted(data, everything=flow), stream)
    return stream.getvalue()


@deterministic(max_examples=25, shrink=False)
@given(definition=definitions(), flow=st.booleans())
def test_yaml_round_trip(definition: CycleDefinition, flow: bool) -> None:
    data = definition.model_dump(mode="json", by_alias=True)
    text = to_yaml(data, flow=flow)
    loaded = load_text(text, file="generated.yaml", forms_dir=FORMS)
    assert_same(loaded, definition, text)
    assert loaded.definition.model_dump(mode="json", by_alias=True) == data


@deterministic(max_examples=15, shrink=False)
@given(definition=definitions(), indent=st.sampled_from([None, 2]))
def test_json_round_trip(definition: CycleDefinition, indent: int | None) -> None:
    """JSON is YAML: a definition exported as JSON loads with the same loader."""
    data = definition.model_dump(mode="json", by_alias=True)
    text = json.dumps(data, indent=indent, ensure_ascii=True)
    loaded = load_text(text, file="generated.json", forms_dir=FORMS)
    assert_same(loaded, definition, text)


# --- robustness -----------------------------------------------------------------------------

YAML_ALPHABET = st.sampled_from(
    list("[]{}:-,?&*!|>'\"#%@`~ \t\n\r\\.=0123456789abkxyP\u00e9\ufeff")
)
_BREAKS = ("\n", "\r", "\x85", "\u2028", "\u2029")


def _line_bound(raw: str | bytes) -> int:
    """An upper bound on the line numbers a problem may cite: every kind of line break counts."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return 0  # undecodable: problems cannot have a line
    return sum(raw.count(b) for b in _BREAKS) + 1


def assert_loads_or_refuses_cleanly(raw: str | bytes) -> None:
    """Anything but `LoadedDefinition` or `DefinitionError` propagates and fails the test."""
    try:
        loaded = load_text(raw, file="fuzz.yaml", forms_dir=FORMS)
    except DefinitionError as exc:
        problems = exc.problems
    else:
        assert isinstance(loaded, LoadedDefinition)
        return
    assert problems, "DefinitionError without problems"
    bound = _line_bound(raw)
    for problem in problems:
        assert problem.message.strip(), problem
        assert problem.file == "fuzz.yaml"
        if problem.line is None:
            assert problem.column is None, problem
        else:
            assert 1 <= problem.line <= bound, (problem, bound)
            assert problem.column is None or problem.column >= 1, problem


@deterministic(max_examples=300)
@given(text=st.text())
def test_arbitrary_text_is_loaded_or_refused(text: str) -> None:
    assert_loads_or_refuses_cleanly(text)


@deterministic(max_examples=300)
@given(text=st.text(YAML_ALPHABET, max_size=80))
def test_yaml_punctuation_soup_is_loaded_or_refused(text: str) -> None:
    assert_loads_or_refuses_cleanly(text)


@deterministic(max_examples=200)
@given(raw=st.binary())
def test_arbitrary_bytes_are_loaded_or_refused(raw: bytes) -> None:
    assert_loads_or_refuses_cleanly(raw)


BASE_LINES = BASE_TEXT.splitlines(keepends=True)


@st.composite
def mutated_base(draw: st.DrawFn) -> str:
    """The valid base file after one to three small edits of the kinds people make."""
    lines = list(BASE_LINES)
    for _ in range(draw(st.integers(1, 3))):
        index = draw(st.integers(0, len(lines) - 1))
        line = lines[index]
        operation = draw(
            st.sampled_from(["delete", "duplicate", "swap", "scalar", "indent", "insert"])
        )
        if operation == "delete":
            del lines[index]
        elif operation == "duplicate":
            lines.insert(index, line)
        elif operation == "swap" and len(line) > 2:
            at = draw(st.integers(0, len(line) - 3))
            lines[index] = line[:at] + line[at + 1] + line[at] + line[at + 2 :]
        elif operation == "scalar" and ": " in line:
            key = line.split(": ", 1)[0]
            lines[index] = f"{key}: {draw(st.text(CHARS, max_size=20))}\n"
        elif operation == "indent":
            lines[index] = draw(st.sampled_from([" ", "  ", "    ", "\t"])) + line
        else:
            at = draw(st.integers(0, len(line)))
            lines[index] = (
                line[:at] + draw(st.text(YAML_ALPHABET, min_size=1, max_size=3)) + line[at:]
            )
        if not lines:
            break
    return "".join(lines)


@deterministic(max_examples=80)
@given(text=mutated_base())
def test_mutations_of_a_valid_file_are_loaded_or_refused(text: str) -> None:
    assert_loads_or_refuses_cleanly(text)
