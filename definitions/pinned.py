"""The definition as a running cycle holds it: parsed once, outside the workflow, and
passed in whole, so a workflow never reads a file or the registry and a published
version can be replayed exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from definitions.models import CycleDefinition


class PinnedDefinition(BaseModel):
    """A published definition with its form schemas, as stored under `ref` and `sha256`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ref: str
    sha256: str
    definition: CycleDefinition
    form_schemas: dict[str, dict[str, Any]]

    @classmethod
    def from_canonical(
        cls, ref: str, sha256: str, canonical: Mapping[str, Any]
    ) -> PinnedDefinition:
        """Rebuild from the registry's stored canonical content."""
        return cls(
            ref=ref,
            sha256=sha256,
            definition=CycleDefinition.model_validate(canonical["definition"], strict=False),
            form_schemas={key: dict(value) for key, value in canonical["forms"].items()},
        )

    def form_schema(self, form_id: str) -> dict[str, Any]:
        return self.form_schemas[form_id]
