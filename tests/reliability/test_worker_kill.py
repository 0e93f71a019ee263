"""SIGKILL the worker mid-cycle and start another: nothing is lost, nothing is doubled."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from tests.reliability.harness import Stage, check_nothing_lost, until

pytestmark = [pytest.mark.temporal, pytest.mark.reliability]


async def test_a_worker_killed_while_tasks_are_open(stage: Stage) -> None:
    first = stage.start_worker()
    await stage.launch()
    await until(lambda: stage.open_tasks() >= 3, "tasks to open")
    await until(lambda: stage.submissions() >= 2, "the first submissions")
    # Activities and submissions are in flight: kill without a drain.
    assert await asyncio.to_thread(first.kill) == -signal.SIGKILL
    await asyncio.sleep(1.0)
    stage.start_worker()
    await stage.finish()
    figures = check_nothing_lost(stage)
    print(f"worker killed with tasks open: {figures}")


@pytest.mark.parametrize(
    "fault",
    [
        "open_task:3",  # the task row, its "opened" event and its notification committed
        "record_submission:1",  # the submission committed, the workflow not yet told
        "sync_results:1",  # the HRIS took a result, the proposal is not yet marked synced
    ],
)
async def test_a_worker_killed_after_a_commit_before_it_reported(stage: Stage, fault: str) -> None:
    doomed = stage.start_worker(fault_kill_after_commit=fault)
    await stage.launch()
    await until(lambda: not doomed.alive(), f"the worker to kill itself at {fault}", 60)
    assert doomed.wait() == -signal.SIGKILL
    assert f"killing the worker after commit {fault.split(':')[1]} of {fault.split(':')[0]}" in (
        doomed.output()
    )
    killed_at = time.monotonic()
    stage.start_worker()
    await stage.finish()
    figures = check_nothing_lost(stage)
    print(
        f"worker killed after {fault}: cycle done {time.monotonic() - killed_at:.0f} s later; "
        f"{figures}; still pending at the end: {await stage.pending()}"
    )
