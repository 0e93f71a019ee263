"""`perfloop dev`: the whole stack in one process, on one data folder.

1. the Temporal dev server (a child process; SQLite in `PERFLOOP_HOME/temporal.db`, Web UI on),
2. the store migrated (SQLite in `PERFLOOP_HOME/perfloop.db` unless PERFLOOP_DATABASE_URL),
3. the stock definitions published (idempotent) and the demo organisation loaded when the
   employee table is empty,
4. the worker and the API (uvicorn) as tasks of one event loop.

Ctrl-C or SIGTERM stops the API, drains the worker, then stops the Temporal server: no
process is left behind. Everything lives in the data folder, so the next start carries on
where this one stopped, running cycles included.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.text import Text
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from definitions.errors import DefinitionError
from perfloop.cli_output import note, stdout
from perfloop.settings import Settings

log = logging.getLogger(__name__)

LOCAL_HOSTS = frozenset({"127.0.0.1", "::1", "0.0.0.0"})
"""Addresses `perfloop dev` starts its own Temporal server on; any other is used as is."""

DEV_WORKER_SHUTDOWN = timedelta(seconds=5)
"""A developer pressing Ctrl-C wants the prompt back: activities get 5 s to finish (they
are retried after the next start anyway)."""


def stock_definition_files() -> list[Path]:
    """The definitions shipped with perfloop: `definitions/cycles/<name>/v<N>.yaml`."""
    import definitions

    root = Path(definitions.__file__).resolve().parent / "cycles"
    return sorted(root.glob("*/v*.yaml"))


def publish_stock_definitions(url: str | None = None) -> list[str]:
    """Publish every stock definition not yet in the registry; returns what was new.

    One transaction per file. A stock file whose content differs from the version already
    published (someone edited `v1.yaml` instead of adding `v2.yaml`) is reported and
    skipped, not fatal: the published version is what running cycles use.
    """
    from definitions.loader import load_file
    from definitions.registry import VersionConflictError, publish
    from store.db import session_scope

    published: list[str] = []
    for path in stock_definition_files():
        try:
            loaded = load_file(path)
            with session_scope(url) as session:
                result = publish(session, loaded, published_by="perfloop dev")
        except (DefinitionError, VersionConflictError) as exc:
            log.warning("stock definition %s not published: %s", path.name, exc)
            continue
        if result.status == "published":
            published.append(result.ref)
    return published


def demo_organisation_file() -> Path:
    import perfloop

    return Path(perfloop.__file__).resolve().parent / "data" / "demo-org.json"


def load_demo_organisation_if_empty(session: Session) -> int:
    """Load the demo organisation when nobody is in the employee table; returns how many."""
    from activities.hris.embedded import load_organisation
    from store.models import Employee

    if session.scalar(select(func.count()).select_from(Employee)):
        return 0
    result = load_organisation(session, demo_organisation_file())
    return int(result.total)


def prepare_store(settings: Settings) -> tuple[list[str], int]:
    """Migrate, publish the stock definitions, load the demo organisation if empty."""
    from store.db import session_scope
    from store.migrate import upgrade

    url = settings.effective_database_url
    upgrade(url)
    published = publish_stock_definitions(url)
    with session_scope(url) as session:
        loaded = load_demo_organisation_if_empty(session)
    return published, loaded


def split_address(address: str) -> tuple[str, int]:
    """`host:port` -> (host, port); `localhost` means 127.0.0.1 (the dev server wants an IP)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"not a host:port address: {address}")
    return ("127.0.0.1" if host == "localhost" else host), int(port)


def ensure_dev_payload_key(settings: Settings) -> Path | None:
    """Create `<home>/payload-keys` on first start, so the embedded stack encrypts
    Temporal payloads by default; nothing when a key ring is configured elsewhere."""
    from perfloop.codec import ensure_key_file

    if settings.payload_keys is not None or settings.payload_keys_file is not None:
        return None
    existed = (settings.home / "payload-keys").exists()
    path = ensure_key_file(settings.home)
    if not existed:
        note(f"created the payload key {path} (Temporal payloads are encrypted with it)")
    return path


