"""Plausible form payloads for simulated people (`perfloop demo`, benchmarks, tests).

`SchemaFaker` builds a value from a form's JSON Schema (draft 2020-12, the subset our
forms use: objects, `$ref` into `$defs`, `allOf` of `if`/`then`, enums, bounded strings,
numbers and arrays, `false` for forbidden properties, `propertyNames` with a pattern).
It is deterministic for a given `random.Random`. `fill_task` adds what a schema cannot
say: the cycle's goal rules (how many goals, weights summing to 100, a parent for every
OKR and KPI), decisions that move the cycle along, ratings with a believable spread,
competency scores under the definition's competency ids. Every payload is validated
against its schema before it is returned; a payload that does not validate is a bug here.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import jsonschema

WORDS = tuple(
    " ".join(
        (
            "customer onboarding pipeline quality reliability latency revenue retention",
            "coverage mentoring roadmap migration release cadence documentation hiring",
            "forecast margin automation incident response partner launch platform security",
            "compliance training feedback analytics pricing support backlog design review",
            "accessibility performance",
        )
    ).split()
)

SENTENCES = (
    "Delivered the quarterly release on time and with fewer defects than planned.",
    "Took ownership of the onboarding flow and cut time to first value by a third.",
    "Needs to delegate more and give the team room to grow.",
    "Shared knowledge generously; two colleagues now run the weekly review alone.",
    "Could communicate risks earlier, before they become blockers.",
    "Built strong relationships with the partner teams in Lisbon and Berlin.",
    "Focus next year on mentoring and on the platform migration.",
    "Consistently raised the bar on code review and documentation.",
    "The pricing analysis changed how the whole department plans.",
    "Progress slowed in the summer but recovered after the re-planning in September.",
)


class FakeFormError(ValueError):
    """No valid payload could be built (the schema uses something this faker lacks)."""


@dataclass
class SchemaFaker:
    """Builds values that satisfy a JSON Schema; `optional` is the chance of an optional
    property being filled in."""

    rng: random.Random
    optional: float = 0.4
    max_string: int = 160
    hints: dict[str, Any] = field(default_factory=dict)

    def generate(self, schema: Mapping[str, Any], root: Mapping[str, Any] | None = None) -> Any:
        return self._value(schema, root or schema, "")

    # -- dispatch ----------------------------------------------------------------------

    def _resolve(self, schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in schema:
            ref = str(schema["$ref"])
            if not ref.startswith("#/"):
                raise FakeFormError(f"only local $ref is supported, not {ref}")
            target: Any = root
            for part in ref[2:].split("/"):
                target = target[part]
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return schema

    def _value(self, schema: Mapping[str, Any] | bool, root: Mapping[str, Any], name: str) -> Any:
        if schema is True:
            return self._string({}, name)
        if schema is False:
            raise FakeFormError(f"{name or 'value'} is forbidden")
        schema = self._resolve(schema, root)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return self.rng.choice(list(schema["enum"]))
        for key in ("oneOf", "anyOf"):
            if key in schema:
                return self._value(self.rng.choice(list(schema[key])), root, name)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind == "object" or "properties" in schema:
            return self._object(schema, root)
        if kind == "array":
            return self._array(schema, root, name)
        if kind == "string":
            return self._string(schema, name)
        if kind == "integer":
            return self._integer(schema)
        if kind == "number":
            return self._number(schema)
        if kind == "boolean":
            return self.rng.random() < 0.7
        if kind == "null":
            return None
        return self._string(schema, name)

    # -- objects ---------------------------------------------------------------------

    def _object(
        self,
        schema: Mapping[str, Any],
        root: Mapping[str, Any],
        fixed: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        properties: dict[str, Any] = dict(schema.get("properties", {}))
        required = list(schema.get("required", ()))
        value: dict[str, Any] = dict(fixed or {})
        for key in required:
            if key not in value and properties.get(key) is not False:
                value[key] = self._value(properties.get(key, {"type": "string"}), root, key)
        for key, subschema in properties.items():
            if key in value or subschema is False or key in required:
                continue
            if self.rng.random() < self.optional:
                value[key] = self._value(subschema, root, key)
        # Conditional parts: apply each `then` whose `if` holds for what we have so far.
        for clause in schema.get("allOf", ()):
            clause = self._resolve(clause, root)
            condition = clause.get("if")
            if condition is None:
                continue
            branch = clause.get("then") if _matches(condition, value) else clause.get("else")
            if not branch:
                continue
            for key, subschema in branch.get("properties", {}).items():
                if subschema is False:
                    value.pop(key, None)
            for key in branch.get("required", ()):
                if key not in value:
                    value[key] = self._value(properties.get(key, {"type": "string"}), root, key)
        names = schema.get("propertyNames")
        extra = schema.get("additionalProperties")
        if isinstance(names, Mapping) and isinstance(extra, Mapping) and not properties:
            wanted = self.hints.get("keys") or ()
            limit = int(schema.get("maxProperties", len(wanted)))
            for key in list(wanted)[:limit]:
                value.setdefault(key, self._value(extra, root, key))
        return value

    def _array(self, schema: Mapping[str, Any], root: Mapping[str, Any], name: str) -> list[Any]:
        low = int(schema.get("minItems", 0))
        high = int(schema.get("maxItems", max(low, 3)))
        count = self.rng.randint(low, max(low, min(high, low + 2)))
        items = schema.get("items", {"type": "string"})
        values: list[Any] = []
        for _ in range(count * 3):
            if len(values) == count:
                break
            item = self._value(items, root, name)
            if schema.get("uniqueItems") and item in values:
                continue
            values.append(item)
        return values

    # -- scalars -----------------------------------------------------------------------

    def _string(self, schema: Mapping[str, Any], name: str) -> str:
        low = int(schema.get("minLength", 0))
        high = min(int(schema.get("maxLength", self.max_string)), self.max_string)
        high = max(high, low)
        pattern = schema.get("pattern")
        if schema.get("format") == "date" or (pattern and "\\d{4}-\\d{2}" in pattern):
            start = self.hints.get("today") or date(2027, 6, 1)
            return (start + timedelta(days=self.rng.randint(7, 60))).isoformat()
        if pattern:
            for candidate in self._pattern_candidates(name):
                if re.search(pattern, candidate) and low <= len(candidate) <= high:
                    return candidate
            raise FakeFormError(f"cannot make a string for {name} matching {pattern}")
        text = self._text(name, low, high)
        return text

    def _pattern_candidates(self, name: str) -> list[str]:
        number = self.rng.randint(1, 99)
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "item"
        return [f"{slug}-{number}", f"E{number:03d}", f"{slug}{number}", "a"]

    def _text(self, name: str, low: int, high: int) -> str:
        if high <= 40:
            words = self.rng.sample(WORDS, k=min(len(WORDS), self.rng.randint(1, 4)))
            text = " ".join(words).capitalize()
        else:
            count = 1 if high < 200 else self.rng.randint(1, 3)
            text = " ".join(self.rng.sample(SENTENCES, k=count))
        while len(text) < low:
            text += " " + self.rng.choice(SENTENCES)
        return text[:high].rstrip() if len(text) > high else text

    def _integer(self, schema: Mapping[str, Any]) -> int:
        low = int(schema.get("minimum", 0))
        high = int(schema.get("maximum", low + 100))
        if "exclusiveMinimum" in schema:
            low = int(schema["exclusiveMinimum"]) + 1
        if "exclusiveMaximum" in schema:
            high = int(schema["exclusiveMaximum"]) - 1
        return self.rng.randint(low, max(low, high))

    def _number(self, schema: Mapping[str, Any]) -> float:
        low = float(schema.get("minimum", 0.0))
        high = float(schema.get("maximum", low + 100.0))
        return round(self.rng.uniform(low, high), 2)


def _matches(condition: Mapping[str, Any], value: Mapping[str, Any]) -> bool:
    return jsonschema.Draft202012Validator(condition).is_valid(value)


def validation_errors(schema: Mapping[str, Any], payload: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"/{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(payload)
    ]


# --- task-aware payloads ------------------------------------------------------------------

RATING_WEIGHTS = {1: 3, 2: 12, 3: 50, 4: 28, 5: 7}
KPI_METRICS = (
    ("Net revenue retention", "%"),
    ("First response time", "hours"),
    ("Qualified pipeline", "kEUR"),
    ("Deployment frequency", "per week"),
    ("Customer satisfaction", "points"),
)


@dataclass
class TaskContext:
    """What a simulated person knows when filling in a task."""

    kind: str
    form_schema: Mapping[str, Any]
    subject_id: str
    prefill: Mapping[str, Any] = field(default_factory=dict)
    seq: int = 1
    today: date | None = None
    goal_setting: Any = None
    """The goal-setting phase of the definition (for goal drafts)."""
    competencies: Sequence[str] = ()
    sections: Sequence[str] = ()
    parent_ids: Sequence[str] = ()
    """Objectives a goal may align to (department first, then company)."""
    goal_ids: Sequence[str] = ()
    """The subject's current goals (for check-ins)."""
    ratings: Mapping[str, int] = field(default_factory=dict)
    """Ratings of a group's members (for calibration)."""
    may_decline: bool = False
    """A peer review the cycle lets the reviewer decline (`peers.allow_decline`)."""


