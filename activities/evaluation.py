"""Multi-source evaluation as pure functions: evidence, anonymity, scores, bias, calibration.

No I/O, no clock, no store: the activities (`activities.records`, through the queries of
`activities.evaluation_store`) read rows, call these functions and write what they
return; the API's views call the same functions, so what a reviewee sees and what their
score is built from never disagree. The rules, in one place:

- **Review value**: a review's `overall` rating, or the mean of its competency ratings
  when it has none (the peer and upward forms make the overall rating optional).
- **Rater groups**: peer reviews form the `peers` group, upward reviews (from direct
  reports) the `direct_reports` group. A group without `anonymity` settings in the
  definition gets the defaults (3 answers for scores and comments, `drop`): a group is
  anonymous unless HR says how.
- **Thresholds**: a group's scores (its mean value and competency means) are shown only
  when it has at least `scores_threshold` answers, its comments only with at least
  `comments_threshold`. Comments are returned sorted, never in submission order.
- **Roll-into**: a group under its scores threshold with `below_threshold: roll_into` is
  merged into the named group first (one pass, peers before direct reports), and the
  merged group is then held to its own thresholds; the source group is gone from every
  view. Every dropped, merged or comment-suppressed group leaves a `GroupNotice` with the
  reason, which the views show. The interview agenda's 360 themes (`feedback_themes`) are
  these same groups, broken down per competency and per question.
- **Scoring**: the weighted mean of the sources a person has (see
  `activities.scoring.weighted_score`): a suppressed group is a missing source, so its
  weight is re-normalised over the rest and no total depends on its answers. Goal score 5,
  manager 5, feedback 5 and no self review score 5, not 3.33.
- **Bias statistics** (self reviews excluded: they are nobody's rating of someone else):
  *halo* is a reviewer's mean spread (population standard deviation) of competency
  ratings within a review, over reviews rating at least `min_competencies`; *leniency*
  and *severity* compare a reviewer's mean review value with the population's mean in
  population standard deviations (z); *central tendency* is the share of a reviewer's
  reviews whose value rounds to the scale's middle (3 on 1..5); *recency* is the share of
  the evidence (check-ins, significant events) of the people a reviewer rated that falls
  in the last `window` before the evaluation. The numbers are always returned; a flag is
  raised when the definition's check is on, its minimum is met and the number crosses it.
- **Calibration preparation** per group: the distribution of ratings in percent against
  the guideline (a rating is flagged when it deviates by more than `tolerance_points`),
  outliers (a score more than `OUTLIER_Z` standard deviations from the group's mean, or
  sources more than `SOURCE_SPREAD` points apart) and the bias flags of each member's
  manager.
- **360 assignment**: nominations are granted round-robin over the reviewees (sorted), so
  that a popular colleague's capacity (`max_requests_per_reviewer`) is shared rather
  than used up by whoever comes first; every refused request names the capped reviewer.
"""

from __future__ import annotations

import functools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from activities import scoring
from definitions.durations import parse_duration
from definitions.models import (
    BiasChecks,
    Calibration,
    EvaluationPhase,
    GroupAnonymity,
    RaterGroup,
    RatingScale,
    SourceWeights,
)

ReviewKind = Literal["self", "manager", "peer", "upward"]
GroupName = RaterGroup
GROUP_OF_KIND: dict[str, GroupName] = {"peer": "peers", "upward": "direct_reports"}
ANONYMOUS_KINDS = frozenset(GROUP_OF_KIND)
SOURCE_OF_KIND = {
    "self": "self_review",
    "manager": "manager_review",
    "peer": "peer_review",
    "upward": "upward_review",
}
SOURCE_OF_GROUP: dict[GroupName, str] = {"peers": "peer_review", "direct_reports": "upward_review"}
GROUP_ORDER: tuple[GroupName, ...] = ("peers", "direct_reports")
DEFAULT_ANONYMITY = GroupAnonymity()
MIDDLE = (scoring.SCORE_MIN + scoring.SCORE_MAX) / 2
OUTLIER_Z = 2.0
"""A member whose score is this many standard deviations from the group's mean is an outlier."""
SOURCE_SPREAD = 1.5
"""A member whose sources are this many points apart (1..5 scale) is an outlier."""
PLACES = 4


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, PLACES)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _stddev(values: Sequence[float]) -> float:
    """Population standard deviation (0 for fewer than two values)."""
    n = len(values)
    if n < 2:
        return 0.0
    mean = sum(values) / n
    return math.sqrt(max(sum([v * v for v in values]) / n - mean * mean, 0.0))


