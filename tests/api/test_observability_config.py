"""The Grafana dashboard and the Prometheus alert rules only name metrics the stack
exports: perfloop's own (the API's `/metrics`) and the Temporal SDK's (a worker's runtime
exporter, scraped after it ran a workflow whose `sync_results` activity failed once)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from ruamel.yaml import YAML
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.runtime import Runtime
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from perfloop.temporal import free_port, telemetry_config
from tests.api.conftest import serve

pytestmark = pytest.mark.temporal

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "perfloop.json"
RULES = DEPLOY / "prometheus" / "rules" / "perfloop.rules.yml"
METRIC = re.compile(r"\b((?:perfloop|temporal)_[a-z0-9_]+)\b")
SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


def dashboard_queries() -> Iterator[tuple[str, str]]:
    document = json.loads(DASHBOARD.read_text())
    for panel in document["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]
    for variable in document["templating"]["list"]:
        if variable["type"] == "query":
            yield f"variable {variable['name']}", variable["definition"]


def rule_queries() -> Iterator[tuple[str, str]]:
    for group in YAML(typ="safe").load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            yield rule.get("alert") or rule["record"], rule["expr"]


def names(text: str) -> set[str]:
    found: set[str] = set()
    for family in text_string_to_metric_families(text):
        found.add(family.name)
        for sample in family.samples:
            found.add(sample.name)
    return found


def exported(name: str, available: set[str]) -> bool:
    if name in available:
        return True
    return any(
        name.endswith(suffix) and name.removesuffix(suffix) in available for suffix in SUFFIXES
    )


@activity.defn(name="sync_results")
async def flaky_sync() -> str:
    if activity.info().attempt == 1:
        raise RuntimeError("the HRIS said no")
    return "sent"


@workflow.defn(name="MetricsProbe", sandboxed=False)
class MetricsProbe:
    @workflow.run
    async def run(self) -> str:
        return str(
            await workflow.execute_activity(
                "sync_results",
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=10)),
            )
        )


async def sdk_metrics(dev_server: WorkflowEnvironment) -> set[str]:
    """What a worker's SDK runtime exports once it has run workflows and activities."""
    port = free_port()
    runtime = Runtime(telemetry=telemetry_config(f"127.0.0.1:{port}"))
    client = await Client.connect(
        dev_server.client.service_client.config.target_host,
        namespace=dev_server.client.namespace,
        runtime=runtime,
    )
    queue = f"metrics-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, workflows=[MetricsProbe], activities=[flaky_sync]):
        assert await client.execute_workflow(MetricsProbe.run, id=queue, task_queue=queue) == "sent"
        async with httpx.AsyncClient() as http:
            response = await http.get(f"http://127.0.0.1:{port}/metrics")
    response.raise_for_status()
    assert 'activity_type="sync_results"' in response.text
    return names(response.text)


async def test_dashboard_and_alerts_name_only_exported_metrics(
    dev_server: WorkflowEnvironment, app: FastAPI
) -> None:
    async for client in serve(app):
        await client.get("/healthz")
        perfloop = names((await client.get("/metrics")).text)
    available = perfloop | await sdk_metrics(dev_server)

    queries = [*dashboard_queries(), *rule_queries()]
    assert len(queries) >= 20
    used = {name for _, expr in queries for name in METRIC.findall(expr)}
    assert {"perfloop_tasks_overdue", "temporal_worker_task_slots_available"} <= used
    missing = {
        where: sorted(n for n in METRIC.findall(expr) if not exported(n, available))
        for where, expr in queries
    }
    assert {where: found for where, found in missing.items() if found} == {}