DECLINE_RATE = 0.05
"""Share of declinable peer-review requests a simulated reviewer declines."""
APPROVAL_REMOVE_RATE = 0.1
"""Share of peer approvals in which the manager removes a nominee."""


def rating(rng: random.Random) -> int:
    return rng.choices(list(RATING_WEIGHTS), weights=list(RATING_WEIGHTS.values()))[0]


def fill_task(context: TaskContext, rng: random.Random) -> dict[str, Any]:
    """A payload for one task that passes its form's schema and the cycle's rules."""
    if context.kind == "peer_review" and context.may_decline and rng.random() < DECLINE_RATE:
        # Through the same submit, checked against `builtin-decline` instead of the form.
        return {"decline": True, "reason": "We have hardly worked together this cycle."}
    for _ in range(20):
        payload = _fill(context, rng)
        errors = validation_errors(context.form_schema, payload)
        if context.kind == "goal_draft" and context.goal_setting is not None:
            from workflows.phases.goal_setting import goal_rules

            errors += goal_rules(context.goal_setting)(payload)
        if not errors:
            return payload
    raise FakeFormError(f"no valid {context.kind} payload: {'; '.join(errors[:3])}")


def _fill(context: TaskContext, rng: random.Random) -> dict[str, Any]:
    keys: list[str] = []
    goal_reviews = ("goal_review", "goal_realign_review")
    if context.kind.endswith("_review") and context.kind not in goal_reviews:
        keys = list(context.competencies)
    elif context.kind == "interview_minutes":
        keys = list(context.sections)
    faker = SchemaFaker(rng, hints={"today": context.today, "keys": keys})
    schema = context.form_schema
    kind = context.kind
    if kind in ("goal_draft", "goal_realign"):
        return _goal_draft(context, rng, faker)
    suggested = [str(p) for p in context.prefill.get("peers", ())]
    if kind == "peer_nomination" and suggested:
        # The suggested colleagues (the prefill), within the cycle's bounds already.
        limit = int(schema.get("properties", {}).get("peers", {}).get("maxItems", 50))
        return {"peers": suggested[:limit]}
    if kind == "peer_approval":
        nominated = [str(p) for p in context.prefill.get("nominated", ())]
        if len(nominated) > 1 and rng.random() < APPROVAL_REMOVE_RATE:
            return {"remove": nominated[-1:], "comments": "Too far from this work."}
        return {}
    value = faker._object(faker._resolve(schema, schema), schema)
    if kind in goal_reviews:
        decision = "return" if context.seq == 1 and rng.random() < 0.1 else "approve"
        value["decision"] = decision
        if decision == "return":
            value["comments"] = "Please make the second goal measurable and align it."
        else:
            value.pop("comments", None)
    elif kind in ("results_approval",):
        value = {"decision": "approve", "comments": "Within budget; approved."}
    elif kind == "acknowledgment":
        if rng.random() < 0.06:
            value = {"decision": "disagree", "comment": "I see the rating differently."}
        else:
            value = {"decision": "acknowledge"}
    elif kind in ("self_review", "manager_review", "peer_review", "upward_review"):
        overall = rating(rng)
        if "rating" in schema.get("properties", {}):
            value["rating"] = overall
        if context.competencies:
            value["competencies"] = {
                competency: max(1, min(5, overall + rng.choice((-1, 0, 0, 1))))
                for competency in context.competencies
            }
    elif kind == "checkin":
        goal_ids = list(context.goal_ids) or ["unknown-goal"]
        progress_base = min(1.0, max(0.0, rng.gauss(0.55, 0.2)))
        value["goals"] = [
            {
                "goal_id": goal_id,
                "progress": round(min(1.0, max(0.0, progress_base + rng.uniform(-0.15, 0.15))), 2),
                "confidence": rng.choices((2, 3, 4, 5), weights=(1, 4, 4, 1))[0],
            }
            for goal_id in goal_ids[:10]
        ]
        value.pop("blockers", None)
    elif kind == "department_objectives":
        parents = list(context.parent_ids) or ["company"]
        group = context.subject_id.lstrip("@").lower().replace(" ", "-")
        value["objectives"] = [
            {
                "id": f"{group}-{index}",
                "title": f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)} for {group}",
                "parent_id": parents[(index - 1) % len(parents)],
            }
            for index in range(1, rng.randint(2, 4) + 1)
        ]
    elif kind == "calibration":
        adjustments = []
        for employee_id, current in sorted(context.ratings.items()):
            if rng.random() < 0.15:
                target = max(1, min(5, current + rng.choice((-1, 1))))
                adjustments.append(
                    {
                        "employee_id": employee_id,
                        "rating": target,
                        "reason": "Aligned with peers of the same level after discussion.",
                    }
                )
        value = {"adjustments": adjustments}
    elif kind == "interview_minutes" and context.sections:
        value["sections"] = {
            section: rng.choice(SENTENCES) for section in list(context.sections)[:12]
        }
    return value