# --- reviews --------------------------------------------------------------------------------


class ReviewLike(Protocol):
    """What the functions read of a review: a `ReviewIn`, or a store row with the
    `Review` table's columns (scoring a cycle reads 80,000 of them; building no second
    object per review keeps the work close to the cost of the read)."""

    @property
    def reviewer_id(self) -> str: ...
    @property
    def subject_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def overall(self) -> float | None: ...
    @property
    def ratings(self) -> Mapping[str, Any]: ...
    @property
    def comments(self) -> Any:
        """Comment texts: a mapping (the stored form's fields) or a sequence of texts."""


def value_of(review: ReviewLike) -> float | None:
    """A review's value: its overall rating, or its mean competency rating without one."""
    overall = review.overall
    if overall is not None:
        return float(overall)
    values = [float(v) for v in review.ratings.values() if isinstance(v, int | float)]
    return sum(values) / len(values) if values else None


def comment_texts(comments: Any) -> tuple[str, ...]:
    if isinstance(comments, Mapping):
        return review_comments(comments)
    return tuple(str(c) for c in comments or ())


@dataclass(slots=True)
class ReviewIn:
    """One submitted review, as the tests and single-person activities build it."""

    reviewer_id: str
    subject_id: str
    kind: str
    overall: float | None = None
    ratings: Mapping[str, float] = field(default_factory=dict)
    comments: tuple[str, ...] = ()
    at: datetime | None = None

    @property
    def value(self) -> float | None:
        return value_of(self)


def review_comments(comments: Mapping[str, Any] | None) -> tuple[str, ...]:
    """A stored review's comment texts (strengths, improvements, ...), in key order."""
    items = dict(comments or {})
    return tuple(str(items[k]) for k in sorted(items) if isinstance(items[k], str))


def review_in(row: Any, *, comments: bool = True) -> ReviewIn:
    """A stored review (anything with the `Review` row's attributes) for these functions;
    `comments=False` skips the comment texts (scores and bias statistics need none)."""
    raw = row.ratings
    if not raw:
        ratings: Mapping[str, float] = {}
    elif all(type(v) is int or type(v) is float for v in raw.values()):
        ratings = raw  # as stored: JSON numbers, nothing to convert
    else:
        ratings = {k: float(v) for k, v in raw.items() if type(v) is int or type(v) is float}
    return ReviewIn(
        row.reviewer_id,
        row.subject_id,
        row.kind,
        row.overall,
        ratings,
        review_comments(row.comments) if comments else (),
        row.at,
    )


# --- anonymity -------------------------------------------------------------------------------


@dataclass(slots=True)
class GroupResult:
    """What may be shown of one rater group: counts always, answers above thresholds."""

    group: GroupName
    responses: int
    includes: tuple[GroupName, ...]
    scores_shown: bool
    comments_shown: bool
    score: float | None
    competencies: dict[str, float]
    comments: tuple[str, ...]


@dataclass(slots=True)
class GroupNotice:
    """Why a group is not shown as it is: `dropped`, `rolled_into` or `comments_withheld`."""

    group: GroupName
    responses: int
    action: Literal["dropped", "rolled_into", "comments_withheld"]
    reason: str
    into: GroupName | None = None


@dataclass(slots=True)
class Anonymised:
    groups: dict[GroupName, GroupResult]
    notices: tuple[GroupNotice, ...]
    members: dict[GroupName, tuple[int, ...]]
    """Which input reviews (by index) each shown group holds; for the file's entries."""

    def as_json(self) -> dict[str, Any]:
        return {
            "groups": {
                name: {
                    "responses": g.responses,
                    "includes": list(g.includes),
                    "scores_shown": g.scores_shown,
                    "comments_shown": g.comments_shown,
                    "score": _round(g.score),
                    "competencies": {k: _round(v) for k, v in g.competencies.items()},
                    "comments": list(g.comments),
                }
                for name, g in self.groups.items()
            },
            "notices": [
                {
                    "group": n.group,
                    "responses": n.responses,
                    "action": n.action,
                    "reason": n.reason,
                    **({"into": n.into} if n.into else {}),
                }
                for n in self.notices
            ],
        }


