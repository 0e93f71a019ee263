"""OIDC bearer tokens: checked against a JWKS (injected, or served over HTTP), the issuer,
the audience, the expiry and the allow-list of algorithms; and the settings that guard it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI
from httpx import AsyncClient
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from pydantic import ValidationError

from api.auth import (
    AuthError,
    OidcAuthenticator,
    Role,
    StaticJwks,
    UrlJwks,
    build_authenticator,
)
from perfloop.settings import Settings
from tests.api.conftest import FakeTemporal, app_for, serve

ISSUER = "https://id.example.com/realms/acme"
AUDIENCE = "perfloop-api"

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
STRANGER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: Any, kid: str) -> dict[str, Any]:
    algorithm = RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else ECAlgorithm
    jwk: dict[str, Any] = json.loads(algorithm.to_jwk(key.public_key()))
    jwk.update(kid=kid, use="sig")
    return jwk


JWKS = {"keys": [public_jwk(RSA_KEY, "rsa-1"), public_jwk(EC_KEY, "ec-1")]}


def oidc_settings(settings: Settings, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "auth_mode": "oidc",
        "oidc_issuer": ISSUER,
        "oidc_audience": AUDIENCE,
        "oidc_jwks_url": "http://127.0.0.1:1/unused",
        **overrides,
    }
    return Settings(**{**settings.model_dump(), **values})


def token(
    key: Any = RSA_KEY,
    *,
    kid: str | None = "rsa-1",
    algorithm: str = "RS256",
    **claims: Any,
) -> str:
    now = datetime.now(UTC)
    body = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "E012",
        "roles": ["hrbp", "offline_access"],
        "departments": ["Sales"],
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        **claims,
    }
    headers = {"kid": kid} if kid else {}
    return jwt.encode(body, key, algorithm=algorithm, headers=headers)


@pytest.fixture
def authenticator(settings: Settings) -> OidcAuthenticator:
    return OidcAuthenticator(oidc_settings(settings), jwks=StaticJwks(JWKS))


def test_a_good_token_gives_the_principal(authenticator: OidcAuthenticator) -> None:
    user = authenticator.authenticate(token())

    assert user.subject == "E012"
    assert user.roles == {Role.EMPLOYEE, Role.HRBP}
    assert user.departments == {"Sales"}
    assert user.issuer == ISSUER


def test_es256_is_accepted_too(authenticator: OidcAuthenticator) -> None:
    assert authenticator.authenticate(token(EC_KEY, kid="ec-1", algorithm="ES256")).subject


def unsigned(**claims: Any) -> str:
    now = datetime.now(UTC)
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "E012", "exp": int(now.timestamp()) + 60}
    return jwt.encode({**body, **claims}, None, algorithm="none")


BAD_TOKENS = [
    (lambda: token(iss="https://evil.example.com"), f'not issued by "{ISSUER}"'),
    (lambda: token(aud="another-api"), f'audience is not "{AUDIENCE}"'),
    (
        lambda: token(exp=int((datetime.now(UTC) - timedelta(hours=1)).timestamp())),
        "the token has expired",
    ),
    (
        lambda: token(algorithm="RS512"),
        'algorithm "RS512" is not allowed (allowed: RS256, ES256)',
    ),
    (lambda: token(kid="rotated-away"), 'unknown key (kid "rotated-away")'),
    (lambda: token(kid=None), "names no signing key"),
    (unsigned, 'algorithm "none" is not allowed'),
    (
        lambda: jwt.encode(
            {"iss": ISSUER, "aud": AUDIENCE, "sub": "E012"},
            "k" * 32,
            algorithm="HS256",
            headers={"kid": "rsa-1"},
        ),
        'algorithm "HS256" is not allowed',
    ),
    (lambda: token(STRANGER_KEY), "Signature verification failed"),
    (lambda: token(EC_KEY, kid="rsa-1", algorithm="ES256"), "is not a ES256 key"),
    (lambda: token(sub="../etc"), "subject is not an employee id"),
    (lambda: token(roles="hr-admin"), "roles claim must be a list"),
    (lambda: "not.a.jwt", "invalid token"),
]
"""(bad token maker, what the refusal says)"""


@pytest.mark.parametrize(("bad", "message"), BAD_TOKENS)
def test_bad_tokens_are_refused_with_a_clear_message(
    authenticator: OidcAuthenticator, bad: Any, message: str
) -> None:
    with pytest.raises(AuthError) as refused:
        authenticator.authenticate(bad())
    assert message in str(refused.value)


def test_claim_names_come_from_settings(settings: Settings) -> None:
    configured = oidc_settings(
        settings,
        oidc_subject_claim="employee_id",
        oidc_roles_claim="realm_access.roles",
        oidc_departments_claim="hr.partners",
    )
    authenticator = OidcAuthenticator(configured, jwks=StaticJwks(JWKS))

    user = authenticator.authenticate(
        token(
            sub="someone@idp",
            employee_id="E077",
            realm_access={"roles": ["hr-admin"]},
            hr={"partners": ["Engineering"]},
        )
    )

    assert user.subject == "E077"
    assert user.roles == {Role.EMPLOYEE, Role.HR_ADMIN}
    assert user.departments == {"Engineering"}


async def test_the_api_answers_401_with_the_reason(settings: Settings) -> None:
    configured = oidc_settings(settings)
    app: FastAPI = app_for(
        configured, FakeTemporal(), authenticator=OidcAuthenticator(configured, StaticJwks(JWKS))
    )
    client: AsyncClient
    async for client in serve(app):
        ok = await client.get("/v1/me", headers={"Authorization": f"Bearer {token()}"})
        refusals = [
            (message, await client.get("/v1/me", headers={"Authorization": f"Bearer {bad()}"}))
            for bad, message in BAD_TOKENS
        ]

    assert ok.status_code == 200, ok.text
    assert ok.json() == {
        "employee_id": "E012",
        "roles": ["employee", "hrbp"],
        "departments": ["Sales"],
    }
    for message, refused in refusals:
        assert refused.status_code == 401, message
        assert message in refused.json()["error"]["message"]
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]


# --- the JWKS over HTTP -------------------------------------------------------------------


class JwksServer:
    """A JWKS document on a loopback HTTP server, counting fetches."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self.jwks = jwks
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                body = json.dumps(outer.jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/certs"

    def __enter__(self) -> JwksServer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    with JwksServer({"keys": [public_jwk(RSA_KEY, "rsa-1")]}) as server:
        yield server


def test_keys_are_fetched_from_the_url_and_cached(
    settings: Settings, jwks_server: JwksServer
) -> None:
    authenticator = build_authenticator(oidc_settings(settings, oidc_jwks_url=jwks_server.url))
    assert isinstance(authenticator, OidcAuthenticator)

    for _ in range(3):
        assert authenticator.authenticate(token()).subject == "E012"

    assert jwks_server.fetches == 1


def test_a_rotated_key_is_fetched_again(settings: Settings, jwks_server: JwksServer) -> None:
    configured = oidc_settings(settings, oidc_jwks_url=jwks_server.url)
    authenticator = OidcAuthenticator(configured, UrlJwks(jwks_server.url, cooldown_seconds=0))
    authenticator.authenticate(token())
    jwks_server.jwks = {"keys": [public_jwk(EC_KEY, "ec-2")]}

    user = authenticator.authenticate(token(EC_KEY, kid="ec-2", algorithm="ES256"))

    assert user.subject == "E012"
    assert jwks_server.fetches == 2


def test_made_up_key_ids_do_not_flood_the_provider(
    settings: Settings, jwks_server: JwksServer
) -> None:
    authenticator = build_authenticator(oidc_settings(settings, oidc_jwks_url=jwks_server.url))
    authenticator.authenticate(token())

    for n in range(5):
        with pytest.raises(AuthError, match="unknown key"):
            authenticator.authenticate(token(kid=f"made-up-{n}"))

    assert jwks_server.fetches == 1, "within the cooldown an unknown kid fetches nothing"


def test_an_unreachable_jwks_is_a_clear_401(settings: Settings) -> None:
    from tests.activities.servers import closed_port

    url = f"http://127.0.0.1:{closed_port()}/certs"
    authenticator = build_authenticator(oidc_settings(settings, oidc_jwks_url=url))

    with pytest.raises(AuthError, match="cannot fetch the identity provider's signing keys"):
        authenticator.authenticate(token())


# --- settings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"oidc_algorithms": "RS256,HS256"}, "may not contain HS256"),
        ({"oidc_algorithms": "none"}, "may not contain none"),
        ({"oidc_algorithms": ""}, "may not be empty"),
        ({"oidc_issuer": None}, "PERFLOOP_OIDC_ISSUER"),
        ({"oidc_jwks_url": ""}, "PERFLOOP_OIDC_JWKS_URL"),
    ],
)
def test_unsafe_or_incomplete_oidc_settings_are_refused(
    settings: Settings, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        oidc_settings(settings, **overrides)


def test_algorithms_and_retention_read_comma_separated_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PERFLOOP_OIDC_ALGORITHMS", "ES256, RS256")
    monkeypatch.setenv("PERFLOOP_RETENTION_KEEP", "results,ratings")

    loaded = Settings()

    assert loaded.oidc_algorithms == ("ES256", "RS256")
    assert loaded.retention_keep == ("results", "ratings", "audit")
    monkeypatch.setenv("PERFLOOP_RETENTION_KEEP", "results,everything")
    with pytest.raises(ValidationError, match="unknown retention categories everything"):
        Settings()


def test_the_authenticator_itself_refuses_symmetric_algorithms(settings: Settings) -> None:
    copied = oidc_settings(settings).model_copy(update={"oidc_algorithms": ("RS256", "HS256")})

    with pytest.raises(AuthError, match="public-key algorithms only"):
        OidcAuthenticator(copied, jwks=StaticJwks(JWKS))


def test_encryption_keys_are_not_signing_keys(settings: Settings) -> None:
    encryption = {**public_jwk(RSA_KEY, "enc-1"), "use": "enc"}
    authenticator = OidcAuthenticator(
        oidc_settings(settings), jwks=StaticJwks({"keys": [encryption]})
    )

    with pytest.raises(AuthError, match="unknown key"):
        authenticator.authenticate(token(kid="enc-1"))
