"""A private PostgreSQL server for the store-outage drill.

The machine's shared server (5432) is never touched: this one lives in a temporary
folder owned by the `postgres` user (initdb refuses root), on a free loopback port, with
trust authentication, and can be stopped the hard way (`pg_ctl stop -m immediate`, as a
crash would) and started again on the same data.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import create_engine

from perfloop.temporal import free_port


def postgres_bin() -> Path | None:
    """The newest PostgreSQL server binaries on this machine, if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def can_run() -> str | None:
    """Why the drill cannot run here, or None when it can."""
    if postgres_bin() is None:
        return "no PostgreSQL server binaries under /usr/lib/postgresql"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "no `postgres` user to run a private server as"
    if os.geteuid() != 0 and pwd.getpwuid(os.geteuid()).pw_name != "postgres":
        return "needs root (to run the server as `postgres`) or the `postgres` user"
    return None


class PrivatePostgres:
    def __init__(self) -> None:
        binaries = postgres_bin()
        assert binaries is not None
        self.bin = binaries
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="perfloop-drill-pg-"))
        self.data = self.folder / "data"
        user = pwd.getpwnam("postgres")
        os.chown(self.folder, user.pw_uid, user.pw_gid)

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(
            [*prefix, *command], check=True, capture_output=True, timeout=60, cwd=self.folder
        )

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/perfloop"

    def init(self) -> None:
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
        )
        self.start()
        admin = create_engine(
            f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres",
            isolation_level="AUTOCOMMIT",
        )
        try:
            with admin.connect() as connection:
                connection.exec_driver_sql("CREATE DATABASE perfloop")
        finally:
            admin.dispose()

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c max_connections=200"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.folder / "server.log"),
            "-w",
            "-t",
            "30",
            "start",
        )

    def stop(self, mode: str = "immediate") -> None:
        """`immediate`: like a crash (no checkpoint, clients cut off); `fast`: clean."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