def _settings(anonymity: Mapping[GroupName, GroupAnonymity], group: GroupName) -> GroupAnonymity:
    return anonymity.get(group, DEFAULT_ANONYMITY)


NOTHING = Anonymised({}, (), {})


def _roll(
    counts: Mapping[GroupName, int], anonymity: Mapping[GroupName, GroupAnonymity]
) -> tuple[dict[GroupName, GroupName], list[tuple[GroupName, int, GroupName, int]]]:
    """The roll-into rule, once for every view: where each group's answers are counted
    (group -> the group it is shown as), and the roll-ins made, as (group, answers,
    into, the threshold it missed). One pass, peers before direct reports."""
    sizes = dict(counts)
    destination: dict[GroupName, GroupName] = {g: g for g in GROUP_ORDER}
    rolled: list[tuple[GroupName, int, GroupName, int]] = []
    for group in GROUP_ORDER:
        settings = _settings(anonymity, group)
        count = sizes.get(group, 0)
        target = settings.roll_into
        if (
            count
            and count < settings.scores_threshold
            and settings.below_threshold == "roll_into"
            and target is not None
            and target != group
        ):
            sizes[target] = sizes.get(target, 0) + count
            sizes[group] = 0
            for source, into in destination.items():
                if into == group:
                    destination[source] = target
            rolled.append((group, count, target, settings.scores_threshold))
    return destination, rolled


def anonymise(
    reviews: Sequence[ReviewLike],
    anonymity: Mapping[GroupName, GroupAnonymity],
    *,
    detail: bool = True,
) -> Anonymised:
    """The rater groups of one reviewee's peer and upward reviews, under the thresholds.

    Other kinds in `reviews` are ignored. See the module notes for the rules. With
    `detail=False` only counts and scores are computed (no competency means, no
    comments): what scoring needs.
    """
    peers: list[int] = []
    reports: list[int] = []
    for index, review in enumerate(reviews):
        kind = review.kind
        if kind == "peer":
            peers.append(index)
        elif kind == "upward":
            reports.append(index)
    if not peers and not reports:
        return NOTHING
    pools: dict[GroupName, list[int]] = {"peers": peers, "direct_reports": reports}
    includes: dict[GroupName, list[GroupName]] = {g: [g] for g in GROUP_ORDER}
    _, rolled = _roll({"peers": len(peers), "direct_reports": len(reports)}, anonymity)
    notices: list[GroupNotice] = []
    for group, count, target, threshold in rolled:
        pools[target].extend(pools[group])
        includes[target].extend(includes[group])
        pools[group] = []
        includes[group] = []
        notices.append(
            GroupNotice(
                group,
                count,
                "rolled_into",
                f"{count} answer(s), fewer than the {threshold} needed: counted with {target}",
                into=target,
            )
        )
    groups: dict[GroupName, GroupResult] = {}
    members: dict[GroupName, tuple[int, ...]] = {}
    for group in GROUP_ORDER:
        indexes = sorted(pools[group])
        if not indexes:
            continue
        settings = _settings(anonymity, group)
        count = len(indexes)
        if count < settings.scores_threshold:
            notices.append(
                GroupNotice(
                    group,
                    count,
                    "dropped",
                    f"{count} answer(s), fewer than the {settings.scores_threshold} "
                    "needed to show this group: left out of the scores and the views",
                )
            )
            continue
        comments_shown = count >= settings.comments_threshold
        if not comments_shown:
            notices.append(
                GroupNotice(
                    group,
                    count,
                    "comments_withheld",
                    f"{count} answer(s), fewer than the {settings.comments_threshold} "
                    "needed to show comments",
                )
            )
        values = [v for v in (value_of(reviews[i]) for i in indexes) if v is not None]
        per_competency: dict[str, list[float]] = defaultdict(list)
        if detail:
            for i in indexes:
                for key, value in reviews[i].ratings.items():
                    if isinstance(value, int | float):
                        per_competency[key].append(float(value))
        groups[group] = GroupResult(
            group=group,
            responses=count,
            includes=tuple(includes[group]),
            scores_shown=True,
            comments_shown=comments_shown,
            score=_mean(values),
            competencies={k: sum(v) / len(v) for k, v in sorted(per_competency.items())},
            comments=(
                tuple(sorted(c for i in indexes for c in comment_texts(reviews[i].comments)))
                if comments_shown and detail
                else ()
            ),
        )
        members[group] = tuple(indexes)
    return Anonymised(groups, tuple(notices), members)


