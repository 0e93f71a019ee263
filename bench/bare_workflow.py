"""Bare Temporal for the launch benchmark: a workflow that says it is ready (one local
activity) and waits for an Update. In its own module so the sandbox can import it, as
Temporal's default worker does for every workflow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow


@dataclass
class Ready:
    count: int = 0


READY = Ready()


@activity.defn(name="bare_ready")
async def bare_ready() -> None:
    READY.count += 1


@workflow.defn(name="BareWorkflow")
class BareWorkflow:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> None:
        await workflow.execute_local_activity(
            bare_ready, start_to_close_timeout=timedelta(seconds=30)
        )
        await workflow.wait_condition(lambda: self.done)

    @workflow.update
    def submit(self, payload: dict[str, str]) -> None:
        self.done = True

    @workflow.query
    def waiting(self) -> bool:
        """Answered once the workflow has run its first task (bench/api_load.py waits)."""
        return not self.done
