"""A pinned definition decoded from a workflow payload is shared between workflows."""

from __future__ import annotations

from pathlib import Path

from pydantic import TypeAdapter

import definitions
from definitions.loader import load_file, pin
from definitions.pinned import PinnedDefinition

STOCK = Path(definitions.__file__).parent / "cycles"


def test_decoding_the_same_version_twice_gives_one_shared_equal_instance() -> None:
    pinned = pin(load_file(STOCK / "quarterly-okr" / "v1.yaml"))
    payload = pinned.model_dump_json()
    adapter = TypeAdapter(list[PinnedDefinition])

    first, second = adapter.validate_json(f"[{payload}, {payload}]")

    assert first is second
    assert first == pinned
    assert first is not pinned  # built in Python: validated as always, never swapped


def test_another_version_or_content_hash_is_decoded_on_its_own() -> None:
    okr = pin(load_file(STOCK / "quarterly-okr" / "v1.yaml"))
    annual = pin(load_file(STOCK / "annual-review" / "v1.yaml"))
    relabelled = okr.model_copy(update={"sha256": "f" * 64})

    decoded = [
        PinnedDefinition.model_validate_json(p.model_dump_json()) for p in (okr, annual, relabelled)
    ]

    assert decoded[0] == okr
    assert decoded[1] == annual
    assert decoded[2].sha256 == "f" * 64
    assert decoded[2] is not decoded[0]
