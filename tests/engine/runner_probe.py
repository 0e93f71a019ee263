"""A small workflow for tests/engine/test_runner.py, in a module of its own so the
sandbox imports only what it needs: an activity (its payloads carry an activity's
serialization context) and an Update (a payload in both directions)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="runner_probe_shout")
async def shout(text: str) -> str:
    return text.upper()


@workflow.defn(name="RunnerProbe")
class RunnerProbe:
    def __init__(self) -> None:
        self.reply: str | None = None

    @workflow.run
    async def run(self, text: str) -> list[str]:
        loud = await workflow.execute_activity(
            shout, text, start_to_close_timeout=timedelta(seconds=30)
        )
        await workflow.wait_condition(lambda: self.reply is not None)
        sandboxed = "sandboxed" if workflow.unsafe.in_sandbox() else "not sandboxed"
        return [loud, self.reply or "", sandboxed]

    @workflow.update
    def answer(self, reply: str) -> str:
        self.reply = reply
        return f"got {reply}"
