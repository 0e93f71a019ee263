"""Roll-up arithmetic (`activities.goals.rollup`) against hand-computed trees, and its
properties (Hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activities.goals.rollup import (
    Node,
    goal_progress,
    key_result_score,
    kpi_progress,
    lapsed_status,
    okr_progress,
    roll_up,
)

PROPERTIES = settings(derandomize=True, database=None, deadline=None, max_examples=200)
"""Deterministic and free of timing (the CI machine is shared)."""


def test_committed_key_result_scores_zero_or_one() -> None:
    assert key_result_score({"committed": True, "target": 10, "current": 9.99}) == 0.0
    assert key_result_score({"committed": True, "target": 10, "current": 10}) == 1.0
    assert key_result_score({"committed": True, "target": 10, "current": 14}) == 1.0


def test_aspirational_key_result_scores_its_ratio() -> None:
    assert key_result_score({"committed": False, "target": 10, "current": 7}) == 0.7
    assert key_result_score({"target": 200, "start": 100, "current": 150}) == 0.5
    assert key_result_score({"target": 10, "current": -3}) == 0.0
    assert key_result_score({"target": 10, "current": 30}) == 1.0
    assert key_result_score({"progress": 0.4}) == 0.4


def test_okr_progress_is_the_weighted_mean_of_key_results() -> None:
    # committed 9/10 -> 0; aspirational 7/10 -> 0.7 (weight 3); committed met -> 1.
    key_results = [
        {"committed": True, "target": 10, "current": 9},
        {"committed": False, "target": 10, "current": 7, "weight": 3},
        {"committed": True, "target": 5, "current": 5},
    ]
    assert okr_progress(key_results) == pytest.approx((0 + 3 * 0.7 + 1) / 5)
    assert okr_progress([]) is None


def test_kpi_progress_runs_from_threshold_to_target() -> None:
    assert kpi_progress(90, threshold=80, target=100) == 0.5
    assert kpi_progress(70, threshold=80, target=100) == 0.0
    assert kpi_progress(120, threshold=80, target=100) == 1.0
    # lower is better: 30 days against threshold 40, target 20 is half way.
    assert kpi_progress(30, threshold=40, target=20, direction="lower") == 0.5


def test_goal_progress_prefers_measured_values_over_the_reported_one() -> None:
    okr = {"key_results": [{"committed": True, "target": 1, "current": 1}]}
    assert goal_progress("okr", okr, 0.2) == 1.0
    assert goal_progress("okr", {"key_results": [{"title": "x", "target": 3}]}, 0.2) == 0.2
    kpi = {"threshold": 0, "target": 10, "actual": 4}
    assert goal_progress("kpi", kpi, 0.9) == 0.4
    assert goal_progress("development", {}, 1.7) == 1.0


def test_hand_computed_tree() -> None:
    # org O1 <- dept D1 (w 60), D2 (w 40); D1 <- A (w 50, 0.8), B (w 30, 0.2),
    # B's report C aligned to B (w 100, 1.0) so B rolls up to 1.0; dropped X is ignored.
    # D2 <- E (w 20, 0.5). D1 = (50*0.8 + 30*1.0) / 80 = 0.875; D2 = 0.5;
    # O1 = (60*0.875 + 40*0.5) / 100 = 0.725.
    nodes = [
        Node("O1", None, 100, 0.0),
        Node("D1", "O1", 60, 0.0),
        Node("D2", "O1", 40, 0.0),
        Node("A", "D1", 50, 0.8),
        Node("B", "D1", 30, 0.2),
        Node("C", "B", 100, 1.0),
        Node("X", "D1", 40, 0.0, status="dropped"),
        Node("E", "D2", 20, 0.5),
    ]
    rolled = roll_up(nodes)
    assert rolled["B"] == 1.0
    assert rolled["D1"] == pytest.approx(0.875)
    assert rolled["D2"] == 0.5
    assert rolled["O1"] == pytest.approx(0.725)
    assert rolled["A"] == 0.8


def test_an_objective_without_aligned_goals_keeps_its_own_progress() -> None:
    assert roll_up([Node("O", None, 1, 0.3), Node("G", "O", 0, 1.0)]) == {"O": 0.3, "G": 1.0}


def test_a_loop_in_the_parent_links_does_not_hang() -> None:
    rolled = roll_up([Node("A", "B", 1, 0.2), Node("B", "A", 1, 0.6)])
    assert set(rolled) == {"A", "B"}


def test_a_lapsed_goal_is_missed_never_in_progress() -> None:
    end = datetime(2027, 12, 31, tzinfo=UTC)
    before, after = datetime(2027, 6, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)
    assert lapsed_status("in_progress", 0.5, end, before) == "in_progress"
    assert lapsed_status("in_progress", 0.5, end, after) == "missed"
    assert lapsed_status("approved", 1.0, end, after) == "achieved"
    assert lapsed_status("draft", 1.0, end, after) == "missed"
    assert lapsed_status("dropped", 0.1, end, after) == "dropped"
    assert lapsed_status("in_progress", 0.5, None, after) == "in_progress"


# --- properties ---------------------------------------------------------------------------

progress = st.floats(min_value=0, max_value=1, allow_nan=False)
weights = st.integers(min_value=0, max_value=100)


@st.composite
def trees(draw: st.DrawFn) -> list[Node]:
    size = draw(st.integers(min_value=1, max_value=25))
    nodes = []
    for index in range(size):
        parent = None if index == 0 else f"n{draw(st.integers(0, index - 1))}"
        status = draw(st.sampled_from(["approved", "in_progress", "dropped"]))
        nodes.append(Node(f"n{index}", parent, draw(weights), draw(progress), status))
    return nodes


@PROPERTIES
@given(trees())
def test_rolled_progress_stays_in_zero_one(nodes: list[Node]) -> None:
    assert all(0.0 <= value <= 1.0 for value in roll_up(nodes).values())


@PROPERTIES
@given(trees())
def test_a_parent_lies_between_its_counted_childrens_extremes(nodes: list[Node]) -> None:
    rolled = roll_up(nodes)
    for node in nodes:
        counted = [
            rolled[c.id]
            for c in nodes
            if c.parent_id == node.id and c.status != "dropped" and c.weight > 0
        ]
        if counted:
            assert min(counted) - 1e-9 <= rolled[node.id] <= max(counted) + 1e-9
        else:
            assert rolled[node.id] == node.progress


@PROPERTIES
@given(trees(), st.randoms(use_true_random=False))
def test_roll_up_ignores_the_order_of_nodes(nodes: list[Node], random: object) -> None:
    shuffled = list(nodes)
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    first, second = roll_up(nodes), roll_up(shuffled)
    assert first.keys() == second.keys()
    assert all(first[key] == pytest.approx(second[key]) for key in first)


@PROPERTIES
@given(trees(), st.integers(min_value=1, max_value=50))
def test_scaling_sibling_weights_changes_nothing(nodes: list[Node], factor: int) -> None:
    scaled = [Node(n.id, n.parent_id, n.weight * factor, n.progress, n.status) for n in nodes]
    first, second = roll_up(nodes), roll_up(scaled)
    assert all(first[key] == pytest.approx(second[key]) for key in first)


@PROPERTIES
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "target": st.integers(1, 100),
                "current": st.integers(0, 150),
                "committed": st.booleans(),
            }
        ),
        min_size=1,
        max_size=8,
    )
)
def test_committed_key_results_are_all_or_nothing(key_results: list[dict[str, object]]) -> None:
    for kr in key_results:
        score = key_result_score(kr)
        if kr["committed"]:
            assert score in (0.0, 1.0)
        else:
            assert 0.0 <= score <= 1.0
    value = okr_progress(key_results)
    assert value is not None
    assert 0.0 <= value <= 1.0
