"""Cycle definitions: published versions, one with its content and forms, publishing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from api.schemas.common import PublicModel, ReasonText, RequestModel

Reason = Annotated[
    ReasonText, Field(description="Why; recorded with the change and shown to whoever meets it.")
]


class DefinitionPublic(PublicModel):
    name: str
    version: int
    ref: str = Field(description="`name@version`, what cycles pin.")
    sha256: str = Field(description="Hash of the canonical content (definition and forms).")
    published_at: datetime
    published_by: str | None
    deprecated_at: datetime | None = Field(
        description="Set once deprecated: `name@latest` skips it, running cycles keep it."
    )
    deprecation_reason: str | None


class DefinitionPage(PublicModel):
    items: list[DefinitionPublic]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class DefinitionDetail(DefinitionPublic):
    definition: dict[str, Any] = Field(description="The canonical definition, as cycles pin it.")
    forms: dict[str, dict[str, Any]] = Field(
        description="The JSON Schema of every form it uses, by form id."
    )


class DefinitionPublished(DefinitionPublic):
    status: Literal["published", "unchanged"] = Field(
        description="`unchanged`: the same content was published already (a no-op)."
    )


class DefinitionDeprecate(RequestModel):
    reason: Reason
