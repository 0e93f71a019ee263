"""Every error the API answers with, mapped to HTTP in this one place.

All errors leave as `{"error": {"type", "message", "details"}}`; `type` is stable and
meant for programs, `message` for people, `details` is always an object (for example
`{"errors": [{"path", "message"}]}` for a payload that does not match its form).

Four sources are mapped:

- `ApiError` subclasses, raised by the API's own services (not found, forbidden, ...);
- perfloop's domain errors (`PerfloopError`), by class;
- Temporal's: an Update or query refused by a workflow carries an `ApplicationError`
  whose `type` decides the status (`WORKFLOW_ERROR_STATUS`); RPC failures map by gRPC code;
- the store being unreachable (`OperationalError`, SQLAlchemy's or, from the statements
  the submit route runs on the driver, psycopg's) is a 503; text PostgreSQL cannot store
  (a NUL character, `DataError`) a 422.

Routers and services never build error responses themselves: they raise.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg.errors import UntranslatableCharacter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount
from temporalio.client import (
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError, FailureError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from definitions.errors import DefinitionError, PerfloopError
from definitions.registry import (
    DefinitionNotFoundError,
    InvalidRefError,
    VersionConflictError,
)

log = logging.getLogger(__name__)

UNPROCESSABLE = 422  # HTTPStatus.UNPROCESSABLE_ENTITY (renamed ..._CONTENT in 3.13)


# --- the envelope ------------------------------------------------------------------------


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(description="Stable, machine-readable error type, e.g. InvalidPayload.")
    message: str = Field(description="What went wrong, for people.")
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    """What every non-2xx answer carries."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorBody


