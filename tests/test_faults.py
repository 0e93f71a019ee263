"""The fault-injection seam of the drills: parsed strictly, refused in production, and
killing only at the configured commit."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from perfloop.faults import CommitKiller, KillAfterCommit, after_commit_hook
from perfloop.settings import Settings


def test_specs_parse_strictly() -> None:
    assert KillAfterCommit.parse("open_task:3") == KillAfterCommit("open_task", 3)
    assert KillAfterCommit.parse("sync_results") == KillAfterCommit("sync_results", 1)
    for bad in ("open_task:0", "open_task:x", ":2", ""):
        with pytest.raises(ValueError, match="not a fault spec"):
            KillAfterCommit.parse(bad)


def test_the_killer_fires_once_at_the_nth_commit_of_its_activity() -> None:
    kills: list[int] = []
    killer = CommitKiller(KillAfterCommit("record_submission", 2), kill=lambda: kills.append(1))
    for name in ("open_task", "record_submission", "open_task", "record_submission"):
        killer(name)
    assert kills == [1]
    killer("record_submission")
    assert kills == [1]


def test_settings_check_the_spec_and_refuse_it_in_production() -> None:
    assert Settings(fault_kill_after_commit="").fault_kill_after_commit is None
    assert after_commit_hook(None) is None
    assert isinstance(after_commit_hook("open_task:2"), CommitKiller)
    with pytest.raises(ValidationError, match="not a fault spec"):
        Settings(fault_kill_after_commit="open_task:zero")
    with pytest.raises(ValidationError, match="refused"):
        Settings(environment="production", fault_kill_after_commit="open_task:1")
