"""The FastAPI application: `create_app()` builds one, nothing happens at import.

```
uvicorn --factory api.app:create_app
```

Routes live in `api/routers/` (one module per resource) and stay thin: they declare
dependencies (`api.deps`) and call `api/services/`. Errors are mapped to HTTP in
`api.errors` only. State-changing POSTs take an `Idempotency-Key` (`api.idempotency`);
request bodies and submission rates are capped (`api.limits`); see `api/README.md`.
Everything under `/v1` needs a bearer token; `/healthz`, `/readyz` and `/metrics` do
not, nor do `/docs`, `/openapi.json` and the `/dev` sign-in, which exist in development
only, nor the web app's static files under `/app/` (`api/web/`). Every `/v1`
route declares exactly one permission (`api.permissions.permit`); an app with a route
that declares none is refused when it is built (deny by default).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from api.auth import Authenticator, build_authenticator
from api.deps import authenticated
from api.errors import error_responses, install_error_handlers
from api.idempotency import install_idempotency
from api.limits import BodySizeLimit
from api.metrics import install_observability
from api.permissions import ensure_declared
from api.routers import (
    analytics,
    audit,
    calibration,
    codec,
    cycles,
    dashboards,
    definitions,
    dev,
    employees,
    goals,
    health,
    me,
    objectives,
    performance_files,
    progress_events,
    tasks,
    teams,
)
from api.state import (
    AppState,
    TemporalClientFactory,
    TemporalConnector,
    default_temporal_client,
)
from perfloop import __version__
from perfloop.settings import Settings, get_settings


def create_app(
    settings: Settings | None = None,
    *,
    temporal_client_factory: TemporalClientFactory | None = None,
    authenticator: Authenticator | None = None,
) -> FastAPI:
    """A new application for `settings` (default: from the environment).

    `temporal_client_factory` builds the Temporal client on first use (default:
    `perfloop.temporal.connect`); `authenticator` verifies bearer tokens (default: by
    `PERFLOOP_AUTH_MODE`, see `api.auth.build_authenticator`).
    """
    settings = settings or get_settings()
    state = AppState.build(
        settings,
        authenticator or build_authenticator(settings),
        TemporalConnector(settings, temporal_client_factory or default_temporal_client),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            state.temporal.close()
            await state.store.close()

    # Interactive docs (and the schema they read) are for development; production
    # serves none, so that nothing but the probes answers without a token.
    docs = settings.environment != "production"
    app = FastAPI(
        title="perfloop",
        version=__version__,
        summary="Closed-loop performance management: cycles, tasks and inboxes.",
        lifespan=lifespan,
        openapi_url="/openapi.json" if docs else None,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
    )
    app.state.perfloop = state
    install_error_handlers(app)
    # Middleware added last runs first: the body cap, then idempotency (which holds a
    # claimed request's answer back until it is stored).
    install_idempotency(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.api_max_body_bytes)
    install_observability(app, settings)

    v1 = APIRouter(
        prefix="/v1",
        dependencies=[Depends(authenticated)],
        responses=error_responses(401, 422, 503),
    )
    # First: a request is matched against the routes in order, and a submission (the hot
    # route) then passes a few routes instead of all of them. Its paths (/v1/tasks/...)
    # overlap no other router's.
    v1.include_router(tasks.router)
    v1.include_router(audit.router)
    v1.include_router(codec.router)
    v1.include_router(cycles.router)
    v1.include_router(employees.router)
    v1.include_router(performance_files.router)
    v1.include_router(definitions.router)
    v1.include_router(analytics.router)
    v1.include_router(calibration.router)
    v1.include_router(me.router)
    v1.include_router(teams.router)
    v1.include_router(objectives.router)
    v1.include_router(goals.router)
    v1.include_router(dashboards.router)

    app.include_router(health.router)
    app.include_router(v1)
    # The one /v1 route authenticated by an HMAC signature, not a bearer token (see
    # api.permissions.permit_signed): outside the bearer router on purpose.
    app.include_router(
        progress_events.router, prefix="/v1", responses=error_responses(401, 422, 503)
    )
    if settings.environment != "production":
        app.include_router(dev.router)
    mount_web(app)
    ensure_declared(app)
    return app


WEB = Path(__file__).resolve().parent / "web"


def mount_web(app: FastAPI) -> None:
    """The web task list: static files under `/app/`, nothing to build; `/` leads there."""
    app.mount("/app", StaticFiles(directory=WEB, html=True), name="web")

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/app/")
