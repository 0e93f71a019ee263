"""The workflow runner: the SDK's sandbox, without its cost per payload.

temporalio asks the workflow instance for a serialization context for every payload
sequence it decodes from an activation or encodes into a completion, six passes per
workflow task, so that a context-aware codec can see which workflow or activity a
payload belongs to. In the sandbox each answer is an `exec` inside the sandbox's globals
with its import and builtins guards applied: under load, more of the worker's CPU than
the workflow code itself (bench/README.md, session 8). When the data converter ignores
the context (no component of it changes with one, and no external storage), every
answer leads to the same converter, so `ContextFreeSandboxRunner` answers without
entering the sandbox. Workflow code still runs in the sandbox, guarded as before.

Imported by `perfloop.worker` only.
"""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.converter import (
    ActivitySerializationContext,
    DataConverter,
    SerializationContext,
    StorageDriverStoreContext,
    WorkflowSerializationContext,
)
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails, WorkflowRunner
from temporalio.workflow import Info, _Definition

_PROBES: tuple[SerializationContext, ...] = (
    WorkflowSerializationContext(namespace="probe", workflow_id="probe"),
    ActivitySerializationContext(
        namespace="probe",
        workflow_id="probe",
        workflow_type="probe",
        activity_type="probe",
        activity_task_queue="probe",
        is_local=False,
        activity_id="probe",
    ),
)


def ignores_context(converter: DataConverter) -> bool:
    """Whether every serialization context leaves `converter` as it is: the SDK's
    convention is that `with_context` returns the same object when no component (payload
    converter, codec, failure converter) depends on the context."""
    if converter.external_storage is not None:
        return False
    return all(converter.with_context(probe) is converter for probe in _PROBES)


class ContextFreeSandboxRunner(WorkflowRunner):
    """`inner` (a sandbox), with the serialization-context lookups answered outside it.

    Only for a data converter that `ignores_context`: the answer is then "no context",
    which selects the worker's converter, the same object any context would have given.
    """

    def __init__(self, inner: WorkflowRunner) -> None:
        self.inner = inner

    def prepare_workflow(self, defn: _Definition) -> None:
        self.inner.prepare_workflow(defn)

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _ContextFreeInstance(self.inner.create_instance(det))

    def set_worker_level_failure_exception_types(
        self, types: Sequence[type[BaseException]]
    ) -> None:
        self.inner.set_worker_level_failure_exception_types(types)


class _ContextFreeInstance(WorkflowInstance):
    def __init__(self, inner: WorkflowInstance) -> None:
        self.inner = inner

    def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        return self.inner.activate(act)

    def get_serialization_context(self, command_info: object) -> SerializationContext | None:
        return None

    def get_external_store_context(self, command_info: object) -> StorageDriverStoreContext:
        return StorageDriverStoreContext(target=None)

    def get_info(self) -> Info:
        return self.inner.get_info()

    def get_thread_id(self) -> int | None:
        return self.inner.get_thread_id()
