"""The registry of published cycle definitions: immutable `name@version` rows in the store.

Publishing is idempotent and append-only. The same content under the same `name@version`
is a no-op, so `perfloop definitions publish` can run on every deploy; different content
under an existing version is refused, because running cycles pin a version and must be
able to trust that it never changes. Deprecation hides a version from `name@latest`
without touching its content, so cycles already launched on it keep working.

Every function takes the caller's `Session` and leaves the transaction to the caller.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from io import StringIO
from typing import TYPE_CHECKING, Any, Literal

from ruamel.yaml import YAML
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from definitions.errors import PerfloopError
from store.base import utc_now
from store.models import DefinitionVersion
from store.upsert import insert_if_absent

if TYPE_CHECKING:
    from definitions.loader import LoadedDefinition

SHA_PREFIX = 12
"""How many hex digits of a sha256 identify content in messages and tables."""


class RegistryError(PerfloopError):
    """Root of the registry's errors."""


class InvalidRefError(RegistryError, ValueError):
    """A reference is not of the form `name@version` or `name@latest`."""


class DefinitionNotFoundError(RegistryError, LookupError):
    """No published version answers a reference."""


class VersionConflictError(RegistryError):
    """Different content was published under a `name@version` that already exists."""


@dataclass(frozen=True, order=True)
class DefinitionRef:
    """A parsed reference; `version` None means the latest non-deprecated version."""

    name: str
    version: int | None

    def __str__(self) -> str:
        return f"{self.name}@{'latest' if self.version is None else self.version}"


@dataclass(frozen=True)
class PublishResult:
    """What `publish` did: `published` a new version or found it `unchanged`."""

    status: Literal["published", "unchanged"]
    ref: str
    sha256: str
    published_at: datetime


_REF_RE = re.compile(r"^(?P<name>[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*)@(?P<version>v?\d+|latest)$")


def parse_ref(ref: str) -> DefinitionRef:
    """`"annual-review@3"` (or `@v3`, or `@latest`) -> `DefinitionRef`; else `InvalidRefError`."""
    match = _REF_RE.match(ref.strip())
    if match is None:
        raise InvalidRefError(
            f'"{ref}" is not a definition reference: expected NAME@VERSION such as '
            '"annual-review@3" or "annual-review@latest"'
        )
    raw_version = match.group("version")
    if raw_version == "latest":
        return DefinitionRef(match.group("name"), None)
    version = int(raw_version.removeprefix("v"))
    if version < 1:
        raise InvalidRefError(f'"{ref}": versions start at 1')
    return DefinitionRef(match.group("name"), version)


def _find(session: Session, name: str, version: int) -> DefinitionVersion | None:
    return session.scalars(
        select(DefinitionVersion).where(
            DefinitionVersion.name == name, DefinitionVersion.version == version
        )
    ).one_or_none()


def publish(
    session: Session, loaded: LoadedDefinition, published_by: str | None = None
) -> PublishResult:
    """Store a loaded definition as `name@version`, once and for all.

    Safe under concurrent publishers: the insert is conditional on the unique key, and
    whoever loses the race compares hashes exactly as a later publisher would.
    """
    metadata = loaded.definition.metadata
    name, version, sha256 = metadata.name, metadata.version, loaded.sha256
    existing = _find(session, name, version)
    inserted = existing is None and insert_if_absent(
        session,
        DefinitionVersion,
        {
            "name": name,
            "version": version,
            "sha256": sha256,
            "canonical": loaded.canonical(),
            "source_text": loaded.source_text,
            "published_at": utc_now(),
            "published_by": published_by,
        },
        ["name", "version"],
    )
    row = existing or _find(session, name, version)
    if row is None:  # pragma: no cover - the insert above or a rival's guarantees a row
        raise RegistryError(f"{name}@{version} vanished while being published")
    if row.sha256 != sha256:
        raise VersionConflictError(
            f"{name}@{version} is already published with different content "
            f"(sha256 {row.sha256[:SHA_PREFIX]}…, yours {sha256[:SHA_PREFIX]}…); published "
            f"versions never change: bump metadata.version to {_next_version(session, name)} "
            "and publish it as a new version"
        )
    return PublishResult(
        status="published" if inserted else "unchanged",
        ref=row.ref,
        sha256=row.sha256,
        published_at=row.published_at,
    )


def _next_version(session: Session, name: str) -> int:
    versions = session.scalars(
        select(DefinitionVersion.version).where(DefinitionVersion.name == name)
    ).all()
    return max(versions, default=0) + 1


def list_versions(
    session: Session,
    name: str | None = None,
    include_deprecated: bool = True,
    *,
    after: tuple[str, int] | None = None,
    limit: int | None = None,
) -> Sequence[DefinitionVersion]:
    """Published versions ordered by name, then version; optionally of one name only.

    `after` (a name and version) and `limit` page through them: the versions strictly
    after that one, at most `limit` of them.
    """
    query = select(DefinitionVersion).order_by(DefinitionVersion.name, DefinitionVersion.version)
    if name is not None:
        query = query.where(DefinitionVersion.name == name)
    if not include_deprecated:
        query = query.where(DefinitionVersion.deprecated_at.is_(None))
    if after is not None:
        last_name, last_version = after
        query = query.where(
            or_(
                DefinitionVersion.name > last_name,
                and_(DefinitionVersion.name == last_name, DefinitionVersion.version > last_version),
            )
        )
    if limit is not None:
        query = query.limit(limit)
    return session.scalars(query).all()


