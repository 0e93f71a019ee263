"""The cycle-definition language as pydantic models.

Every model is strict (no silent coercion of "5" to 5), frozen, and forbids unknown keys,
so a typo in HR's YAML is an error with a location, never a silently ignored setting.
Structural rules that concern one model live here as validators; rules that span the
file (phase order, form references, CEL variables, scale consistency) live in
`definitions.checks`, so that every problem of a file is reported at once.

YAML keys are snake_case except `apiVersion`, which follows the Kubernetes convention.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from definitions.durations import (
    CALENDAR_DURATION_RE,
    FIXED_DURATION_RE,
    parse_calendar_duration,
    parse_duration,
)

API_VERSION = "perfloop.io/v1"


class Strict(BaseModel):
    """Base of every definition model: strict, frozen, no unknown keys."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        frozen=True,
        populate_by_name=False,
        serialize_by_alias=True,
        str_strip_whitespace=False,
    )


# --- scalar types ---------------------------------------------------------------------

_IDENTIFIER_RE = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _identifier(value: str) -> str:
    if not _IDENTIFIER_RE.match(value) or len(value) > 63:
        raise PydanticCustomError(
            "identifier",
            'expected a lower-case identifier like "annual-review" (letters, digits, "-" or '
            '"_", at most 63 characters), got "{value}"',
            {"value": value},
        )
    return value


def _fixed_duration(value: str) -> str:
    if not FIXED_DURATION_RE.match(value):
        raise PydanticCustomError(
            "duration",
            "expected an ISO-8601 duration like P7D, P2W or PT12H (weeks, days, hours, minutes"
            '), got "{value}"',
            {"value": value},
        )
    _parsable(parse_duration, value)
    return value


def _calendar_duration(value: str) -> str:
    if not CALENDAR_DURATION_RE.match(value):
        raise PydanticCustomError(
            "duration",
            'expected an ISO-8601 duration like P7D, P3M or P1Y, got "{value}"',
            {"value": value},
        )
    _parsable(parse_calendar_duration, value)
    return value


def _parsable(parse: Callable[[str], object], value: str) -> None:
    """What the pattern admits but the engine cannot use (a part above 100000) is refused
    here, not by a workflow at run time."""
    try:
        parse(value)
    except ValueError as exc:
        raise PydanticCustomError(
            "duration", 'cannot use "{value}": {reason}', {"value": value, "reason": str(exc)}
        ) from None


def _window_point(value: str) -> str:
    if CALENDAR_DURATION_RE.match(value):
        _parsable(parse_calendar_duration, value)
        return value
    if _DATE_RE.match(value):
        try:
            date.fromisoformat(value)
        except ValueError:
            pass
        else:
            return value
    raise PydanticCustomError(
        "window_point",
        "expected an ISO-8601 duration from the cycle start like P30D, or a date like "
        '2027-01-31, got "{value}"',
        {"value": value},
    )


def _timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise PydanticCustomError(
            "timezone",
            'expected an IANA time zone like "Europe/Berlin" or "UTC", got "{value}"',
            {"value": value},
        ) from None
    return value


Identifier = Annotated[str, AfterValidator(_identifier)]
"""A lower-case id: phases, forms, competencies, rules, bands."""

FormRef = Annotated[str, AfterValidator(_identifier)]
"""The id of an entry in the definition's `forms` list."""

Duration = Annotated[
    str,
    AfterValidator(_fixed_duration),
    Field(json_schema_extra={"pattern": FIXED_DURATION_RE.pattern}, examples=["P7D", "PT12H"]),
]
"""A fixed-length ISO-8601 duration (weeks, days, hours, minutes, seconds): timers."""

CalendarDuration = Annotated[
    str,
    AfterValidator(_calendar_duration),
    Field(json_schema_extra={"pattern": CALENDAR_DURATION_RE.pattern}, examples=["P1Y", "P3M"]),
]
"""An ISO-8601 duration that may use years and months, added on the calendar."""

WindowPoint = Annotated[
    str,
    AfterValidator(_window_point),
    Field(examples=["P30D", "2027-01-31"]),
]
"""A point in the cycle: a calendar duration from the cycle start, or a date."""

Expression = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
"""A CEL expression; its allowed variables depend on where it stands (see checks)."""

Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
EmployeeId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Percent = Annotated[float, Field(ge=0, le=100)]
PositiveInt = Annotated[int, Field(ge=1)]
RatingValue = Annotated[int, Field(ge=1, le=10)]

