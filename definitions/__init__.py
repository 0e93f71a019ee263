"""The cycle-definition language.

Pydantic models of a cycle (strict, frozen, `extra="forbid"`), the YAML loader that
reports every problem with file, line, column and key path, the semantic checks, CEL
expression handling, JSON Schema export and the registry of published versions.
Stock cycles live in `cycles/<name>/v<N>.yaml`, task forms in `forms/`.

May import: pydantic, ruamel.yaml, jsonschema, cel, and `store` (registry only).
Imported by: workflows (models only, through `imports_passed_through`), activities, api,
perfloop.
"""