def error_response(
    status: int,
    type_: str,
    message: str,
    details: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(type=type_, message=message, details=dict(details or {})))
    return JSONResponse(
        body.model_dump(mode="json"), status_code=status, headers=dict(headers or {})
    )


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting the error envelope for `statuses`."""
    return {
        status: {"model": ErrorResponse, "description": HTTPStatus(status).phrase}
        for status in statuses
    }


# --- the API's own errors ----------------------------------------------------------------


class ApiError(Exception):
    """An error with its HTTP status; services raise these."""

    status: int = HTTPStatus.BAD_REQUEST
    type: str = "BadRequest"

    def __init__(
        self,
        message: str,
        *,
        type: str | None = None,
        status: int | None = None,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if type is not None:
            self.type = type
        if status is not None:
            self.status = status
        self.details: dict[str, Any] = dict(details or {})
        self.headers: dict[str, str] = dict(headers or {})


class Unauthenticated(ApiError):
    """No credentials, or credentials that do not hold (RFC 6750: `WWW-Authenticate`)."""

    status = HTTPStatus.UNAUTHORIZED
    type = "Unauthenticated"

    def __init__(self, message: str, *, error: str | None = "invalid_token") -> None:
        challenge = 'Bearer realm="perfloop"'
        if error is not None:
            description = message.replace('"', "'")
            challenge += f', error="{error}", error_description="{description}"'
        super().__init__(message, headers={"WWW-Authenticate": challenge})


class Forbidden(ApiError):
    status = HTTPStatus.FORBIDDEN
    type = "Forbidden"


class NotFound(ApiError):
    status = HTTPStatus.NOT_FOUND
    type = "NotFound"


class Conflict(ApiError):
    status = HTTPStatus.CONFLICT
    type = "Conflict"


class Unprocessable(ApiError):
    status = UNPROCESSABLE
    type = "InvalidRequest"


class PayloadTooLarge(ApiError):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    type = "PayloadTooLarge"


class TooManyRequests(ApiError):
    """A rate limit refused the request; `Retry-After` says when one more is allowed."""

    status = HTTPStatus.TOO_MANY_REQUESTS
    type = "RateLimited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(
            message,
            details={"retry_after": retry_after},
            headers={"Retry-After": str(retry_after)},
        )


class ServiceUnavailable(ApiError):
    status = HTTPStatus.SERVICE_UNAVAILABLE
    type = "ServiceUnavailable"

    def __init__(self, message: str, *, type: str | None = None, retry_after: int = 5) -> None:
        super().__init__(message, type=type, headers={"Retry-After": str(retry_after)})


# --- domain errors -------------------------------------------------------------------------


def _problems(error: DefinitionError) -> list[dict[str, Any]]:
    return [
        {
            "file": p.file,
            "line": p.line,
            "column": p.column,
            "path": p.path,
            "message": p.message,
        }
        for p in error.problems
    ]


def map_perfloop_error(exc: PerfloopError) -> ApiError:
    from perfloop.cycles import (
        CycleClosedError,
        CycleConflictError,
        CycleError,
        CycleNotFoundError,
        CycleRefusedError,
    )
    from perfloop.temporal import TemporalUnavailableError

    if isinstance(exc, CycleClosedError):
        return Conflict(str(exc), type="WorkflowClosed")
    if isinstance(exc, CycleNotFoundError):
        return NotFound(str(exc), type="CycleNotFound")
    if isinstance(exc, CycleConflictError):
        return Conflict(str(exc), type="CycleExists")
    if isinstance(exc, CycleRefusedError):
        # The workflow's own refusal: mapped exactly as when an Update fails in the API.
        return map_application_error(
            ApplicationError(str(exc), *exc.details, type=exc.type or "CycleRefused")
        )
    if isinstance(exc, CycleError):
        return Unprocessable(str(exc), type="InvalidCycle")
    if isinstance(exc, TemporalUnavailableError):
        return ServiceUnavailable(
            "the workflow engine (Temporal) is unreachable; try again shortly",
            type="TemporalUnavailable",
        )
    if isinstance(exc, DefinitionNotFoundError):
        return NotFound(str(exc), type="DefinitionNotFound")
    if isinstance(exc, VersionConflictError):
        return Conflict(str(exc), type="VersionConflict")
    if isinstance(exc, DefinitionError):
        return Unprocessable(
            "the definition is invalid",
            type="DefinitionError",
            details={"problems": _problems(exc)},
        )
    if isinstance(exc, InvalidRefError):
        return Unprocessable(str(exc), type="InvalidDefinitionRef")
    return Unprocessable(str(exc), type=type(exc).__name__)


# --- Temporal ---------------------------------------------------------------------------

WORKFLOW_ERROR_STATUS: dict[str, int] = {
    "InvalidPayload": UNPROCESSABLE,
    "InvalidInput": UNPROCESSABLE,
    "InvalidAssignee": UNPROCESSABLE,
    "TaskNotOpen": HTTPStatus.CONFLICT,
    "TaskNotDone": HTTPStatus.CONFLICT,
    "PhaseOver": HTTPStatus.CONFLICT,
    "CycleOver": HTTPStatus.CONFLICT,
    "MigrationRefused": HTTPStatus.CONFLICT,
    "NotAssignee": HTTPStatus.FORBIDDEN,
    "TaskNotFound": HTTPStatus.NOT_FOUND,
    "NotFound": HTTPStatus.NOT_FOUND,
}
"""ApplicationError `type` raised by workflow validators and handlers -> HTTP status.
A type not listed is a refusal we have no better word for: 409."""


def _first_detail(error: ApplicationError) -> Any:
    return error.details[0] if error.details else None


def _items(value: Any) -> list[Any]:
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    return [] if value is None else [value]


def map_application_error(error: ApplicationError) -> ApiError:
    type_ = error.type or "ApplicationError"
    status = WORKFLOW_ERROR_STATUS.get(type_, HTTPStatus.CONFLICT)
    detail = _first_detail(error)
    details: dict[str, Any] = {}
    if type_ == "InvalidPayload":
        details["errors"] = [
            {"path": str(item.get("path", "/")), "message": str(item.get("message", ""))}
            if isinstance(item, Mapping)
            else {"path": "/", "message": str(item)}
            for item in _items(detail)
        ]
    elif type_ == "MigrationRefused":
        details["reasons"] = [str(item) for item in _items(detail)]
    elif detail is not None:
        details["detail"] = detail
    return ApiError(error.message, type=type_, status=status, details=details)


def _application_cause(exc: BaseException) -> ApplicationError | None:
    """The ApplicationError behind an update/activity failure chain, if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ApplicationError):
            return current
        current = current.__cause__
    return None


