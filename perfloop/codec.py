"""Encrypted Temporal payloads: AES-GCM with key ids, so keys can rotate.

Every workflow and activity input and result (review text, ratings, pay) crosses
Temporal's history. With a key ring configured, `EncryptionCodec` encrypts each payload
before it leaves the process and decrypts it when it comes back, so the server, its
database and anyone reading the raw history (the CLI, the Web UI without the codec
server) see only ciphertext.

An encrypted payload is a new `Payload` whose data is `nonce (12 bytes) || AES-GCM
ciphertext of the original payload (protobuf bytes)` and whose metadata says
`encoding: binary/encrypted` and `encryption-key-id: <id>`. The key id is also the
additional authenticated data, so a payload cannot be re-labelled with another key id.

Keys (`PERFLOOP_PAYLOAD_KEYS`, or the file `PERFLOOP_PAYLOAD_KEYS_FILE`, or
`<home>/payload-keys` that `perfloop dev` creates) are `id=base64(32 bytes)` entries,
comma- or newline-separated; the **first** encrypts, every one decrypts. Rotating is
adding a new key first and keeping the old ones until the histories they wrote have
been deleted by the namespace's retention.

Memo fields built with `public_memo` (the definition ref) are not encrypted, so the
Temporal UI shows them without the codec server; search attributes never are (they hold
ids only, see `perfloop.temporal.SEARCH_ATTRIBUTES`).

Payloads without the encrypted encoding pass through `decode` unchanged: histories saved
before encryption was turned on (and the replay corpus in `tests/histories/`) still read.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from definitions.errors import PerfloopError

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12
KEY_BYTES = 32
KEY_FILE_NAME = "payload-keys"
MAX_KEY_ID = 64


class PayloadKeyError(PerfloopError):
    """A key ring cannot be read, or a payload cannot be decrypted with it."""


@dataclass(frozen=True)
class KeyRing:
    """Payload keys by id; `active` encrypts, all of them decrypt."""

    keys: Mapping[str, bytes]
    active: str

    def __post_init__(self) -> None:
        if self.active not in self.keys:
            raise PayloadKeyError(f"the active payload key {self.active!r} is not in the ring")

    @classmethod
    def parse(cls, text: str) -> KeyRing:
        """`id=base64key` entries, comma- or newline-separated; the first is active.

        Lines starting with `#` are comments. Messages never include key material.
        """
        keys: dict[str, bytes] = {}
        order: list[str] = []
        lines = (line for line in text.splitlines() if not line.strip().startswith("#"))
        for raw in ",".join(lines).split(","):
            entry = raw.strip()
            if not entry:
                continue
            key_id, sep, encoded = entry.partition("=")
            key_id = key_id.strip()
            if not sep or not key_id or len(key_id) > MAX_KEY_ID or not key_id.isprintable():
                raise PayloadKeyError(
                    "a payload key entry must read `id=base64key` (id up to 64 characters)"
                )
            try:
                key = base64.b64decode(encoded.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise PayloadKeyError(f"payload key {key_id!r} is not valid base64") from None
            if len(key) != KEY_BYTES:
                raise PayloadKeyError(
                    f"payload key {key_id!r} has {len(key)} bytes; AES-256 needs {KEY_BYTES}"
                )
            if key_id in keys:
                raise PayloadKeyError(f"payload key {key_id!r} appears twice")
            keys[key_id] = key
            order.append(key_id)
        if not order:
            raise PayloadKeyError("the payload key ring is empty")
        return cls(keys=keys, active=order[0])

    def entries(self) -> Iterable[str]:
        yield f"{self.active}={base64.b64encode(self.keys[self.active]).decode()}"
        for key_id, key in self.keys.items():
            if key_id != self.active:
                yield f"{key_id}={base64.b64encode(key).decode()}"


def new_key_entry(key_id: str | None = None) -> str:
    """A fresh `id=base64key` entry (random 256-bit key)."""
    key_id = key_id or f"k{secrets.token_hex(4)}"
    return f"{key_id}={base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


def ensure_key_file(home: Path) -> Path:
    """`<home>/payload-keys`, created with one fresh key (mode 0600) when missing."""
    path = home / KEY_FILE_NAME
    if path.exists():
        return path
    home.mkdir(parents=True, exist_ok=True)
    text = (
        "# perfloop payload keys: id=base64(32 bytes), the first encrypts, all decrypt.\n"
        "# Losing this file makes the encrypted Temporal histories here unreadable.\n"
        f"{new_key_entry()}\n"
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM per payload with the ring's active key; decodes with any ring key."""

    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring
        self._ciphers = {key_id: AESGCM(key) for key_id, key in ring.keys.items()}
        self._active = ring.active
        self._active_id = ring.active.encode()

    @property
    def active_key_id(self) -> str:
        return self._active

    def encode_sync(self, payloads: Sequence[Payload]) -> list[Payload]:
        cipher = self._ciphers[self._active]
        out: list[Payload] = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), self._active_id)
            out.append(
                Payload(
                    metadata={"encoding": ENCODING, KEY_ID: self._active_id},
                    data=nonce + sealed,
                )
            )
        return out

    def decode_sync(self, payloads: Sequence[Payload]) -> list[Payload]:
        out: list[Payload] = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                out.append(payload)
                continue
            key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
            cipher = self._ciphers.get(key_id)
            if cipher is None:
                raise PayloadKeyError(
                    f"payload encrypted with key {key_id!r}, which is not in the key ring"
                )
            data = payload.data
            try:
                plain = cipher.decrypt(
                    data[:NONCE_BYTES], data[NONCE_BYTES:], payload.metadata[KEY_ID]
                )
            except InvalidTag:
                raise PayloadKeyError(
                    f"payload encrypted with key {key_id!r} does not authenticate"
                ) from None
            decoded = Payload()
            decoded.ParseFromString(plain)
            out.append(decoded)
        return out

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self.encode_sync(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self.decode_sync(payloads)


class NoKeyCodec(PayloadCodec):
    """The codec of a process without a key ring: plain payloads both ways, and a clear
    error (instead of "unknown encoding") when it meets an encrypted one."""

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        for payload in payloads:
            if payload.metadata.get("encoding") == ENCODING:
                key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
                raise PayloadKeyError(
                    f"this payload is encrypted (key {key_id!r}) and this process has no "
                    "payload key ring: set PERFLOOP_PAYLOAD_KEYS (or PERFLOOP_HOME to the "
                    "data folder of `perfloop dev`, which holds payload-keys)"
                )
        return list(payloads)


def key_ring_text(settings: Any) -> str | None:
    """The key ring's text from settings: the variable, the named file, or
    `<home>/payload-keys` when it exists; None when no key is configured."""
    inline = getattr(settings, "payload_keys", None)
    if inline is not None:
        value = inline.get_secret_value() if hasattr(inline, "get_secret_value") else str(inline)
        if value.strip():
            return str(value)
    named = getattr(settings, "payload_keys_file", None)
    if named is not None:
        try:
            return Path(named).read_text()
        except OSError as exc:
            raise PayloadKeyError(f"cannot read the payload key file {named}: {exc}") from None
    home = getattr(settings, "home", None)
    if home is not None:
        default = Path(home) / KEY_FILE_NAME
        if default.is_file():
            return default.read_text()
    return None


def payload_codec(settings: Any) -> EncryptionCodec | None:
    """The codec for `settings`, or None when no payload key is configured."""
    text = key_ring_text(settings)
    return EncryptionCodec(KeyRing.parse(text)) if text is not None else None


def public_memo(value: Any) -> Payload:
    """`value` as a plain JSON payload, for a memo field that must stay readable without
    the key ring (the definition ref Temporal UI shows): the SDK passes a ready `Payload`
    through the codec untouched. Never use it for anything about a person."""
    from temporalio.contrib.pydantic import pydantic_data_converter

    return pydantic_data_converter.payload_converter.to_payloads([value])[0]


# --- the codec server's wire format (what Temporal UI and `temporal --codec-endpoint` send)


def payloads_from_json(items: Sequence[Mapping[str, Any]]) -> list[Payload]:
    """`[{"metadata": {k: base64}, "data": base64}]` -> payloads (Temporal's JSON form)."""
    out: list[Payload] = []
    for item in items:
        metadata = {
            str(k): base64.b64decode(v, validate=True)
            for k, v in (item.get("metadata") or {}).items()
        }
        out.append(
            Payload(metadata=metadata, data=base64.b64decode(item.get("data") or "", validate=True))
        )
    return out


def payloads_to_json(payloads: Sequence[Payload]) -> list[dict[str, Any]]:
    return [
        {
            "metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
            "data": base64.b64encode(p.data).decode(),
        }
        for p in payloads
    ]