GROUP_TITLES: dict[GroupName, str] = {"peers": "Peers", "direct_reports": "Direct reports"}


def feedback_themes(
    reviews: Sequence[ReviewLike],
    anonymity: Mapping[GroupName, GroupAnonymity],
    *,
    competency_titles: Mapping[str, str] | None = None,
    question_titles: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The 360 themes of an interview agenda: what `anonymise` lets a group show, per
    competency and per question.

    Per shown group: its answer count, the groups it includes, its mean score, each
    competency's mean (in the definition's order, then by id) and, only when the group
    meets its comments threshold, the comments per question, each list sorted so that
    order says nothing of who answered when. Per dropped, rolled or comment-withheld group
    the notice with its reason. Nothing else of a review reaches the agenda: no reviewer,
    no task, no time. The thresholds, roll-into and drop rules are `anonymise`'s alone.
    """
    shown = anonymise(reviews, anonymity)
    titles = dict(competency_titles or {})
    questions_titled = dict(question_titles or {})
    groups: list[dict[str, Any]] = []
    for name, group in shown.groups.items():
        by_question: dict[str, list[str]] = defaultdict(list)
        if group.comments_shown:
            for index in shown.members[name]:
                comments = reviews[index].comments
                if isinstance(comments, Mapping):
                    for key, text in comments.items():
                        if isinstance(text, str):
                            by_question[str(key)].append(text)
                else:
                    by_question["comments"].extend(comment_texts(comments))
        order = [c for c in titles if c in group.competencies]
        order += sorted(c for c in group.competencies if c not in titles)
        withheld = next(
            (
                n.reason
                for n in shown.notices
                if n.group == name and n.action == "comments_withheld"
            ),
            None,
        )
        groups.append(
            {
                "group": name,
                "title": GROUP_TITLES[name],
                "responses": group.responses,
                "includes": list(group.includes),
                "score": _round(group.score),
                "competencies": [
                    {"id": c, "title": titles.get(c, c), "score": _round(group.competencies[c])}
                    for c in order
                ],
                "comments_shown": group.comments_shown,
                "comments": [
                    {
                        "question": key,
                        "title": questions_titled.get(key, key.replace("_", " ").capitalize()),
                        "texts": sorted(by_question[key]),
                    }
                    for key in sorted(by_question)
                ],
                **({"withheld": withheld} if withheld else {}),
            }
        )
    return {"groups": groups, "notices": shown.as_json()["notices"]}


# --- scoring ---------------------------------------------------------------------------------


@dataclass(slots=True)
class ScoreOutcome:
    score: float | None
    rating: int | None
    label: str | None
    sources: dict[str, float]
    """The sources that counted (weight > 0 and a value), rounded to 4 places."""


@functools.lru_cache(maxsize=64)
def _weight_map(weights: SourceWeights) -> dict[str, float]:
    return {name: float(w) for name, w in weights.model_dump().items()}


def score_person(
    goal_score: float | None,
    reviews: Sequence[ReviewLike],
    weights: SourceWeights,
    scale: RatingScale,
    anonymity: Mapping[GroupName, GroupAnonymity],
) -> ScoreOutcome:
    """The weighted score, its rating and the sources that counted, for one person.

    One pass over the reviews; the peer and upward groups follow `_roll` and the scores
    thresholds exactly as `anonymise` does (the property tests hold the two together).
    """
    totals = {"self": [0.0, 0], "manager": [0.0, 0]}
    grouped: dict[GroupName, list[float | None]] = {"peers": [], "direct_reports": []}
    for review in reviews:
        kind = review.kind
        if kind == "peer":
            grouped["peers"].append(value_of(review))
        elif kind == "upward":
            grouped["direct_reports"].append(value_of(review))
        elif kind in totals:
            value = value_of(review)
            if value is not None:
                total = totals[kind]
                total[0] += value
                total[1] += 1
    own, managers = totals["self"], totals["manager"]
    values: dict[str, float | None] = {
        "goal_attainment": goal_score,
        "self_review": own[0] / own[1] if own[1] else None,
        "manager_review": managers[0] / managers[1] if managers[1] else None,
        "peer_review": None,
        "upward_review": None,
    }
    if grouped["peers"] or grouped["direct_reports"]:
        destination, _ = _roll(
            {"peers": len(grouped["peers"]), "direct_reports": len(grouped["direct_reports"])},
            anonymity,
        )
        final: dict[GroupName, list[float | None]] = {}
        for group, answers in grouped.items():
            if answers:
                final.setdefault(destination[group], []).extend(answers)
        for group, answers in final.items():
            if len(answers) >= _settings(anonymity, group).scores_threshold:
                present = [v for v in answers if v is not None]
                values[SOURCE_OF_GROUP[group]] = sum(present) / len(present) if present else None
    weight_map = _weight_map(weights)
    score = scoring.weighted_score(values, weight_map)
    level = scoring.rating_level(score, scale) if score is not None else None
    return ScoreOutcome(
        score=_round(score),
        rating=level.value if level else None,
        label=level.label if level else None,
        sources={
            name: round(value, PLACES)
            for name, value in values.items()
            if value is not None and weight_map.get(name, 0) > 0
        },
    )


def score_phase(
    goal_score: float | None, reviews: Sequence[ReviewLike], phase: EvaluationPhase
) -> ScoreOutcome:
    return score_person(goal_score, reviews, phase.sources, phase.rating_scale, phase.anonymity)


# --- evidence --------------------------------------------------------------------------------


def evidence(
    *,
    goals: Iterable[tuple[float, float, Mapping[str, Any]]],
    checkins_done: int,
    checkins_expected: int,
    events: Iterable[str],
    feedback_given: int,
    feedback_received: int,
    progress_events: int,
) -> dict[str, Any]:
    """The evidence a reviewer sees about one person.

    `goals` are `(weight, progress, target)`; a target's `milestones` (a list of objects
    with `done`) count towards the milestone rate. Regularity is check-ins done over
    check-ins due (None when none were due); events are counted by category.
    """
    goal_rows = list(goals)
    attainment = scoring.goal_attainment((w, p) for w, p, _ in goal_rows)
    milestones = [
        m
        for _, _, target in goal_rows
        for m in (target.get("milestones") or [])
        if isinstance(m, Mapping)
    ]
    done = sum(1 for m in milestones if m.get("done") is True)
    return {
        "goal_attainment": _round(attainment),
        "milestone_rate": _round(done / len(milestones)) if milestones else None,
        "milestones": len(milestones),
        "checkin_regularity": (
            _round(min(checkins_done / checkins_expected, 1.0)) if checkins_expected else None
        ),
        "checkins": checkins_done,
        "significant_events": dict(sorted(Counter(events).items())),
        "collaboration": {
            "feedback_given": feedback_given,
            "feedback_received": feedback_received,
            "progress_events": progress_events,
        },
    }


# --- bias statistics ---------------------------------------------------------------------------


@dataclass(slots=True)
class ReviewerStats:
    reviewer_id: str
    reviews: int
    mean: float | None
    z: float | None
    halo_spread: float | None
    halo_reviews: int
    middle_share: float | None
    recency_share: float | None
    flags: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "reviewer_id": self.reviewer_id,
            "reviews": self.reviews,
            "mean": _round(self.mean),
            "z": _round(self.z),
            "halo_spread": _round(self.halo_spread),
            "halo_reviews": self.halo_reviews,
            "middle_share": _round(self.middle_share),
            "recency_share": _round(self.recency_share),
            "flags": list(self.flags),
        }


@dataclass(slots=True)
class BiasReport:
    population_mean: float | None
    population_stddev: float
    reviewers: dict[str, ReviewerStats]
    managers: dict[str, ReviewerStats]


def recency_share(times: Iterable[datetime], end: datetime, window: timedelta) -> float | None:
    """The share of `times` in `[end - window, end]`; None without any."""
    items = [t for t in times if t <= end]
    if not items:
        return None
    start = end - window
    return sum(1 for t in items if t >= start) / len(items)


@dataclass(slots=True)
class _Tally:
    """One reviewer's running sums, over the reviews of one pool."""

    reviews: int = 0
    values: int = 0
    total: float = 0.0
    middle: int = 0
    spreads: int = 0
    spread_total: float = 0.0
    halo_reviews: int = 0
    evidence: int = 0
    recent: int = 0


