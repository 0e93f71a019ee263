"""The notifier interface and the message that crosses it."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict


class OutgoingNotification(BaseModel):
    """A message to one person; `business_key` is unique per message, across retries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    business_key: str
    recipient_id: str
    recipient_email: str | None = None
    kind: str
    subject: str
    body: str = ""
    task_id: str | None = None
    cycle_id: str | None = None


class Notifier(Protocol):
    async def send(self, notification: OutgoingNotification) -> bool:
        """Deliver once; return False when this business key was already delivered."""
        ...
