"""The published JSON Schema: current, valid, and in agreement with the stock cycles."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML

import definitions
from definitions.schema import (
    SCHEMA_ID,
    SCHEMA_PATH,
    cycle_json_schema,
    render_schema,
    write_schema,
)
from tests.definitions.test_checks import valid_cycle

STOCK = sorted((Path(definitions.__file__).resolve().parent / "cycles").glob("*/v*.yaml"))


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    return Draft202012Validator(cycle_json_schema())


def plain(node: Any) -> Any:
    """YAML as an editor's language server sees it: dates are text."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, datetime | date):
        return node.isoformat()
    return node


def errors(validator: Draft202012Validator, document: Any) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def test_the_committed_schema_is_current() -> None:
    assert SCHEMA_PATH.is_file(), "run `make schema` or `perfloop definitions schema --write`"
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render_schema(), (
        f"{SCHEMA_PATH} is stale: run `make schema` or `perfloop definitions schema --write`"
    )


def test_write_schema_writes_the_rendered_text(tmp_path: Path) -> None:
    target = write_schema(tmp_path / "nested" / "cycle.schema.json")
    text = target.read_text(encoding="utf-8")
    assert text == render_schema()
    assert text.endswith("}\n")
    assert text.startswith('{\n  "$defs"')  # sorted keys, two-space indent


def test_the_schema_is_valid_draft_2020_12() -> None:
    schema = cycle_json_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_ID == "https://perfloop.io/schema/cycle.schema.json"
    assert schema["title"]
    assert schema["description"]
    assert "apiVersion" in schema["properties"]
    assert "apiVersion" in schema["required"]
    assert schema["additionalProperties"] is False


def test_durations_carry_their_pattern() -> None:
    defs = cycle_json_schema()["$defs"]
    assert "pattern" in defs["Calendar"]["properties"]["length"]
    assert "pattern" in defs["Escalation"]["properties"]["after"]
    assert "pattern" in defs["Window"]["properties"]["opens"]
    assert "pattern" in defs["Metadata"]["properties"]["name"]


def test_patterns_are_ecma_262_compatible() -> None:
    text = json.dumps(cycle_json_schema())
    assert "(?P<" not in text  # Python-only named groups break editors' JS regex engines
    for pattern in re.findall(r'"pattern": ("(?:[^"\\]|\\.)*")', text):
        re.compile(json.loads(pattern))


@pytest.mark.parametrize(
    ("point", "valid"),
    [("P30D", True), ("P1Y2M", True), ("2027-01-31", True), ("30 days", False), ("P", False)],
)
def test_window_points(validator: Draft202012Validator, point: str, valid: bool) -> None:
    cycle = valid_cycle()
    cycle["phases"][0]["window"]["opens"] = point
    assert (errors(validator, cycle) == []) is valid


def test_stock_cycles_exist() -> None:
    assert STOCK, "definitions/cycles/<name>/v<N>.yaml: no stock cycle found"


@pytest.mark.parametrize("path", STOCK, ids=[f"{p.parent.name}/{p.name}" for p in STOCK])
def test_stock_cycles_validate(validator: Draft202012Validator, path: Path) -> None:
    document = plain(YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8")))
    assert errors(validator, document) == []


def test_the_checks_baseline_validates(validator: Draft202012Validator) -> None:
    assert errors(validator, valid_cycle()) == []


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda c: c.update(apiversion="perfloop.io/v1"), "Additional properties"),
        (lambda c: c["calendar"].update(length="one year"), "does not match"),
        (lambda c: c["metadata"].update(name="Annual Review"), "does not match"),
        (lambda c: c["phases"][0].update(kind="goals"), "goals"),
        (
            lambda c: c["phases"][4]["merit_matrix"]["rows"][0]["increases"].update(
                {"High": {"min_percent": 0, "max_percent": 1}}
            ),
            "High",
        ),
    ],
)
def test_the_schema_refuses_what_the_models_refuse(
    validator: Draft202012Validator, change: Any, fragment: str
) -> None:
    cycle = valid_cycle()
    change(cycle)
    found = errors(validator, cycle)
    assert any(fragment in message for message in found), found
