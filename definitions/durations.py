"""ISO-8601 durations and window points, without I/O or clocks.

Pure functions only: the workflows import this module (through
`imports_passed_through`) to turn a definition's durations into timers.
Fixed durations (weeks, days, hours, minutes, seconds) become a `timedelta`; calendar
durations (years, months too) are added to a date on the calendar, clamping the day of
the month (Jan 31 + P1M = Feb 28/29).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

FIXED_DURATION_RE = re.compile(
    r"^P(?!$)(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
CALENDAR_DURATION_RE = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)

_MAX_PART = 100_000


@dataclass(frozen=True)
class CalendarDelta:
    years: int = 0
    months: int = 0
    fixed: timedelta = timedelta()


def _part(match: re.Match[str], name: str) -> int:
    raw = match.groupdict().get(name)
    value = int(raw) if raw else 0
    if value > _MAX_PART:
        raise ValueError(f"duration part {name}={value} is too large")
    return value


def parse_duration(text: str) -> timedelta:
    """A fixed ISO-8601 duration as a timedelta; ValueError on anything else."""
    match = FIXED_DURATION_RE.match(text)
    if not match:
        raise ValueError(f"not a fixed ISO-8601 duration: {text!r}")
    return timedelta(
        weeks=_part(match, "weeks"),
        days=_part(match, "days"),
        hours=_part(match, "hours"),
        minutes=_part(match, "minutes"),
        seconds=_part(match, "seconds"),
    )


def parse_calendar_duration(text: str) -> CalendarDelta:
    match = CALENDAR_DURATION_RE.match(text)
    if not match:
        raise ValueError(f"not an ISO-8601 duration: {text!r}")
    return CalendarDelta(
        years=_part(match, "years"),
        months=_part(match, "months"),
        fixed=timedelta(
            weeks=_part(match, "weeks"),
            days=_part(match, "days"),
            hours=_part(match, "hours"),
            minutes=_part(match, "minutes"),
            seconds=_part(match, "seconds"),
        ),
    )


def add_calendar(moment: datetime, text: str) -> datetime:
    """`moment` plus a calendar duration: years and months on the calendar, then the rest."""
    delta = parse_calendar_duration(text)
    month_index = moment.month - 1 + delta.months + 12 * delta.years
    year = moment.year + month_index // 12
    month = month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day) + delta.fixed


def resolve_point(start: datetime, point: str) -> datetime:
    """A window point (duration from the start, or an ISO date) as a datetime.

    A date resolves to midnight in `start`'s time zone, so that "due 2027-01-31" means the
    start of that day where the cycle runs.
    """
    if point.startswith("P"):
        return add_calendar(start, point)
    day = date.fromisoformat(point)
    return datetime(day.year, day.month, day.day, tzinfo=start.tzinfo)
