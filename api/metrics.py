"""Observability of the API: HTTP metrics, log correlation ids, the codec server's CORS.

HTTP metrics are labelled by the route *template* (`/v1/tasks/{task_id:path}`), never
the path with ids in it, so their cardinality is the number of routes:

- `perfloop_http_requests_total{method, route, status}`
- `perfloop_http_request_duration_seconds{method, route}` (histogram)
- `perfloop_http_requests_in_flight` (gauge)

A request that matches no route is `route="<unmatched>"`. `/metrics` also carries the
business metrics read from the store (`perfloop.business_metrics`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

from fastapi import FastAPI
from fastapi import routing as fastapi_routing
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from perfloop.logs import REQUEST_CONTEXT
from perfloop.settings import Settings

UNMATCHED = "<unmatched>"
CODEC_PREFIX = "/v1/codec/"

HTTP_REQUESTS = Counter(
    "perfloop_http_requests",
    "HTTP requests answered, by route template and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "perfloop_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
SUBMIT_STEP = Histogram(
    "perfloop_api_submit_step_seconds",
    "A task submission's time by step: `store_before` (Idempotency-Key claim, task read, "
    "permission), `engine` (the workflow's Update), `store_after` (task mark, audit, "
    "stored answer), each from the request's side, thread hops included.",
    ["step"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
HTTP_IN_FLIGHT = Gauge(
    "perfloop_http_requests_in_flight", "HTTP requests being answered.", registry=REGISTRY
)

_CORRELATED_PARAMS = ("cycle_id", "task_id")


def route_template(scope: Scope) -> str:
    """The matched route's full path template (`/v1/tasks/{task_id:path}`).

    FastAPI puts the route *as declared* in the scope (an included router's route lacks
    the prefixes it was included under), so the app's table of effective routes (full
    paths) is looked up by that route.
    """
    route = scope.get("route")
    if route is None:
        return UNMATCHED
    app = scope.get("app")
    table: dict[int, str] | None = getattr(getattr(app, "state", None), "route_templates", None)
    if table is None and app is not None:
        table = {}
        iterate = getattr(fastapi_routing, "iter_route_contexts", None)
        contexts = iterate(app.routes) if iterate is not None else app.routes
        for context in contexts:
            original = getattr(context, "original_route", context)
            path = getattr(context, "path", None)
            if isinstance(path, str):
                table.setdefault(id(original), path)
        app.state.route_templates = table
    if table is not None and id(route) in table:
        return table[id(route)]
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class HttpMetrics:
    """Pure ASGI middleware: counts and times every HTTP request by route template, and
    sets the log correlation ids (`perfloop.logs.REQUEST_CONTEXT`) while it runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        status = 500
        request_id = _request_id(scope)

        def correlation() -> dict[str, str]:
            fields = {"request_id": request_id, "method": method}
            if scope.get("route") is not None:
                fields["route"] = route_template(scope)
            for name in _CORRELATED_PARAMS:
                value = (scope.get("path_params") or {}).get(name)
                if isinstance(value, str):
                    fields[name] = value
            return fields

        token = REQUEST_CONTEXT.set(correlation)

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        HTTP_IN_FLIGHT.inc()
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_status)
        finally:
            HTTP_IN_FLIGHT.dec()
            route = route_template(scope)
            HTTP_DURATION.labels(method, route).observe(time.perf_counter() - started)
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            REQUEST_CONTEXT.reset(token)


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers") or ():
        if name == b"x-request-id":
            text: str = bytes(value).decode("latin-1")[:64]
            if text.isprintable():
                return text
    return uuid.uuid4().hex


class CodecCors:
    """CORS for the codec server's routes only (Temporal UI calls them from its origin);
    every other route keeps the same-origin policy."""

    def __init__(self, app: ASGIApp, origins: Sequence[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=list(origins),
            allow_methods=["POST"],
            allow_headers=["Authorization", "Content-Type", "X-Namespace"],
            allow_credentials=True,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith(CODEC_PREFIX):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def business_registry(app: FastAPI) -> CollectorRegistry:
    """The app's registry of store-backed business metrics (one per app: tests build many)."""
    registry: CollectorRegistry | None = getattr(app.state, "business_metrics", None)
    if registry is None:
        from perfloop.business_metrics import BusinessMetrics

        registry = CollectorRegistry(auto_describe=False)
        registry.register(BusinessMetrics(app.state.perfloop.store.sessions()))
        app.state.business_metrics = registry
    return registry


def install_observability(app: FastAPI, settings: Settings) -> None:
    """HTTP metrics and correlation ids on every request; CORS for the codec routes."""
    if settings.codec_cors_origins:
        app.add_middleware(CodecCors, origins=settings.codec_cors_origins)
    # Added last, so it runs first: it times everything, refusals included.
    app.add_middleware(HttpMetrics)
