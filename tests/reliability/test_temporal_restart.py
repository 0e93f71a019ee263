"""Restart the Temporal dev server (its SQLite file) mid-cycle: the cycle survives."""

from __future__ import annotations

import pytest

from tests.reliability.harness import Stage, check_nothing_lost, until

pytestmark = [pytest.mark.temporal, pytest.mark.reliability]


async def test_the_dev_server_restarts_mid_cycle(stage: Stage) -> None:
    worker = stage.start_worker()
    await stage.launch()
    await until(lambda: stage.submissions() >= 3, "the first submissions")
    port, before = stage.server.port, stage.submissions()
    # Same data file, same port: workers and clients find it again by themselves.
    await stage.restart_server(down_for=1.0)
    assert stage.server.port == port
    await stage.finish()
    figures = check_nothing_lost(stage)
    assert figures.submitted >= before
    assert worker.alive(), "the worker gave up while the server was away"
    print(f"dev server restarted mid-cycle: {figures}")
