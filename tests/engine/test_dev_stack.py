"""The embedded Temporal dev server: starts in a data folder, has our search attributes,
keeps its data across restarts, and never outlives us."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client, WorkflowExecutionStatus

from perfloop.temporal import (
    SEARCH_ATTRIBUTES,
    DevServer,
    TemporalUnavailableError,
    data_converter,
    ensure_search_attributes,
    free_port,
    port_is_free,
)

pytestmark = pytest.mark.temporal


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    if status.exists():
        try:
            return "\nState:\tZ" not in status.read_text()
        except OSError:
            return False
    return True


def server(home: Path, *, ui: bool = False) -> DevServer:
    return DevServer(home, port=free_port(), ui_port=free_port() if ui else None)


async def test_start_registers_search_attributes_and_stops_cleanly(tmp_path: Path) -> None:
    dev = server(tmp_path, ui=True)
    await dev.start()
    pid = dev.pid
    assert pid is not None
    try:
        client = await Client.connect(dev.address, data_converter=data_converter())
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="default")
        )
        for name in SEARCH_ATTRIBUTES:
            assert listed.custom_attributes[name] == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
        assert await ensure_search_attributes(client) == []  # idempotent: nothing to add
        assert (tmp_path / "temporal.db").is_file()
        assert dev.ui_port is not None
        assert not port_is_free(dev.ip, dev.ui_port)
    finally:
        status = await dev.stop()

    assert status is not None
    assert not alive(pid)
    assert port_is_free(dev.ip, dev.port)
    assert await dev.stop() == status  # stopping twice is harmless


async def test_ensure_search_attributes_adds_missing_ones(tmp_path: Path) -> None:
    dev = DevServer(tmp_path, port=free_port(), ui_port=None, search_attributes={})
    async with dev:
        client = await Client.connect(dev.address)
        added = await ensure_search_attributes(client)
        assert added == sorted(SEARCH_ATTRIBUTES)
        assert await ensure_search_attributes(client) == []


async def test_a_second_start_reuses_the_data(tmp_path: Path) -> None:
    workflow_id = f"persist-{uuid.uuid4().hex[:8]}"
    first = server(tmp_path)
    async with first:
        client = await Client.connect(first.address)
        # No worker: the workflow just stays running, which is all we need to find later.
        await client.start_workflow("Nobody", id=workflow_id, task_queue="nowhere")

    second = DevServer(tmp_path, port=free_port(), ui_port=None)
    async with second:
        client = await Client.connect(second.address)
        described = await client.get_workflow_handle(workflow_id).describe()
        assert described.status == WorkflowExecutionStatus.RUNNING
        await client.get_workflow_handle(workflow_id).terminate("test over")


async def test_a_busy_port_fails_fast_with_a_clear_message(tmp_path: Path) -> None:
    first = server(tmp_path / "a")
    async with first:
        clash = DevServer(tmp_path / "b", port=first.port, ui_port=None)
        with pytest.raises(TemporalUnavailableError, match="in use"):
            await clash.start()
        assert clash.process is None


def test_the_server_dies_with_its_parent(tmp_path: Path) -> None:
    """Even when the process that started it is SIGKILLed (no clean-up runs at all)."""
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from pathlib import Path
        from perfloop.temporal import DevServer, free_port

        async def main() -> None:
            dev = DevServer(Path({str(tmp_path)!r}), port=free_port(), ui_port=None)
            await dev.start()
            print(dev.pid, flush=True)
            await asyncio.sleep(3600)

        asyncio.run(main())
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line.strip().isdigit(), line
        child = int(line)
        assert alive(child)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
    deadline = time.monotonic() + 15
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(child):  # pragma: no cover - clean up before failing
        os.kill(child, signal.SIGKILL)
        pytest.fail("the dev server outlived the process that started it")


# --- `perfloop dev`: the whole stack in one process ------------------------------------


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def start_dev(home: Path, ports: dict[str, int]) -> tuple[subprocess.Popen[str], list[str]]:
    """`perfloop dev` in a child process; returns it once it prints that it is ready."""
    env = {
        **os.environ,
        "PERFLOOP_HOME": str(home),
        "PERFLOOP_DATABASE_URL": "",
        "PERFLOOP_TEMPORAL_ADDRESS": f"127.0.0.1:{ports['temporal']}",
        "PERFLOOP_TEMPORAL_UI_PORT": str(ports["ui"]),
        "PERFLOOP_API_PORT": str(ports["api"]),
        "COLUMNS": "200",
        "NO_COLOR": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-c", "from perfloop.cli import main; main()", "dev"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if "Press Ctrl-C to stop." in line:
            return process, lines
    process.kill()
    process.wait()
    process.stdout.close()
    pytest.fail("perfloop dev did not get ready:\n" + "\n".join(lines))


def stop_dev(process: subprocess.Popen[str], sig: signal.Signals) -> list[str]:
    """Signal it, wait for it to exit, and check it left no process behind."""
    children = children_of(process.pid)
    assert children, "the Temporal dev server should be a child of perfloop dev"
    process.send_signal(sig)
    try:
        process.wait(timeout=30)
    finally:
        rest = process.stdout.read() if process.stdout else ""
        if process.stdout is not None:
            process.stdout.close()
    assert process.returncode == 0, rest
    leftovers = [pid for pid in children if alive(pid)]
    for pid in leftovers:  # pragma: no cover - clean up before failing
        os.kill(pid, signal.SIGKILL)
    assert not leftovers, f"processes left behind: {leftovers}"
    return rest.splitlines()


def test_perfloop_dev_runs_everything_and_stops_cleanly_twice(tmp_path: Path) -> None:
    import httpx

    ports = {"temporal": free_port(), "ui": free_port(), "api": free_port()}
    process, lines = start_dev(tmp_path, ports)
    output = "\n".join(lines)
    assert f"http://127.0.0.1:{ports['api']}/docs" in output
    assert f"http://127.0.0.1:{ports['ui']}" in output
    assert "loaded the demo organisation" in output
    assert "published annual-review@1" in output
    with httpx.Client(timeout=5) as http:
        assert http.get(f"http://127.0.0.1:{ports['api']}/healthz").status_code == 200
        assert http.get(f"http://127.0.0.1:{ports['ui']}/").status_code == 200
    stop_dev(process, signal.SIGINT)

    # The second start finds everything in the data folder: nothing to publish or load.
    process, lines = start_dev(tmp_path, ports)
    output = "\n".join(lines)
    assert "published" not in output
    assert "loaded the demo organisation" not in output
    stop_dev(process, signal.SIGTERM)
