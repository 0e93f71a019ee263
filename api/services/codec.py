"""The codec server: encode and decode Temporal payloads with the payload key ring.

Temporal UI (and `temporal workflow show --codec-endpoint`) sends the payloads of a
history here to show them in clear to an operator holding the `ops` role. Decoding is
a read of sensitive data (review text, ratings, pay), so every call is audited: who,
which namespace, how many payloads. Payloads that are not encrypted come back as sent;
without a key ring configured, both directions are the identity.
"""

from __future__ import annotations

import binascii
from functools import lru_cache

from sqlalchemy.orm import Session

from api.errors import Unprocessable
from api.permissions import Access
from api.schemas.codec import PayloadJsonPublic, Payloads, PayloadsPublic
from api.services import audit
from perfloop.codec import (
    EncryptionCodec,
    PayloadKeyError,
    payload_codec,
    payloads_from_json,
    payloads_to_json,
)
from perfloop.settings import Settings


@lru_cache(maxsize=8)
def codec_for(settings: Settings) -> EncryptionCodec | None:
    return payload_codec(settings)


def _convert(body: Payloads, *, decode: bool, settings: Settings) -> PayloadsPublic:
    try:
        payloads = payloads_from_json([item.model_dump() for item in body.payloads])
    except (binascii.Error, ValueError):
        raise Unprocessable("payload metadata and data must be base64") from None
    codec = codec_for(settings)
    if codec is not None:
        try:
            payloads = codec.decode_sync(payloads) if decode else codec.encode_sync(payloads)
        except PayloadKeyError as exc:
            raise Unprocessable(str(exc), type="PayloadUndecodable") from None
    return PayloadsPublic(
        payloads=[PayloadJsonPublic.model_validate(item) for item in payloads_to_json(payloads)]
    )


def decode(
    session: Session, access: Access, settings: Settings, body: Payloads, namespace: str | None
) -> PayloadsPublic:
    result = _convert(body, decode=True, settings=settings)
    audit.record(
        session,
        access,
        "payloads.decode",
        resource_type="temporal-payloads",
        resource_id=(namespace or settings.temporal_namespace)[:200],
        subject_id=None,
        reason=access.reason or f"{len(body.payloads)} payloads",
    )
    session.commit()
    return result


def encode(settings: Settings, body: Payloads) -> PayloadsPublic:
    return _convert(body, decode=False, settings=settings)
