"""Two workers on one task queue; one is SIGKILLed: the other finishes the cycle.

The survivor runs without the sandbox (`PERFLOOP_WORKER_SANDBOX=false`), so the cycle's
workflows, begun in the sandbox, replay and finish outside it: what a fleet changing
that setting worker by worker goes through."""

from __future__ import annotations

import asyncio
import signal

import pytest

from tests.reliability.harness import Stage, check_nothing_lost, until

pytestmark = [pytest.mark.temporal, pytest.mark.reliability]


async def test_the_surviving_worker_carries_on(stage: Stage) -> None:
    doomed = stage.start_worker()
    survivor = stage.start_worker(worker_sandbox="false")
    await stage.launch()
    await until(lambda: stage.open_tasks() >= 3, "tasks to open")
    await until(lambda: stage.submissions() >= 2, "the first submissions")
    assert await asyncio.to_thread(doomed.kill) == -signal.SIGKILL
    await stage.finish()
    assert survivor.alive()
    assert "(workflow sandbox off)" in await asyncio.to_thread(survivor.log.read_text)
    assert len(stage.workers) == 2, "nobody started a replacement"
    figures = check_nothing_lost(stage)
    print(f"one of two workers killed: {figures}")
