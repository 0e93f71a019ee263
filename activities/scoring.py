"""The arithmetic of evaluation and results, as pure functions.

No I/O, no clock, no store: each function takes numbers and definition models and
returns numbers, so the rules HR signs off on are tested in isolation and the activities
in `activities.records` stay thin. The choices, in one place:

- **Scores live on the 1..5 scale** of the review forms. Goal attainment (weighted
  progress, 0..1) maps linearly onto it: 0 -> 1.0, 0.5 -> 3.0, 1 -> 5.0.
- **A missing source re-normalises the rest**: the weighted mean runs over the sources a
  participant has, so someone without a self-review is scored on goals and the manager's
  review alone, with their weights scaled up to 100.
- **Banding**: a score gets the level whose `[min_score, max_score)` contains it, after
  rounding to 6 decimals so that float noise (2.4999999999999996) never drops a level.
  Below the lowest band is the lowest level, above the highest the highest; a score in
  a gap between bands gets the band below the gap.
- **Money is `Decimal`**, rounded to cents with ROUND_HALF_EVEN (banker's rounding: no
  upward drift when thousands of proposals are summed). Percentages keep 4 decimals.
- **Merit**: the increase is the midpoint of the matrix's range for the rating and the
  compa-ratio band (salary / range midpoint; bands are `[min, max)`). The range maximum
  is the midpoint times the largest finite band bound (1.1 for bands ending at 1.1);
  the part of an increase that would lift the salary above it is paid once as a lump
  sum (`above_range_max: lump_sum`) or dropped (`cap`).
- **Budget**: when the group's merit amounts exceed the budget and the definition says
  `scale`, every amount is multiplied by budget / total and rounded *down* to the cent,
  so the scaled sum never exceeds the budget (by at most a cent per person under it).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from typing import Literal

from definitions.models import (
    BoxRef,
    CompaRatioBand,
    MeritMatrix,
    PerformanceAxis,
    RatingLevel,
    RatingScale,
)

SCORE_MIN = 1.0
SCORE_MAX = 5.0
CENT = Decimal("0.01")
PERCENT_PLACES = Decimal("0.0001")
BANDING_PLACES = 6

Level = Literal["low", "medium", "high"]


# --- evaluation -------------------------------------------------------------------------


def goal_attainment(goals: Iterable[tuple[float, float]]) -> float | None:
    """Weighted mean progress of `(weight, progress)` pairs, or None without any weight.

    Progress is 0..1 per goal (the check-in form's range); the result is too.
    """
    pairs = [(float(weight), float(progress)) for weight, progress in goals if weight > 0]
    total = sum(weight for weight, _ in pairs)
    if total <= 0:
        return None
    return sum(weight * progress for weight, progress in pairs) / total


def attainment_score(attainment: float) -> float:
    """Goal attainment (0..1, clamped) on the 1..5 review scale."""
    clamped = min(max(attainment, 0.0), 1.0)
    return SCORE_MIN + (SCORE_MAX - SCORE_MIN) * clamped


def weighted_score(
    values: Mapping[str, float | None], weights: Mapping[str, float]
) -> float | None:
    """The weighted mean of the sources that have a value and a positive weight.

    Missing sources drop out and the remaining weights are re-normalised; None when no
    weighted source has a value.
    """
    present = {
        name: value
        for name, value in values.items()
        if value is not None and weights.get(name, 0) > 0
    }
    total = sum(weights[name] for name in present)
    if total <= 0:
        return None
    return sum(weights[name] * value for name, value in present.items()) / total


@functools.lru_cache(maxsize=64)
def _by_min_score(scale: RatingScale) -> tuple[RatingLevel, ...]:
    return tuple(sorted(scale.levels, key=lambda level: level.min_score))


def rating_level(score: float, scale: RatingScale) -> RatingLevel:
    """The level of `scale` a score falls in (see the module notes for the edges)."""
    levels = _by_min_score(scale)
    rounded = round(score, BANDING_PLACES)
    if rounded < levels[0].min_score:
        return levels[0]
    for level in levels:
        if level.min_score <= rounded < level.max_score:
            return level
    below = [level for level in levels if level.min_score <= rounded]
    return below[-1]


# --- results: merit ---------------------------------------------------------------------


def to_money(value: Decimal) -> Decimal:
    """Round to cents, half to even."""
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def to_percent(value: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    return value.quantize(PERCENT_PLACES, rounding=rounding)


def decimal(value: float) -> Decimal:
    """A definition's float as the decimal HR wrote (0.1 stays 0.1, not 0.1000000000000000055)."""
    return Decimal(str(value))


def compa_ratio(salary: Decimal | None, midpoint: Decimal | None) -> Decimal | None:
    """Salary / range midpoint, or None when either is unknown or not positive."""
    if salary is None or midpoint is None or salary <= 0 or midpoint <= 0:
        return None
    return salary / midpoint


def compa_band(ratio: Decimal, bands: Iterable[CompaRatioBand]) -> CompaRatioBand | None:
    """The first band with `min <= ratio < max` (an omitted end is open)."""
    for band in bands:
        if band.min is not None and ratio < decimal(band.min):
            continue
        if band.max is not None and ratio >= decimal(band.max):
            continue
        return band
    return None


def merit_percent(matrix: MeritMatrix, rating: int, band_id: str) -> Decimal | None:
    """The midpoint of the matrix's increase range for a rating and band, in percent."""
    for row in matrix.rows:
        if row.rating == rating:
            increase = row.increases.get(band_id)
            if increase is None:
                return None
            return (decimal(increase.min_percent) + decimal(increase.max_percent)) / 2
    return None


def range_maximum(midpoint: Decimal, bands: Iterable[CompaRatioBand]) -> Decimal | None:
    """The top of the salary range: midpoint x the largest finite band bound, if any."""
    bounds = [decimal(band.max) for band in bands if band.max is not None]
    bounds += [decimal(band.min) for band in bands if band.min is not None]
    if not bounds:
        return None
    return to_money(midpoint * max(bounds))


@dataclass(frozen=True)
class Merit:
    """A merit outcome: `percent` and `amount` are added to the salary, `lump_sum` is paid once."""

    percent: Decimal
    amount: Decimal
    lump_sum: Decimal
    flags: tuple[str, ...] = ()


def merit(
    salary: Decimal,
    percent: Decimal,
    range_max: Decimal | None,
    above_range_max: Literal["lump_sum", "cap"],
) -> Merit:
    """Split an increase of `percent` of `salary` at the range maximum."""
    increase = to_money(salary * percent / 100)
    if range_max is None or salary + increase <= range_max:
        return Merit(to_percent(percent), increase, Decimal("0.00"))
    room = max(range_max - salary, Decimal("0.00"))
    added = to_money(min(room, increase))
    excess = increase - added
    added_percent = to_percent(added / salary * 100) if salary > 0 else Decimal(0)
    if above_range_max == "lump_sum":
        return Merit(added_percent, added, excess, ("above_range_lump_sum",))
    return Merit(added_percent, added, Decimal("0.00"), ("capped_at_range_max",))


# --- results: budget --------------------------------------------------------------------


def budget_amount(payroll: Decimal, percent_of_payroll: float) -> Decimal:
    """The merit budget: `percent_of_payroll` percent of the payroll, in cents."""
    return to_money(payroll * decimal(percent_of_payroll) / 100)


@dataclass(frozen=True)
class BudgetScaling:
    """How a group's merit amounts compare to its budget, and the scaled amounts."""

    budget: Decimal
    total: Decimal
    exceeded: bool
    factor: Decimal
    amounts: dict[str, Decimal]


def scale_to_budget(amounts: Mapping[str, Decimal], budget: Decimal) -> BudgetScaling:
    """Scale `amounts` down proportionally so their sum fits `budget` (never up).

    Each scaled amount is rounded down to the cent, so the sum is at most the budget.
    """
    total = sum(amounts.values(), Decimal("0.00"))
    if total <= budget:
        return BudgetScaling(budget, total, False, Decimal(1), dict(amounts))
    if budget <= 0:
        zero = {key: Decimal("0.00") for key in amounts}
        return BudgetScaling(budget, total, True, Decimal(0), zero)
    factor = budget / total
    scaled = {
        key: (amount * budget / total).quantize(CENT, rounding=ROUND_DOWN)
        for key, amount in amounts.items()
    }
    return BudgetScaling(budget, total, True, factor, scaled)


# --- results: talent --------------------------------------------------------------------


def performance_level(rating: int, axis: PerformanceAxis) -> Level | None:
    """Where a rating sits on the 9-box performance axis; None if the axis omits it."""
    if rating in axis.high:
        return "high"
    if rating in axis.medium:
        return "medium"
    if rating in axis.low:
        return "low"
    return None


def nine_box(rating: int, axis: PerformanceAxis, potential: Level) -> str | None:
    """The 9-box cell as `"<performance>/<potential>"`, e.g. `"high/medium"`."""
    performance = performance_level(rating, axis)
    return None if performance is None else f"{performance}/{potential}"


def is_candidate_box(box: str | None, candidates: Iterable[BoxRef]) -> bool:
    """Whether a 9-box cell is one of the succession plan's candidate boxes."""
    if box is None:
        return False
    return any(f"{ref.performance}/{ref.potential}" == box for ref in candidates)
