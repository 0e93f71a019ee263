"""Probes and metrics: no token, and readiness that tells which dependency is down."""

from __future__ import annotations

from httpx import AsyncClient

from perfloop.settings import Settings
from tests.api.conftest import FakeTemporal, app_for, serve


async def test_healthz_needs_nothing(settings: Settings) -> None:
    unreachable = settings.model_copy(
        update={"database_url": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    )
    async for client in serve(app_for(unreachable, temporal=None)):
        response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_when_everything_answers(client: AsyncClient) -> None:
    response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"store": "ok", "temporal": "ok"}}


async def test_readyz_is_503_without_temporal(settings: Settings) -> None:
    async for client in serve(app_for(settings, temporal=None)):
        response = await client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"store": "ok", "temporal": "error: TemporalUnavailable"},
    }


async def test_readyz_is_503_when_temporal_is_not_serving(settings: Settings) -> None:
    temporal = FakeTemporal()
    temporal.service_client.healthy = False
    async for client in serve(app_for(settings, temporal)):
        response = await client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["temporal"] == "error: not serving"


async def test_readyz_is_503_without_the_store(settings: Settings) -> None:
    unreachable = settings.model_copy(
        update={"database_url": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    )
    async for client in serve(app_for(unreachable, FakeTemporal())):
        response = await client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"] == {"store": "error: OperationalError", "temporal": "ok"}


async def test_metrics_are_prometheus_text(client: AsyncClient) -> None:
    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE" in response.text


async def test_unknown_paths_use_the_error_envelope(client: AsyncClient) -> None:
    response = await client.get("/nowhere")

    assert response.status_code == 404
    assert response.json() == {"error": {"type": "NotFound", "message": "Not Found", "details": {}}}


async def test_production_serves_no_docs(settings: Settings) -> None:
    production = settings.model_copy(update={"environment": "production"})
    async for client in serve(app_for(production, FakeTemporal())):
        responses = [await client.get(path) for path in ("/docs", "/openapi.json", "/redoc")]
        health = await client.get("/healthz")

    assert [response.status_code for response in responses] == [404, 404, 404]
    assert health.status_code == 200
