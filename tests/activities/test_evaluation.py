"""Multi-source evaluation as pure functions (`activities.evaluation`): hand-computed
scores, thresholds per rater group, differencing properties over random organisations,
bias statistics on constructed data, calibration preparation and 360 assignment."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activities import evaluation as ev
from activities.evaluation import ReviewIn
from definitions.loader import load_file, pin
from definitions.models import (
    BiasChecks,
    Calibration,
    CentralTendencyCheck,
    DeviationCheck,
    EvaluationPhase,
    GroupAnonymity,
    GuidelineBand,
    HaloCheck,
    RecencyCheck,
    SourceWeights,
)
from tests.activities.conftest import STOCK

ANNUAL = pin(load_file(STOCK / "annual-review" / "v1.yaml")).definition


def _evaluation() -> EvaluationPhase:
    phase = ANNUAL.phase("evaluation")
    assert isinstance(phase, EvaluationPhase)
    return phase


PHASE = _evaluation()
SCALE = PHASE.rating_scale
COMPETENCIES = ("delivers-results", "collaboration", "ownership")


def review(
    reviewer: str,
    kind: str,
    overall: float | None,
    subject: str = "E1",
    ratings: Mapping[str, float] | None = None,
    comments: tuple[str, ...] = (),
) -> ReviewIn:
    return ReviewIn(reviewer, subject, kind, overall, ratings or {}, comments)


def peers(*values: float, kind: str = "peer") -> list[ReviewIn]:
    return [review(f"P{kind}{i}", kind, v, comments=(f"c{i}",)) for i, v in enumerate(values)]


# --- scoring, by hand ------------------------------------------------------------------------


def test_a_missing_self_review_renormalises_rather_than_counting_zero() -> None:
    weights = SourceWeights(goal_attainment=40, self_review=20, peer_review=40)
    outcome = ev.score_person(5.0, peers(5, 5, 5), weights, SCALE, {})
    assert outcome.score == 5.0  # not (40*5 + 40*5) / 100 * ... = 3.33 or 4.0
    assert outcome.rating == 5
    assert outcome.sources == {"goal_attainment": 5.0, "peer_review": 5.0}


def test_the_annual_weights_by_hand() -> None:
    # 30/10/35/15/10; goal 3.4, self 4, manager 3, peers 4, 4, 5 (mean 13/3), no upward:
    # (30*3.4 + 10*4 + 35*3 + 15*13/3) / 90 = (102 + 40 + 105 + 65) / 90 = 3.4667 -> 3
    reviews = [review("E1", "self", 4), review("M", "manager", 3), *peers(4, 4, 5)]
    outcome = ev.score_phase(3.4, reviews, PHASE)
    assert outcome.score == pytest.approx(3.4667, abs=1e-4)
    assert outcome.rating == 3
    assert outcome.label == "Meets expectations"
    assert set(outcome.sources) == {
        "goal_attainment",
        "self_review",
        "manager_review",
        "peer_review",
    }


def test_a_review_without_an_overall_rating_counts_its_competency_mean() -> None:
    manager = review("M", "manager", None, ratings={"a": 4, "b": 5, "c": 3})
    outcome = ev.score_person(None, [manager], SourceWeights(manager_review=100), SCALE, {})
    assert outcome.score == 4.0
    assert outcome.rating == 4


def test_nothing_to_score_is_no_score() -> None:
    outcome = ev.score_person(None, [], SourceWeights(manager_review=100), SCALE, {})
    assert (outcome.score, outcome.rating, outcome.sources) == (None, None, {})


# --- thresholds per group --------------------------------------------------------------------


def test_a_peer_group_under_its_threshold_is_dropped_with_the_reason() -> None:
    weights = SourceWeights(manager_review=50, peer_review=50)
    reviews = [review("M", "manager", 3), *peers(1, 1)]
    outcome = ev.score_person(None, reviews, weights, SCALE, {})
    assert outcome.score == 3.0  # the two peer answers do not count
    feedback = ev.anonymise(reviews, {})
    assert feedback.groups == {}
    (notice,) = feedback.notices
    assert (notice.group, notice.action, notice.responses) == ("peers", "dropped", 2)
    assert "fewer than the 3" in notice.reason


def test_direct_reports_under_their_threshold_roll_into_peers() -> None:
    # annual-review: direct_reports 3/4 roll_into peers; peers 3/3 drop.
    reviews = [*peers(4, 4), *peers(2, 2, kind="upward")]
    feedback = ev.anonymise(reviews, PHASE.anonymity)
    assert set(feedback.groups) == {"peers"}
    merged = feedback.groups["peers"]
    assert merged.responses == 4
    assert merged.includes == ("peers", "direct_reports")
    assert merged.score == 3.0
    assert merged.comments_shown
    assert [n.action for n in feedback.notices] == ["rolled_into"]
    outcome = ev.score_phase(None, reviews, PHASE)
    assert outcome.sources == {"peer_review": 3.0}  # no separate upward source


def test_comments_need_their_own_threshold() -> None:
    anonymity: dict[ev.GroupName, GroupAnonymity] = {
        "peers": GroupAnonymity(scores_threshold=3, comments_threshold=4)
    }
    feedback = ev.anonymise(peers(3, 4, 5), anonymity)
    group = feedback.groups["peers"]
    assert group.scores_shown
    assert not group.comments_shown
    assert group.comments == ()
    assert [n.action for n in feedback.notices] == ["comments_withheld"]
    feedback = ev.anonymise(peers(3, 4, 5, 5), anonymity)
    assert feedback.groups["peers"].comments == ("c0", "c1", "c2", "c3")
    assert feedback.notices == ()


def test_entries_of_a_dropped_group_show_no_answers() -> None:
    reviews = [review("M", "manager", 3), *peers(1, 5)]
    views = ev.entry_views(reviews, {})
    assert views[0] is None
    for view in views[1:]:
        assert view is not None
        assert not view.scores_shown
        assert not view.comments_shown
        shown = view.redact({"ratings": {"a": 1}, "overall": 1, "comments": {"x": "y"}})
        assert set(shown) == {"review_kind", "group", "withheld"}


# --- differencing: suppressed answers never change any view ------------------------------------

KINDS = ("self", "manager", "peer", "upward")
anonymity_settings = st.builds(
    lambda s, extra, policy: GroupAnonymity(
        scores_threshold=s,
        comments_threshold=s + extra,
        below_threshold=policy[0],
        roll_into=policy[1],
    ),
    st.integers(1, 5),
    st.integers(0, 2),
    st.sampled_from([("drop", None), ("roll_into", "peers"), ("roll_into", "direct_reports")]),
)
answer = st.tuples(
    st.one_of(st.none(), st.integers(1, 5)),
    st.dictionaries(st.sampled_from(COMPETENCIES), st.integers(1, 5), max_size=3),
    st.lists(st.sampled_from(["good", "bad", "ok"]), max_size=2),
)


@st.composite
def organisations(draw: st.DrawFn) -> tuple[list[ReviewIn], dict[Any, GroupAnonymity]]:
    """Random reviews of a few people by a few reviewers, and random anonymity settings."""
    people = [f"E{i}" for i in range(draw(st.integers(1, 4)))]
    reviewers = [f"R{i}" for i in range(draw(st.integers(1, 8)))]
    reviews = []
    for _ in range(draw(st.integers(0, 24))):
        overall, ratings, comments = draw(answer)
        reviews.append(
            ReviewIn(
                draw(st.sampled_from(reviewers)),
                draw(st.sampled_from(people)),
                draw(st.sampled_from(KINDS)),
                overall,
                ratings,
                tuple(comments),
            )
        )
    groups = draw(st.lists(st.sampled_from(["peers", "direct_reports"]), unique=True))
    return reviews, {group: draw(anonymity_settings) for group in groups}


def views(reviews: list[ReviewIn], anonymity: dict[Any, GroupAnonymity]) -> Any:
    """Everything a reviewee, their manager or a calibrator is shown, per person."""
    shown = {}
    members = []
    for subject in sorted({r.subject_id for r in reviews}):
        own = [r for r in reviews if r.subject_id == subject]
        outcome = ev.score_person(3.0, own, PHASE.sources, SCALE, anonymity)
        data = [
            {
                "ratings": dict(r.ratings),
                "overall": r.overall,
                "comments": {str(i): c for i, c in enumerate(r.comments)},
            }
            for r in own
        ]
        entries = [
            view.redact(item) if view else None
            for view, item in zip(ev.entry_views(own, anonymity), data, strict=True)
        ]
        shown[subject] = (
            outcome.score,
            outcome.rating,
            outcome.sources,
            ev.anonymise(own, anonymity).as_json(),
            [e for e, r in zip(entries, own, strict=True) if r.kind in ev.ANONYMOUS_KINDS],
        )
        members.append(
            ev.Member(subject, outcome.score, outcome.rating, None, "M", outcome.sources)
        )
    bias = ev.bias_report([r for r in reviews if r.kind == "manager"], BiasChecks())
    calibration = ev.prepare_calibration(members, Calibration(), bias)
    return shown, calibration


def suppressed(reviews: list[ReviewIn], anonymity: dict[Any, GroupAnonymity]) -> set[int]:
    """Indexes of anonymous reviews no shown group holds, and of comment-withheld ones."""
    hidden = set()
    for subject in {r.subject_id for r in reviews}:
        indexes = [i for i, r in enumerate(reviews) if r.subject_id == subject]
        feedback = ev.anonymise([reviews[i] for i in indexes], anonymity)
        shown = {i for group in feedback.members.values() for i in group}
        hidden |= {
            indexes[i]
            for i, r in enumerate(reviews[j] for j in indexes)
            if r.kind in ev.ANONYMOUS_KINDS and i not in shown
        }
    return hidden


@settings(max_examples=150, deadline=None)
@given(organisations(), st.data())
def test_no_view_depends_on_a_suppressed_groups_answers(
    org: tuple[list[ReviewIn], dict[Any, GroupAnonymity]], data: st.DataObject
) -> None:
    reviews, anonymity = org
    hidden = suppressed(reviews, anonymity)
    changed = list(reviews)
    for index in hidden:
        overall, ratings, comments = data.draw(answer)
        old = reviews[index]
        changed[index] = ReviewIn(
            old.reviewer_id, old.subject_id, old.kind, overall, ratings, tuple(comments)
        )
    assert views(changed, anonymity) == views(reviews, anonymity)


@settings(max_examples=150, deadline=None)
@given(organisations())
def test_scores_and_group_views_apply_one_rule(
    org: tuple[list[ReviewIn], dict[Any, GroupAnonymity]],
) -> None:
    """The scorer's one-pass grouping and `anonymise` agree on every group's score."""
    reviews, anonymity = org
    weights = SourceWeights(peer_review=50, upward_review=50)
    for subject in {r.subject_id for r in reviews}:
        own = [r for r in reviews if r.subject_id == subject]
        outcome = ev.score_person(None, own, weights, SCALE, anonymity)
        groups = ev.anonymise(own, anonymity).groups
        expected = {
            ev.SOURCE_OF_GROUP[name]: round(group.score, 4)
            for name, group in groups.items()
            if group.score is not None
        }
        assert outcome.sources == pytest.approx(expected)


@settings(max_examples=150, deadline=None)
@given(organisations(), st.data())
def test_withheld_comments_never_show(
    org: tuple[list[ReviewIn], dict[Any, GroupAnonymity]], data: st.DataObject
) -> None:
    reviews, anonymity = org
    changed = []
    for r in reviews:
        comments = tuple(data.draw(st.lists(st.sampled_from(["x", "y"]), max_size=2)))
        changed.append(
            ReviewIn(r.reviewer_id, r.subject_id, r.kind, r.overall, r.ratings, comments)
        )
    for subject in {r.subject_id for r in reviews}:
        before = ev.anonymise([r for r in reviews if r.subject_id == subject], anonymity)
        after = ev.anonymise([r for r in changed if r.subject_id == subject], anonymity)
        for group, result in before.groups.items():
            settings_ = anonymity.get(group, ev.DEFAULT_ANONYMITY)
            assert result.responses >= settings_.scores_threshold
            if not result.comments_shown:
                assert after.groups[group].comments == result.comments == ()
            else:
                assert result.responses >= settings_.comments_threshold


# --- bias statistics -------------------------------------------------------------------------

CHECKS = BiasChecks(
    halo=HaloCheck(max_stddev=0.25, min_competencies=3),
    leniency=DeviationCheck(z_threshold=1.0, min_reviews=3),
    severity=DeviationCheck(z_threshold=1.0, min_reviews=3),
    central_tendency=CentralTendencyCheck(max_share_middle=0.8, min_reviews=3),
    recency=RecencyCheck(window="P30D", max_share=0.5),
)


def test_bias_statistics_on_constructed_reviewers() -> None:
    varied = {"a": 2, "b": 3, "c": 4}
    reviews = [
        *(review("LENIENT", "manager", 5, f"S{i}", varied) for i in range(3)),
        *(review("SEVERE", "manager", 1, f"S{i}", varied) for i in range(3)),
        *(review("MIDDLE", "manager", 3, f"S{i}", varied) for i in range(3)),
        *(review("HALO", "peer", 3, f"S{i}", {"a": 4, "b": 4, "c": 4}) for i in range(3)),
        review("S0", "self", 5, "S0"),  # self reviews are left out
    ]
    report = ev.bias_report(reviews, CHECKS)
    # Population: three 5s, three 1s, six 3s: mean 3, variance (3*4 + 3*4) / 12 = 2.
    assert report.population_mean == 3.0
    assert report.population_stddev == pytest.approx(2**0.5)
    lenient = report.reviewers["LENIENT"]
    assert lenient.z == pytest.approx(2 / 2**0.5)
    assert lenient.flags == ("leniency",)
    assert report.reviewers["SEVERE"].flags == ("severity",)
    assert report.reviewers["MIDDLE"].middle_share == 1.0
    assert report.reviewers["MIDDLE"].flags == ("central_tendency",)
    halo = report.reviewers["HALO"]
    assert halo.halo_spread == 0.0
    assert halo.halo_reviews == 3
    assert halo.flags == ("halo", "central_tendency")
    assert lenient.halo_spread == pytest.approx((2 / 3) ** 0.5)
    assert set(report.managers) == {"LENIENT", "SEVERE", "MIDDLE"}
    assert "S0" not in report.reviewers


def test_below_the_minimum_nothing_is_flagged_but_the_numbers_show() -> None:
    reviews = [review("A", "manager", 5, "S1"), review("B", "manager", 1, "S2")]
    report = ev.bias_report(reviews, CHECKS)
    assert report.reviewers["A"].z == 1.0
    assert report.reviewers["A"].flags == ()


def test_recency_is_the_share_of_evidence_in_the_last_window() -> None:
    end = datetime(2027, 11, 1, tzinfo=UTC)
    late = [end - timedelta(days=d) for d in (1, 5, 10)]
    early = [end - timedelta(days=d) for d in (100, 200)]
    assert ev.recency_share([*late, *early], end, timedelta(days=30)) == 0.6
    assert ev.recency_share([], end, timedelta(days=30)) is None
    reviews = [review("M", "manager", 3, "S1"), review("N", "manager", 3, "S2")]
    report = ev.bias_report(reviews, CHECKS, evidence_at={"S1": late, "S2": early}, end=end)
    assert report.reviewers["M"].recency_share == 1.0
    assert "recency" in report.reviewers["M"].flags
    assert report.reviewers["N"].recency_share == 0.0


# --- calibration -----------------------------------------------------------------------------


def test_calibration_shows_the_distribution_against_the_guideline_and_outliers() -> None:
    calibration = Calibration(
        guideline=(
            GuidelineBand(rating=4, percent=20),
            GuidelineBand(rating=3, percent=60),
            GuidelineBand(rating=2, percent=20),
        ),
        tolerance_points=10,
    )
    members = [ev.Member(f"E{i}", 3.0, 3, manager_id="M") for i in range(8)]
    members += [
        ev.Member("E8", 4.9, 5, manager_id="M", sources={"manager_review": 5, "self_review": 3}),
        ev.Member("E9", 3.6, 4, final_rating=3, manager_id="L"),
    ]
    bias = ev.bias_report([review("L", "manager", 5, f"S{i}") for i in range(3)], CHECKS)
    picture = ev.prepare_calibration(members, calibration, bias)
    by_rating = {row["rating"]: row for row in picture["distribution"]}
    assert by_rating[3] == {
        "rating": 3,
        "count": 9,
        "percent": 90.0,
        "guideline": 60,
        "deviation": 30.0,
        "flagged": True,
    }
    assert by_rating[5]["guideline"] is None
    assert by_rating[5]["count"] == 1
    assert by_rating[4]["count"] == 0
    assert by_rating[4]["flagged"] is True
    outliers = {o["employee_id"]: o["reasons"] for o in picture["outliers"]}
    assert set(outliers) == {"E8"}
    assert any("standard deviations" in r for r in outliers["E8"])
    assert any("sources disagree by 2.00" in r for r in outliers["E8"])
    e9 = next(m for m in picture["members"] if m["employee_id"] == "E9")
    assert e9["final_rating"] == 3
    assert e9["bias_flags"] == []


# --- 360 assignment --------------------------------------------------------------------------


def test_assignment_caps_every_reviewer_and_reports_who_was_capped() -> None:
    # Five people all ask the same three colleagues, who may take two requests each:
    # round-robin shares the six reviews out, and every refusal names the capped reviewer.
    requests = {f"E{i}": ["STAR", "B", "C"] for i in range(5)}
    result = ev.assign_reviewers(requests, max_per_reviewer=2, min_peers=3, max_peers=3)
    assert result.load == {"STAR": 2, "B": 2, "C": 2}
    assert result.assigned == {
        "E0": ("STAR", "C"),
        "E1": ("STAR",),
        "E2": ("B",),
        "E3": ("B",),
        "E4": ("C",),
    }
    assert result.capped == {
        "B": ("E4", "E0", "E1"),
        "C": ("E1", "E2", "E3"),
        "STAR": ("E2", "E3", "E4"),
    }
    assert result.short == {"E0": 1, "E1": 2, "E2": 2, "E3": 2, "E4": 2}


def test_assignment_is_round_robin_so_capacity_is_shared() -> None:
    requests = {"E1": ["STAR", "A"], "E2": ["STAR", "B"], "E3": ["C", "STAR"]}
    result = ev.assign_reviewers(requests, max_per_reviewer=2, load={"STAR": 0})
    assert result.assigned == {"E1": ("STAR", "A"), "E2": ("STAR", "B"), "E3": ("C",)}
    assert result.capped == {"STAR": ("E3",)}


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([f"E{i}" for i in range(8)]),
        st.lists(st.sampled_from([f"E{i}" for i in range(8)]), max_size=6),
    ),
    st.integers(1, 4),
)
def test_no_reviewer_ever_exceeds_the_cap(requests: dict[str, list[str]], cap: int) -> None:
    result = ev.assign_reviewers(requests, max_per_reviewer=cap, max_peers=4)
    assert all(load <= cap for load in result.load.values())
    for subject, reviewers in result.assigned.items():
        assert subject not in reviewers
        assert len(set(reviewers)) == len(reviewers) <= 4


def test_the_manager_approves_removes_and_adds() -> None:
    final = ev.approved_nominations(
        ["A", "B", "C", "E1", "A"], removed=["B"], added=["D"], subject_id="E1", max_peers=3
    )
    assert final == ("D", "A", "C")


def test_a_decline_proposes_the_least_loaded_replacement() -> None:
    choice = ev.propose_replacement(
        "E1",
        "A",
        ["A", "B", "C", "D", "E1"],
        assigned=["B"],
        load={"C": 2, "D": 1},
        max_per_reviewer=2,
    )
    assert choice == "D"
    assert (
        ev.propose_replacement("E1", "A", ["A", "E1"], assigned=[], load={}, max_per_reviewer=2)
        is None
    )


# --- evidence --------------------------------------------------------------------------------


def test_evidence_per_person() -> None:
    goals = [
        (60, 0.5, {"milestones": [{"done": True}, {"done": False}]}),
        (40, 1.0, {"milestones": [{"done": True}]}),
    ]
    found = ev.evidence(
        goals=goals,
        checkins_done=3,
        checkins_expected=4,
        events=["achievement", "setback", "achievement"],
        feedback_given=2,
        feedback_received=5,
        progress_events=7,
    )
    assert found == {
        "goal_attainment": 0.7,
        "milestone_rate": 0.6667,
        "milestones": 3,
        "checkin_regularity": 0.75,
        "checkins": 3,
        "significant_events": {"achievement": 2, "setback": 1},
        "collaboration": {"feedback_given": 2, "feedback_received": 5, "progress_events": 7},
    }
