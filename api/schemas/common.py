"""Shapes shared by several resources."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict

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


class PublicModel(BaseModel):
    """Base of every response body: can be built from attributes (ORM rows)."""

    model_config = ConfigDict(from_attributes=True, populate_by_name=True)


class RequestModel(BaseModel):
    """Base of every request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")
