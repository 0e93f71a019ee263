"""Succession slates from the 9-box and the definition's rules (pure)."""

from __future__ import annotations

from activities.results.succession import Candidate, slates
from definitions.models import BoxRef, Succession

RULES = Succession(
    key_positions=("Head of Engineering", "Head of Sales"),
    candidate_boxes=(
        BoxRef(performance="high", potential="high"),
        BoxRef(performance="high", potential="medium"),
    ),
    max_candidates_per_position=2,
)


def candidate(
    employee_id: str,
    box: str,
    rating: int,
    tenure: int,
    *,
    job_title: str = "Engineer",
    nominated_for: frozenset[str] = frozenset(),
) -> Candidate:
    return Candidate(
        employee_id=employee_id,
        box=box,
        rating=rating,
        tenure_days=tenure,
        job_title=job_title,
        department="Engineering",
        nominated_for=nominated_for,
    )


def test_slates_rank_by_box_rating_and_tenure_and_keep_the_maximum() -> None:
    people = [
        candidate("A", "high/medium", 5, 900),
        candidate("B", "high/high", 4, 400),
        candidate("C", "high/high", 4, 800),
        candidate("D", "medium/medium", 5, 5000),  # not a candidate box
    ]

    result = {s.position: [c.employee_id for c in s.candidates] for s in slates(RULES, people)}

    assert result == {"Head of Engineering": ["C", "B"], "Head of Sales": ["C", "B"]}


def test_hr_nominations_come_first_and_nobody_succeeds_themselves() -> None:
    people = [
        candidate("A", "high/medium", 3, 100, nominated_for=frozenset({"Head of Sales"})),
        candidate("B", "high/high", 5, 400, job_title="Head of Engineering"),
        candidate("C", "high/high", 4, 800),
    ]

    result = {s.position: [c.employee_id for c in s.candidates] for s in slates(RULES, people)}

    assert result == {"Head of Engineering": ["C", "A"], "Head of Sales": ["A", "B"]}
