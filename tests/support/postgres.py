"""A real PostgreSQL server for the test session: Debian's ``postgresql`` binaries, ``initdb``
into a temporary folder, ``pg_ctl`` on a free loopback port (and a unix socket in that folder),
stopped when the session ends. No system service is used or needed.

Each test gets its own database, copied from a template (``CREATE DATABASE … TEMPLATE``), so
tests never see each other's rows and the copy takes milliseconds. Without the binaries the
PostgreSQL half of a test is skipped locally with the reason — and fails under ``CI=true``:
CI must run every test on both backends (``.ci/run`` installs the package).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from itertools import count
from pathlib import Path

import pytest

#: The role the tests connect as (a superuser of the throw-away cluster; no password).
USER = "digest"


def binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl`` (the newest installed version), or ``None``."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version)
    return Path(found[-1]).parent if found else None


def _version(path: str) -> int:
    try:
        return int(Path(path).parts[-3])
    except ValueError:
        return 0


def missing(reason: str) -> None:
    """Skip locally; fail in CI, where PostgreSQL must always be there."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI must run the PostgreSQL tests; .ci/run installs postgresql)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Postgres:
    """One throw-away cluster; ``database()`` hands out a fresh, empty database URL."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="digest-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.numbers = count(1)
        self.as_root = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stderr or done.stdout}")

    def start(self) -> Postgres:
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", USER, "-A", "trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")  # fmt: skip
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.root} -c fsync=off -c full_page_writes=off "
            "-c synchronous_commit=off -c max_connections=200 -c shared_buffers=32MB"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w",
                  "-o", options, "start")  # fmt: skip
        self._admin("CREATE DATABASE digest_template")
        return self

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def url(self, name: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{name}"

    def database(self) -> str:
        """A new empty database (copied from the template) and its URL."""
        name = f"t{next(self.numbers)}_{os.getpid()}"
        for attempt in range(50):
            try:
                self._admin(f"CREATE DATABASE {name} TEMPLATE digest_template")
                break
            except Exception as e:  # the template is briefly busy while another copy is made
                if "being accessed" not in str(e) or attempt == 49:
                    raise
                time.sleep(0.05)
        return self.url(name)

    def restart(self) -> None:
        """Stop the server at once (every session ends) and start it again, same options."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-m", "immediate",
                  "-w", "restart")  # fmt: skip

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
