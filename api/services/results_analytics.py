"""What the results phase adds to a cycle's analytics (`CycleAnalytics.results`).

- By group: each department's rating distribution against the guideline.
- Calibration shifts: who moved from their computed rating, up or down, and by how much.
- High performers: the top band (the ratings the 9-box calls high performance, else the
  scale's highest level) against everyone else rated: tenure, goal attainment, check-in
  regularity (submitted check-ins per person, share on time), level and roles.
- Pay spend against the budget: per group and currency the payroll of the people with a
  proposal, the merit budget (`percent_of_payroll` of it), what the matrix requested, the
  merit after the budget rule, lump sums and bonuses; then the total per currency (whose
  budget is the company's for `scope: company`, the sum of the departments' otherwise).
- Succession slates (`activities.results.succession`) and talent decisions by kind.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from statistics import fmean

from sqlalchemy import select
from sqlalchemy.orm import Session

from activities import scoring
from activities.results.succession import Candidate, slates
from api.schemas.analytics import (
    CalibrationShifts,
    GroupDistribution,
    GroupShift,
    HighPerformerProfile,
    PaySpend,
    ProfileStats,
    RatingBand,
    RatingMove,
    ResultsAnalytics,
    SuccessionCandidate,
    SuccessionSlate,
)
from definitions.models import EvaluationPhase, ResultsPhase
from store.models import (
    Cycle,
    Employee,
    Goal,
    Rating,
    ResultProposal,
    TalentDecision,
    Task,
)

TOTAL = "*"

Distribution = Callable[[list[int | None]], list[RatingBand]]
"""The whole view's bands for a list of final ratings (guideline and tolerance included)."""


@dataclass(frozen=True)
class RatingRow:
    employee_id: str
    group: str
    computed: int | None
    final: int | None


def _money(value: Decimal) -> str:
    return f"{value.quantize(scoring.CENT)}"


def rating_rows(session: Session, cycle_id: str, groups: dict[str, str]) -> list[RatingRow]:
    rows = session.execute(
        select(Rating.employee_id, Rating.rating, Rating.calibrated_rating, Rating.final_rating)
        .where(Rating.cycle_id == cycle_id)
        .order_by(Rating.employee_id)
    ).all()
    return [
        RatingRow(
            employee_id,
            groups[employee_id],
            computed,
            final if final is not None else calibrated if calibrated is not None else computed,
        )
        for employee_id, computed, calibrated, final in rows
        if employee_id in groups
    ]


def by_group(
    ratings: Sequence[RatingRow], groups: dict[str, str], distribution: Distribution
) -> list[GroupDistribution]:
    result = []
    for group in sorted(set(groups.values())):
        finals: list[int | None] = [r.final for r in ratings if r.group == group]
        bands = distribution(finals)
        result.append(
            GroupDistribution(
                group=group,
                participants=sum(1 for g in groups.values() if g == group),
                rated=sum(1 for value in finals if value is not None),
                distribution=bands,
                outside_tolerance=sum(1 for band in bands if band.outside_tolerance),
            )
        )
    return result


def calibration_shifts(ratings: Sequence[RatingRow]) -> CalibrationShifts:
    moved = [
        r
        for r in ratings
        if r.computed is not None and r.final is not None and r.final != r.computed
    ]
    moves = Counter((r.computed, r.final) for r in moved)
    per_group: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in moved:
        assert r.final is not None
        assert r.computed is not None
        per_group[r.group][0 if r.final > r.computed else 1] += 1
    return CalibrationShifts(
        changed=len(moved),
        up=sum(1 for r in moved if (r.final or 0) > (r.computed or 0)),
        down=sum(1 for r in moved if (r.final or 0) < (r.computed or 0)),
        net_points=sum((r.final or 0) - (r.computed or 0) for r in moved),
        moves=[
            RatingMove(from_rating=a, to_rating=b, count=n)
            for (a, b), n in sorted(moves.items(), key=lambda item: (-item[1], item[0]))
            if a is not None and b is not None
        ],
        by_group=[
            GroupShift(group=g, changed=up + down, up=up, down=down)
            for g, (up, down) in sorted(per_group.items())
        ],
    )


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(fmean(present), 3) if present else None