Role = Literal["manager", "skip_level", "hrbp", "hr"]
GoalType = Literal["okr", "kpi", "development"]
RaterGroup = Literal["peers", "direct_reports"]
Level = Literal["low", "medium", "high"]


# --- the envelope ---------------------------------------------------------------------


class Metadata(Strict):
    name: Identifier = Field(description="Stable name of the cycle; with version, its ref.")
    version: PositiveInt = Field(description="Integer version; a changed file is a new version.")
    title: ShortText
    description: Text | None = None
    owner: ShortText = Field(description="Team or person accountable for the definition.")


class Participants(Strict):
    """Who takes part. Empty lists mean "no restriction"; include/exclude win over filters."""

    departments: tuple[ShortText, ...] = ()
    locations: tuple[ShortText, ...] = ()
    employment_types: tuple[Literal["full_time", "part_time", "contractor", "intern"], ...] = ()
    min_tenure_days: Annotated[int, Field(ge=0)] = 0
    include: tuple[EmployeeId, ...] = ()
    exclude: tuple[EmployeeId, ...] = ()

    @model_validator(mode="after")
    def _include_exclude_disjoint(self) -> Self:
        both = sorted(set(self.include) & set(self.exclude))
        if both:
            raise PydanticCustomError(
                "participants",
                "employees listed in both include and exclude: {ids}",
                {"ids": ", ".join(both)},
            )
        return self


class Calendar(Strict):
    start: Annotated[date, Field(description="Default start date; a launch may override it.")]
    length: CalendarDuration = Field(description="How long the cycle runs from its start.")
    timezone: Annotated[str, AfterValidator(_timezone)] = "UTC"


class Roles(Strict):
    """Named people behind the roles a definition escalates to (employee ids)."""

    hr_admins: tuple[EmployeeId, ...] = ()
    hrbp: dict[ShortText, tuple[EmployeeId, ...]] = Field(
        default_factory=dict, description="HR business partners per department."
    )


class Form(Strict):
    """A task form: a JSON Schema (draft 2020-12) file under `definitions/forms/`."""

    id: Identifier
    schema_file: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*\.json$", max_length=200)
    ] = Field(description="Path under definitions/forms/, e.g. goal-draft.schema.json.")
    title: ShortText | None = None


# --- what every phase has -------------------------------------------------------------


class Window(Strict):
    opens: WindowPoint
    due: WindowPoint


class Reminder(Strict):
    """A nudge to the assignee of an open task: either before the due date or after opening."""

    before_due: Duration | None = None
    after_open: Duration | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.before_due is None) == (self.after_open is None):
            raise PydanticCustomError(
                "reminder", "give exactly one of before_due or after_open", {}
            )
        return self


class Escalation(Strict):
    """Who is told when a task is still open `after` its due date."""

    after: Duration
    to: Role


class PhaseBase(Strict):
    id: Identifier
    title: ShortText | None = None
    window: Window
    reminders: tuple[Reminder, ...] = ()
    escalation: Escalation | None = None
    when: Expression | None = Field(
        default=None,
        description="CEL condition over `participant`; the phase is skipped when false.",
    )


# --- phase 1: goal setting ------------------------------------------------------------


class TargetPercentiles(Strict):
    threshold: Annotated[int, Field(ge=0, le=100)] = 25
    target: Annotated[int, Field(ge=0, le=100)] = 50
    stretch: Annotated[int, Field(ge=0, le=100)] = 90

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.threshold < self.target < self.stretch:
            raise PydanticCustomError(
                "percentiles",
                "expected threshold < target < stretch, got {t} / {g} / {s}",
                {"t": self.threshold, "g": self.target, "s": self.stretch},
            )
        return self


class TargetRanges(Strict):
    """Suggested KPI targets from the actuals of past cycles."""

    from_history: bool = True
    lookback_cycles: Annotated[int, Field(ge=1, le=10)] = 3
    basis: tuple[Literal["person", "role", "department"], ...] = Field(
        default=("person", "role", "department"),
        min_length=1,
        description="Where history is looked for, in order, until enough data is found.",
    )
    min_data_points: PositiveInt = 3
    percentiles: TargetPercentiles = TargetPercentiles()


class Alignment(Strict):
    required: bool = True
    parents: tuple[Literal["org", "department", "manager"], ...] = Field(
        default=("department", "manager"), min_length=1
    )