class ApiServer:
    """uvicorn serving `api.app:create_app(settings)` inside our event loop.

    uvicorn normally installs its own SIGINT/SIGTERM handlers and re-raises the signal
    when it stops; here the supervisor owns the signals and tells it when to exit.
    """

    def __init__(self, settings: Settings) -> None:
        import uvicorn

        from api.app import create_app

        class _Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Generator[None, None, None]:
                yield

        config = uvicorn.Config(
            create_app(settings),
            host=settings.api_host,
            port=settings.api_port,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
        self.server = _Server(config)

    @property
    def started(self) -> bool:
        return bool(self.server.started)

    async def serve(self) -> None:
        await self.server.serve()

    def exit(self) -> None:
        self.server.should_exit = True


@dataclass
class DevStack:
    """What `run_dev` is running, for whoever wants to print or test it."""

    settings: Settings
    temporal_address: str
    temporal_ui: str | None
    published: list[str] = field(default_factory=list)
    people_loaded: int = 0

    @property
    def api_url(self) -> str:
        return f"http://{self.settings.api_host}:{self.settings.api_port}"

    def urls(self) -> Iterator[tuple[str, str]]:
        yield "Web app", f"{self.api_url}/app/"
        yield "API docs", f"{self.api_url}/docs"
        if self.temporal_ui:
            yield "Temporal UI", self.temporal_ui
        yield "Metrics", f"{self.api_url}/metrics"
        from perfloop.temporal import runtime_metrics_address

        if sdk := runtime_metrics_address():
            yield "SDK metrics", f"http://{sdk}/metrics"
        yield "Temporal", self.temporal_address


async def run_dev(
    settings: Settings,
    *,
    start_temporal: bool = True,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[DevStack], None] | None = None,
) -> None:
    """Run the stack until `stop` is set (default: until SIGINT or SIGTERM)."""
    from perfloop.temporal import DevServer, connect, ensure_search_attributes
    from perfloop.worker import build_worker, release_worker

    own_stop = stop is None
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    if own_stop:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    server: DevServer | None = None
    try:
        host, port = split_address(settings.temporal_address)
        if start_temporal and host not in LOCAL_HOSTS:
            note(f"using the Temporal server at {settings.temporal_address} (not a local address)")
            start_temporal = False
        if start_temporal:
            server = DevServer(
                settings.home,
                ip=host,
                port=port,
                ui_port=settings.temporal_ui_port,
                namespace=settings.temporal_namespace,
            )
            note(f"starting Temporal (data in {server.db_path}, log in {server.log_path})")
            await _until_stopped(server.start(), stop)
        published, loaded = await _until_stopped(asyncio.to_thread(prepare_store, settings), stop)
        ensure_dev_payload_key(settings)
        client = await _until_stopped(connect(settings), stop)
        await ensure_search_attributes(client)
        stack = DevStack(
            settings,
            temporal_address=settings.temporal_address,
            temporal_ui=server.ui_url if server else None,
            published=published,
            people_loaded=loaded,
        )
        worker = build_worker(client, settings, graceful_shutdown=DEV_WORKER_SHUTDOWN)
        api = ApiServer(settings)
        worker_task = asyncio.create_task(worker.run(), name="worker")
        api_task = asyncio.create_task(api.serve(), name="api")
        stop_task = asyncio.create_task(stop.wait(), name="stop")
        try:
            # uvicorn exposes only a flag for "listening"; poll it briefly.
            while not api.started and not api_task.done() and not stop.is_set():  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            if api.started and not worker_task.done():
                (on_ready or print_ready)(stack)
            await asyncio.wait(
                {worker_task, api_task, stop_task}, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            note("stopping: API, then worker, then Temporal")
            api.exit()
            with contextlib.suppress(Exception):
                await api_task
            if not worker_task.done():
                await worker.shutdown()
            stop_task.cancel()
            release_worker(worker)
        for task in (worker_task, api_task):
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
            if task.done() and not stop.is_set():
                raise RuntimeError(f"the {task.get_name()} stopped unexpectedly")
    except _Stopped:
        pass
    finally:
        if server is not None:
            await server.stop()
        if own_stop:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)


class _Stopped(Exception):
    """A stop was requested while the stack was still starting."""


async def _until_stopped(work: Any, stop: asyncio.Event) -> Any:
    """Await `work` unless `stop` is set first (then cancel it and raise `_Stopped`)."""
    task = asyncio.ensure_future(work)
    waiter = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        raise _Stopped
    return task.result()


def print_ready(stack: DevStack) -> None:
    console = stdout()
    if stack.published:
        note("published " + ", ".join(stack.published))
    if stack.people_loaded:
        note(f"loaded the demo organisation ({stack.people_loaded} people)")
    console.print(Text("perfloop is running", style="bold green"))
    width = max(len(label) for label, _ in stack.urls())
    for label, url in stack.urls():
        console.print(Text.assemble((f"  {label:<{width}}  ", "bold"), url))
    console.print(Text("Press Ctrl-C to stop.", style="dim"))
