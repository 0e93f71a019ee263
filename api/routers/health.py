"""Probes and metrics, the only routes without a token.

`/healthz`: the process is up (liveness). `/readyz`: the store and Temporal both answer
(readiness); 503 with the failing check otherwise. `/metrics`: Prometheus text format
(HTTP, process and business metrics; see `api.metrics`).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from pydantic import BaseModel

from api.deps import StateDep
from api.services import health

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    checks: dict[str, str]


@router.get("/healthz", summary="Liveness: the process is up")
def healthz() -> Health:
    return Health()


@router.get(
    "/readyz",
    summary="Readiness: the store and Temporal answer",
    responses={503: {"model": Readiness, "description": "A dependency does not answer"}},
)
async def readyz(state: StateDep, response: Response) -> Readiness:
    checks = await health.readiness(state)
    ready = all(result == "ok" for result in checks.values())
    if not ready:
        response.status_code = 503
    return Readiness(status="ready" if ready else "unavailable", checks=checks)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """The process's metrics (HTTP, Python runtime) and the business metrics read from
    the store (`perfloop.business_metrics`)."""
    from api.metrics import business_registry

    body = generate_latest(REGISTRY) + generate_latest(business_registry(request.app))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
