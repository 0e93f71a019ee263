"""Who is calling: bearer tokens in, a `Principal` out.

`build_authenticator(settings)` picks one `Authenticator` by `PERFLOOP_AUTH_MODE`:

- `dev` (the default): HS256 JWTs signed with a local key, `PERFLOOP_HOME/dev-signing.key`
  (created on first use, mode 0600), issued by
  `perfloop token --as E012 --role hrbp --department Sales`. Claims: `sub` (employee id),
  `roles`, `departments` (what an HRBP partners), `iss` "perfloop-dev", `aud`
  "perfloop", `iat`, `exp`, `jti`. Refused outright in production.
- `oidc`: JWTs from an identity provider, verified against its JWKS
  (`PERFLOOP_OIDC_JWKS_URL`, fetched and cached): issuer, audience, expiry and an
  allow-list of public-key algorithms (`none` and HS* are never accepted). The claims
  holding the employee id, roles and HRBP departments are named by settings.

HRBP departments travel in the token (a `departments` claim) rather than a store table:
the identity provider already owns group membership, and a token is then enough to decide
what an HRBP may see without another query.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import jwt

from definitions.errors import PerfloopError
from perfloop.settings import ASYMMETRIC_ALGORITHMS, Settings

DEV_ISSUER = "perfloop-dev"
AUDIENCE = "perfloop"
ALGORITHM = "HS256"
KEY_FILE = "dev-signing.key"
KEY_BYTES = 64
LEEWAY = timedelta(seconds=30)
DEFAULT_TTL = timedelta(hours=8)
MAX_TTL = timedelta(days=30)
MAX_DEPARTMENT_LENGTH = 200
SUBJECT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")


class Role(StrEnum):
    """What a caller may do beyond their own tasks; tokens list them in `roles`."""

    EMPLOYEE = "employee"
    HR_ADMIN = "hr-admin"
    HRBP = "hrbp"
    OPS = "ops"


class AuthError(PerfloopError):
    """A token cannot be issued or does not hold; the message says why."""


class TokenExpiredError(AuthError):
    pass


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    subject: str
    """The employee id (`sub`); tasks are assigned to it."""
    roles: frozenset[Role]
    issuer: str
    expires_at: datetime | None = None
    token_id: str | None = None
    departments: frozenset[str] = frozenset()
    """Departments this caller partners as an HRBP (meaningful with `Role.HRBP` only)."""

    def has_any(self, roles: Iterable[Role]) -> bool:
        return not self.roles.isdisjoint(roles)

    @property
    def is_hr_admin(self) -> bool:
        return Role.HR_ADMIN in self.roles

    def partners(self, department: str | None) -> bool:
        """Whether the caller is the HRBP of `department`."""
        return department is not None and Role.HRBP in self.roles and department in self.departments


class Authenticator(Protocol):
    """Turns a bearer token into a `Principal`, or raises `AuthError`.

    An authenticator that may wait on the network (OIDC fetching its JWKS) says so with a
    true `blocking` attribute and is called from a worker thread; one that only computes
    (a dev token's HMAC) sets it false and is called on the event loop. Without the
    attribute it is taken to block.
    """

    def authenticate(self, token: str) -> Principal: ...


class VerifiedTokens:
    """The principals of bearer tokens verified in the last `ttl` seconds, by token.

    A client sends the same token with every request, and checking its signature is most
    of what authenticating costs (a JWT decode: a tenth of a millisecond for HS256, more
    for RSA or EC, and for OIDC a hop to a worker thread). A remembered token is checked
    for expiry only, with the leeway the decode allows. Remembering is bounded in time,
    so a signing key withdrawn from the identity provider's JWKS stops being accepted
    within `ttl`, and in size (the oldest entries go first).
    """

    def __init__(
        self,
        ttl: float,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        self._now = now
        self._entries: dict[str, tuple[Principal, float]] = {}

    def get(self, token: str) -> Principal | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        principal, forget_at = entry
        expired = principal.expires_at is not None and self._now() > principal.expires_at + LEEWAY
        if expired or self._clock() >= forget_at:
            self._entries.pop(token, None)
            return None
        return principal

    def remember(self, token: str, principal: Principal) -> None:
        if self._ttl <= 0:
            return
        while len(self._entries) >= self._max_entries:
            # Insertion order: the oldest entry first.
            self._entries.pop(next(iter(self._entries)), None)
        self._entries[token] = (principal, self._clock() + self._ttl)


# --- the local signing key ----------------------------------------------------------------


def key_path(settings: Settings) -> Path:
    return settings.home / KEY_FILE


def signing_key(settings: Settings, *, create: bool = True) -> bytes:
    """The development signing key, created (atomically, 0600) on first use."""
    path = key_path(settings)
    if not path.exists():
        if not create:
            raise AuthError(f"no development signing key at {path}; issue a token first")
        _create_key(path)
    if os.name == "posix":
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise AuthError(f"{path} is readable by others (mode {mode:o}); run `chmod 600 {path}`")
    text = path.read_text(encoding="ascii").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise AuthError(
            f"{path} is not a perfloop signing key; delete it to make a new one"
        ) from None
    if len(key) < 32:
        raise AuthError(f"{path} holds a key shorter than 256 bits; delete it to make a new one")
    return key


def _create_key(path: Path) -> None:
    """Write the key to a private temporary file and link it into place: a concurrent
    reader sees either no file or the whole key, and the first writer wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(KEY_BYTES) + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


# --- issuing ----------------------------------------------------------------------------

_TTL_RE = re.compile(r"(\d+)([smhdw])")
_TTL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_ttl(text: str) -> timedelta:
    """`8h`, `30m`, `1h30m`, `2d`, `90s` (or a bare number of seconds) -> timedelta."""
    value = text.strip().lower()
    if value.isdigit():
        seconds = int(value)
    elif value and _TTL_RE.sub("", value) == "":
        seconds = sum(int(n) * _TTL_UNITS[unit] for n, unit in _TTL_RE.findall(value))
    else:
        raise AuthError(f'"{text}" is not a duration: use e.g. 8h, 30m, 1h30m, 2d')
    ttl = timedelta(seconds=seconds)
    if ttl <= timedelta():
        raise AuthError("the token lifetime must be positive")
    if ttl > MAX_TTL:
        raise AuthError(f"the token lifetime may not exceed {MAX_TTL.days} days")
    return ttl


def normalise_roles(roles: Iterable[str | Role]) -> tuple[Role, ...]:
    """Every caller is an employee; other roles add to that. Unknown names fail."""
    result = [Role.EMPLOYEE]
    for role in roles:
        try:
            value = Role(role)
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise AuthError(f'unknown role "{role}"; roles are {known}') from None
        if value not in result:
            result.append(value)
    return tuple(result)


def normalise_departments(departments: Iterable[str]) -> tuple[str, ...]:
    result: list[str] = []
    for department in departments:
        name = department.strip()
        if not name or len(name) > MAX_DEPARTMENT_LENGTH:
            raise AuthError(f'"{department}" is not a department name')
        if name not in result:
            result.append(name)
    return tuple(result)


def issue_dev_token(
    settings: Settings,
    subject: str,
    roles: Iterable[str | Role] = (),
    *,
    departments: Iterable[str] = (),
    ttl: timedelta = DEFAULT_TTL,
    now: datetime | None = None,
) -> str:
    """A development token for `subject`; refused in production."""
    if settings.environment == "production":
        raise AuthError("development tokens cannot be issued in production")
    if not SUBJECT_RE.match(subject):
        raise AuthError(f'"{subject}" is not an employee id')
    if ttl <= timedelta() or ttl > MAX_TTL:
        raise AuthError(f"the token lifetime must be positive and at most {MAX_TTL.days} days")
    issued = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": DEV_ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "roles": [role.value for role in normalise_roles(roles)],
        "departments": list(normalise_departments(departments)),
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, signing_key(settings), algorithm=ALGORITHM)


