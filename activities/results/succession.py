"""Succession slates for the definition's key positions, from the 9-box and its rules.

Who is a candidate (`results.succession`): a person whose 9-box cell is one of
`candidate_boxes` and whose tenure is at least `min_tenure_days` at the cycle's end (the
proposal's `succession_candidate` flag). Each key position gets a slate of at most
`max_candidates_per_position`, ordered by:

1. HR's `key_position` talent decisions naming that position (HR's call comes first);
2. the cell's place in `candidate_boxes` (the definition lists its preferred cells first);
3. the final rating, highest first; then tenure, longest first; then the employee id.

Nobody is a candidate for the position they hold (same job title). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from definitions.models import Succession


@dataclass(frozen=True)
class Candidate:
    employee_id: str
    box: str
    rating: int | None
    tenure_days: int
    job_title: str | None
    department: str
    nominated_for: frozenset[str] = frozenset()
    """Key positions HR named for this person in a `key_position` decision."""


@dataclass(frozen=True)
class Slate:
    position: str
    candidates: tuple[Candidate, ...]


def box_key(performance: str, potential: str) -> str:
    return f"{performance}/{potential}"


def slates(rules: Succession, candidates: Iterable[Candidate]) -> list[Slate]:
    """One slate per key position, in the definition's order."""
    order = {box_key(b.performance, b.potential): i for i, b in enumerate(rules.candidate_boxes)}
    pool: Sequence[Candidate] = [c for c in candidates if c.box in order]
    result = []
    for position in rules.key_positions:
        eligible = [c for c in pool if c.job_title != position]
        eligible.sort(
            key=lambda c: (
                position not in c.nominated_for,
                order[c.box],
                -(c.rating or 0),
                -c.tenure_days,
                c.employee_id,
            )
        )
        result.append(Slate(position, tuple(eligible[: rules.max_candidates_per_position])))
    return result
