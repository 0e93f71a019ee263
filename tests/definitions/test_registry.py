"""The registry keeps published versions immutable and finds them by reference."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from definitions.errors import PerfloopError
from definitions.loader import LoadedDefinition, load_file
from definitions.registry import (
    DefinitionNotFoundError,
    DefinitionRef,
    InvalidRefError,
    RegistryError,
    VersionConflictError,
    deprecate,
    diff,
    get_version,
    list_versions,
    parse_ref,
    pinned,
    publish,
    render_canonical,
    summarize_changes,
)
from tests.samples import write_cycle

Load = Callable[..., LoadedDefinition]


@pytest.fixture
def load(tmp_path: Path) -> Load:
    """Load a freshly written valid definition: `load(name, version, title)`."""
    counter = itertools.count()

    def _load(
        name: str = "tiny-review", version: int = 1, title: str = "Tiny review"
    ) -> LoadedDefinition:
        root = tmp_path / f"defs{next(counter)}"
        return load_file(write_cycle(root, name, version, title))

    return _load


# --- references -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("annual-review@3", DefinitionRef("annual-review", 3)),
        ("annual-review@v3", DefinitionRef("annual-review", 3)),
        (" quarterly_okr@12 ", DefinitionRef("quarterly_okr", 12)),
        ("annual-review@latest", DefinitionRef("annual-review", None)),
    ],
)
def test_parse_ref(text: str, expected: DefinitionRef) -> None:
    assert parse_ref(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "annual-review",
        "annual-review@",
        "@3",
        "annual-review@three",
        "a@b@3",
        "Annual@3",
        "annual-review@-1",
        "annual-review@0",
        "annual review@1",
        "",
    ],
)
def test_parse_ref_rejects_malformed_refs(text: str) -> None:
    with pytest.raises(InvalidRefError, match=r"NAME@VERSION|start at 1"):
        parse_ref(text)


def test_ref_errors_are_domain_errors() -> None:
    with pytest.raises(PerfloopError):
        parse_ref("nope")
    assert str(DefinitionRef("x", None)) == "x@latest"
    assert str(DefinitionRef("x", 2)) == "x@2"


# --- publishing -------------------------------------------------------------------


def test_publish_new_version(session: Session, load: Load) -> None:
    loaded = load()

    result = publish(session, loaded, published_by="hr@example.com")

    assert result.status == "published"
    assert result.ref == "tiny-review@1"
    assert result.sha256 == loaded.sha256
    row = get_version(session, "tiny-review@1")
    assert row.canonical == loaded.canonical()
    assert row.source_text == loaded.source_text
    assert row.published_by == "hr@example.com"
    assert row.published_at.tzinfo is not None
    assert row.deprecated_at is None


def test_publishing_identical_content_again_is_unchanged(session: Session, load: Load) -> None:
    first = publish(session, load())
    session.commit()

    again = publish(session, load())

    assert again.status == "unchanged"
    assert again.sha256 == first.sha256
    assert again.published_at == first.published_at
    assert len(list_versions(session)) == 1


def test_different_content_under_a_published_version_is_refused(
    session: Session, load: Load
) -> None:
    original = publish(session, load(title="Tiny review"))
    session.commit()

    with pytest.raises(VersionConflictError) as caught:
        publish(session, load(title="Tiny review, edited"))

    message = str(caught.value)
    assert "bump" in message
    assert "metadata.version" in message
    assert "to 2" in message
    assert original.sha256[:12] in message
    assert get_version(session, "tiny-review@1").sha256 == original.sha256


def test_stored_content_hashes_to_the_published_sha(session: Session, load: Load) -> None:
    from definitions.loader import canonical_sha256

    publish(session, load())
    session.commit()
    session.expunge_all()

    row = get_version(session, "tiny-review@1")
    assert canonical_sha256(row.canonical) == row.sha256


# --- reading ----------------------------------------------------------------------


def test_list_versions_orders_and_filters(session: Session, load: Load) -> None:
    for name, version in [("zeta-review", 1), ("alpha-review", 2), ("alpha-review", 1)]:
        publish(session, load(name, version, f"{name} v{version}"))
    deprecate(session, "alpha-review@1", "superseded")

    assert [r.ref for r in list_versions(session)] == [
        "alpha-review@1",
        "alpha-review@2",
        "zeta-review@1",
    ]
    assert [r.ref for r in list_versions(session, "alpha-review")] == [
        "alpha-review@1",
        "alpha-review@2",
    ]
    assert [r.ref for r in list_versions(session, include_deprecated=False)] == [
        "alpha-review@2",
        "zeta-review@1",
    ]


def test_latest_is_the_highest_non_deprecated_version(session: Session, load: Load) -> None:
    for version in (1, 2, 3):
        publish(session, load(version=version, title=f"v{version}"))

    assert get_version(session, "tiny-review@latest").version == 3
    deprecate(session, "tiny-review@3", "wrong weights")
    assert get_version(session, "tiny-review@latest").version == 2
    assert get_version(session, "tiny-review@3").version == 3, "explicit refs still resolve"


def test_not_found_names_what_exists(session: Session, load: Load) -> None:
    publish(session, load())

    with pytest.raises(DefinitionNotFoundError, match=r"tiny-review@7 is not published.*: 1"):
        get_version(session, "tiny-review@7")
    with pytest.raises(DefinitionNotFoundError, match="nothing is published"):
        get_version(session, "other@1")
    deprecate(session, "tiny-review@1", "retired")
    with pytest.raises(DefinitionNotFoundError, match=r"no published, non-deprecated.*deprecated"):
        get_version(session, "tiny-review@latest")


def test_pinned_resolves_latest_to_an_exact_ref(session: Session, load: Load) -> None:
    loaded = load(version=2)
    publish(session, loaded)

    pin = pinned(session, "tiny-review@latest")

    assert pin == {"ref": "tiny-review@2", "sha256": loaded.sha256, "canonical": loaded.canonical()}


# --- deprecation ------------------------------------------------------------------


def test_deprecate_records_when_and_why_once(session: Session, load: Load) -> None:
    publish(session, load())

    row = deprecate(session, "tiny-review@1", "  replaced by v2  ")
    first_at = row.deprecated_at
    again = deprecate(session, "tiny-review@1", "another reason")

    assert first_at is not None
    assert again.deprecated_at == first_at
    assert again.deprecation_reason == "replaced by v2"
    assert again.is_deprecated


def test_deprecate_needs_an_explicit_version_and_a_reason(session: Session, load: Load) -> None:
    publish(session, load())

    with pytest.raises(InvalidRefError, match="explicit version"):
        deprecate(session, "tiny-review@latest", "x")
    with pytest.raises(RegistryError, match="reason"):
        deprecate(session, "tiny-review@1", "   ")
    with pytest.raises(DefinitionNotFoundError):
        deprecate(session, "tiny-review@9", "x")


# --- diff -------------------------------------------------------------------------


def test_diff_summarises_and_shows_a_unified_diff(session: Session, load: Load) -> None:
    publish(session, load(version=1, title="Old title"))
    publish(session, load(version=2, title="New title"))

    text = diff(session, "tiny-review@1", "tiny-review@latest")

    assert text.startswith("changed: definition.metadata\n")
    assert "--- tiny-review@1 (sha256 " in text
    assert "+++ tiny-review@2 (sha256 " in text
    assert "-    title: Old title\n" in text
    assert "+    title: New title\n" in text
    assert "-    version: 1\n" in text


def test_diff_of_identical_content(session: Session, load: Load) -> None:
    publish(session, load())

    assert "identical" in diff(session, "tiny-review@1", "tiny-review@latest")


def test_summary_names_phases_and_forms_by_id() -> None:
    a = {
        "definition": {"phases": [{"id": "goals", "x": 1}, {"id": "review", "x": 1}]},
        "forms": {"draft": {"type": "object"}},
    }
    b = {
        "definition": {"phases": [{"id": "goals", "x": 2}, {"id": "results"}]},
        "forms": {"draft": {"type": "object"}, "minutes": {"type": "object"}},
    }

    assert summarize_changes(a, b) == [
        "changed: definition.phases, forms.minutes",
        "phases: added results; removed review; changed goals",
        "forms: added minutes",
    ]


def test_render_canonical_sorts_keys_for_stable_output() -> None:
    assert render_canonical({"b": 1, "a": {"d": [2, {"z": 1, "y": 0}], "c": "ü"}}) == (
        "a:\n  c: ü\n  d:\n  - 2\n  - y: 0\n    z: 1\nb: 1\n"
    )


def test_pinned_content_rebuilds_the_definition(session: Session, load: Load) -> None:
    from definitions.pinned import PinnedDefinition

    loaded = load()
    publish(session, loaded)
    session.commit()
    session.expunge_all()

    rebuilt = PinnedDefinition.from_canonical(**pinned(session, "tiny-review@1"))

    assert rebuilt.definition == loaded.definition
    assert rebuilt.form_schemas == loaded.form_schemas
