"""`/v1/codec`: Temporal UI's codec server, for ops only, audited, CORS for the UI only."""

from __future__ import annotations

import base64
import json

from httpx import AsyncClient
from pydantic import SecretStr
from sqlalchemy import select

from perfloop.codec import ENCODING
from perfloop.settings import Settings
from store.db import session_scope
from store.models import AuditEvent
from tests.api.conftest import FakeTemporal, Token, app_for, serve

KEY = f"k1={base64.b64encode(bytes(range(32))).decode()}"
UI = "http://127.0.0.1:8233"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def plain(text: str) -> dict[str, object]:
    return {"metadata": {"encoding": b64(b"json/plain")}, "data": b64(json.dumps(text).encode())}


async def test_ops_encode_then_decode_round_trips_and_is_audited(
    settings: Settings, auth: Token
) -> None:
    keyed = settings.model_copy(update={"payload_keys": SecretStr(KEY)})
    ops = auth("OPS1", "ops")
    async for client in serve(app_for(keyed, FakeTemporal())):
        encoded = await client.post(
            "/v1/codec/encode", json={"payloads": [plain("a comment")]}, headers=ops
        )
        assert encoded.status_code == 200, encoded.text
        sealed = encoded.json()["payloads"]
        assert base64.b64decode(sealed[0]["metadata"]["encoding"]) == ENCODING
        assert b"a comment" not in base64.b64decode(sealed[0]["data"])

        decoded = await client.post(
            "/v1/codec/decode",
            json={"payloads": sealed},
            headers={**ops, "X-Namespace": "default"},
        )

    assert decoded.status_code == 200, decoded.text
    assert decoded.json() == {"payloads": [plain("a comment")]}
    with session_scope(keyed.effective_database_url) as session:
        events = session.scalars(select(AuditEvent)).all()
        assert [(e.actor_id, e.action, e.resource_id) for e in events] == [
            ("OPS1", "payloads.decode", "default")
        ]


async def test_only_ops_may_use_the_codec(client: AsyncClient, auth: Token) -> None:
    body = {"payloads": [plain("x")]}
    for roles in ((), ("hr-admin",), ("hrbp",)):
        for route in ("/v1/codec/decode", "/v1/codec/encode"):
            response = await client.post(route, json=body, headers=auth("E012", *roles))
            assert response.status_code == 403, (roles, route)
    assert (await client.post("/v1/codec/decode", json=body)).status_code == 401


async def test_bad_payloads_are_422(settings: Settings, auth: Token) -> None:
    keyed = settings.model_copy(update={"payload_keys": SecretStr(KEY)})
    ops = auth("OPS1", "ops")
    foreign = {"metadata": {"encoding": b64(ENCODING), "encryption-key-id": b64(b"gone")}}
    async for client in serve(app_for(keyed, FakeTemporal())):
        not_base64 = await client.post(
            "/v1/codec/decode", json={"payloads": [{"data": "%%%"}]}, headers=ops
        )
        unknown_key = await client.post(
            "/v1/codec/decode",
            json={"payloads": [{**foreign, "data": b64(b"x" * 40)}]},
            headers=ops,
        )
        extra = await client.post("/v1/codec/decode", json={"payloads": [], "x": 1}, headers=ops)

    assert not_base64.status_code == 422
    assert unknown_key.status_code == 422
    assert unknown_key.json()["error"]["type"] == "PayloadUndecodable"
    assert extra.status_code == 422


async def test_cors_lets_the_temporal_ui_call_the_codec_routes_only(client: AsyncClient) -> None:
    preflight = {
        "Origin": UI,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }
    codec = await client.options("/v1/codec/decode", headers=preflight)
    elsewhere = await client.options("/v1/me", headers=preflight)
    stranger = await client.options(
        "/v1/codec/decode", headers={**preflight, "Origin": "http://evil.test"}
    )

    assert codec.status_code == 200
    assert codec.headers["access-control-allow-origin"] == UI
    assert "access-control-allow-origin" not in elsewhere.headers
    assert "access-control-allow-origin" not in stranger.headers
