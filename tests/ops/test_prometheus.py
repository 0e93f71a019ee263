"""Prometheus itself (Debian's `prometheus` package): the alert rules pass `promtool`, and
a real Prometheus on loopback scrapes a running `perfloop dev` and answers PromQL.

Never the Debian service: a `prometheus` process of our own on a free loopback port with
a temporary storage folder, stopped at the end. Without the package the tests skip,
unless PERFLOOP_REQUIRE_PROMETHEUS=1 (CI installs it, see `.ci/run`), where they fail.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from perfloop.temporal import free_port
from tests.engine.test_dev_stack import start_dev, stop_dev

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
RULES = DEPLOY / "rules" / "perfloop.rules.yml"


def binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        message = f"`{name}` is missing: apt-get install prometheus (Debian's package)"
        if os.environ.get("PERFLOOP_REQUIRE_PROMETHEUS"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary("promtool"), *args], cwd=DEPLOY, capture_output=True, text=True, timeout=60
    )


def test_the_alert_rules_are_valid() -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 8 rules found" in result.stdout


def test_the_alert_rules_pass_their_unit_tests() -> None:
    result = promtool("test", "rules", "tests/perfloop.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_scrape_config_is_valid() -> None:
    result = promtool("check", "config", "--syntax-only", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def prometheus_for(tmp_path: Path) -> Iterator[object]:
    started: list[subprocess.Popen[bytes]] = []

    def start(targets: dict[str, str]) -> str:
        port = free_port()
        jobs = "".join(
            f"  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n"
            for job, target in targets.items()
        )
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            f"rule_files:\n  - {RULES}\nscrape_configs:\n{jobs}"
        )
        log = (tmp_path / "prometheus.log").open("wb")
        process = subprocess.Popen(
            [
                binary("prometheus"),
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        started.append(process)
        return f"http://127.0.0.1:{port}"

    yield start
    for process in started:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            process.kill()
            process.wait()


def query(http: httpx.Client, base: str, promql: str) -> list[float]:
    response = http.get(f"{base}/api/v1/query", params={"query": promql})
    response.raise_for_status()
    return [float(item["value"][1]) for item in response.json()["data"]["result"]]


def wait_for(http: httpx.Client, base: str, promql: str, expected: list[float]) -> list[float]:
    deadline = time.monotonic() + 15
    got: list[float] = []
    while time.monotonic() < deadline:
        try:
            got = query(http, base, promql)
        except httpx.HTTPError:
            got = []
        if got == expected:
            return got
        time.sleep(0.25)
    return got


def test_prometheus_scrapes_a_running_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prometheus_for: object
) -> None:
    binary("prometheus")
    ports = {"temporal": free_port(), "ui": free_port(), "api": free_port(), "sdk": free_port()}
    monkeypatch.setenv("PERFLOOP_SDK_METRICS_ADDRESS", f"127.0.0.1:{ports['sdk']}")
    process, _ = start_dev(tmp_path / "home", ports)
    try:
        api = f"127.0.0.1:{ports['api']}"
        with httpx.Client(timeout=5) as http:
            for _ in range(3):
                assert http.get(f"http://{api}/healthz").status_code == 200
            base = prometheus_for(  # type: ignore[operator]
                {"perfloop-api": api, "perfloop-worker": f"127.0.0.1:{ports['sdk']}"}
            )
            healthz = 'sum(perfloop_http_requests_total{route="/healthz",status="200"})'
            assert wait_for(http, base, healthz, [3.0]) == [3.0]
            assert query(http, base, 'up{job="perfloop-api"}') == [1.0]
            assert wait_for(http, base, 'up{job="perfloop-worker"}', [1.0]) == [1.0]
            assert query(http, base, "perfloop_cycles_running") == [0.0]
            assert query(http, base, "perfloop_business_metrics_up") == [1.0]
            slots = query(http, base, "sum(temporal_worker_task_slots_available) > 0")
            assert len(slots) == 1
            rules = http.get(f"{base}/api/v1/rules").json()["data"]["groups"]
            loaded = [rule for group in rules for rule in group["rules"]]
            assert len(loaded) == 8
            assert {rule["health"] for rule in loaded} <= {"ok", "unknown"}
    finally:
        stop_dev(process, signal.SIGTERM)
    assert (tmp_path / "home" / "payload-keys").is_file(), "perfloop dev made a payload key"