# --- verifying --------------------------------------------------------------------------


def _string_list(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise AuthError(f"the token's {name} claim must be a list of strings")
    return value


def _roles_claim(value: Any) -> frozenset[Role]:
    known = {role.value for role in Role}
    # Roles this version does not know are ignored, not fatal: a newer issuer (or an
    # identity provider's other applications) may add some.
    return frozenset(Role(item) for item in _string_list(value, "roles") if item in known)


def claim(claims: dict[str, Any], path: str, default: Any = None) -> Any:
    """The claim at a dotted `path` (`realm_access.roles`), or `default` when absent."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return default
        value = value[part]
    return value


def principal_from_claims(
    claims: dict[str, Any],
    *,
    subject_claim: str = "sub",
    roles_claim: str = "roles",
    departments_claim: str = "departments",
) -> Principal:
    subject = claim(claims, subject_claim)
    if not isinstance(subject, str) or not SUBJECT_RE.match(subject):
        raise AuthError("the token's subject is not an employee id")
    roles = _roles_claim(claim(claims, roles_claim, []))
    departments = _string_list(claim(claims, departments_claim, []), "departments")
    expires = claims.get("exp")
    jti = claims.get("jti")
    return Principal(
        subject=subject,
        # Every authenticated person is an employee, whatever the token lists.
        roles=roles | {Role.EMPLOYEE},
        issuer=str(claims.get("iss", "")),
        expires_at=datetime.fromtimestamp(expires, UTC) if isinstance(expires, int) else None,
        token_id=jti if isinstance(jti, str) else None,
        departments=frozenset(departments),
    )


class DevAuthenticator:
    """Verifies tokens made by `perfloop token` (development only)."""

    blocking = False

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._key: bytes | None = None
        self._lock = threading.Lock()

    def _signing_key(self) -> bytes:
        with self._lock:
            if self._key is None:
                self._key = signing_key(self._settings)
            return self._key

    def authenticate(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._signing_key(),
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=DEV_ISSUER,
                leeway=LEEWAY,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenExpiredError("the token has expired") from None
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"invalid token: {exc}") from None
        return principal_from_claims(claims)


class ProductionAuthenticator:
    """Production without an identity provider: nobody gets in, and dev tokens are named
    as such so that whoever tries one knows why."""

    blocking = False

    def authenticate(self, token: str) -> Principal:
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.InvalidTokenError:
            issuer = None
        if issuer == DEV_ISSUER:
            raise AuthError("development tokens are not accepted in production")
        raise AuthError("no identity provider is configured (set PERFLOOP_AUTH_MODE=oidc)")


# --- OIDC --------------------------------------------------------------------------------


KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
"""The JWK key type each allowed algorithm family needs (by its first two letters)."""


class JwksSource(Protocol):
    """Where the identity provider's signing keys come from; `key(kid)` raises
    `AuthError` for a key it does not hold."""

    def key(self, kid: str) -> jwt.PyJWK: ...


class StaticJwks:
    """A fixed key set (a JWKS document as a dict): tests, or keys pinned in config."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self._keys = {
            k.key_id: k
            for k in jwt.PyJWKSet.from_dict(jwks).keys
            if k.key_id and k.public_key_use in (None, "sig")
        }

    def key(self, kid: str) -> jwt.PyJWK:
        found = self._keys.get(kid)
        if found is None:
            raise AuthError(f'the token was signed with an unknown key (kid "{kid}")')
        return found