def _stats(
    reviewer_id: str, tally: _Tally, checks: BiasChecks, mean: float | None, stddev: float
) -> ReviewerStats:
    own_mean = tally.total / tally.values if tally.values else None
    z = (own_mean - mean) / stddev if own_mean is not None and mean is not None and stddev else None
    flags: list[str] = []
    halo_spread = tally.spread_total / tally.spreads if tally.spreads else None
    if checks.halo is not None and halo_spread is not None and halo_spread < checks.halo.max_stddev:
        flags.append("halo")
    if z is not None:
        lenient, severe = checks.leniency, checks.severity
        if lenient is not None and tally.values >= lenient.min_reviews and z > lenient.z_threshold:
            flags.append("leniency")
        if severe is not None and tally.values >= severe.min_reviews and z < -severe.z_threshold:
            flags.append("severity")
    middle_share = tally.middle / tally.values if tally.values else None
    central = checks.central_tendency
    if (
        central is not None
        and middle_share is not None
        and tally.values >= central.min_reviews
        and middle_share > central.max_share_middle
    ):
        flags.append("central_tendency")
    share = tally.recent / tally.evidence if tally.evidence else None
    if checks.recency is not None and share is not None and share > checks.recency.max_share:
        flags.append("recency")
    return ReviewerStats(
        reviewer_id,
        tally.reviews,
        own_mean,
        z,
        halo_spread if checks.halo is not None else None,
        tally.halo_reviews,
        middle_share,
        share,
        tuple(flags),
    )


