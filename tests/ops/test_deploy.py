"""`deploy/` and the Dockerfile, checked offline: no Docker engine or cluster here.

Kubernetes manifests are validated strictly (unknown fields refused) against the JSON
Schemas `kubernetes-validate` bundles; `deploy/compose.yaml` by `compose-spec`'s strict
parser of the Compose Specification. Then what schemas cannot know: every PERFLOOP_*
variable is a setting, labels and selectors agree, the probes hit real routes, files
mounted or copied exist.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from compose_spec import PyCompose
from ruamel.yaml import YAML

from perfloop.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
KUBERNETES = "1.30"
SETTINGS = {f"PERFLOOP_{name.upper()}" for name in Settings.model_fields}


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in YAML(typ="safe").load_all(path.read_text()) if doc]


def manifests() -> dict[str, dict[str, Any]]:
    kustomization = load_all(K8S / "kustomization.yaml")[0]
    found: dict[str, dict[str, Any]] = {}
    for name in [*kustomization["resources"], "secret.example.yaml"]:
        for doc in load_all(K8S / name):
            found[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return found


def validate(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES, strict=True)


# --- Kubernetes -------------------------------------------------------------------------


def test_every_manifest_matches_the_kubernetes_schemas() -> None:
    found = manifests()
    assert set(found) >= {
        "ConfigMap/perfloop",
        "Secret/perfloop",
        "Job/perfloop-migrate",
        "Deployment/perfloop-api",
        "Service/perfloop-api",
        "Deployment/perfloop-worker",
        "HorizontalPodAutoscaler/perfloop-worker",
    }
    for doc in found.values():
        validate(doc)


def test_the_schema_check_refuses_what_a_cluster_would() -> None:
    api = manifests()["Deployment/perfloop-api"]
    typo = copy.deepcopy(api)
    typo["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    wrong_type = copy.deepcopy(api)
    wrong_type["spec"]["replicas"] = "two"
    for bad in (typo, wrong_type):
        with pytest.raises(kubernetes_validate.ValidationError):
            validate(bad)


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc["spec"]["template"]["spec"] if "template" in doc["spec"] else doc["spec"]
    return list(spec["containers"])


def test_environment_names_settings_and_secrets_that_exist() -> None:
    found = manifests()
    config = found["ConfigMap/perfloop"]["data"]
    assert set(config) <= SETTINGS, set(config) - SETTINGS
    Settings.model_validate({k.removeprefix("PERFLOOP_").lower(): v for k, v in config.items()})
    secret_keys = set(found["Secret/perfloop"]["stringData"])
    for name in ("Job/perfloop-migrate", "Deployment/perfloop-api", "Deployment/perfloop-worker"):
        for container in containers(found[name]):
            assert container["image"] == "perfloop"
            assert {"configMapRef": {"name": "perfloop"}} in container["envFrom"]
            for variable in container.get("env", []):
                assert variable["name"] in SETTINGS, (name, variable["name"])
                ref = variable["valueFrom"]["secretKeyRef"]
                assert ref["name"] == "perfloop"
                assert ref["key"] in secret_keys or ref.get("optional"), (name, ref)
            names = {v["name"] for v in container.get("env", [])}
            assert "PERFLOOP_DATABASE_URL" in names, name
            if name != "Job/perfloop-migrate":
                assert "PERFLOOP_PAYLOAD_KEYS" in names, "workers and API encrypt payloads"


def test_labels_selectors_probes_and_the_autoscaler_agree() -> None:
    found = manifests()
    api = found["Deployment/perfloop-api"]
    worker = found["Deployment/perfloop-worker"]
    for deployment in (api, worker):
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    service = found["Service/perfloop-api"]
    assert service["spec"]["selector"] == api["spec"]["selector"]["matchLabels"]
    (api_container,) = containers(api)
    ports = {p["name"]: p["containerPort"] for p in api_container["ports"]}
    assert service["spec"]["ports"][0]["targetPort"] in ports
    assert api_container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api_container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api_container["args"] == ["api"]
    (worker_container,) = containers(worker)
    assert worker_container["args"] == ["worker"]
    assert "livenessProbe" in worker_container
    metrics_port = {p["name"]: p["containerPort"] for p in worker_container["ports"]}["metrics"]
    config = found["ConfigMap/perfloop"]["data"]
    assert config["PERFLOOP_SDK_METRICS_ADDRESS"].endswith(f":{metrics_port}")
    assert containers(found["Job/perfloop-migrate"])[0]["args"] == ["db", "upgrade"]
    hpa = found["HorizontalPodAutoscaler/perfloop-worker"]["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "perfloop-worker",
    }
    assert hpa["minReplicas"] <= hpa["maxReplicas"]


# --- Compose ----------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    document = YAML(typ="safe").load((DEPLOY / "compose.yaml").read_text())  # merges `<<`
    assert isinstance(document, dict)
    return document


def test_compose_matches_the_compose_specification() -> None:
    document = compose()
    parsed = PyCompose.from_json(json.dumps(document))
    parsed.validate()
    assert set(parsed.service_names()) >= {
        "postgres",
        "temporal",
        "temporal-ui",
        "migrate",
        "api",
        "worker",
        "prometheus",
        "grafana",
    }
    broken = copy.deepcopy(document)
    broken["services"]["api"]["helthcheck"] = {}
    with pytest.raises(ValueError, match="helthcheck"):
        PyCompose.from_json(json.dumps(broken)).validate()


def test_compose_services_use_real_settings_files_and_ports() -> None:
    services = compose()["services"]
    for name in ("migrate", "api", "worker"):
        environment = services[name]["environment"]
        assert set(environment) <= SETTINGS, (name, set(environment) - SETTINGS)
        assert "PERFLOOP_PAYLOAD_KEYS" in environment
    assert services["worker"]["environment"]["PERFLOOP_SDK_METRICS_ADDRESS"].endswith(":9464")
    assert services["migrate"]["command"] == ["db", "upgrade"]
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), source
    scrape = YAML(typ="safe").load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"][0] for job in scrape["scrape_configs"]
    }
    assert targets["perfloop-api"] == "api:8000"
    assert targets["perfloop-worker"] == "worker:9464"
    ui = services["temporal-ui"]["environment"]
    assert ui["TEMPORAL_CODEC_ENDPOINT"].endswith("/v1/codec")
    assert ui["TEMPORAL_CORS_ORIGINS"] in services["api"]["environment"][
        "PERFLOOP_CODEC_CORS_ORIGINS"
    ].split(",")


# --- Dockerfile -------------------------------------------------------------------------


def test_the_dockerfile_copies_every_package_and_runs_perfloop() -> None:
    text = (ROOT / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (?!--from)(\S+)", text, flags=re.MULTILINE))
    for source in copied:
        assert (ROOT / source).exists(), source
    pyproject = (ROOT / "pyproject.toml").read_text()
    packages = re.search(r"include = \[([^\]]*)\]", pyproject)
    assert packages is not None
    for pattern in re.findall(r'"(\w+)\*"', packages.group(1)):
        assert pattern in copied, f"the image lacks the {pattern} package"
    assert 'ENTRYPOINT ["perfloop"]' in text
    assert "USER 10001" in text
    assert "PERFLOOP_SDK_METRICS_ADDRESS=0.0.0.0:9464" in text


def test_grafana_is_provisioned_with_the_dashboard_and_prometheus() -> None:
    services = compose()["services"]
    mounts = dict(volume.split(":")[:2] for volume in services["grafana"]["volumes"])
    grafana = DEPLOY / "grafana"
    provider = YAML(typ="safe").load(
        (grafana / "provisioning/dashboards/perfloop.yaml").read_text()
    )
    folder = provider["providers"][0]["options"]["path"]
    assert mounts["./grafana/dashboards"] == folder
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    source = YAML(typ="safe").load(
        (grafana / "provisioning/datasources/prometheus.yaml").read_text()
    )
    (datasource,) = source["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    assert "prometheus" in services
    dashboard = json.loads((grafana / "dashboards" / "perfloop.json").read_text())
    assert dashboard["uid"] == "perfloop-overview"
    titles = {panel["title"] for panel in dashboard["panels"] if panel["type"] == "row"}
    assert titles == {"Cycle progress", "Overdue tasks", "Submissions", "Worker health"}
