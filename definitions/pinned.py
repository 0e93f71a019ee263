"""The definition as a running cycle holds it: parsed once, outside the workflow, and
passed in whole, so a workflow never reads a file or the registry and a published
version can be replayed exactly.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    ModelWrapValidatorHandler,
    ValidationInfo,
    model_validator,
)

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
        """Rebuild from the registry's stored canonical content, once per version and
        process: the instance is shared with the workflow inputs' (`_shared_when_decoded`).
        Activities read a cycle's definition per person (a goal draft's prefill, an
        interview agenda), and validating it again each time cost about a millisecond."""
        version = (ref, sha256)
        with _DECODED_LOCK:
            shared = _DECODED.get(version)
            if shared is not None:
                _DECODED.move_to_end(version)
                return shared
        built = cls(
            ref=ref,
            sha256=sha256,
            definition=CycleDefinition.model_validate(canonical["definition"], strict=False),
            form_schemas={key: dict(value) for key, value in canonical["forms"].items()},
        )
        with _DECODED_LOCK:
            _DECODED[version] = built
            while len(_DECODED) > DECODED_KEPT:
                _DECODED.popitem(last=False)
        return built

    def form_schema(self, form_id: str) -> dict[str, Any]:
        return self.form_schemas[form_id]

    @model_validator(mode="wrap")
    @classmethod
    def _shared_when_decoded(
        cls, value: Any, handler: ModelWrapValidatorHandler[PinnedDefinition], info: ValidationInfo
    ) -> PinnedDefinition:
        """Decoding a workflow input (JSON) returns the instance already decoded for the
        same version, if any.

        Every participant's input carries the pinned definition: ten thousand workflows
        would otherwise each validate and hold their own copy of the same immutable
        object graph (time for every workflow start, memory and garbage-collector work
        for every cached workflow). A published version never changes and `sha256` is
        its content's hash, so sharing one frozen instance changes nothing a workflow
        can observe.
        """
        if info.mode != "json" or not isinstance(value, dict):
            return handler(value)
        key = (value.get("ref"), value.get("sha256"))
        if not all(isinstance(part, str) for part in key):
            return handler(value)
        with _DECODED_LOCK:
            shared = _DECODED.get(key)
            if shared is not None:
                _DECODED.move_to_end(key)
                return shared
        # JSON arrives here as plain Python values (lists, ISO strings), which the strict
        # models take only in lax mode; the stored canonical form is read the same way.
        decoded = cls.model_validate(value, strict=False)
        with _DECODED_LOCK:
            _DECODED[key] = decoded
            while len(_DECODED) > DECODED_KEPT:
                _DECODED.popitem(last=False)
        return decoded


DECODED_KEPT = 32
"""Decoded versions kept (a worker runs the cycles of a few versions at a time)."""
_DECODED: OrderedDict[tuple[Any, Any], PinnedDefinition] = OrderedDict()
_DECODED_LOCK = threading.Lock()