class GoalApproval(Strict):
    by: Literal["manager", "none"] = "manager"
    changes_after_approval: Literal["manager", "free", "locked"] = "manager"
    max_rounds: Annotated[int, Field(ge=1, le=10)] = 3


class ObjectiveSource(Strict):
    source: Literal["launch", "api", "task"]
    form: FormRef | None = Field(default=None, description="Needed when source is task.")

    @model_validator(mode="after")
    def _task_needs_form(self) -> Self:
        if self.source == "task" and self.form is None:
            raise PydanticCustomError("objectives", "source task needs a form", {})
        return self


class Objectives(Strict):
    org: ObjectiveSource = ObjectiveSource(source="launch")
    department: ObjectiveSource | None = None


class GoalForms(Strict):
    draft: FormRef
    review: FormRef | None = None
    realign: FormRef | None = None


class GoalSettingPhase(PhaseBase):
    kind: Literal["goal_setting"]
    goal_types: tuple[GoalType, ...] = Field(min_length=1)
    min_goals: PositiveInt = 1
    max_goals: PositiveInt = 7
    type_weights: dict[GoalType, Annotated[int, Field(ge=0, le=100)]] | None = Field(
        default=None, description="Share of the total weight per goal type; sums to 100."
    )
    min_goal_weight: Annotated[int, Field(ge=0, le=100)] = 5
    alignment: Alignment = Alignment()
    target_ranges: TargetRanges = TargetRanges()
    approval: GoalApproval = GoalApproval()
    objectives: Objectives = Objectives()
    forms: GoalForms

    @model_validator(mode="after")
    def _counts(self) -> Self:
        if self.min_goals > self.max_goals:
            raise PydanticCustomError(
                "goal_count",
                "min_goals ({lo}) is greater than max_goals ({hi})",
                {"lo": self.min_goals, "hi": self.max_goals},
            )
        return self


# --- phase 2: monitoring --------------------------------------------------------------


class CheckIns(Strict):
    cadence: Duration
    form: FormRef
    grace: Duration = "P3D"


class ProgressSource(Strict):
    id: Identifier
    kind: Literal["webhook", "github_issues"]
    url: Annotated[str, StringConstraints(pattern=r"^https?://", max_length=500)] | None = None
    secret_env: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]*$")] | None = Field(
        default=None,
        description="Name of the environment variable holding the secret; never the secret.",
    )
    every: Duration = Field(
        default="P1D",
        description="How often a pulled source (github_issues) is read per participant.",
    )

    @model_validator(mode="after")
    def _pull_needs_url(self) -> Self:
        if self.kind == "github_issues" and self.url is None:
            raise PydanticCustomError("progress_source", "kind github_issues needs a url", {})
        return self


class AnomalyRule(Strict):
    id: Identifier
    description: Text | None = None
    when: Expression
    action: Literal["coach", "notify", "flag"]
    cooldown: Duration = "P14D"
    form: FormRef | None = Field(default=None, description="The coaching form (action coach).")

    @model_validator(mode="after")
    def _coach_needs_form(self) -> Self:
        if self.action == "coach" and self.form is None:
            raise PydanticCustomError("anomaly_rule", "action coach needs a form", {})
        return self


class SignificantEvents(Strict):
    enabled: bool = True
    categories: tuple[Identifier, ...] = ("achievement", "setback", "recognition", "feedback")


class MonitoringPhase(PhaseBase):
    kind: Literal["monitoring"]
    checkins: CheckIns
    progress_sources: tuple[ProgressSource, ...] = ()
    anomaly_rules: tuple[AnomalyRule, ...] = ()
    evaluate_rules_every: Duration = "P1D"
    significant_events: SignificantEvents = SignificantEvents()


# --- phase 3: evaluation --------------------------------------------------------------


class SourceWeights(Strict):
    """Weights of the evidence sources; sum to 100. A missing source re-normalises the rest."""

    goal_attainment: Annotated[int, Field(ge=0, le=100)] = 0
    self_review: Annotated[int, Field(ge=0, le=100)] = 0
    manager_review: Annotated[int, Field(ge=0, le=100)] = 0
    peer_review: Annotated[int, Field(ge=0, le=100)] = 0
    upward_review: Annotated[int, Field(ge=0, le=100)] = 0