def map_update_failed(exc: WorkflowUpdateFailedError) -> ApiError:
    cause = _application_cause(exc.cause)
    if cause is not None:
        return map_application_error(cause)
    message = str(exc.cause) if isinstance(exc.cause, FailureError) else "the update failed"
    return Conflict(message, type="UpdateFailed")


_RPC_STATUS: dict[RPCStatusCode, tuple[int, str]] = {
    RPCStatusCode.NOT_FOUND: (HTTPStatus.NOT_FOUND, "NotFound"),
    RPCStatusCode.ALREADY_EXISTS: (HTTPStatus.CONFLICT, "AlreadyExists"),
    RPCStatusCode.FAILED_PRECONDITION: (HTTPStatus.CONFLICT, "FailedPrecondition"),
    RPCStatusCode.INVALID_ARGUMENT: (UNPROCESSABLE, "InvalidArgument"),
    RPCStatusCode.PERMISSION_DENIED: (HTTPStatus.FORBIDDEN, "PermissionDenied"),
    RPCStatusCode.RESOURCE_EXHAUSTED: (HTTPStatus.TOO_MANY_REQUESTS, "ResourceExhausted"),
    RPCStatusCode.UNAVAILABLE: (HTTPStatus.SERVICE_UNAVAILABLE, "TemporalUnavailable"),
    RPCStatusCode.DEADLINE_EXCEEDED: (HTTPStatus.SERVICE_UNAVAILABLE, "TemporalTimeout"),
    RPCStatusCode.CANCELLED: (HTTPStatus.SERVICE_UNAVAILABLE, "TemporalTimeout"),
}


def map_rpc_error(exc: RPCError) -> ApiError:
    status, type_ = _RPC_STATUS.get(exc.status, (HTTPStatus.BAD_GATEWAY, "TemporalError"))
    message = exc.message or str(exc)
    if exc.status == RPCStatusCode.NOT_FOUND and "already completed" in message:
        # An Update sent to a workflow that has finished: nothing there is open any more.
        status, type_ = HTTPStatus.CONFLICT, "WorkflowClosed"
    elif exc.status == RPCStatusCode.NOT_FOUND:
        message = "no such workflow"
    headers = {"Retry-After": "5"} if status == HTTPStatus.SERVICE_UNAVAILABLE else None
    return ApiError(message, type=type_, status=status, headers=headers)


def map_temporal_error(exc: BaseException) -> ApiError | None:
    """The API error for a Temporal client failure, or None when `exc` is not one."""
    if isinstance(exc, WorkflowUpdateFailedError):
        return map_update_failed(exc)
    if isinstance(exc, WorkflowUpdateRPCTimeoutOrCancelledError):
        return ServiceUnavailable(
            "the engine did not answer in time; retry with the same Idempotency-Key",
            type="EngineTimeout",
        )
    if isinstance(exc, WorkflowQueryRejectedError):
        state = exc.status.name.lower() if exc.status is not None else "not running"
        return Conflict(f"the workflow is {state}", type="QueryRejected")
    if isinstance(exc, WorkflowQueryFailedError):
        return ApiError(exc.message, type="QueryFailed", status=HTTPStatus.BAD_GATEWAY)
    if isinstance(exc, WorkflowAlreadyStartedError):
        return Conflict(f"{exc.workflow_id} already exists", type="AlreadyExists")
    if isinstance(exc, RPCError):
        return map_rpc_error(exc)
    if isinstance(exc, ApplicationError):
        return map_application_error(exc)
    return None


# --- request validation -------------------------------------------------------------------


def _pointer(location: Iterable[Any]) -> str:
    return "/" + "/".join(str(part) for part in location)


def map_validation_error(exc: RequestValidationError) -> ApiError:
    errors = [
        {"path": _pointer(error.get("loc", ())), "message": str(error.get("msg", ""))}
        for error in exc.errors()
    ]
    return Unprocessable(
        "the request is not valid", type="InvalidRequest", details={"errors": errors}
    )


# --- handlers -----------------------------------------------------------------------------


def _respond(error: ApiError) -> JSONResponse:
    return error_response(error.status, error.type, error.message, error.details, error.headers)


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return _respond(exc)


