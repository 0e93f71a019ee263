"""Who is calling: bearer tokens in, a `Principal` out.

Development mode signs HS256 JWTs with a local key, `PERFLOOP_HOME/dev-signing.key`
(created on first use, mode 0600), and `perfloop token --as E012 --role hr-admin` issues
them. Claims: `sub` (employee id), `roles`, `iss` "perfloop-dev", `aud` "perfloop",
`iat`, `exp`, `jti`.

The API only sees the `Authenticator` protocol: `build_authenticator(settings)` picks one.
In production dev tokens are refused outright; an identity provider (OIDC, issue 4)
plugs in as another `Authenticator` that turns its tokens into the same `Principal`.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import jwt

from definitions.errors import PerfloopError
from perfloop.settings import Settings

DEV_ISSUER = "perfloop-dev"
AUDIENCE = "perfloop"
ALGORITHM = "HS256"
KEY_FILE = "dev-signing.key"
KEY_BYTES = 64
LEEWAY = timedelta(seconds=30)
DEFAULT_TTL = timedelta(hours=8)
MAX_TTL = timedelta(days=30)
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

    def has_any(self, roles: Iterable[Role]) -> bool:
        return not self.roles.isdisjoint(roles)

    @property
    def is_hr_admin(self) -> bool:
        return Role.HR_ADMIN in self.roles


class Authenticator(Protocol):
    """Turns a bearer token into a `Principal`, or raises `AuthError`."""

    def authenticate(self, token: str) -> Principal: ...


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


def issue_dev_token(
    settings: Settings,
    subject: str,
    roles: Iterable[str | Role] = (),
    *,
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
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, signing_key(settings), algorithm=ALGORITHM)


# --- verifying --------------------------------------------------------------------------


def _roles_claim(value: Any) -> frozenset[Role]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise AuthError("the token's roles claim must be a list of strings")
    known = {role.value for role in Role}
    # Roles this version does not know are ignored, not fatal: a newer issuer may add some.
    return frozenset(Role(item) for item in value if item in known)


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not SUBJECT_RE.match(subject):
        raise AuthError("the token's subject is not an employee id")
    expires = claims.get("exp")
    jti = claims.get("jti")
    return Principal(
        subject=subject,
        roles=_roles_claim(claims.get("roles", [])),
        issuer=str(claims.get("iss", "")),
        expires_at=datetime.fromtimestamp(expires, UTC) if isinstance(expires, int) else None,
        token_id=jti if isinstance(jti, str) else None,
    )


class DevAuthenticator:
    """Verifies tokens made by `perfloop token` (development only)."""

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

    def authenticate(self, token: str) -> Principal:
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.InvalidTokenError:
            issuer = None
        if issuer == DEV_ISSUER:
            raise AuthError("development tokens are not accepted in production")
        raise AuthError("no identity provider is configured")


def build_authenticator(settings: Settings) -> Authenticator:
    if settings.environment == "production":
        return ProductionAuthenticator()
    return DevAuthenticator(settings)
