"""The payload codec: AES-GCM with key ids, rotation, and plain payloads passing through."""

from __future__ import annotations

import base64
import dataclasses
import os
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload
from temporalio.converter import DefaultFailureConverterWithEncodedAttributes

from perfloop.codec import (
    ENCODING,
    KEY_ID,
    EncryptionCodec,
    KeyRing,
    NoKeyCodec,
    PayloadKeyError,
    ensure_key_file,
    new_key_entry,
    payload_codec,
)
from perfloop.settings import Settings
from perfloop.temporal import data_converter

SENTINEL = "the-sentinel-comment-1f9a"


def key(key_id: str, fill: int) -> str:
    return f"{key_id}={base64.b64encode(bytes([fill]) * 32).decode()}"


def payload(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


async def test_round_trip_hides_the_data_and_names_the_key() -> None:
    codec = EncryptionCodec(KeyRing.parse(key("k1", 1)))
    original = [payload(SENTINEL), payload("x" * 20_000)]

    encoded = await codec.encode(original)

    assert [p.metadata["encoding"] for p in encoded] == [ENCODING, ENCODING]
    assert [p.metadata[KEY_ID] for p in encoded] == [b"k1", b"k1"]
    assert all(SENTINEL.encode() not in p.SerializeToString() for p in encoded)
    assert encoded[0].data[:12] != encoded[1].data[:12], "a fresh nonce per payload"
    assert await codec.decode(encoded) == original


async def test_rotation_encrypts_with_the_first_key_and_decrypts_with_any() -> None:
    old = EncryptionCodec(KeyRing.parse(key("old", 1)))
    written_before = await old.encode([payload("before")])
    rotated = EncryptionCodec(KeyRing.parse(f"{key('new', 2)},{key('old', 1)}"))

    written_after = await rotated.encode([payload("after")])

    assert written_after[0].metadata[KEY_ID] == b"new"
    assert await rotated.decode([*written_before, *written_after]) == [
        payload("before"),
        payload("after"),
    ]


async def test_unknown_key_and_tampering_are_refused() -> None:
    codec = EncryptionCodec(KeyRing.parse(key("k1", 1)))
    other = EncryptionCodec(KeyRing.parse(key("k2", 2)))
    sealed = (await codec.encode([payload("secret")]))[0]

    with pytest.raises(PayloadKeyError, match="not in the key ring"):
        await other.decode([sealed])
    relabelled = Payload(metadata={**sealed.metadata, KEY_ID: b"k1"}, data=sealed.data)
    relabelled.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(PayloadKeyError, match="does not authenticate"):
        await codec.decode([relabelled])


async def test_a_process_without_keys_says_so_when_it_meets_ciphertext() -> None:
    sealed = await EncryptionCodec(KeyRing.parse(key("k1", 1))).encode([payload("x")])
    plain = [payload("y")]
    codec = NoKeyCodec()

    assert await codec.encode(plain) == plain
    assert await codec.decode(plain) == plain
    with pytest.raises(PayloadKeyError, match="no payload key ring"):
        await codec.decode(sealed)


async def test_plain_payloads_pass_through_decode() -> None:
    """Histories written before encryption (and the replay corpus) still read."""
    codec = EncryptionCodec(KeyRing.parse(key("k1", 1)))
    plain = [payload("saved before encryption")]

    assert await codec.decode(plain) == plain


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("k1", "id=base64key"),
        ("k1=not base64!", "not valid base64"),
        (f"k1={base64.b64encode(b'short').decode()}", "AES-256 needs 32"),
        (f"{key('k1', 1)},{key('k1', 2)}", "appears twice"),
    ],
)
def test_bad_key_rings_are_refused_without_echoing_keys(text: str, message: str) -> None:
    with pytest.raises(PayloadKeyError, match=message) as refused:
        KeyRing.parse(text)
    assert "AQEB" not in str(refused.value)


def test_key_rings_from_settings(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert payload_codec(Settings(home=home)) is None

    path = ensure_key_file(home)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert ensure_key_file(home).read_text() == path.read_text(), "created once"
    from_home = payload_codec(Settings(home=home))
    assert from_home is not None

    named = tmp_path / "ring"
    named.write_text(f"# comment\n{key('file', 3)}\n{new_key_entry('older')}\n")
    from_file = payload_codec(Settings(home=home, payload_keys_file=named))
    assert from_file is not None
    assert from_file.active_key_id == "file"

    inline = Settings(home=home, payload_keys=SecretStr(key("env", 4)), payload_keys_file=named)
    from_env = payload_codec(inline)
    assert from_env is not None
    assert from_env.active_key_id == "env"


def test_the_data_converter_encrypts_failures_too() -> None:
    codec = EncryptionCodec(KeyRing.parse(key("k1", 1)))
    converter = data_converter(codec)

    assert converter.payload_codec is codec
    assert converter.failure_converter_class is DefaultFailureConverterWithEncodedAttributes
    assert data_converter().payload_codec is None
    assert dataclasses.replace(converter, payload_codec=None).payload_converter_class is (
        data_converter().payload_converter_class
    )
