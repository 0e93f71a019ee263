"""Test-only fault injection: a worker that dies right after a commit, before it reports.

The fault drills (`tests/reliability/`) must kill a worker at the one moment that
monkeypatching a subprocess cannot reach: an activity has committed its write to the
store (or the HRIS has accepted a result) but Temporal has not yet heard that the
activity finished, so the activity will run again on another worker. The setting

    PERFLOOP_FAULT_KILL_AFTER_COMMIT=<activity name>:<n>

makes `perfloop worker` SIGKILL itself right after the `n`-th commit of that activity in
the process (1 = the first). Store-writing activities (`RecordActivities`) call the hook
after each transaction commits; `sync_results` calls it after each result the HRIS
accepted. Nothing else changes, and the setting is refused when
`PERFLOOP_ENVIRONMENT=production` (see `perfloop.settings`).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)


class AfterCommit(Protocol):
    """Called by an activity right after one of its writes is durable."""

    def __call__(self, activity_name: str) -> None: ...


@dataclass(frozen=True)
class KillAfterCommit:
    """Kill the process after the `nth` commit of `activity` (an `ActivityName` value)."""

    activity: str
    nth: int

    @classmethod
    def parse(cls, spec: str) -> KillAfterCommit:
        """`<activity name>:<n>`, n >= 1; a bare name means its first commit."""
        name, sep, count = spec.strip().rpartition(":")
        if not sep:
            name, count = count, "1"
        if not name or not count.isdigit() or int(count) < 1:
            raise ValueError(f"not a fault spec: {spec!r} (expected <activity name>:<n>, n >= 1)")
        return cls(activity=name, nth=int(count))


def sigkill_self() -> None:
    """SIGKILL this process: no handler, no cleanup, no report to Temporal."""
    os.kill(os.getpid(), signal.SIGKILL)


class CommitKiller:
    """An `AfterCommit` hook that kills the process at the configured commit."""

    def __init__(self, fault: KillAfterCommit, kill: Callable[[], None] = sigkill_self) -> None:
        self.fault = fault
        self._kill = kill
        self._count = 0
        self._lock = threading.Lock()

    def __call__(self, activity_name: str) -> None:
        if activity_name != self.fault.activity:
            return
        with self._lock:
            self._count += 1
            hit = self._count == self.fault.nth
        if hit:
            log.warning(
                "fault injection: killing the worker after commit %d of %s",
                self.fault.nth,
                activity_name,
            )
            for handler in logging.getLogger().handlers:
                handler.flush()
            sys.stderr.flush()
            self._kill()


def after_commit_hook(spec: str | None) -> AfterCommit | None:
    """The hook for `PERFLOOP_FAULT_KILL_AFTER_COMMIT`, or None when it is unset."""
    if not spec:
        return None
    return CommitKiller(KillAfterCommit.parse(spec))
