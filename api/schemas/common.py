"""Shapes shared by several resources."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


def _not_a_number(value: object) -> object:
    """Pydantic's lax mode reads a number (or a numeric string) as a Unix timestamp; the
    schema documents ISO 8601 strings only (`format: date-time` / `date`), so `0` is
    refused rather than taken for 1970."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("expected an ISO 8601 date or date-time, not a number")
    return value


IsoDate = Annotated[date, BeforeValidator(_not_a_number)]
IsoDateTime = Annotated[datetime, BeforeValidator(_not_a_number)]
IsoAwareDateTime = Annotated[AwareDatetime, BeforeValidator(_not_a_number)]
"""Date and time inputs (bodies, query parameters): ISO 8601 strings only."""


def _stripped_not_blank(value: str) -> str:
    stripped = value.strip()
    if not stripped:
        raise ValueError("must not be blank")
    return stripped


ReasonText = Annotated[
    str, Field(min_length=1, max_length=2000), AfterValidator(_stripped_not_blank)
]
"""A stated reason: 1 to 2,000 characters as sent (the schema's limits, checked before
anything is stripped, so the API and its OpenAPI agree), not blank, stored stripped."""


class PublicModel(BaseModel):
    """Base of every response body: can be built from attributes (ORM rows)."""

    model_config = ConfigDict(from_attributes=True, populate_by_name=True)


class RequestModel(BaseModel):
    """Base of every request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")
