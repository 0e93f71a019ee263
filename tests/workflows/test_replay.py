"""The current workflow code must replay every saved history (tests/histories/).

Histories are saved from complete runs (`PERFLOOP_SAVE_HISTORIES=1 pytest
tests/workflows`). A workflow change that is not behind `workflow.patched(...)` breaks
replay of an old history and fails here, before it can break a running cycle.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.cycle import CycleWorkflow
from workflows.participant import ParticipantWorkflow

HISTORIES = sorted((Path(__file__).parent.parent / "histories").glob("*.json"))


def test_histories_exist() -> None:
    names = {path.name.split(".")[0] for path in HISTORIES}
    assert "engine-test" in names, "no saved histories: run PERFLOOP_SAVE_HISTORIES=1 pytest"


@pytest.mark.parametrize("path", HISTORIES, ids=[p.name for p in HISTORIES])
async def test_replays(path: Path) -> None:
    workflow_id = path.name.removesuffix(".json")
    history = WorkflowHistory.from_json(workflow_id, path.read_text())  # noqa: ASYNC240
    replayer = Replayer(
        workflows=[CycleWorkflow, ParticipantWorkflow], data_converter=pydantic_data_converter
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