def _goal_draft(context: TaskContext, rng: random.Random, faker: SchemaFaker) -> dict[str, Any]:
    phase = context.goal_setting
    low, high = (phase.min_goals, phase.max_goals) if phase else (1, 5)
    types: list[str] = list(phase.goal_types) if phase else ["okr", "kpi", "development"]
    minimum = int(phase.min_goal_weight) if phase else 1
    count = rng.randint(low, min(high, low + 2))
    kinds = [types[index % len(types)] for index in range(count)]
    rng.shuffle(kinds)
    weights = _weights(count, minimum, rng)
    schema = context.form_schema
    goal_schema = faker._resolve(schema["properties"]["goals"]["items"], schema)
    parents = list(context.parent_ids) or ["company"]
    goals = []
    for kind, weight in zip(kinds, weights, strict=True):
        fixed: dict[str, Any] = {
            "title": f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)} {rng.choice(WORDS)}",
            "type": kind,
            "weight": weight,
        }
        if kind != "development":
            fixed["parent_id"] = rng.choice(parents)
        goal = faker._object(goal_schema, schema, fixed)
        goal.pop("id", None)  # new goals: the store gives them ids
        if kind == "kpi":
            target = round(rng.uniform(50, 150), 1)
            metric, unit = rng.choice(KPI_METRICS)
            goal.update(
                metric=metric,
                unit=unit,
                direction="higher",
                threshold=round(target * 0.8, 1),
                target=target,
                stretch=round(target * 1.2, 1),
            )
        goals.append(goal)
    payload: dict[str, Any] = {"goals": goals}
    if context.kind == "goal_realign":
        payload.update(reason="priority_change", explanation="Priorities moved in the summer.")
    return payload


def _weights(count: int, minimum: int, rng: random.Random) -> list[int]:
    """`count` integers of at least `minimum` summing to 100."""
    spare = 100 - count * minimum
    if spare < 0:
        raise FakeFormError(f"{count} goals of at least {minimum} cannot sum to 100")
    cuts = sorted(rng.randint(0, spare) for _ in range(count - 1))
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, spare], strict=True)]
    return [minimum + part for part in parts]
