"""Authentication and roles: dev tokens, the signing key, 401 and 403."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from fastapi import FastAPI
from httpx import AsyncClient, Response
from typer.testing import CliRunner

from api.auth import (
    AUDIENCE,
    DEV_ISSUER,
    LEEWAY,
    AuthError,
    DevAuthenticator,
    Principal,
    Role,
    VerifiedTokens,
    issue_dev_token,
    key_path,
    parse_ttl,
    signing_key,
)
from api.permissions import declared_permissions, guarded_routes
from perfloop.settings import Settings
from tests.api.conftest import FakeTemporal, Token, app_for, serve

PUBLIC = {"/healthz", "/readyz", "/metrics"}


def assert_401(response: Response, *, fragment: str = "") -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith('Bearer realm="perfloop"')
    body = response.json()
    assert body["error"]["type"] == "Unauthenticated"
    assert fragment in body["error"]["message"]


# --- the routes -----------------------------------------------------------------------


async def test_every_route_but_the_probes_needs_a_token(app: FastAPI, client: AsyncClient) -> None:
    paths: dict[str, dict[str, object]] = app.openapi()["paths"]
    assert set(paths) >= PUBLIC | {"/v1/me/tasks", "/v1/cycles", "/v1/tasks/{task_id}"}
    signed = {
        route.path
        for route in guarded_routes(app)
        if any(p.authentication == "hmac" for p in declared_permissions(route))
    }
    assert signed == {"/v1/progress-events"}
    for template, operations in paths.items():
        path = template.replace("{task_id}", "c/E1/p/k").replace("{cycle_id}", "c")
        for method in operations:
            response = await client.request(method.upper(), path)
            if template in PUBLIC:
                assert response.status_code != 401, (method, path)
            elif template in signed:
                # Machines sign instead (permit_signed): 401 with an HMAC challenge.
                assert response.status_code == 401, (method, path)
                assert response.headers["www-authenticate"].startswith("HMAC-SHA256")
                assert operations[method]["security"] == []  # type: ignore[index]
            else:
                assert_401(response)
                assert operations[method]["security"] == [{"HTTPBearer": []}]  # type: ignore[index]


async def test_no_token_is_401_with_a_bearer_challenge(client: AsyncClient) -> None:
    response = await client.get("/v1/me/tasks")

    assert_401(response, fragment="bearer token is required")
    assert "error=" not in response.headers["www-authenticate"]  # RFC 6750 §3.1


async def test_a_non_bearer_scheme_is_401(client: AsyncClient) -> None:
    assert_401(await client.get("/v1/me", headers={"Authorization": "Basic RTAxMjpwdw=="}))


async def test_a_valid_token_identifies_the_caller(client: AsyncClient, auth: Token) -> None:
    response = await client.get("/v1/me", headers=auth("E012", "hrbp", departments=["Sales"]))

    assert response.status_code == 200
    assert response.json() == {
        "employee_id": "E012",
        "roles": ["employee", "hrbp"],
        "departments": ["Sales"],
    }


async def test_bad_signature_is_401(
    client: AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    other = Settings(home=tmp_path / "elsewhere", database_url=settings.database_url)
    forged = issue_dev_token(other, "E012", ["hr-admin"])

    response = await client.get("/v1/me", headers={"Authorization": f"Bearer {forged}"})

    assert_401(response, fragment="Signature verification failed")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_expired_token_is_401(client: AsyncClient, settings: Settings) -> None:
    old = issue_dev_token(settings, "E012", now=datetime.now(UTC) - timedelta(hours=9))

    assert_401(
        await client.get("/v1/me", headers={"Authorization": f"Bearer {old}"}), fragment="expired"
    )


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "someone-else"},
        {"iss": "evil"},
        {"sub": "../../etc"},
        {"roles": "hr-admin"},
    ],
)
async def test_tokens_with_wrong_claims_are_401(
    client: AsyncClient, settings: Settings, claims: dict[str, object]
) -> None:
    now = datetime.now(UTC)
    base = {
        "iss": DEV_ISSUER,
        "aud": AUDIENCE,
        "sub": "E012",
        "roles": ["employee"],
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(hours=1)).timestamp()),
    }
    token = jwt.encode({**base, **claims}, signing_key(settings), algorithm="HS256")

    assert_401(await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}))


async def test_unsigned_and_garbage_tokens_are_401(client: AsyncClient) -> None:
    unsigned = jwt.encode({"sub": "E012", "aud": AUDIENCE, "iss": DEV_ISSUER}, "", "none")
    for token in (unsigned, "not-a-jwt", "a.b.c"):
        assert_401(await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}))


async def test_wrong_role_is_403(client: AsyncClient, auth: Token) -> None:
    body = {"definition": "annual-review@1"}

    launched = await client.post("/v1/cycles", json=body, headers=auth("E012"))
    watched = await client.get("/v1/cycles/annual-2027", headers=auth("E012"))
    hrbp_launch = await client.post("/v1/cycles", json=body, headers=auth("E012", "hrbp"))

    for response in (launched, watched, hrbp_launch):
        assert response.status_code == 403, response.text
        assert response.json()["error"]["type"] == "MissingRole"
    assert launched.json()["error"]["details"] == {"required": ["hr-admin"]}
    assert watched.json()["error"]["details"] == {"required": ["hr-admin", "hrbp", "ops"]}


async def test_production_refuses_dev_tokens(settings: Settings, auth: Token) -> None:
    production = settings.model_copy(update={"environment": "production"})
    headers = auth("E012", "hr-admin")

    async for client in serve(app_for(production, FakeTemporal())):
        response = await client.get("/v1/me", headers=headers)

    assert_401(response, fragment="development tokens are not accepted in production")
    with pytest.raises(AuthError, match="production"):
        issue_dev_token(production, "E012")


# --- verified tokens remembered --------------------------------------------------------


class CountingAuthenticator(DevAuthenticator):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.verified = 0

    def authenticate(self, token: str) -> Principal:
        self.verified += 1
        return super().authenticate(token)


async def test_a_token_is_verified_once_while_remembered(settings: Settings, auth: Token) -> None:
    authenticator = CountingAuthenticator(settings)
    employee, admin = auth("E012"), auth("A1", "hr-admin")

    async for client in serve(app_for(settings, FakeTemporal(), authenticator=authenticator)):
        answers = [await client.get("/v1/me", headers=employee) for _ in range(3)]
        answers.append(await client.get("/v1/me", headers=admin))
        refused = await client.post("/v1/cycles", json={}, headers=employee)

    assert [answer.json()["employee_id"] for answer in answers] == ["E012"] * 3 + ["A1"]
    assert authenticator.verified == 2  # once per token
    # A remembered token keeps its roles: still 403 where they do not reach.
    assert refused.status_code == 403


async def test_without_remembering_every_request_verifies(settings: Settings, auth: Token) -> None:
    uncached = settings.model_copy(update={"auth_cache_seconds": 0})
    authenticator = CountingAuthenticator(uncached)
    headers = auth("E012")

    async for client in serve(app_for(uncached, FakeTemporal(), authenticator=authenticator)):
        for _ in range(3):
            assert (await client.get("/v1/me", headers=headers)).status_code == 200

    assert authenticator.verified == 3


def remembered(expires_at: datetime | None = None) -> Principal:
    return Principal(
        subject="E012", roles=frozenset({Role.EMPLOYEE}), issuer=DEV_ISSUER, expires_at=expires_at
    )


def test_a_remembered_token_is_forgotten_after_the_ttl() -> None:
    clock = [100.0]
    tokens = VerifiedTokens(60, clock=lambda: clock[0])
    tokens.remember("t", remembered())

    clock[0] = 159.9
    assert tokens.get("t") == remembered()
    clock[0] = 160.0
    assert tokens.get("t") is None
    clock[0] = 100.0  # gone for good: verified again before it is remembered again
    assert tokens.get("t") is None


def test_a_remembered_token_is_refused_once_it_expires() -> None:
    expiry = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    now = [expiry]
    tokens = VerifiedTokens(3600, now=lambda: now[0])
    tokens.remember("t", remembered(expiry))

    # The decode's leeway, and not a moment more.
    now[0] = expiry + LEEWAY
    assert tokens.get("t") is not None
    now[0] = expiry + LEEWAY + timedelta(microseconds=1)
    assert tokens.get("t") is None


def test_remembering_is_bounded_oldest_first() -> None:
    tokens = VerifiedTokens(60, max_entries=2)
    for token in ("a", "b", "c"):
        tokens.remember(token, remembered())

    assert [tokens.get(token) is not None for token in ("a", "b", "c")] == [False, True, True]


def test_a_ttl_of_zero_remembers_nothing() -> None:
    tokens = VerifiedTokens(0)
    tokens.remember("t", remembered())
    assert tokens.get("t") is None


# --- the signing key ------------------------------------------------------------------


def test_signing_key_is_created_private_and_reused(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "fresh")

    first = signing_key(settings)
    second = signing_key(settings)

    assert first == second
    assert len(first) >= 32
    assert stat.S_IMODE(key_path(settings).stat().st_mode) == 0o600


def test_a_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    signing_key(settings)
    os.chmod(key_path(settings), 0o644)

    with pytest.raises(AuthError, match="chmod 600"):
        signing_key(settings)


def test_dev_authenticator_reads_roles_and_ignores_unknown_ones(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    now = datetime.now(UTC)
    token = jwt.encode(
        {
            "iss": DEV_ISSUER,
            "aud": AUDIENCE,
            "sub": "E012",
            "roles": ["employee", "ops", "wizard"],
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(minutes=5)).timestamp()),
        },
        signing_key(settings),
        algorithm="HS256",
    )

    user = DevAuthenticator(settings).authenticate(token)

    assert user.subject == "E012"
    assert user.roles == {Role.EMPLOYEE, Role.OPS}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8h", timedelta(hours=8)),
        ("30m", timedelta(minutes=30)),
        ("1h30m", timedelta(minutes=90)),
        ("2d", timedelta(days=2)),
        ("90", timedelta(seconds=90)),
    ],
)
def test_parse_ttl(text: str, expected: timedelta) -> None:
    assert parse_ttl(text) == expected


@pytest.mark.parametrize("text", ["", "0", "8x", "h8", "-1h", "31d"])
def test_parse_ttl_refuses(text: str) -> None:
    with pytest.raises(AuthError):
        parse_ttl(text)


# --- the CLI --------------------------------------------------------------------------


def cli_app() -> object:
    """`perfloop token` registered the way `perfloop/cli.py` is asked to register it."""
    import typer

    from perfloop import cli_token
    from perfloop.cli import PerfloopGroup

    app = typer.Typer(cls=PerfloopGroup)
    app.command("token")(cli_token.token)

    @app.callback()
    def _root() -> None:
        """perfloop"""

    return app


def test_cli_token_prints_a_token_the_api_accepts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from perfloop.settings import get_settings

    monkeypatch.setenv("PERFLOOP_HOME", str(tmp_path))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            cli_app(),  # type: ignore[arg-type]
            ["token", "--as", "E012", "--role", "hr-admin", "--ttl", "30m"],
        )
    finally:
        get_settings.cache_clear()

    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    user = DevAuthenticator(Settings(home=tmp_path)).authenticate(token)
    assert user.subject == "E012"
    assert user.roles == {Role.EMPLOYEE, Role.HR_ADMIN}
    assert user.expires_at is not None
    assert user.expires_at - datetime.now(UTC) <= timedelta(minutes=30)
    assert "valid for 30m" in result.stderr


def test_cli_hrbp_tokens_carry_their_departments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from perfloop.settings import get_settings

    monkeypatch.setenv("PERFLOOP_HOME", str(tmp_path))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            cli_app(),  # type: ignore[arg-type]
            [
                *("token", "--as", "H001", "--role", "hrbp"),
                *("--department", "Sales", "--department", "Customer Success"),
            ],
        )
    finally:
        get_settings.cache_clear()

    assert result.exit_code == 0, result.output
    user = DevAuthenticator(Settings(home=tmp_path)).authenticate(result.stdout.strip())
    assert user.roles == {Role.EMPLOYEE, Role.HRBP}
    assert user.departments == {"Sales", "Customer Success"}
    assert user.partners("Sales")
    assert not user.partners("Engineering")
    assert "partnering Sales, Customer Success" in result.stderr


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--as", "E012", "--department", "Sales"], {}, "--department is for HRBP tokens"),
        (["--as", "E012", "--role", "hrbp", "--department", " "], {}, "is not a department"),
        (["--as", "E012", "--role", "wizard"], {}, 'unknown role "wizard"'),
        (["--as", "E012", "--ttl", "forever"], {}, "is not a duration"),
        (["--as", "E0 12"], {}, "is not an employee id"),
        (["--as", "E012"], {"PERFLOOP_ENVIRONMENT": "production"}, "production"),
    ],
)
def test_cli_token_errors_are_clean(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    message: str,
) -> None:
    from perfloop.settings import get_settings

    monkeypatch.setenv("PERFLOOP_HOME", str(tmp_path))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli_app(), ["token", *args])  # type: ignore[arg-type]
    finally:
        get_settings.cache_clear()

    assert result.exit_code == 1, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
