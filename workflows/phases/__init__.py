"""One module per phase kind, each an async `run(ctx, phase)`.

Same rules as `workflows`: deterministic, no I/O; activities only through the context.
`RUNNERS` maps a phase kind to its module's `run`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from workflows.phases import evaluation, goal_setting, interview, monitoring, results

RUNNERS: dict[str, Callable[[Any, Any], Awaitable[None]]] = {
    "goal_setting": goal_setting.run,
    "monitoring": monitoring.run,
    "evaluation": evaluation.run,
    "interview": interview.run,
    "results": results.run,
}