def get_version(session: Session, ref: str | DefinitionRef) -> DefinitionVersion:
    """The version a reference names; `name@latest` is the highest non-deprecated one.

    An explicit version is found even when deprecated: cycles launched on it still run.
    """
    parsed = parse_ref(ref) if isinstance(ref, str) else ref
    if parsed.version is not None:
        row = _find(session, parsed.name, parsed.version)
        if row is None:
            raise DefinitionNotFoundError(
                f"{parsed} is not published{_known_versions_hint(session, parsed.name)}"
            )
        return row
    row = session.scalars(
        select(DefinitionVersion)
        .where(DefinitionVersion.name == parsed.name, DefinitionVersion.deprecated_at.is_(None))
        .order_by(DefinitionVersion.version.desc())
        .limit(1)
    ).one_or_none()
    if row is None:
        raise DefinitionNotFoundError(
            f"{parsed.name} has no published, non-deprecated version"
            f"{_known_versions_hint(session, parsed.name)}"
        )
    return row


def _known_versions_hint(session: Session, name: str) -> str:
    rows = list_versions(session, name)
    if not rows:
        return f' (nothing is published under the name "{name}")'
    known = ", ".join(
        f"{row.version}{' (deprecated)' if row.is_deprecated else ''}" for row in rows
    )
    return f"; published versions of {name}: {known}"


def pinned(session: Session, ref: str | DefinitionRef) -> dict[str, Any]:
    """What a cycle pins at launch: the exact ref (never `latest`), hash and content."""
    row = get_version(session, ref)
    return {"ref": row.ref, "sha256": row.sha256, "canonical": row.canonical}


def deprecate(session: Session, ref: str | DefinitionRef, reason: str) -> DefinitionVersion:
    """Mark an explicit version deprecated: no new cycles via `latest`; running ones unaffected.

    Deprecating again keeps the first date and reason (the record of when it happened).
    """
    parsed = parse_ref(ref) if isinstance(ref, str) else ref
    if parsed.version is None:
        raise InvalidRefError(f"deprecate an explicit version, not {parsed}")
    reason = reason.strip()
    if not reason:
        raise RegistryError("give a reason for deprecating (it is shown to whoever uses it)")
    row = get_version(session, parsed)
    if row.deprecated_at is None:
        row.deprecated_at = utc_now()
        row.deprecation_reason = reason
        session.flush()
    return row


def render_canonical(canonical: Any) -> str:
    """Canonical content as block YAML with sorted keys: stable across databases
    (PostgreSQL's JSONB does not keep key order) and readable line by line."""
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.allow_unicode = True
    yaml.width = 4096
    buffer = StringIO()
    yaml.dump(_sorted(canonical), buffer)
    return buffer.getvalue()


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def diff(session: Session, ref_a: str | DefinitionRef, ref_b: str | DefinitionRef) -> str:
    """A readable comparison of two versions: a summary of what changed, then a unified
    diff of their canonical content rendered as sorted YAML."""
    a, b = get_version(session, ref_a), get_version(session, ref_b)
    if a.sha256 == b.sha256:
        return f"{a.ref} and {b.ref} are identical (sha256 {a.sha256[:SHA_PREFIX]}…)\n"
    summary = summarize_changes(a.canonical, b.canonical)
    lines = difflib.unified_diff(
        render_canonical(a.canonical).splitlines(keepends=True),
        render_canonical(b.canonical).splitlines(keepends=True),
        fromfile=f"{a.ref} (sha256 {a.sha256[:SHA_PREFIX]})",
        tofile=f"{b.ref} (sha256 {b.sha256[:SHA_PREFIX]})",
    )
    body = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    header = "".join(f"{line}\n" for line in summary)
    return f"{header}\n{body}"


def summarize_changes(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """One line per kind of change: sections (two levels deep), phases and forms by id."""
    lines: list[str] = []
    sections = _changed_sections(a, b)
    if sections:
        lines.append(f"changed: {', '.join(sections)}")
    for label, (old, new) in (("phases", _phases(a, b)), ("forms", _forms(a, b))):
        added = [key for key in new if key not in old]
        removed = [key for key in old if key not in new]
        changed = [key for key in new if key in old and old[key] != new[key]]
        parts = [
            f"{verb} {', '.join(keys)}"
            for verb, keys in (("added", added), ("removed", removed), ("changed", changed))
            if keys
        ]
        if parts:
            lines.append(f"{label}: {'; '.join(parts)}")
    return lines or ["no content changes"]


def _changed_sections(a: Any, b: Any, prefix: str = "", depth: int = 2) -> list[str]:
    if not (isinstance(a, dict) and isinstance(b, dict)) or depth == 0:
        return [prefix] if a != b and prefix else []
    out: list[str] = []
    for key in sorted(set(a) | set(b)):
        path = f"{prefix}.{key}" if prefix else key
        if key not in a or key not in b:
            out.append(path)
        elif a[key] != b[key]:
            out.extend(_changed_sections(a[key], b[key], path, depth - 1))
    return out


def _phases(*docs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Phases by id, wherever the canonical layout keeps them (`phases` or `definition.phases`)."""
    found: list[dict[str, Any]] = []
    for doc in docs:
        phases = doc.get("phases")
        if phases is None and isinstance(doc.get("definition"), dict):
            phases = doc["definition"].get("phases")
        by_id: dict[str, Any] = {}
        for index, phase in enumerate(phases if isinstance(phases, list) else []):
            key = phase.get("id") if isinstance(phase, dict) else None
            by_id[str(key) if key is not None else f"#{index}"] = phase
        found.append(by_id)
    return found[0], found[1]


def _forms(a: dict[str, Any], b: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    def forms(doc: dict[str, Any]) -> dict[str, Any]:
        value = doc.get("forms")
        return value if isinstance(value, dict) else {}

    return forms(a), forms(b)


def canonical_json(canonical: Any) -> str:
    """Canonical content as indented JSON with sorted keys (for `show --json`)."""
    return json.dumps(canonical, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
