"""`perfloop worker | api | dev | demo`: the long-running processes.

In production, run `perfloop worker` and `perfloop api` as separate, stateless processes
(as many of each as the load needs) against a Temporal cluster and PostgreSQL. On a
laptop, `perfloop dev` runs everything, Temporal included, in one command; `perfloop
demo` runs a whole cycle with simulated people in a couple of minutes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from perfloop.cli_output import error

app = typer.Typer()


def _logging(verbose: bool) -> None:
    from perfloop.logs import configure_logging
    from perfloop.settings import get_settings

    configure_logging(get_settings().log_format, verbose=verbose)


DEV_SDK_METRICS_PORT = 9464
"""Where `perfloop dev` serves the SDK's metrics unless PERFLOOP_SDK_METRICS_ADDRESS says."""


def _sdk_runtime(*, dev: bool = False) -> None:
    """Create the SDK runtime first, with its Prometheus exporter when configured
    (`perfloop dev`: on 127.0.0.1:9464 by default, when that port is free)."""
    from perfloop.settings import get_settings
    from perfloop.temporal import port_is_free, runtime

    settings = get_settings()
    address = settings.sdk_metrics_address
    if address is None and dev:
        host = settings.api_host
        if port_is_free(host, DEV_SDK_METRICS_PORT):
            address = f"{host}:{DEV_SDK_METRICS_PORT}"
    runtime(address)


@app.command()
def worker(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Run a worker (workflows and activities) until Ctrl-C or SIGTERM.

    Connects to PERFLOOP_TEMPORAL_ADDRESS, polls PERFLOOP_TASK_QUEUE, writes to the
    configured store (migrated first).
    """
    from perfloop.settings import get_settings
    from perfloop.worker import run_worker

    _logging(verbose)
    _sdk_runtime()
    asyncio.run(run_worker(get_settings()))


@app.command()
def api(
    reload: Annotated[
        bool, typer.Option("--reload", help="Restart on code changes (development).")
    ] = False,
) -> None:
    """Serve the HTTP API (uvicorn) on PERFLOOP_API_HOST:PERFLOOP_API_PORT."""
    import uvicorn

    from perfloop.settings import get_settings
    from store.migrate import upgrade

    settings = get_settings()
    _logging(False)
    upgrade(settings.effective_database_url)
    json_logs = settings.log_format == "json"
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        reload=reload,
        proxy_headers=True,
        # JSON: our handler formats uvicorn's records too; the access log (paths with ids
        # in them) gives way to the HTTP metrics, labelled by route template.
        log_config=None if json_logs else uvicorn.config.LOGGING_CONFIG,
        access_log=not json_logs,
    )


@app.command()
def dev(
    temporal: Annotated[
        bool,
        typer.Option(
            "--temporal/--no-temporal",
            help="Start the embedded Temporal dev server (default), or use the one at "
            "PERFLOOP_TEMPORAL_ADDRESS.",
        ),
    ] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Run everything locally: Temporal (with its Web UI), the worker and the API.

    Data lives in PERFLOOP_HOME (default ./.perfloop): a second start carries on.
    """
    from perfloop.dev import run_dev
    from perfloop.settings import get_settings

    _logging(verbose)
    _sdk_runtime(dev=True)
    asyncio.run(run_dev(get_settings(), start_temporal=temporal))


@app.command()
def demo(
    speed: Annotated[
        float | None,
        typer.Option(
            "--speed",
            min=1.0,
            help="Clock scale, nominal seconds per real second (default: a year in ~90 s).",
        ),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(
            "--address",
            help="Use the Temporal server at HOST:PORT instead of an ephemeral one.",
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="Use this store instead of a temporary SQLite file (it must be empty of "
            "people, or hold the demo organisation).",
        ),
    ] = None,
    definition: Annotated[
        str, typer.Option("--definition", help="The stock definition to run.")
    ] = "annual-review@1",
    keep: Annotated[
        Path | None,
        typer.Option(
            "--keep",
            file_okay=False,
            help="Keep the demo's data folder here (Temporal and SQLite) instead of a temp one.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulated people.")] = 7,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Give up after this many seconds.")
    ] = 300.0,
) -> None:
    """Run a whole review cycle for the demo organisation with simulated people.

    Exits 0 only when the cycle completed.
    """
    from perfloop.demo import DemoOptions, run_demo

    options = DemoOptions(
        speed=speed,
        address=address,
        database_url=database_url,
        definition=definition,
        home=keep,
        seed=seed,
        timeout=timeout,
    )
    try:
        completed = asyncio.run(run_demo(options))
    except KeyboardInterrupt:
        error("interrupted")
        raise typer.Exit(130) from None
    if not completed:
        raise typer.Exit(1)
