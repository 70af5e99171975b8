"""Fixtures for the reliability and security suite: one app per module for the large
hostile-input matrices (creating an app per case would dominate the run), row counts
that say "nothing was stored", and private Redis/PostgreSQL servers a test may stop.

The shared PostgreSQL on 127.0.0.1:5432 and Redis on :6379 are used by other test runs
at the same time: nothing here stops or restarts them; fault tests start their own.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from switchboard.app import create_app
from switchboard.core.settings import load_settings
from switchboard.core.store.models import Base
from switchboard.intake.db import get_db

from ..conftest import (
    ON_BOTH_DATABASES,
    PUBLIC_URL,
    SLACK_SECRET,
    TWILIO_TOKEN,
    ZENDESK_SECRET,
    _truncate_postgres,
    base_env,
)
from ..signing import VendorClient


def stored(app: Flask) -> dict[str, int]:
    """Rows in every table of the schema (Base.metadata): "nothing was stored" must hold
    for the tables added after this suite was written too."""
    with get_db(app).session() as session:
        return {table.name: session.scalar(select(func.count()).select_from(table)) or 0
                for table in Base.metadata.sorted_tables}


def vendor_for(app: Flask) -> VendorClient:
    return VendorClient(app.test_client(), twilio_token=TWILIO_TOKEN, zendesk_secret=ZENDESK_SECRET,
                        slack_secret=SLACK_SECRET, public_url=PUBLIC_URL)


@pytest.fixture(scope="module", params=ON_BOTH_DATABASES)
def module_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """An embedded-mode app shared by one module's cases, on SQLite and PostgreSQL."""
    tmp = tmp_path_factory.mktemp("app")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'switchboard.db'}"
    else:
        url = request.getfixturevalue("pg_url")
        _truncate_postgres(url)
    app = create_app(load_settings(base_env(tmp, url)), config={"TASKS_INLINE": True, "TESTING": True})
    yield app
    get_db(app).dispose()


# --- private servers a test may stop and start -----------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_until(condition: Callable[[], bool], timeout: float = 30.0, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


@dataclass
class PrivateRedis:
    """redis-server on a free port in a temp dir: ours to stop and start."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed: .ci/run installs it"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)], stdout=subprocess.DEVNULL)
        assert wait_until(lambda: port_open(self.port), timeout=10), "private redis did not start"

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    redis = PrivateRedis(tmp_path)
    yield redis
    redis.stop()


def _postgres_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    assert found, f"PostgreSQL server binaries ({name}) are not installed: .ci/run installs them"
    return str(found[-1])


class PrivatePostgres:
    """A PostgreSQL cluster of our own (initdb in a temp dir, a free port), so a test can
    stop and restart it without touching the shared server other test runs use.
    As root, the server must run as the ``postgres`` user: the directory is theirs."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="sb-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(_postgres_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str) -> None:
        command = (["runuser", "-u", "postgres", "--", *argv] if self.as_root else list(argv))
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)

    def start(self) -> None:
        self._run(_postgres_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-w",
                  "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(_postgres_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    server.start()
    yield server
    server.destroy()


def kill_group(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Signal a process we started in its own session, and everything it started."""
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