class UrlJwks:
    """The JWKS at a URL, fetched on first use and cached (`PyJWKClient`). A key id not in
    the cache makes one refetch, so a provider's key rotation is picked up at once; at most
    one such refetch per `cooldown_seconds`, so tokens with made-up key ids cannot turn
    this API into a flood of requests to the identity provider."""

    def __init__(
        self,
        url: str,
        *,
        cache_seconds: int = 300,
        cooldown_seconds: float = 30.0,
        timeout: float = 5.0,
    ) -> None:
        self._client = jwt.PyJWKClient(
            url,
            cache_jwk_set=cache_seconds > 0,
            lifespan=max(cache_seconds, 1),
            timeout=timeout,
            cooldown_duration=cooldown_seconds,
        )

    def key(self, kid: str) -> jwt.PyJWK:
        try:
            return self._client.get_signing_key(kid)
        except jwt.PyJWKClientConnectionError as exc:
            raise AuthError(f"cannot fetch the identity provider's signing keys: {exc}") from None
        except jwt.PyJWKClientError:
            raise AuthError(f'the token was signed with an unknown key (kid "{kid}")') from None


class OidcAuthenticator:
    """Verifies an identity provider's JWTs: signature by a JWKS key, `iss`, `aud`, `exp`,
    and an algorithm from the allow-list, checked against the token header *before* any key
    is looked up, so `alg: none` or an HS* token never reaches verification."""

    def __init__(self, settings: Settings, jwks: JwksSource | None = None) -> None:
        if not (settings.oidc_issuer and settings.oidc_audience):
            raise AuthError("OIDC needs PERFLOOP_OIDC_ISSUER and PERFLOOP_OIDC_AUDIENCE")
        self._issuer = settings.oidc_issuer
        self._audience = settings.oidc_audience
        self._algorithms = tuple(settings.oidc_algorithms)
        unsafe = set(self._algorithms) - ASYMMETRIC_ALGORITHMS
        if unsafe or not self._algorithms:
            # Settings refuse these already; settings built by copying skip validation.
            raise AuthError(f"OIDC accepts public-key algorithms only, not {sorted(unsafe)}")
        self._claims = {
            "subject_claim": settings.oidc_subject_claim,
            "roles_claim": settings.oidc_roles_claim,
            "departments_claim": settings.oidc_departments_claim,
        }
        if jwks is None:
            if not settings.oidc_jwks_url:
                raise AuthError("OIDC needs PERFLOOP_OIDC_JWKS_URL")
            jwks = UrlJwks(settings.oidc_jwks_url, cache_seconds=settings.oidc_jwks_cache_seconds)
        self._jwks = jwks

    def authenticate(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"invalid token: {exc}") from None
        algorithm = header.get("alg")
        if algorithm not in self._algorithms:
            raise AuthError(
                f'the token\'s algorithm "{algorithm}" is not allowed '
                f"(allowed: {', '.join(self._algorithms)})"
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("the token names no signing key (kid)")
        key = self._jwks.key(kid)
        # A key that names its algorithm is good for that one only; PyJWK keeps the
        # JWK's own fields in `_jwk_data` (its `algorithm_name` is a guess when absent).
        declared = key._jwk_data.get("alg")
        if key.key_type != KEY_TYPES.get(algorithm[:2]) or declared not in (None, algorithm):
            raise AuthError(f'the token says {algorithm} but key "{kid}" is not a {algorithm} key')
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=LEEWAY,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenExpiredError("the token has expired") from None
        except jwt.InvalidAudienceError:
            raise AuthError(
                f'the token is not for this API (audience is not "{self._audience}")'
            ) from None
        except jwt.InvalidIssuerError:
            raise AuthError(f'the token was not issued by "{self._issuer}"') from None
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from None
        return principal_from_claims(claims, **self._claims)


def build_authenticator(settings: Settings) -> Authenticator:
    if settings.auth_mode == "oidc":
        return OidcAuthenticator(settings)
    if settings.environment == "production":
        return ProductionAuthenticator()
    return DevAuthenticator(settings)
