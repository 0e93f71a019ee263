"""Deterministic orchestration: CycleWorkflow, ParticipantWorkflow and one module per
phase kind in `phases/`.

No I/O here: no sqlalchemy, fastapi, yaml or network imports. Definition models and
activity input types come in through `workflow.unsafe.imports_passed_through()`.
Imported by: perfloop (worker), api (client-side types), tests.
"""
