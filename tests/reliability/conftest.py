"""The fault drills' fixture: a fresh stage (dev server, SQLite store, no worker yet)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.reliability.harness import Stage


@pytest.fixture
async def stage(tmp_path: Path) -> AsyncIterator[Stage]:
    built = await Stage.create(tmp_path)
    try:
        yield built
    finally:
        await built.close()