class PeerReview(Strict):
    min_peers: Annotated[int, Field(ge=0)] = 3
    max_peers: PositiveInt = 6
    nominated_by: Literal["employee", "manager"] = "employee"
    approved_by: Literal["manager", "none"] = "manager"
    max_requests_per_reviewer: PositiveInt = 6
    allow_decline: bool = True

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.min_peers > self.max_peers:
            raise PydanticCustomError(
                "peers",
                "min_peers ({lo}) is greater than max_peers ({hi})",
                {"lo": self.min_peers, "hi": self.max_peers},
            )
        return self


class GroupAnonymity(Strict):
    scores_threshold: PositiveInt = 3
    comments_threshold: PositiveInt = 3
    below_threshold: Literal["drop", "roll_into"] = "drop"
    roll_into: RaterGroup | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.comments_threshold < self.scores_threshold:
            raise PydanticCustomError(
                "anonymity",
                "comments_threshold ({c}) may not be below scores_threshold ({s})",
                {"c": self.comments_threshold, "s": self.scores_threshold},
            )
        if (self.below_threshold == "roll_into") != (self.roll_into is not None):
            raise PydanticCustomError(
                "anonymity", "roll_into is given exactly when below_threshold is roll_into", {}
            )
        return self


class Competency(Strict):
    id: Identifier
    title: ShortText
    description: Text | None = None


class RatingLevel(Strict):
    value: RatingValue
    label: ShortText
    min_score: Annotated[float, Field(ge=0, le=10)]
    max_score: Annotated[float, Field(ge=0, le=10)]


class RatingScale(Strict):
    """Levels by ascending value; each covers scores in [min_score, max_score)."""

    levels: tuple[RatingLevel, ...] = Field(min_length=2, max_length=10)


class HaloCheck(Strict):
    max_stddev: Annotated[float, Field(gt=0)] = 0.25
    min_competencies: Annotated[int, Field(ge=2)] = 3


class DeviationCheck(Strict):
    z_threshold: Annotated[float, Field(gt=0)] = 1.5
    min_reviews: PositiveInt = 3


class CentralTendencyCheck(Strict):
    max_share_middle: Annotated[float, Field(gt=0, le=1)] = 0.8
    min_reviews: PositiveInt = 5


class RecencyCheck(Strict):
    window: Duration = "P30D"
    max_share: Annotated[float, Field(gt=0, le=1)] = 0.5


class BiasChecks(Strict):
    halo: HaloCheck | None = HaloCheck()
    leniency: DeviationCheck | None = DeviationCheck()
    severity: DeviationCheck | None = DeviationCheck()
    central_tendency: CentralTendencyCheck | None = CentralTendencyCheck()
    recency: RecencyCheck | None = RecencyCheck()


class GuidelineBand(Strict):
    rating: RatingValue
    percent: Percent


class Calibration(Strict):
    enabled: bool = True
    group_by: Literal["department", "location", "manager"] = "department"
    calibrators: tuple[Literal["hrbp", "hr", "department_head"], ...] = Field(
        default=("hrbp",), min_length=1
    )
    guideline: tuple[GuidelineBand, ...] = ()
    tolerance_points: Annotated[float, Field(ge=0, le=100)] = 10
    form: FormRef | None = None


class EvaluationForms(Strict):
    self_review: FormRef | None = None
    manager_review: FormRef
    peer_review: FormRef | None = None
    upward_review: FormRef | None = None
    nomination: FormRef | None = None


class EvaluationPhase(PhaseBase):
    kind: Literal["evaluation"]
    sources: SourceWeights
    peers: PeerReview | None = None
    anonymity: dict[RaterGroup, GroupAnonymity] = Field(default_factory=dict)
    competencies: tuple[Competency, ...] = ()
    rating_scale: RatingScale
    bias_checks: BiasChecks = BiasChecks()
    calibration: Calibration | None = None
    forms: EvaluationForms


# --- phase 4: interview ---------------------------------------------------------------

PrefillItem = Literal[
    "rating",
    "goal_attainment",
    "significant_events",
    "checkin_highlights",
    "feedback_themes",
    "development_goals",
]


class TemplateSection(Strict):
    id: Identifier
    title: ShortText
    prompt: Text | None = None
    prefill: tuple[PrefillItem, ...] = ()


class Minutes(Strict):
    recorded_by: Literal["manager"] = "manager"
    form: FormRef


class Acknowledgment(Strict):
    required: bool = True
    due: Duration = Field(default="P7D", description="After the minutes are shared.")
    form: FormRef
    on_timeout: Role = "hr"


class ActionItems(Strict):
    become_development_goals: bool = True


