"""Form schemas for tasks: from the definition version the task's cycle pinned.

Published versions never change, so a schema found once is cached for the life of the
process (keyed by `ref` and content hash), as is the parsed definition the UI hints come
from. Group tasks may use the engine's built-in forms (`workflows.builtin_forms`) when
the definition names none.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from api.errors import ApiError
from definitions.pinned import PinnedDefinition
from definitions.registry import get_version
from store.models import Cycle
from workflows.builtin_forms import BUILTIN_FORMS

log = logging.getLogger(__name__)

MAX_CACHED_DEFINITIONS = 64


class FormUnavailable(ApiError):
    status = 500
    type = "FormUnavailable"


class FormCatalog:
    """Form schemas by pinned definition; one per application."""

    def __init__(self) -> None:
        self._forms: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self._definitions: dict[tuple[str, str], PinnedDefinition] = {}

    def _pinned_forms(self, session: Session, ref: str, sha256: str) -> dict[str, dict[str, Any]]:
        key = (ref, sha256)
        forms = self._forms.get(key)
        if forms is None:
            row = get_version(session, ref)
            if row.sha256 != sha256:
                raise FormUnavailable(
                    f"the registry's {ref} (sha256 {row.sha256[:12]}) is not the version the "
                    f"cycle pinned (sha256 {sha256[:12]})"
                )
            raw = row.canonical.get("forms", {})
            forms = {str(form_id): dict(schema) for form_id, schema in raw.items()}
            if len(self._forms) >= MAX_CACHED_DEFINITIONS:
                self._forms.pop(next(iter(self._forms)))
            self._forms[key] = forms
        return forms

    def schema(self, session: Session, cycle_id: str, form_id: str) -> dict[str, Any]:
        """The JSON Schema of `form_id` as cycle `cycle_id` uses it."""
        cycle = session.get(Cycle, cycle_id)
        if cycle is None:
            raise FormUnavailable(f"the task's cycle {cycle_id} is not in the store")
        schema = self._pinned_forms(session, cycle.definition_ref, cycle.sha256).get(form_id)
        if schema is None:
            schema = BUILTIN_FORMS.get(form_id)
        if schema is None:
            raise FormUnavailable(f"{cycle.definition_ref} has no form {form_id}")
        return schema

    def definition(self, session: Session, cycle_id: str) -> PinnedDefinition:
        """The parsed definition cycle `cycle_id` pinned."""
        cycle = session.get(Cycle, cycle_id)
        if cycle is None:
            raise FormUnavailable(f"the task's cycle {cycle_id} is not in the store")
        key = (cycle.definition_ref, cycle.sha256)
        pinned = self._definitions.get(key)
        if pinned is None:
            row = get_version(session, cycle.definition_ref)
            pinned = PinnedDefinition.from_canonical(row.ref, row.sha256, row.canonical)
            if len(self._definitions) >= MAX_CACHED_DEFINITIONS:
                self._definitions.pop(next(iter(self._definitions)))
            self._definitions[key] = pinned
        return pinned
