"""The notifier interface and the message that crosses it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


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


@runtime_checkable
class StoreFirstNotifier(Notifier, Protocol):
    """A notifier whose first channel is a row in the store (in-app).

    A caller already in a store transaction (opening a task) writes that row itself with
    `record`, so the task and its notification commit together in one write, and then
    hands the message to `deliver` for the channels beyond the store (e-mail, webhook).
    `send` stays the whole of it, for callers outside a transaction.
    """

    def record(self, session: Session, notification: OutgoingNotification) -> bool:
        """Write the in-app row in `session`'s transaction; False if it was there already."""
        ...

    async def deliver(self, notification: OutgoingNotification) -> bool:
        """Send through the channels beyond the store; False when none sent anything new."""
        ...
