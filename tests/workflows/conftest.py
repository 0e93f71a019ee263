"""A time-skipping Temporal environment shared by the tests of a module; each test takes
a fresh task queue and registers the fake activities by name."""

from __future__ import annotations

import shutil
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from definitions.loader import LoadedDefinition, load_file, pin
from definitions.pinned import PinnedDefinition

ENGINE_TEST_DEFINITION = (
    Path(__file__).parent / "engine-test" / "cycles" / "engine-test" / "v1.yaml"
)


@pytest.fixture(scope="module")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """One time-skipping server per test module: a module's leftover workflows (a test
    that stops mid-cycle) must not hold up another module's clock."""
    server = shutil.which("temporal-test-server") or shutil.which(
        "temporal-test-server", path=str(Path(sys.executable).parent)
    )
    assert server, "temporal-test-server not found: install the test extra (make test does)"
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=server, data_converter=pydantic_data_converter
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def load_engine_test() -> LoadedDefinition:
    return load_file(ENGINE_TEST_DEFINITION)


@pytest.fixture(scope="session")
def engine_test_pinned() -> PinnedDefinition:
    return pin(load_engine_test())