def _profile(
    session: Session, cycle: Cycle, people: Sequence[str], employees: dict[str, Employee]
) -> ProfileStats:
    if not people:
        return ProfileStats(
            people=0,
            tenure_years=None,
            goal_attainment=None,
            checkins_per_person=None,
            checkins_on_time=None,
            level=None,
            roles={},
        )
    end = cycle.nominal_end.date()
    goals: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for owner, weight, progress in session.execute(
        select(Goal.owner_id, Goal.weight, Goal.progress).where(
            Goal.cycle_id == cycle.cycle_id, Goal.owner_id.in_(people), Goal.status != "closed"
        )
    ):
        goals[owner].append((float(weight), float(progress)))
    submitted = on_time = total = 0
    for status, late in session.execute(
        select(Task.status, Task.late).where(
            Task.cycle_id == cycle.cycle_id, Task.kind == "checkin", Task.subject_id.in_(people)
        )
    ):
        total += 1
        if status == "submitted":
            submitted += 1
            on_time += not late
    found = [employees[p] for p in people if p in employees]
    roles = Counter(e.job_title or "(none)" for e in found)
    return ProfileStats(
        people=len(people),
        tenure_years=_mean(
            (end - e.hire_date).days / 365.25 if e.hire_date is not None else None for e in found
        ),
        goal_attainment=_mean(scoring.goal_attainment(goals[p]) for p in people if goals[p]),
        checkins_per_person=round(submitted / len(people), 3),
        checkins_on_time=round(on_time / total, 3) if total else None,
        level=_mean(float(e.level) for e in found),
        roles=dict(sorted(roles.items(), key=lambda item: (-item[1], item[0]))[:5]),
    )


def high_performers(
    session: Session,
    cycle: Cycle,
    ratings: Sequence[RatingRow],
    evaluation: EvaluationPhase | None,
    results: ResultsPhase | None,
    employees: dict[str, Employee],
) -> HighPerformerProfile:
    if results is not None and results.nine_box is not None:
        top_ratings = sorted(results.nine_box.performance.high)
    elif evaluation is not None:
        top_ratings = [max(level.value for level in evaluation.rating_scale.levels)]
    else:
        top_ratings = [max((r.final for r in ratings if r.final is not None), default=5)]
    rated = [r for r in ratings if r.final is not None]
    top = [r.employee_id for r in rated if r.final in top_ratings]
    rest = [r.employee_id for r in rated if r.final not in top_ratings]
    return HighPerformerProfile(
        top_ratings=top_ratings,
        top=_profile(session, cycle, top, employees),
        rest=_profile(session, cycle, rest, employees),
    )


def pay_spend(
    proposals: Sequence[ResultProposal],
    employees: dict[str, Employee],
    results: ResultsPhase | None,
) -> list[PaySpend]:
    budget = results.budget if results is not None else None
    zero = Decimal("0.00")
    sums: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(
        lambda: dict.fromkeys(("payroll", "merit", "requested", "lump_sum", "bonus"), zero)
    )
    for p in proposals:
        employee = employees.get(p.employee_id)
        for key in ((p.group, p.currency), (TOTAL, p.currency)):
            row = sums[key]
            if employee is not None and employee.salary is not None:
                row["payroll"] += employee.salary
            row["merit"] += p.merit_amount
            row["requested"] += p.base_merit_amount
            row["lump_sum"] += p.lump_sum
            row["bonus"] += p.bonus
    budgets: dict[tuple[str, str], Decimal] = {}
    if budget is not None:
        for key, row in sums.items():
            if key[0] != TOTAL:
                budgets[key] = scoring.budget_amount(row["payroll"], budget.percent_of_payroll)
        for key, row in sums.items():
            if key[0] == TOTAL:
                budgets[key] = (
                    scoring.budget_amount(row["payroll"], budget.percent_of_payroll)
                    if budget.scope == "company"
                    else sum(
                        (v for (g, c), v in budgets.items() if c == key[1] and g != TOTAL), zero
                    )
                )
    result = []
    for (group, currency), row in sorted(
        sums.items(), key=lambda item: (item[0][0] == TOTAL, item[0])
    ):
        amount = budgets.get((group, currency))
        result.append(
            PaySpend(
                group=group,
                currency=currency,
                payroll=_money(row["payroll"]),
                budget=_money(amount) if amount is not None else None,
                merit=_money(row["merit"]),
                requested=_money(row["requested"]),
                lump_sum=_money(row["lump_sum"]),
                bonus=_money(row["bonus"]),
                used_percent=(round(float(row["merit"] / amount * 100), 1) if amount else None),
                over_budget=amount is not None and row["merit"] > amount,
            )
        )
    return result


