"""Opaque cursors for keyset paging.

A cursor is the sort key of the last row a page returned, as URL-safe base64 JSON; the
next page starts strictly after it. Clients treat it as an opaque string.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from api.errors import Unprocessable

MAX_CURSOR_LENGTH = 1024


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