def bias_report(
    reviews: Sequence[ReviewLike],
    checks: BiasChecks,
    *,
    evidence_at: Mapping[str, Sequence[datetime]] | None = None,
    end: datetime | None = None,
) -> BiasReport:
    """Bias statistics per reviewer (every non-self review) and per manager (manager
    reviews only, against the population of manager reviews). One pass over the reviews:
    each review's value, competency spread and evidence counts are computed once."""
    halo = checks.halo
    recency: dict[str, tuple[int, int]] = {}
    if checks.recency is not None and end is not None and evidence_at:
        start = end - parse_duration(checks.recency.window)
        for subject, times in evidence_at.items():
            within = [t for t in times if t <= end]
            recency[subject] = (len(within), sum(1 for t in within if t >= start))
    everyone: dict[str, _Tally] = {}
    managers: dict[str, _Tally] = {}
    all_values: list[float] = []
    manager_values: list[float] = []
    min_competencies = halo.min_competencies if halo is not None else 0
    max_spread = halo.max_stddev if halo is not None else 0.0

    def add(
        tally: _Tally, value: float | None, spread: float | None, evidence: tuple[int, int]
    ) -> None:
        tally.reviews += 1
        tally.evidence += evidence[0]
        tally.recent += evidence[1]
        if value is not None:
            tally.values += 1
            tally.total += value
            if round(value) == MIDDLE:
                tally.middle += 1
        if spread is not None:
            tally.spreads += 1
            tally.spread_total += spread
            if spread < max_spread:
                tally.halo_reviews += 1

    none = (0, 0)
    for review in reviews:
        kind = review.kind
        if kind == "self":
            continue
        overall = review.overall
        value = float(overall) if overall is not None else value_of(review)
        spread: float | None = None
        ratings = review.ratings
        if halo is not None and len(ratings) >= min_competencies:
            try:
                spread = _stddev(list(ratings.values()))
            except TypeError:  # a non-number among the ratings: leave it out
                spread = _stddev([v for v in ratings.values() if isinstance(v, int | float)])
        evidence = recency.get(review.subject_id, none) if recency else none
        reviewer = review.reviewer_id
        tally = everyone.get(reviewer)
        if tally is None:
            tally = everyone[reviewer] = _Tally()
        add(tally, value, spread, evidence)
        if value is not None:
            all_values.append(value)
        if kind == "manager":
            tally = managers.get(reviewer)
            if tally is None:
                tally = managers[reviewer] = _Tally()
            add(tally, value, spread, evidence)
            if value is not None:
                manager_values.append(value)
    mean, stddev = _mean(all_values), _stddev(all_values)
    manager_mean, manager_stddev = _mean(manager_values), _stddev(manager_values)
    return BiasReport(
        mean,
        stddev,
        {r: _stats(r, t, checks, mean, stddev) for r, t in sorted(everyone.items())},
        {
            r: _stats(r, t, checks, manager_mean, manager_stddev)
            for r, t in sorted(managers.items())
        },
    )


