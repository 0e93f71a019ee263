"""Cycle definitions through the API: list, show, publish, deprecate.

Everything goes through `definitions.registry` and `definitions.loader`, as the
`perfloop definitions` commands do; a definition that does not load is a
`DefinitionError`, which the API answers as 422 with every problem (file, line, column,
key path, message).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.auth import Principal
from api.errors import Unprocessable
from api.pagination import DEFAULT_PAGE, decode_cursor, encode_cursor, page_size
from api.schemas.definitions import (
    DefinitionDetail,
    DefinitionPage,
    DefinitionPublic,
    DefinitionPublished,
)
from definitions import registry
from definitions.errors import DefinitionError, Problem
from definitions.loader import MAX_FILE_BYTES, load_text
from store.models import DefinitionVersion

CURSOR_KEYS = ("name", "version")
REQUEST_FILE = "<request body>"
"""How problems in a published body name their file."""


def _public(row: DefinitionVersion) -> DefinitionPublic:
    return DefinitionPublic(
        name=row.name,
        version=row.version,
        ref=row.ref,
        sha256=row.sha256,
        published_at=row.published_at,
        published_by=row.published_by,
        deprecated_at=row.deprecated_at,
        deprecation_reason=row.deprecation_reason,
    )


def list_definitions(
    session: Session,
    *,
    name: str | None = None,
    include_deprecated: bool = True,
    limit: int = DEFAULT_PAGE,
    cursor: str | None = None,
) -> DefinitionPage:
    """One page of published versions, by name then version."""
    size = page_size(limit)
    after = None
    if cursor:
        values = decode_cursor(cursor, CURSOR_KEYS)
        if not isinstance(values["name"], str) or not isinstance(values["version"], int):
            raise Unprocessable("the cursor is damaged", type="InvalidCursor")
        after = (values["name"], values["version"])
    rows = registry.list_versions(session, name, include_deprecated, after=after, limit=size + 1)
    next_cursor = None
    if len(rows) > size:
        last = rows[size - 1]
        next_cursor = encode_cursor({"name": last.name, "version": last.version})
    return DefinitionPage(items=[_public(row) for row in rows[:size]], next_cursor=next_cursor)


def _ref(name: str, version: str) -> str:
    return f"{name}@{version}"


def show_definition(session: Session, name: str, version: str) -> DefinitionDetail:
    """A version (`latest` allowed) with its canonical content and form schemas."""
    row = registry.get_version(session, _ref(name, version))
    canonical = row.canonical
    return DefinitionDetail(
        **_public(row).model_dump(),
        definition=dict(canonical.get("definition", {})),
        forms={str(key): dict(value) for key, value in canonical.get("forms", {}).items()},
    )


def publish_definition(session: Session, user: Principal, source: bytes) -> DefinitionPublished:
    """Load a YAML definition and publish it; publishing the same content is a no-op.

    Forms are looked up in the packaged forms folder (`definitions/forms/`), the only
    one a request can name.
    """
    if len(source) > MAX_FILE_BYTES:
        raise DefinitionError(
            [
                Problem(
                    REQUEST_FILE,
                    None,
                    None,
                    "",
                    f"the definition is larger than the limit of {MAX_FILE_BYTES} bytes",
                )
            ]
        )
    loaded = load_text(source, file=REQUEST_FILE)
    result = registry.publish(session, loaded, published_by=user.subject)
    session.commit()
    row = registry.get_version(session, result.ref)
    return DefinitionPublished(**_public(row).model_dump(), status=result.status)


def deprecate_definition(
    session: Session, name: str, version: str, reason: str
) -> DefinitionPublic:
    row = registry.deprecate(session, _ref(name, version), reason)
    session.commit()
    return _public(row)
