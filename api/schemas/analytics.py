"""Cycle analytics for HR: the rating distribution against the guideline, and the 9-box."""

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
