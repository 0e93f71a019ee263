"""The pull-adapter interface."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, Protocol


@dataclass(frozen=True)
class PulledEvent:
    """One fact a project tool holds about a person.

    `event_id` is stable across pulls (the same fact pulled twice has the same id), so
    storing it is idempotent. A `milestone` event is only produced once the milestone is
    decided: closed (`achieved` True, `occurred_at` when it closed) or past its due date
    and still open (`achieved` False).
    """

    event_id: str
    kind: Literal["issue_closed", "milestone"]
    occurred_at: datetime
    title: str | None = None
    milestone_id: str | None = None
    due_on: date | None = None
    achieved: bool | None = None
    data: dict[str, Any] = field(default_factory=dict)


class ProgressAdapter(Protocol):
    async def pull(self, login: str, *, today: date) -> list[PulledEvent]:
        """Every decided fact about `login` the tool holds (idempotent to store)."""
        ...
