"""Process logging: plain text for a terminal, or one JSON object a line for a collector.

`PERFLOOP_LOG_FORMAT=json` makes every record a JSON object with the time, level,
logger, message and the correlation ids known where it was logged:

- in a Temporal activity or workflow (the SDK's `activity.logger` / `workflow.logger`
  attach them): `workflow_id`, `run_id`, `workflow_type`, `activity_type`, `attempt`,
  `task_queue`, and the `cycle_id` read from the workflow id (`cycle/<cycle id>[/...]`);
- in an API request (`api.metrics` sets them): `request_id`, `method`, `route` (the
  route *template*, never the path with its ids filled in), `cycle_id` and `task_id`
  when the route has them.

Nothing else is copied from a record: `extra=` fields other than `cycle_id`,
`phase_id` and `task_id`, arguments and locals are left out, so a log line carries what
its message says and ids, never a form's content. Messages are written by us and name
ids only (cycle, task, employee ids), no names, e-mails, review text or pay.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import traceback
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

REQUEST_CONTEXT: contextvars.ContextVar[Callable[[], Mapping[str, str]] | None] = (
    contextvars.ContextVar("perfloop_request_context", default=None)
)
"""Correlation ids of the API request being served (set by `api.metrics`): a callable,
because the route and its ids are known only once the router has matched."""

_TEMPORAL_FIELDS = (
    "workflow_id",
    "run_id",
    "workflow_type",
    "activity_type",
    "activity_id",
    "attempt",
    "task_queue",
    "namespace",
)


_ID_EXTRAS = ("cycle_id", "phase_id", "task_id")
"""`extra=` fields copied when they are strings: ids, by their names."""


def cycle_of_workflow(workflow_id: str) -> str | None:
    """`cycle/<cycle id>` or `cycle/<cycle id>/<employee>` -> the cycle id."""
    if workflow_id.startswith("cycle/"):
        return workflow_id.split("/", 2)[1] or None
    return None


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with correlation ids and nothing else."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("temporal_activity", "temporal_workflow"):
            details = getattr(record, key, None)
            if isinstance(details, Mapping):
                for name in _TEMPORAL_FIELDS:
                    value = details.get(name)
                    if value is not None and name not in entry:
                        entry[name] = value
        for name in _ID_EXTRAS:
            value = getattr(record, name, None)
            if isinstance(value, str) and name not in entry:
                entry[name] = value
        request = REQUEST_CONTEXT.get()
        if request is not None:
            for name, value in request().items():
                entry.setdefault(name, value)
        workflow_id = entry.get("workflow_id")
        if isinstance(workflow_id, str) and "cycle_id" not in entry:
            cycle = cycle_of_workflow(workflow_id)
            if cycle:
                entry["cycle_id"] = cycle
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
            entry["traceback"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(log_format: str = "text", *, verbose: bool = False) -> None:
    """Root handler on stderr in `log_format`; perfloop's own loggers at INFO (DEBUG), and
    in JSON the activities' and workflows' INFO lines too."""
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
        # The SDK would otherwise append its dict of ids to every message as text.
        from temporalio import activity, workflow

        activity.logger.activity_info_on_message = False
        workflow.logger.workflow_info_on_message = False
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("perfloop").setLevel(logging.DEBUG if verbose else logging.INFO)
    if log_format == "json":
        # A log collector wants the engine's progress lines too (a terminal does not).
        for name in ("activities", "api", "temporalio.activity", "temporalio.workflow"):
            logging.getLogger(name).setLevel(logging.INFO)