async def _perfloop_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PerfloopError)
    return _respond(map_perfloop_error(exc))


async def _temporal_error(request: Request, exc: Exception) -> JSONResponse:
    mapped = map_temporal_error(exc)
    if mapped is None:  # pragma: no cover - registered only for Temporal's types
        return await _unexpected(request, exc)
    if mapped.status >= 500:
        log.warning("temporal error on %s %s: %r", request.method, request.url.path, exc)
    return _respond(mapped)


async def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.error("store unavailable on %s %s: %s", request.method, request.url.path, exc)
    return _respond(
        ServiceUnavailable("the store is unavailable; try again shortly", type="StoreUnavailable")
    )


async def _unauthenticated(request: Request) -> ApiError | None:
    """The 401 a `/v1` request without valid credentials gets, or None when it has them.

    FastAPI parses a JSON body before it runs any dependency, authentication included;
    a caller without a token must not learn how their body is wrong (or anything else)."""
    if not request.url.path.startswith("/v1/"):
        return None
    from api.deps import authenticate_request  # api.deps imports this module

    try:
        await authenticate_request(request)
    except Unauthenticated as exc:
        return exc
    return None


def map_data_error(exc: DataError | psycopg.DataError) -> ApiError | None:
    """A NUL character (U+0000) in text: valid JSON and URLs, but PostgreSQL's text and
    JSON types cannot hold one (psycopg refuses it, or the server for JSONB). That is
    the request's fault, a 422; any other DataError is a bug (None: a 500)."""
    orig = exc.orig if isinstance(exc, DataError) else exc
    if isinstance(orig, UntranslatableCharacter) or "NUL (0x00)" in str(orig):
        return Unprocessable(
            "text may not contain the NUL character (U+0000)", type="InvalidRequest"
        )
    return None


async def _data_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DataError | psycopg.DataError)
    mapped = map_data_error(exc)
    if mapped is None:
        return await _unexpected(request, exc)
    return _respond(mapped)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _respond(await _unauthenticated(request) or map_validation_error(exc))


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at the request's path. Starlette's 405 names only
    the first route that matched the path (`POST` for `/v1/cycles`, which `GET` serves
    too), while `Allow` must list them all (RFC 9110 §10.2.1)."""
    path = {"type": "http", "path": request.url.path, "root_path": "", "headers": []}
    routes = [route for route in request.app.router.routes if not isinstance(route, Mount)]
    return ", ".join(
        method
        for method in _METHODS
        if any(route.matches({**path, "method": method})[0] == Match.FULL for route in routes)
    )


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == HTTPStatus.BAD_REQUEST:
        # The framework's only 400: a body that cannot be decoded or parsed at all. Like
        # every other malformed request it is a 422 `InvalidRequest` (the documented one).
        return _respond(
            await _unauthenticated(request)
            or Unprocessable(
                "the request body cannot be parsed",
                type="InvalidRequest",
                details={"errors": [{"path": "/body", "message": str(exc.detail)}]},
            )
        )
    status = HTTPStatus(exc.status_code)
    type_ = {404: "NotFound", 405: "MethodNotAllowed"}.get(
        exc.status_code, status.phrase.replace(" ", "")
    )
    message = exc.detail if isinstance(exc.detail, str) else status.phrase
    headers = dict(exc.headers or {})
    if exc.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
        headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
    return error_response(exc.status_code, type_, message, headers=headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "InternalError", "internal error")


TEMPORAL_ERRORS: tuple[type[Exception], ...] = (
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowQueryRejectedError,
    WorkflowQueryFailedError,
    WorkflowAlreadyStartedError,
    RPCError,
    ApplicationError,
)


def install_error_handlers(app: FastAPI) -> None:
    """Register every mapping above on `app`."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(PerfloopError, _perfloop_error)
    for error_type in TEMPORAL_ERRORS:
        app.add_exception_handler(error_type, _temporal_error)
    for unavailable in (OperationalError, psycopg.OperationalError):
        app.add_exception_handler(unavailable, _store_unavailable)
    for data_error in (DataError, psycopg.DataError):
        app.add_exception_handler(data_error, _data_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(Exception, _unexpected)
