"""The one mapping from errors to HTTP (`api.errors`)."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.exceptions import ActivityError, ApplicationError, RetryState
from temporalio.service import RPCError, RPCStatusCode

from api.errors import map_perfloop_error, map_temporal_error
from definitions.errors import DefinitionError, PerfloopError, Problem
from definitions.registry import DefinitionNotFoundError, VersionConflictError
from perfloop.cycles import CycleRefusedError
from perfloop.temporal import TemporalUnavailableError


def update_failed(type_: str, *details: object) -> WorkflowUpdateFailedError:
    return WorkflowUpdateFailedError(ApplicationError("refused", *details, type=type_))


@pytest.mark.parametrize(
    ("type_", "status"),
    [
        ("InvalidPayload", 422),
        ("TaskNotOpen", 409),
        ("NotAssignee", 403),
        ("TaskNotFound", 404),
        ("NotFound", 404),
        ("PhaseOver", 409),
        ("CycleOver", 409),
        ("MigrationRefused", 409),
        ("SomethingNew", 409),
    ],
)
def test_workflow_error_types(type_: str, status: int) -> None:
    mapped = map_temporal_error(update_failed(type_))

    assert mapped is not None
    assert (mapped.status, mapped.type, mapped.message) == (status, type_, "refused")


def test_invalid_payload_details_become_errors_with_paths() -> None:
    errors = [{"path": "/goals/0/weight", "message": "101 is greater than 100"}]

    mapped = map_temporal_error(update_failed("InvalidPayload", errors))

    assert mapped is not None
    assert mapped.details == {"errors": errors}


def test_migration_refusals_carry_their_reasons() -> None:
    reasons = ["phase goals has started and may not change", "the calendar may not change"]

    mapped = map_temporal_error(update_failed("MigrationRefused", reasons))

    assert mapped is not None
    assert mapped.details == {"reasons": reasons}


def test_an_application_error_behind_an_activity_failure_is_found() -> None:
    cause = ApplicationError("gone", type="TaskNotOpen")
    activity = ActivityError(
        "activity failed",
        scheduled_event_id=1,
        started_event_id=2,
        identity="w",
        activity_type="record_submission",
        activity_id="1",
        retry_state=RetryState.NON_RETRYABLE_FAILURE,
    )
    activity.__cause__ = cause

    mapped = map_temporal_error(WorkflowUpdateFailedError(activity))

    assert mapped is not None
    assert (mapped.status, mapped.type) == (409, "TaskNotOpen")


@pytest.mark.parametrize(
    ("code", "message", "status", "type_"),
    [
        (RPCStatusCode.NOT_FOUND, "workflow not found for ID: x", 404, "NotFound"),
        (RPCStatusCode.NOT_FOUND, "workflow execution already completed", 409, "WorkflowClosed"),
        (RPCStatusCode.UNAVAILABLE, "connection refused", 503, "TemporalUnavailable"),
        (RPCStatusCode.DEADLINE_EXCEEDED, "deadline", 503, "TemporalTimeout"),
        (RPCStatusCode.INTERNAL, "boom", 502, "TemporalError"),
    ],
)
def test_rpc_errors(code: RPCStatusCode, message: str, status: int, type_: str) -> None:
    mapped = map_temporal_error(RPCError(message, code, b""))

    assert mapped is not None
    assert (mapped.status, mapped.type) == (status, type_)


def test_domain_errors() -> None:
    problem = Problem("cycle.yaml", 3, 1, "metadata.title", "field required")
    cases = {
        DefinitionNotFoundError("annual-review@9 is not published"): (404, "DefinitionNotFound"),
        VersionConflictError("already published"): (409, "VersionConflict"),
        DefinitionError([problem]): (422, "DefinitionError"),
        CycleRefusedError("the cycle is over", "CycleOver"): (409, "CycleOver"),
        TemporalUnavailableError("down"): (503, "TemporalUnavailable"),
        PerfloopError("something else"): (422, "PerfloopError"),
    }
    for error, expected in cases.items():
        mapped = map_perfloop_error(error)
        assert (mapped.status, mapped.type) == expected, error

    mapped = map_perfloop_error(DefinitionError([problem]))
    assert mapped.details == {
        "problems": [
            {
                "file": "cycle.yaml",
                "line": 3,
                "column": 1,
                "path": "metadata.title",
                "message": "field required",
            }
        ]
    }


def test_query_failures() -> None:
    mapped = map_temporal_error(WorkflowQueryFailedError("no such query"))

    assert mapped is not None
    assert (mapped.status, mapped.type) == (502, "QueryFailed")


def test_unrelated_exceptions_are_not_mapped() -> None:
    assert map_temporal_error(ValueError("x")) is None
