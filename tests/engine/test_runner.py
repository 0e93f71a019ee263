"""The worker's workflow runner: the sandbox, with the SDK's serialization-context
lookups answered outside it when the data converter ignores them (`perfloop.runner`)."""

from __future__ import annotations

import base64
import dataclasses
import uuid
from typing import Any

import pytest
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.converter import PayloadCodec, SerializationContext, WithSerializationContext
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from perfloop.codec import ENCODING, EncryptionCodec, KeyRing
from perfloop.runner import ContextFreeSandboxRunner, ignores_context
from perfloop.temporal import data_converter
from perfloop.worker import workflow_runner
from tests.engine.runner_probe import RunnerProbe, shout

KEYS = f"runner-1={base64.b64encode(bytes(range(32))).decode()}"


class ContextAwareCodec(PayloadCodec, WithSerializationContext):
    """A codec that would encode differently per workflow or activity."""

    def __init__(self, context: SerializationContext | None = None) -> None:
        self.context = context

    async def encode(self, payloads: Any) -> list[Payload]:
        return list(payloads)

    async def decode(self, payloads: Any) -> list[Payload]:
        return list(payloads)

    def with_context(self, context: SerializationContext) -> ContextAwareCodec:
        return ContextAwareCodec(context)


def test_our_converters_ignore_the_serialization_context() -> None:
    assert ignores_context(data_converter())
    assert ignores_context(data_converter(EncryptionCodec(KeyRing.parse(KEYS))))


def test_a_context_aware_codec_keeps_the_lookups_in_the_sandbox() -> None:
    aware = dataclasses.replace(data_converter(), payload_codec=ContextAwareCodec())
    assert not ignores_context(aware)
    assert isinstance(workflow_runner(converter=aware), SandboxedWorkflowRunner)


def test_the_runner_by_setting_and_converter() -> None:
    wrapped = workflow_runner(converter=data_converter())
    assert isinstance(wrapped, ContextFreeSandboxRunner)
    assert isinstance(wrapped.inner, SandboxedWorkflowRunner)
    assert isinstance(workflow_runner(), SandboxedWorkflowRunner)
    assert isinstance(
        workflow_runner(sandbox=False, converter=data_converter()), UnsandboxedWorkflowRunner
    )


@pytest.mark.temporal
async def test_an_encrypted_workflow_runs_sandboxed_with_lookups_outside(
    local_env: WorkflowEnvironment,
) -> None:
    converter = data_converter(EncryptionCodec(KeyRing.parse(KEYS)))
    client = Client(**{**local_env.client.config(), "data_converter": converter})
    runner = workflow_runner(converter=converter)
    assert isinstance(runner, ContextFreeSandboxRunner)
    task_queue = f"runner-{uuid.uuid4().hex[:8]}"

    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[RunnerProbe],
        activities=[shout],
        workflow_runner=runner,
    ):
        handle = await client.start_workflow(
            RunnerProbe.run, "quiet words", id=f"probe-{task_queue}", task_queue=task_queue
        )
        assert await handle.execute_update(RunnerProbe.answer, "yes") == "got yes"
        assert await handle.result() == ["QUIET WORDS", "yes", "sandboxed"]

    history = await handle.fetch_history()
    encodings = {
        payload.metadata["encoding"] for event in history.events for payload in _payloads(event)
    }
    assert encodings == {ENCODING}


def _payloads(message: Message) -> list[Payload]:
    """Every Payload inside a protobuf message, however deep."""
    if isinstance(message, Payload):
        return [message]
    found: list[Payload] = []
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            children = list(value.values())
        elif field.is_repeated:
            children = list(value)
        else:
            children = [value]
        for child in children:
            if isinstance(child, Message):
                found.extend(_payloads(child))
    return found
