"""A worker process for bare Temporal's side of `bench/api_load.py`: `BareWorkflow` on its
own task queue, so that neither side's worker shares a process with the load generator.

    python bench/bare_worker.py <temporal address>
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bare_workflow import BareWorkflow, bare_ready

from perfloop.settings import Settings
from perfloop.temporal import data_converter

QUEUE = "bench-bare-updates"


async def main(address: str) -> None:
    client = await Client.connect(address, data_converter=data_converter())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    settings = Settings()
    # The same worker settings as perfloop's worker, so neither side has a larger cache
    # or more slots.
    async with Worker(
        client,
        task_queue=QUEUE,
        workflows=[BareWorkflow],
        activities=[bare_ready],
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
        max_cached_workflows=settings.worker_max_cached_workflows,
        max_concurrent_local_activities=settings.worker_max_concurrent_activities,
    ):
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