# --- calibration preparation -----------------------------------------------------------------


@dataclass(slots=True)
class Member:
    employee_id: str
    score: float | None
    rating: int | None
    final_rating: int | None = None
    manager_id: str | None = None
    sources: Mapping[str, float] = field(default_factory=dict)


def distribution(ratings: Iterable[int], calibration: Calibration) -> list[dict[str, Any]]:
    """Per guideline rating (and any other rating given): count, percent, guideline, flag."""
    counted = Counter(ratings)
    total = sum(counted.values())
    guideline = {band.rating: band.percent for band in calibration.guideline}
    rows = []
    for rating in sorted(set(guideline) | set(counted), reverse=True):
        percent = 100 * counted[rating] / total if total else 0.0
        expected = guideline.get(rating)
        deviation = percent - expected if expected is not None else None
        rows.append(
            {
                "rating": rating,
                "count": counted[rating],
                "percent": round(percent, 2),
                "guideline": expected,
                "deviation": round(deviation, 2) if deviation is not None else None,
                "flagged": deviation is not None and abs(deviation) > calibration.tolerance_points,
            }
        )
    return rows


def prepare_calibration(
    members: Sequence[Member], calibration: Calibration, bias: BiasReport | None = None
) -> dict[str, Any]:
    """A calibration group's picture: distribution against the guideline, outliers and
    the bias flags of each member's manager."""
    finals = [m.final_rating if m.final_rating is not None else m.rating for m in members]
    scores = [m.score for m in members if m.score is not None]
    mean, stddev = _mean(scores), _stddev(scores)
    rows = []
    outliers = []
    for member, final in zip(members, finals, strict=True):
        reasons = []
        if member.score is not None and mean is not None and stddev > 0:
            z = (member.score - mean) / stddev
            if abs(z) > OUTLIER_Z:
                reasons.append(
                    f"score {member.score:.2f} is {z:+.1f} standard deviations from the group"
                )
        values = list(member.sources.values())
        if len(values) >= 2 and max(values) - min(values) > SOURCE_SPREAD:
            reasons.append(f"sources disagree by {max(values) - min(values):.2f} points")
        manager_flags: list[str] = []
        if bias is not None and member.manager_id is not None:
            stats = bias.managers.get(member.manager_id)
            manager_flags = list(stats.flags) if stats else []
        if reasons:
            outliers.append({"employee_id": member.employee_id, "reasons": reasons})
        rows.append(
            {
                "employee_id": member.employee_id,
                "score": _round(member.score),
                "rating": member.rating,
                "final_rating": final,
                "manager_id": member.manager_id,
                "sources": dict(member.sources),
                "outlier": bool(reasons),
                "bias_flags": manager_flags,
            }
        )
    return {
        "members": rows,
        "distribution": distribution((f for f in finals if f is not None), calibration),
        "outliers": outliers,
        "score_mean": _round(mean),
        "score_stddev": _round(stddev),
    }


# --- 360 assignment --------------------------------------------------------------------------


@dataclass(slots=True)
class Assignment:
    assigned: dict[str, tuple[str, ...]]
    capped: dict[str, tuple[str, ...]]
    """Reviewer -> reviewees whose request they could not take (at capacity)."""
    short: dict[str, int]
    """Reviewee -> how many reviewers below `min_peers` they ended with."""
    load: dict[str, int]


def approved_nominations(
    nominated: Sequence[str],
    *,
    removed: Iterable[str] = (),
    added: Iterable[str] = (),
    subject_id: str,
    max_peers: int,
) -> tuple[str, ...]:
    """The manager's decision on nominations: remove, then add, no self, no duplicates,
    at most `max_peers` (the manager's additions come first when trimming)."""
    gone = set(removed)
    added_list = [p for p in dict.fromkeys(added) if p != subject_id]
    kept = [p for p in dict.fromkeys(nominated) if p not in gone and p != subject_id]
    ordered = added_list + [p for p in kept if p not in added_list]
    return tuple(ordered[:max_peers])