class InterviewPhase(PhaseBase):
    kind: Literal["interview"]
    template: tuple[TemplateSection, ...] = Field(min_length=1)
    minutes: Minutes
    acknowledgment: Acknowledgment | None = None
    action_items: ActionItems = ActionItems()


# --- phase 5: results -----------------------------------------------------------------


class CompaRatioBand(Strict):
    """Salary / range midpoint in [min, max); an open end is omitted."""

    id: Identifier
    min: Annotated[float, Field(ge=0)] | None = None
    max: Annotated[float, Field(gt=0)] | None = None


class IncreaseRange(Strict):
    min_percent: Percent
    max_percent: Percent

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min_percent > self.max_percent:
            raise PydanticCustomError(
                "increase",
                "min_percent ({lo}) is greater than max_percent ({hi})",
                {"lo": self.min_percent, "hi": self.max_percent},
            )
        return self


class MeritRow(Strict):
    rating: RatingValue
    increases: dict[Identifier, IncreaseRange] = Field(
        description="Compa-ratio band id -> increase range in percent of salary."
    )


class MeritMatrix(Strict):
    compa_ratio_bands: tuple[CompaRatioBand, ...] = Field(min_length=1)
    rows: tuple[MeritRow, ...] = Field(min_length=1)
    above_range_max: Literal["lump_sum", "cap"] = "lump_sum"


class Budget(Strict):
    percent_of_payroll: Percent
    scope: Literal["department", "company"] = "department"
    when_exceeded: Literal["scale", "flag"] = "scale"


class Bonus(Strict):
    formula: Expression
    target_percent: Percent = 10


class PerformanceAxis(Strict):
    low: tuple[RatingValue, ...]
    medium: tuple[RatingValue, ...]
    high: tuple[RatingValue, ...]


class PotentialSource(Strict):
    form: FormRef
    field: Identifier = "potential"


class NineBox(Strict):
    performance: PerformanceAxis
    potential: PotentialSource


class BoxRef(Strict):
    performance: Level
    potential: Level


class Succession(Strict):
    key_positions: tuple[ShortText, ...] = ()
    candidate_boxes: tuple[BoxRef, ...] = Field(min_length=1)
    min_tenure_days: Annotated[int, Field(ge=0)] = 365
    max_candidates_per_position: PositiveInt = 3


class HrisSync(Strict):
    targets: tuple[Literal["rating", "merit", "bonus", "talent_flags"], ...] = (
        "rating",
        "merit",
        "bonus",
        "talent_flags",
    )


class CarryOver(Strict):
    action_items_to_development_goals: bool = True
    actuals_to_target_history: bool = True
    open_goals: Literal["drop", "carry"] = "drop"


class ResultsApproval(Strict):
    by: Literal["hr", "hrbp"] = "hr"
    per: Literal["department", "company"] = "department"
    form: FormRef | None = Field(
        default=None, description="Approval form; the built-in approve/return form if omitted."
    )


class ResultsPhase(PhaseBase):
    kind: Literal["results"]
    merit_matrix: MeritMatrix | None = None
    budget: Budget | None = None
    bonus: Bonus | None = None
    nine_box: NineBox | None = None
    succession: Succession | None = None
    hris_sync: HrisSync = HrisSync()
    carry_over: CarryOver = CarryOver()
    approval: ResultsApproval = ResultsApproval()


Phase = Annotated[
    GoalSettingPhase | MonitoringPhase | EvaluationPhase | InterviewPhase | ResultsPhase,
    Field(discriminator="kind"),
]
PhaseKind = Literal["goal_setting", "monitoring", "evaluation", "interview", "results"]


class CycleDefinition(Strict):
    """A whole review cycle, as HR writes it."""

    api_version: Literal["perfloop.io/v1"] = Field(alias="apiVersion")
    kind: Literal["Cycle"]
    metadata: Metadata
    participants: Participants = Participants()
    calendar: Calendar
    roles: Roles = Roles()
    forms: tuple[Form, ...] = ()
    phases: tuple[Phase, ...] = Field(min_length=1)

    @property
    def ref(self) -> str:
        return f"{self.metadata.name}@{self.metadata.version}"

    def phase(self, phase_id: str) -> Phase:
        for phase in self.phases:
            if phase.id == phase_id:
                return phase
        raise KeyError(phase_id)

    def form_ids(self) -> set[str]:
        return {form.id for form in self.forms}
