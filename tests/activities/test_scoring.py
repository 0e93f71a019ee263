"""The pure arithmetic of evaluation and results (`activities.scoring`)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activities import scoring
from definitions.loader import load_file, pin
from definitions.models import (
    BoxRef,
    CompaRatioBand,
    EvaluationPhase,
    MeritMatrix,
    PerformanceAxis,
    RatingLevel,
    RatingScale,
    ResultsPhase,
)
from tests.activities.conftest import STOCK

ANNUAL = pin(load_file(STOCK / "annual-review" / "v1.yaml")).definition
EVALUATION = ANNUAL.phase("evaluation")
RESULTS = ANNUAL.phase("results")
assert isinstance(EVALUATION, EvaluationPhase)
assert isinstance(RESULTS, ResultsPhase)
SCALE: RatingScale = EVALUATION.rating_scale
assert RESULTS.merit_matrix is not None
MATRIX: MeritMatrix = RESULTS.merit_matrix
BANDS = MATRIX.compa_ratio_bands
AXIS = PerformanceAxis(low=(1, 2), medium=(3,), high=(4, 5))


# --- evaluation -------------------------------------------------------------------------


def test_goal_attainment_is_the_weighted_mean_progress() -> None:
    assert scoring.goal_attainment([(50, 0.8), (30, 0.5), (20, 0.0)]) == pytest.approx(0.55)
    assert scoring.goal_attainment([(0, 1.0)]) is None
    assert scoring.goal_attainment([]) is None


@pytest.mark.parametrize(
    ("attainment", "score"), [(0.0, 1.0), (0.5, 3.0), (1.0, 5.0), (-1.0, 1.0), (1.3, 5.0)]
)
def test_attainment_maps_linearly_onto_one_to_five(attainment: float, score: float) -> None:
    assert scoring.attainment_score(attainment) == score


def test_missing_sources_renormalise_the_weights() -> None:
    weights = {"goal_attainment": 30, "self_review": 10, "manager_review": 35, "peer_review": 25}
    values: dict[str, float | None] = {
        "goal_attainment": 3.2,
        "self_review": None,
        "manager_review": 3.0,
        "peer_review": None,
    }

    assert scoring.weighted_score(values, weights) == pytest.approx((30 * 3.2 + 35 * 3) / 65)
    assert scoring.weighted_score({"self_review": 4.0}, {"self_review": 0}) is None
    assert scoring.weighted_score({"x": None}, {"x": 10}) is None


@given(
    st.dictionaries(
        st.sampled_from(["a", "b", "c", "d"]),
        st.floats(min_value=1, max_value=5),
        min_size=1,
    ),
    st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), st.integers(1, 100), min_size=4),
)
def test_a_weighted_score_stays_within_its_sources(
    values: dict[str, float], weights: dict[str, int]
) -> None:
    score = scoring.weighted_score(dict(values), {k: float(v) for k, v in weights.items()})

    assert score is not None
    assert min(values.values()) - 1e-9 <= score <= max(values.values()) + 1e-9


@pytest.mark.parametrize(
    ("score", "rating"),
    [
        (1.0, 1),
        (1.4999, 1),
        (1.5, 2),
        (2.4999999999999996, 3),  # float noise for 2.5 does not drop a level
        (3.5, 4),
        (4.5, 5),
        (5.0, 5),
        (0.2, 1),  # below the lowest band
        (9.0, 5),  # above the highest band
    ],
)
def test_ratings_come_from_half_open_bands(score: float, rating: int) -> None:
    assert scoring.rating_level(score, SCALE).value == rating


def test_a_score_in_a_gap_between_bands_gets_the_band_below() -> None:
    gappy = RatingScale(
        levels=(
            RatingLevel(value=1, label="low", min_score=1.0, max_score=2.0),
            RatingLevel(value=2, label="high", min_score=3.0, max_score=5.01),
        )
    )

    assert scoring.rating_level(2.5, gappy).value == 1


@given(st.floats(min_value=0, max_value=10))
def test_every_score_gets_a_level(score: float) -> None:
    level = scoring.rating_level(score, SCALE)

    assert level in SCALE.levels


# --- merit ------------------------------------------------------------------------------


def test_compa_ratio_and_its_band() -> None:
    ratio = scoring.compa_ratio(Decimal("50000"), Decimal("60000"))
    assert ratio is not None
    assert scoring.compa_band(ratio, BANDS) == BANDS[0]
    assert scoring.compa_band(Decimal("0.9"), BANDS) == BANDS[1]  # [min, max)
    assert scoring.compa_band(Decimal("1.1"), BANDS) == BANDS[2]
    assert scoring.compa_ratio(None, Decimal(1)) is None
    assert scoring.compa_ratio(Decimal(1), Decimal(0)) is None
    assert scoring.compa_band(Decimal("5"), [CompaRatioBand(id="only", max=2.0)]) is None


def test_merit_percent_is_the_midpoint_of_the_range() -> None:
    assert scoring.merit_percent(MATRIX, 4, "below-range") == Decimal("6.75")
    assert scoring.merit_percent(MATRIX, 2, "in-range") == Decimal("0.75")
    assert scoring.merit_percent(MATRIX, 7, "in-range") is None
    assert scoring.merit_percent(MATRIX, 4, "nowhere") is None


def test_range_maximum_is_the_largest_finite_bound() -> None:
    assert scoring.range_maximum(Decimal("60000"), BANDS) == Decimal("66000.00")
    assert scoring.range_maximum(Decimal("60000"), [CompaRatioBand(id="all")]) is None


def test_an_increase_within_the_range_is_added() -> None:
    outcome = scoring.merit(Decimal("50000"), Decimal("6.75"), Decimal("66000"), "lump_sum")

    assert outcome == scoring.Merit(Decimal("6.7500"), Decimal("3375.00"), Decimal("0.00"))


def test_the_part_above_the_range_is_paid_once_or_capped() -> None:
    # 64,000 + 5% = 67,200, above 66,000: 2,000.00 is added, 1,200.00 paid once.
    split = scoring.merit(Decimal("64000"), Decimal("5"), Decimal("66000"), "lump_sum")
    capped = scoring.merit(Decimal("64000"), Decimal("5"), Decimal("66000"), "cap")

    assert split == scoring.Merit(
        Decimal("3.1250"), Decimal("2000.00"), Decimal("1200.00"), ("above_range_lump_sum",)
    )
    assert capped == scoring.Merit(
        Decimal("3.1250"), Decimal("2000.00"), Decimal("0.00"), ("capped_at_range_max",)
    )


def test_money_rounds_half_to_even() -> None:
    assert scoring.to_money(Decimal("0.125")) == Decimal("0.12")
    assert scoring.to_money(Decimal("0.135")) == Decimal("0.14")
    assert scoring.decimal(0.1) == Decimal("0.1")


# --- budget -----------------------------------------------------------------------------


def test_budget_is_a_share_of_payroll() -> None:
    assert scoring.budget_amount(Decimal("290000"), 3.5) == Decimal("10150.00")


def test_under_budget_nothing_is_scaled() -> None:
    amounts = {"a": Decimal("100.00"), "b": Decimal("50.00")}

    result = scoring.scale_to_budget(amounts, Decimal("150.00"))

    assert not result.exceeded
    assert result.amounts == amounts
    assert result.factor == 1


def test_over_budget_everyone_is_scaled_by_the_same_factor_rounded_down() -> None:
    result = scoring.scale_to_budget(
        {"a": Decimal("2925.00"), "b": Decimal("3375.00"), "c": Decimal("0.00")},
        Decimal("2900.00"),
    )

    assert result.exceeded
    assert result.total == Decimal("6300.00")
    assert result.amounts == {
        "a": Decimal("1346.42"),
        "b": Decimal("1553.57"),
        "c": Decimal("0.00"),
    }


def test_a_zero_budget_scales_everything_to_zero() -> None:
    result = scoring.scale_to_budget({"a": Decimal("10.00")}, Decimal("0.00"))

    assert result.amounts == {"a": Decimal("0.00")}


money = st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False, allow_infinity=False)


@given(st.dictionaries(st.text(min_size=1, max_size=4), money, min_size=1, max_size=30), money)
def test_scaled_amounts_never_exceed_the_budget_nor_grow(
    amounts: dict[str, Decimal], budget: Decimal
) -> None:
    result = scoring.scale_to_budget(amounts, budget)

    assert sum(result.amounts.values(), Decimal(0)) <= max(budget, result.total)
    for key, amount in amounts.items():
        assert Decimal(0) <= result.amounts[key] <= amount
    if result.exceeded and budget > 0:
        # Rounding down loses less than a cent per person.
        assert budget - sum(result.amounts.values(), Decimal(0)) < Decimal("0.01") * len(amounts)


# --- talent -----------------------------------------------------------------------------


def test_nine_box_cells_and_candidates() -> None:
    candidates = (BoxRef(performance="high", potential="high"),)

    assert scoring.nine_box(5, AXIS, "high") == "high/high"
    assert scoring.nine_box(3, AXIS, "low") == "medium/low"
    assert scoring.nine_box(9, AXIS, "low") is None
    assert scoring.performance_level(1, AXIS) == "low"
    assert scoring.is_candidate_box("high/high", candidates)
    assert not scoring.is_candidate_box("high/medium", candidates)
    assert not scoring.is_candidate_box(None, candidates)
