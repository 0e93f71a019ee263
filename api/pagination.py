"""Keyset paging: page sizes and opaque cursors, the same for every listing.

Every listing takes `limit` (`PageLimit`: at least 1, silently capped at `MAX_PAGE`) and
`cursor` (`PageCursor`), and answers `items` with `next_cursor`. A cursor is the sort key
of the last row a page returned, as URL-safe base64 JSON; the next page starts strictly
after it. Clients treat it as an opaque string.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

from fastapi import Query

from api.errors import Unprocessable

MAX_CURSOR_LENGTH = 1024
DEFAULT_PAGE = 50
MAX_PAGE = 200
"""No listing returns more rows than this, whatever `limit` asks for."""

PageLimit = Annotated[int, Query(ge=1, description=f"Page size; at most {MAX_PAGE} are returned.")]
PageCursor = Annotated[
    str | None,
    Query(max_length=MAX_CURSOR_LENGTH, description="`next_cursor` of the previous page."),
]


def page_size(limit: int) -> int:
    """Requested page size, capped at MAX_PAGE."""
    return max(1, min(limit, MAX_PAGE))


def encode_cursor(values: dict[str, Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """The values of a cursor made by `encode_cursor` with exactly `keys`; 422 otherwise."""
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, dict) or set(values) != set(keys):
            raise ValueError("unexpected keys")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Unprocessable(
            "the cursor is not one this API returned; start again without it",
            type="InvalidCursor",
        ) from None
    return values