def assign_reviewers(
    requests: Mapping[str, Sequence[str]],
    *,
    max_per_reviewer: int,
    min_peers: int = 0,
    max_peers: int | None = None,
    load: Mapping[str, int] | None = None,
) -> Assignment:
    """Grant review requests (reviewee -> reviewers in preference order) round-robin so
    that no reviewer exceeds `max_per_reviewer` (counting `load` they already carry)."""
    current: dict[str, int] = defaultdict(int, load or {})
    queues = {
        subject: [r for r in dict.fromkeys(wanted) if r != subject]
        for subject, wanted in sorted(requests.items())
    }
    assigned: dict[str, list[str]] = {subject: [] for subject in queues}
    capped: dict[str, list[str]] = defaultdict(list)
    progressing = True
    while progressing:
        progressing = False
        for subject, queue in queues.items():
            if max_peers is not None and len(assigned[subject]) >= max_peers:
                queue.clear()
                continue
            while queue:
                reviewer = queue.pop(0)
                if current[reviewer] >= max_per_reviewer:
                    capped[reviewer].append(subject)
                    continue
                current[reviewer] += 1
                assigned[subject].append(reviewer)
                progressing = True
                break
    return Assignment(
        assigned={s: tuple(r) for s, r in assigned.items()},
        capped={r: tuple(s) for r, s in sorted(capped.items())},
        short={s: min_peers - len(r) for s, r in assigned.items() if len(r) < min_peers},
        load=dict(current),
    )


def propose_replacement(
    subject_id: str,
    declined_by: str,
    candidates: Sequence[str],
    *,
    assigned: Iterable[str],
    load: Mapping[str, int],
    max_per_reviewer: int,
    declined: Iterable[str] = (),
) -> str | None:
    """The candidate to ask instead of a reviewer who declined: not the reviewee, not
    already asked or declined, under the cap; the least loaded, then in candidate order."""
    excluded = {subject_id, declined_by, *assigned, *declined}
    eligible = [
        (load.get(c, 0), index, c)
        for index, c in enumerate(dict.fromkeys(candidates))
        if c not in excluded and load.get(c, 0) < max_per_reviewer
    ]
    return min(eligible)[2] if eligible else None


@dataclass(slots=True)
class EntryView:
    """What a viewer who may not see reviewers sees of one anonymous review."""

    group: GroupName
    scores_shown: bool
    comments_shown: bool
    note: str | None

    def redact(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """A stored review's shown data (`ratings`, `overall`, `comments`) under this view."""
        shown: dict[str, Any] = {"review_kind": KIND_OF_GROUP[self.group], "group": self.group}
        if self.scores_shown:
            shown["ratings"] = dict(data.get("ratings") or {})
            shown["overall"] = data.get("overall")
        if self.comments_shown:
            shown["comments"] = dict(data.get("comments") or {})
        if self.note:
            shown["withheld"] = self.note
        return shown


KIND_OF_GROUP: dict[GroupName, str] = {"peers": "peer", "direct_reports": "upward"}


def entry_views(
    reviews: Sequence[ReviewLike], anonymity: Mapping[GroupName, GroupAnonymity]
) -> list[EntryView | None]:
    """Per review (same order): None for a named review (self, manager), else the view of
    an anonymous one under its group's thresholds, labelled with the group it is shown in.

    Computed over all of a reviewee's reviews in one cycle, never over a page or a filter,
    so that a view depends only on answers its group shows.
    """
    feedback = anonymise(reviews, anonymity)
    shown_in: dict[int, GroupResult] = {
        index: feedback.groups[group]
        for group, indexes in feedback.members.items()
        for index in indexes
    }
    views: list[EntryView | None] = []
    for index, review in enumerate(reviews):
        own = GROUP_OF_KIND.get(review.kind)
        if own is None:
            views.append(None)
            continue
        result = shown_in.get(index)
        if result is None:
            final = own
            for notice in feedback.notices:
                if notice.group == own and notice.action == "rolled_into" and notice.into:
                    final = notice.into
            dropped = next(
                (n for n in feedback.notices if n.group == final and n.action == "dropped"),
                None,
            )
            reason = dropped.reason if dropped else "below the group's threshold"
            views.append(EntryView(final, False, False, reason))
            continue
        note = None
        if not result.comments_shown:
            note = next(
                (
                    n.reason
                    for n in feedback.notices
                    if n.group == result.group and n.action == "comments_withheld"
                ),
                None,
            )
        views.append(EntryView(result.group, True, result.comments_shown, note))
    return views
