"""Target suggestions from history (`activities.goals.targets`) against hand-computed
percentiles."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activities.goals.targets import percentile, suggest

PROPERTIES = settings(derandomize=True, database=None, deadline=None, max_examples=200)
"""Deterministic and free of timing (the CI machine is shared)."""
# Person: 3 past actuals; role: 5; department: 8.
PERSON = [120.0, 100.0, 110.0]
ROLE = [80.0, 90.0, 100.0, 110.0, 120.0]
DEPARTMENT = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0]


def test_percentiles_interpolate_linearly() -> None:
    # sorted 100, 110, 120: p25 at position 0.5 -> 105; p50 -> 110; p90 at 1.8 -> 118.
    assert percentile(PERSON, 25) == 105.0
    assert percentile(PERSON, 50) == 110.0
    assert percentile(PERSON, 90) == pytest.approx(118.0)
    assert percentile([7.0], 90) == 7.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_the_first_basis_with_enough_history_wins() -> None:
    history = {"person": PERSON, "role": ROLE, "department": DEPARTMENT}
    found = suggest(history)
    assert found is not None
    assert (found.threshold, found.target, found.stretch) == (105.0, 110.0, 118.0)
    assert found.basis == "person"
    assert found.data_points == 3
    # Person history too short: the role's. 80..120 step 10: p25 at 1.0 -> 90; p50 -> 100;
    # p90 at 3.6 -> 110 + 0.6 * 10 = 116.
    found = suggest(history, min_data_points=4)
    assert found is not None
    assert found.basis == "role"
    assert (found.threshold, found.target, found.stretch) == (90.0, 100.0, 116.0)
    # Department only, at 10 / 50 / 75: positions 0.7, 3.5, 5.25 -> 17, 45, 62.5.
    found = suggest(history, basis=("department",), percentiles=(10, 50, 75), min_data_points=8)
    assert found is not None
    assert (found.threshold, found.target, found.stretch) == (17.0, 45.0, 62.5)
    assert found.as_dict()["source"] == {
        "basis": "department",
        "data_points": 8,
        "percentiles": [10, 50, 75],
    }


def test_lower_is_better_mirrors_the_percentiles() -> None:
    # Days to close: threshold at p75, target p50, stretch p10 of 80..120.
    found = suggest({"role": ROLE}, direction="lower")
    assert found is not None
    assert (found.threshold, found.target, found.stretch) == (110.0, 100.0, 84.0)


def test_no_basis_with_enough_history_suggests_nothing() -> None:
    assert suggest({"person": [1.0, 2.0]}) is None
    assert suggest({}) is None


@PROPERTIES
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=3, max_size=40),
    st.sampled_from(["higher", "lower"]),
)
def test_suggestions_are_ordered_and_within_history(values: list[float], direction: str) -> None:
    found = suggest({"person": values}, direction=direction, places=9)
    assert found is not None
    low, high = min(values), max(values)
    for value in (found.threshold, found.target, found.stretch):
        assert low - 1e-6 <= value <= high + 1e-6
    if direction == "higher":
        assert found.threshold <= found.target + 1e-6 <= found.stretch + 2e-6
    else:
        assert found.threshold + 2e-6 >= found.target + 1e-6 >= found.stretch
