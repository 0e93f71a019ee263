"""Cycle analytics for HR: the rating distribution against the guideline, the 9-box, and
what the results phase adds (calibration shifts, high performers, pay spend, succession)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.schemas.common import PublicModel

Level = Literal["low", "medium", "high"]


class RatingBand(PublicModel):
    rating: int
    label: str
    count: int
    percent: float = Field(description="Share of the rated people, 0..100.")
    guideline_percent: float | None = Field(description="The definition's expected share.")
    outside_tolerance: bool = Field(
        description="Deviates from the guideline by more than the tolerance."
    )


class NineBoxCell(PublicModel):
    performance: Level
    potential: Level
    count: int


class GroupDistribution(PublicModel):
    group: str
    participants: int
    rated: int
    distribution: list[RatingBand] = Field(description="Highest rating first.")
    outside_tolerance: int = Field(description="Ratings of this group off the guideline.")


class RatingMove(PublicModel):
    from_rating: int = Field(description="The computed rating.")
    to_rating: int = Field(description="The rating calibration agreed.")
    count: int


class GroupShift(PublicModel):
    group: str
    changed: int
    up: int
    down: int


class CalibrationShifts(PublicModel):
    changed: int = Field(description="People whose final rating differs from the computed one.")
    up: int
    down: int
    net_points: int = Field(description="Sum of (calibrated - computed) over everyone changed.")
    moves: list[RatingMove] = Field(description="Each from -> to pair, most frequent first.")
    by_group: list[GroupShift]


class ProfileStats(PublicModel):
    people: int
    tenure_years: float | None = Field(description="Mean tenure at the cycle's end.")
    goal_attainment: float | None = Field(description="Mean weighted goal progress, 0..1.")
    checkins_per_person: float | None = Field(description="Submitted check-ins per person.")
    checkins_on_time: float | None = Field(description="Share of check-in tasks on time, 0..1.")
    level: float | None = Field(description="Mean job level.")
    roles: dict[str, int] = Field(description="Job titles, most frequent first (top 5).")


class HighPerformerProfile(PublicModel):
    top_ratings: list[int] = Field(
        description="The ratings of the top band: the 9-box's high performance, else the "
        "scale's highest level."
    )
    top: ProfileStats
    rest: ProfileStats


class PaySpend(PublicModel):
    group: str = Field(description="A department, or `*` for the company total.")
    currency: str
    payroll: str
    budget: str | None = Field(description="The merit budget; null without one.")
    merit: str = Field(description="The sum of merit increases (after the budget rule).")
    requested: str = Field(description="The sum the matrix proposed, before the budget rule.")
    lump_sum: str
    bonus: str
    used_percent: float | None = Field(description="Merit spend in percent of the budget.")
    over_budget: bool


class SuccessionCandidate(PublicModel):
    employee_id: str
    nine_box: str
    rating: int | None
    department: str
    nominated: bool = Field(description="HR named them for this position.")


class SuccessionSlate(PublicModel):
    position: str
    candidates: list[SuccessionCandidate]


class ResultsAnalytics(PublicModel):
    """What the results phase adds to the cycle's analytics."""

    by_group: list[GroupDistribution] = Field(
        description="The rating distribution of each group against the guideline."
    )
    calibration: CalibrationShifts
    high_performers: HighPerformerProfile
    pay: list[PaySpend] = Field(description="Per group and currency, then the total.")
    succession: list[SuccessionSlate]
    talent_decisions: dict[str, int] = Field(description="Recorded decisions by kind.")


class CycleAnalytics(PublicModel):
    cycle_id: str
    definition: str
    group: str | None = Field(description="The group (department) shown; null for everyone.")
    groups: list[str] = Field(description="Every group of the cycle's participants.")
    participants: int
    rated: int
    unrated: int
    tolerance_points: float | None
    distribution: list[RatingBand] = Field(description="Highest rating first.")
    nine_box: list[NineBoxCell] = Field(description="All nine cells, high performance first.")
    nine_box_placed: int
    results: ResultsAnalytics | None = Field(
        default=None,
        description="Calibration shifts, the high-performer profile, pay spend against the "
        "budget, succession slates and talent decisions (pay: audited).",
    )
