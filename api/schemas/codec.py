"""Temporal's codec-server wire format: payloads as JSON with base64 fields."""

from __future__ import annotations

from pydantic import Field

from api.schemas.common import PublicModel, RequestModel

MAX_PAYLOADS = 1_000


class PayloadJson(RequestModel):
    metadata: dict[str, str] = Field(
        default_factory=dict, description="Metadata values, base64 (e.g. `encoding`)."
    )
    data: str = Field(default="", description="The payload's bytes, base64.")


class Payloads(RequestModel):
    payloads: list[PayloadJson] = Field(max_length=MAX_PAYLOADS)


class PayloadJsonPublic(PublicModel):
    metadata: dict[str, str]
    data: str


class PayloadsPublic(PublicModel):
    payloads: list[PayloadJsonPublic]