def succession(
    session: Session,
    cycle: Cycle,
    results: ResultsPhase | None,
    proposals: Sequence[ResultProposal],
    ratings: Sequence[RatingRow],
    employees: dict[str, Employee],
    members: set[str] | None,
) -> list[SuccessionSlate]:
    rules = results.succession if results is not None else None
    if rules is None:
        return []
    nominated: dict[str, set[str]] = defaultdict(set)
    for employee_id, position in session.execute(
        select(TalentDecision.employee_id, TalentDecision.position).where(
            TalentDecision.cycle_id == cycle.cycle_id,
            TalentDecision.decision == "key_position",
            TalentDecision.position.is_not(None),
        )
    ):
        nominated[employee_id].add(str(position))
    final = {r.employee_id: r.final for r in ratings}
    end = cycle.nominal_end.date()
    candidates = []
    for p in proposals:
        if "succession_candidate" not in p.flags or p.nine_box is None:
            continue
        if members is not None and p.employee_id not in members:
            continue
        employee = employees.get(p.employee_id)
        hired = employee.hire_date if employee is not None else None
        candidates.append(
            Candidate(
                employee_id=p.employee_id,
                box=p.nine_box,
                rating=final.get(p.employee_id, p.rating),
                tenure_days=(end - hired).days if hired is not None else 0,
                job_title=employee.job_title if employee is not None else None,
                department=p.group,
                nominated_for=frozenset(nominated.get(p.employee_id, ())),
            )
        )
    return [
        SuccessionSlate(
            position=slate.position,
            candidates=[
                SuccessionCandidate(
                    employee_id=c.employee_id,
                    nine_box=c.box,
                    rating=c.rating,
                    department=c.department,
                    nominated=slate.position in c.nominated_for,
                )
                for c in slate.candidates
            ],
        )
        for slate in slates(rules, candidates)
    ]


def results_analytics(
    session: Session,
    cycle: Cycle,
    groups: dict[str, str],
    members: set[str] | None,
    evaluation: EvaluationPhase | None,
    results: ResultsPhase | None,
    distribution: Distribution,
) -> ResultsAnalytics:
    """`groups` maps every participant to their group; `members` limits the view."""
    in_view = {e: g for e, g in groups.items() if members is None or e in members}
    ratings = rating_rows(session, cycle.cycle_id, in_view)
    proposals = [
        p
        for p in session.scalars(
            select(ResultProposal)
            .where(ResultProposal.cycle_id == cycle.cycle_id)
            .order_by(ResultProposal.employee_id)
        )
        if p.employee_id in in_view
    ]
    people = set(in_view)
    employees = {
        e.employee_id: e
        for e in session.scalars(select(Employee).where(Employee.employee_id.in_(people)))
    }
    decisions = Counter(
        session.scalars(
            select(TalentDecision.decision).where(
                TalentDecision.cycle_id == cycle.cycle_id,
                TalentDecision.employee_id.in_(people),
            )
        )
    )
    return ResultsAnalytics(
        by_group=by_group(ratings, in_view, distribution),
        calibration=calibration_shifts(ratings),
        high_performers=high_performers(session, cycle, ratings, evaluation, results, employees),
        pay=pay_spend(proposals, employees, results),
        succession=succession(session, cycle, results, proposals, ratings, employees, members),
        talent_decisions=dict(sorted(decisions.items())),
    )
