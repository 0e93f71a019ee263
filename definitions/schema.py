"""The JSON Schema of a cycle definition, for editors (autocompletion, inline errors).

`cycle_json_schema()` derives it from the pydantic models (YAML keys, so `apiVersion`),
as JSON Schema draft 2020-12. The committed copy, `definitions/schema/cycle.schema.json`,
is what `# yaml-language-server: $schema=...` points at; `write_schema()` regenerates it
(`make schema`, `perfloop definitions schema --write`) and a test fails when it is stale.

The schema describes the structure only; the semantic checks (`definitions.checks`)
and the CEL rules (`definitions.expressions`) need the loader.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from definitions import models
from definitions.durations import CALENDAR_DURATION_RE
from definitions.models import CycleDefinition

SCHEMA_ID: Final = "https://perfloop.io/schema/cycle.schema.json"
DRAFT: Final = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_PATH: Final = Path(__file__).resolve().parent / "schema" / "cycle.schema.json"

_DATE_PATTERN: Final = r"\d{4}-\d{2}-\d{2}"


def _ecma(pattern: str) -> str:
    """Python regex -> ECMA-262 (what editors run): `(?P<name>` is `(?<name>` there; the
    group names carry nothing for a schema, so they become plain groups."""
    return re.sub(r"\(\?P<[A-Za-z_][A-Za-z0-9_]*>", "(?:", pattern)


_CALENDAR_BODY: Final = _ecma(CALENDAR_DURATION_RE.pattern).removeprefix("^").removesuffix("$")

# The models check some strings with plain functions (AfterValidator), which a JSON
# Schema cannot see; these are the equivalent schema keywords.
_AFTER_VALIDATORS: Final[dict[Callable[..., Any], dict[str, Any]]] = {
    models._identifier: {
        "pattern": _ecma(models._IDENTIFIER_RE.pattern),
        "maxLength": 63,
    },
    models._window_point: {
        "pattern": f"^(?:{_CALENDAR_BODY}|{_DATE_PATTERN})$",
    },
    models._timezone: {"examples": ["UTC", "Europe/Berlin", "America/New_York"]},
}


class _CycleSchemaGenerator(GenerateJsonSchema):
    def function_after_schema(
        self, schema: core_schema.AfterValidatorFunctionSchema
    ) -> JsonSchemaValue:
        out = dict(super().function_after_schema(schema))
        function = schema["function"].get("function")
        extra = _AFTER_VALIDATORS.get(function) if callable(function) else None
        if extra:
            out.update(extra)
        return out


def _ecma_patterns(node: Any) -> Any:
    """ECMA patterns throughout; a mapping with constrained keys (pydantic writes them as
    `patternProperties`) also refuses other keys, as the model does."""
    if isinstance(node, dict):
        out = {
            key: _ecma(value)
            if key == "pattern" and isinstance(value, str)
            else _ecma_patterns(value)
            for key, value in node.items()
        }
        if "patternProperties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_ecma_patterns(item) for item in node]
    return node


def cycle_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a cycle definition file."""
    body = CycleDefinition.model_json_schema(
        by_alias=True, mode="validation", schema_generator=_CycleSchemaGenerator
    )
    body = _ecma_patterns(body)
    body.pop("title", None)
    body.pop("description", None)
    return {
        "$schema": DRAFT,
        "$id": SCHEMA_ID,
        "title": "perfloop cycle definition",
        "description": (
            "A performance review cycle for perfloop (apiVersion perfloop.io/v1, kind Cycle): "
            "goal setting, monitoring, evaluation, interview and results phases. Structure "
            "only; `perfloop definitions validate` also checks weights, phase order, windows, "
            "form references and CEL expressions."
        ),
        **body,
    }


def render_schema() -> str:
    """The schema file's exact text: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(cycle_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schema(path: Path | str | None = None) -> Path:
    """Write the schema (by default to `definitions/schema/cycle.schema.json`)."""
    target = Path(path) if path is not None else SCHEMA_PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_schema(), encoding="utf-8")
    return target


if __name__ == "__main__":  # python -m definitions.schema
    print(write_schema())
