"""Forms the engine needs even when a definition names none: HR's decision on a group's
results, and a calibration with no form of its own. Plain data, no I/O.
"""

from __future__ import annotations

from typing import Any

DRAFT = "https://json-schema.org/draft/2020-12/schema"

RESULTS_APPROVAL = "builtin-results-approval"
CALIBRATION = "builtin-calibration"
PEER_NOMINATION = "builtin-peer-nomination"
PEER_APPROVAL = "builtin-peer-approval"
DECLINE = "builtin-decline"
"""A reviewer's decline of a peer-review request: the payload `{"decline": true, "reason":
...}` sent through the same submit as the review, accepted when the cycle allows it."""

_EMPLOYEE_IDS = {
    "type": "array",
    "maxItems": 50,
    "uniqueItems": True,
    "items": {"type": "string", "minLength": 1, "maxLength": 64},
}

BUILTIN_FORMS: dict[str, dict[str, Any]] = {
    RESULTS_APPROVAL: {
        "$schema": DRAFT,
        "title": "Approve results",
        "type": "object",
        "additionalProperties": False,
        "required": ["decision"],
        "properties": {
            "decision": {"enum": ["approve", "return"]},
            "comments": {"type": "string", "maxLength": 4000},
            "talent_decisions": {
                "type": "array",
                "maxItems": 1000,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["employee_id", "decision"],
                    "properties": {
                        "employee_id": {"type": "string", "maxLength": 64},
                        "decision": {"enum": ["develop", "promote", "retain", "key_position"]},
                        "position": {"type": "string", "maxLength": 200},
                        "note": {"type": "string", "maxLength": 2000},
                    },
                },
            },
        },
    },
    PEER_NOMINATION: {
        "$schema": DRAFT,
        "title": "Choose your peer reviewers",
        "type": "object",
        "additionalProperties": False,
        "required": ["peers"],
        "properties": {
            "peers": {**_EMPLOYEE_IDS, "title": "Peer reviewers"},
            "note": {"type": "string", "maxLength": 1000},
        },
    },
    PEER_APPROVAL: {
        "$schema": DRAFT,
        "title": "Approve peer reviewers",
        "description": "The nominated peers are in the prefill; remove or add colleagues.",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "remove": {**_EMPLOYEE_IDS, "title": "Remove"},
            "add": {**_EMPLOYEE_IDS, "title": "Add"},
            "comments": {"type": "string", "maxLength": 4000},
        },
    },
    DECLINE: {
        "$schema": DRAFT,
        "title": "Decline this review",
        "type": "object",
        "additionalProperties": False,
        "required": ["decline", "reason"],
        "properties": {
            "decline": {"const": True},
            "reason": {"type": "string", "minLength": 3, "maxLength": 2000},
        },
    },
    CALIBRATION: {
        "$schema": DRAFT,
        "title": "Calibrate ratings",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "adjustments": {
                "type": "array",
                "maxItems": 10000,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["employee_id", "rating", "reason"],
                    "properties": {
                        "employee_id": {"type": "string", "maxLength": 64},
                        "rating": {"type": "integer", "minimum": 1, "maximum": 10},
                        "reason": {"type": "string", "minLength": 3, "maxLength": 2000},
                    },
                },
            }
        },
    },
}
