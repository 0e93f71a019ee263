"""Suggested KPI targets from history. Pure functions, no I/O.

For a KPI, the actuals of past cycles for the same metric are looked up by basis, in the
definition's order (`target_ranges.basis`: the person, then people in the same role,
then the department), and the first basis with at least `min_data_points` values gives
threshold / target / stretch at the definition's percentiles (25 / 50 / 90 by default).
Percentiles interpolate linearly between the sorted values (the common "type 7": the
p-th percentile of n values sits at position (n - 1) * p / 100). For a metric where
lower is better the percentiles are mirrored (threshold at 100 - 25 = 75, stretch at
100 - 90 = 10), so the stretch is always the hardest to reach.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

DEFAULT_PERCENTILES = (25, 50, 90)


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100) of `values` by linear interpolation."""
    if not values:
        raise ValueError("no values")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} is outside 0..100")
    ordered = sorted(values)
    position = (len(ordered) - 1) * p / 100
    low = math.floor(position)
    high = math.ceil(position)
    fraction = position - low
    return ordered[low] + (ordered[high] - ordered[low]) * fraction


@dataclass(frozen=True)
class Suggestion:
    threshold: float
    target: float
    stretch: float
    basis: str
    """Where the history came from: `person`, `role` or `department`."""
    data_points: int
    percentiles: tuple[int, int, int]

    def as_dict(self) -> dict[str, object]:
        return {
            "threshold": self.threshold,
            "target": self.target,
            "stretch": self.stretch,
            "source": {
                "basis": self.basis,
                "data_points": self.data_points,
                "percentiles": list(self.percentiles),
            },
        }


def suggest(
    history: Mapping[str, Sequence[float]],
    *,
    basis: Sequence[str] = ("person", "role", "department"),
    min_data_points: int = 3,
    percentiles: tuple[int, int, int] = DEFAULT_PERCENTILES,
    direction: str = "higher",
    places: int = 4,
) -> Suggestion | None:
    """Threshold / target / stretch from the first basis with enough history, or None."""
    for name in basis:
        values = [float(v) for v in history.get(name, ()) if math.isfinite(float(v))]
        if len(values) < min_data_points or not values:
            continue
        used = (
            percentiles
            if direction != "lower"
            else (100 - percentiles[0], 100 - percentiles[1], 100 - percentiles[2])
        )
        threshold, target, stretch = (round(percentile(values, p), places) for p in used)
        return Suggestion(threshold, target, stretch, name, len(values), percentiles)
    return None
