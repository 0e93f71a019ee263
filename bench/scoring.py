"""Evaluation benchmark: score a cycle, compute its bias statistics and prepare every
calibration group, against merely reading the cycle's reviews from the store.

    PYTHONPATH=. .venv/bin/python bench/scoring.py            # 10,000 people, 80,000 reviews
    PYTHONPATH=. .venv/bin/python bench/scoring.py 1000       # a quick run
    PERFLOOP_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench \\
        PYTHONPATH=. .venv/bin/python bench/scoring.py        # on PostgreSQL (database must exist)

Each person gets 8 reviews: a self review, a manager review, 5 peer reviews and one
upward review (so most upward groups roll into peers under annual-review's anonymity),
each rating 5 competencies with comments. Timed, best of five alternating runs after a warm-up:

- `read`: the cycle's reviews (the columns scoring needs) fetched from the store;
- `evaluate`: the same read, then the participants' groups and managers, then per person
  anonymity and the weighted score (`activities.evaluation.score_phase`), the bias report
  of the whole cycle and the calibration picture of every department.

It prints both times and `ratio = evaluate / read` (target: at most 2).
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select

from activities import evaluation
from definitions.loader import load_file, pin
from definitions.models import Calibration, EvaluationPhase
from store.db import dispose_engines, resolve_url, session_scope
from store.migrate import upgrade
from store.models import Cycle, CycleParticipant, Review

CYCLE = "bench-scoring"
START = datetime(2027, 1, 4, tzinfo=UTC)
DEPARTMENTS = 40
TEAM = 8
COMPETENCIES = ("delivers-results", "collaboration", "customer-focus", "ownership", "growth")
STOCK = Path(__file__).resolve().parent.parent / "definitions" / "cycles"


def phase() -> EvaluationPhase:
    definition = pin(load_file(STOCK / "annual-review" / "v1.yaml")).definition
    found = definition.phase("evaluation")
    assert isinstance(found, EvaluationPhase)
    return found


def seed(url: str, people: int) -> int:
    rng = random.Random(7)
    ids = [f"P{n:06d}" for n in range(people)]
    manager = {pid: ids[(n // TEAM) * TEAM] for n, pid in enumerate(ids)}
    reviews: list[dict[str, Any]] = []
    for n, pid in enumerate(ids):
        lean = rng.uniform(-0.8, 0.8)

        def row(
            kind: str, reviewer: str, seq: int, *, _pid: str = pid, _lean: float = lean
        ) -> None:
            ratings = {
                c: max(1, min(5, round(3.2 + _lean + rng.gauss(0, 0.8)))) for c in COMPETENCIES
            }
            reviews.append(
                {
                    "task_id": f"{CYCLE}/{_pid}/evaluation/{kind}_review-{seq}",
                    "cycle_id": CYCLE,
                    "subject_id": _pid,
                    "reviewer_id": reviewer,
                    "kind": kind,
                    "ratings": ratings,
                    "overall": float(round(sum(ratings.values()) / len(ratings))),
                    "comments": {"strengths": "Clear and kind.", "improvements": "Delegate."},
                    "at": START + timedelta(days=300, minutes=len(reviews)),
                }
            )

        row("self", pid, 0)
        row("manager", manager[pid], 0)
        for seq in range(5):
            row("peer", ids[(n + 1 + seq * 97) % people], seq)
        row("upward", ids[(n + TEAM) % people], 0)
    with session_scope(url) as session:
        session.execute(delete(Review).where(Review.cycle_id == CYCLE))
        session.execute(delete(CycleParticipant).where(CycleParticipant.cycle_id == CYCLE))
        session.execute(delete(Cycle).where(Cycle.cycle_id == CYCLE))
        session.add(
            Cycle(
                cycle_id=CYCLE,
                definition_ref="annual-review@1",
                sha256="0" * 64,
                nominal_start=START,
                nominal_end=START + timedelta(days=365),
            )
        )
        session.flush()
        session.execute(
            insert(CycleParticipant),
            [
                {
                    "cycle_id": CYCLE,
                    "employee_id": pid,
                    "group": f"D{(n // TEAM) % DEPARTMENTS:02d}",
                    "manager_id": manager[pid],
                    "joined_at": START,
                    "profile": {},
                }
                for n, pid in enumerate(ids)
            ],
        )
        for chunk in range(0, len(reviews), 5000):
            session.execute(insert(Review), reviews[chunk : chunk + 5000])
    return len(reviews)


COLUMNS = (
    Review.reviewer_id,
    Review.subject_id,
    Review.kind,
    Review.overall,
    Review.ratings,
    Review.comments,
    Review.at,
)


def read(url: str) -> int:
    with session_scope(url) as session:
        rows = session.execute(select(*COLUMNS).where(Review.cycle_id == CYCLE)).all()
    return len(rows)


def evaluate(url: str, evaluation_phase: EvaluationPhase) -> dict[str, Any]:
    with session_scope(url) as session:
        rows = session.execute(select(*COLUMNS).where(Review.cycle_id == CYCLE)).all()
        participants = session.execute(
            select(
                CycleParticipant.employee_id, CycleParticipant.group, CycleParticipant.manager_id
            ).where(CycleParticipant.cycle_id == CYCLE)
        ).all()
    # The rows themselves are the reviews the pure functions read (`ReviewLike`).
    reviews: list[evaluation.ReviewLike] = list(rows)
    by_subject: dict[str, list[evaluation.ReviewLike]] = defaultdict(list)
    for review in reviews:
        by_subject[review.subject_id].append(review)
    groups: dict[str, list[evaluation.Member]] = defaultdict(list)
    for employee_id, group, manager_id in participants:
        outcome = evaluation.score_phase(None, by_subject.get(employee_id, []), evaluation_phase)
        groups[group].append(
            evaluation.Member(
                employee_id, outcome.score, outcome.rating, None, manager_id, outcome.sources
            )
        )
    bias = evaluation.bias_report(reviews, evaluation_phase.bias_checks)
    calibration = evaluation_phase.calibration or Calibration()
    pictures = {
        group: evaluation.prepare_calibration(members, calibration, bias)
        for group, members in groups.items()
    }
    return {"people": len(participants), "groups": len(pictures), "bias": bias}


def interleaved(
    first: Callable[[], Any], second: Callable[[], Any], runs: int = 5
) -> tuple[float, Any, float, Any]:
    """Best time of each over `runs` alternating runs, after a warm-up of both: on a
    shared machine, a busy moment then slows both rather than one."""
    first(), second()
    times: tuple[list[float], list[float]] = ([], [])
    results: list[Any] = [None, None]
    for _ in range(runs):
        for index, work in enumerate((first, second)):
            began = time.perf_counter()
            results[index] = work()
            times[index].append(time.perf_counter() - began)
    return min(times[0]), results[0], min(times[1]), results[1]


def main() -> None:
    people = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as folder:
        given = os.environ.get("PERFLOOP_DATABASE_URL")
        url = resolve_url(given) if given else f"sqlite:///{folder}/bench.db"
        upgrade(url)
        evaluation_phase = phase()
        began = time.perf_counter()
        count = seed(url, people)
        print(
            f"seeded {people:,} people and {count:,} reviews in {time.perf_counter() - began:.1f} s"
        )
        read_time, read_rows, eval_time, result = interleaved(
            lambda: read(url), lambda: evaluate(url, evaluation_phase)
        )
        flagged = sum(1 for s in result["bias"].reviewers.values() if s.flags)
        print(f"read      {read_time * 1000:8.1f} ms  ({read_rows:,} reviews)")
        print(
            f"evaluate  {eval_time * 1000:8.1f} ms  ({result['people']:,} scored, "
            f"{len(result['bias'].reviewers):,} reviewers checked, {flagged:,} flagged, "
            f"{result['groups']} calibration groups)"
        )
        print(f"ratio     {eval_time / read_time:8.2f}  (target <= 2)")
        dispose_engines()


if __name__ == "__main__":
    main()
