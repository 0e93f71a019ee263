"""The `notify` activity: hands a workflow's notification to the configured notifier."""

from __future__ import annotations

from temporalio import activity

from activities.notify.base import Notifier, OutgoingNotification
from activities.types import ActivityName, NotifyInput


class NotifyActivities:
    """Activities of the notification channels; register `notify` with the worker."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    @activity.defn(name=ActivityName.NOTIFY)
    async def notify(self, input: NotifyInput) -> bool:
        """Deliver once per business key; False when it had been delivered already."""
        notification = OutgoingNotification.model_validate(input.model_dump())
        return await self.notifier.send(notification)
