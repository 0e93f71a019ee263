"""Calibration: one group's picture for its calibrators, and a cycle's bias statistics."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from api.schemas.common import PublicModel


class GuidelineRow(PublicModel):
    rating: int
    count: int
    percent: float = Field(description="Share of the group's final ratings, 0..100.")
    guideline: float | None = Field(description="The definition's expected share, if any.")
    deviation: float | None = Field(description="percent - guideline, in points.")
    flagged: bool = Field(description="Deviates by more than the tolerance.")


class CalibrationMember(PublicModel):
    employee_id: str
    name: str | None = None
    score: float | None
    rating: int | None = Field(description="The computed rating (banded score).")
    final_rating: int | None = Field(description="The rating that stands (after calibration).")
    manager_id: str | None
    sources: dict[str, float] = Field(
        description="The sources that counted, after anonymity thresholds."
    )
    outlier: bool
    bias_flags: list[str] = Field(description="Flags of the member's manager as a reviewer.")


class Outlier(PublicModel):
    employee_id: str
    reasons: list[str]


class ReviewerBias(PublicModel):
    reviewer_id: str
    reviews: int
    mean: float | None = Field(description="Mean review value (1..5).")
    z: float | None = Field(description="(mean - population mean) / population stddev.")
    halo_spread: float | None = Field(description="Mean spread of competency ratings.")
    halo_reviews: int = Field(description="Reviews whose spread is under the halo limit.")
    middle_share: float | None = Field(description="Share of reviews at the scale's middle.")
    recency_share: float | None = Field(
        description="Share of the rated people's evidence in the last window."
    )
    flags: list[str]


class CalibrationChangePublic(PublicModel):
    employee_id: str
    from_rating: int | None
    to_rating: int
    reason: str
    calibrator_id: str
    at: datetime


class CalibrationTaskRef(PublicModel):
    task_id: str
    status: str
    assignee_id: str
    due_at: datetime


class CalibrationGroup(PublicModel):
    cycle_id: str
    group: str
    tolerance_points: float
    distribution: list[GuidelineRow] = Field(description="Highest rating first.")
    members: list[CalibrationMember]
    outliers: list[Outlier]
    managers: list[ReviewerBias] = Field(
        description="Bias statistics of the members' managers, from manager reviews only."
    )
    score_mean: float | None
    score_stddev: float | None
    changes: list[CalibrationChangePublic] = Field(description="Every change, oldest first.")
    task: CalibrationTaskRef | None = Field(
        description="The group's calibration task: submit its form to change ratings."
    )


class BiasStatistics(PublicModel):
    cycle_id: str
    population_mean: float | None
    population_stddev: float
    reviewers: list[ReviewerBias] = Field(
        description="Every reviewer (self reviews excluded), peer and upward reviews included."
    )
    managers: list[ReviewerBias] = Field(
        description="Managers, from their manager reviews, against all manager reviews."
    )
