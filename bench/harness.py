"""What bench/intake.py and bench/reply_latency.py share: servers started on loopback
ports, signed Twilio deliveries, and the memory of a process as Linux accounts it.

Everything listens on 127.0.0.1 only and every process started here is stopped by
its own Popen handle, so a benchmark never leaves servers behind or touches shared
ones (Redis is a private redis-server on a free port).
"""
from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psycopg
from sqlalchemy import Engine, event
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "12345678901234567890123456789012"
ACCOUNT_SID = "AC" + "1" * 32
OUR_NUMBER = "+15005550006"
PUBLIC_URL = "https://switchboard.example.com"
MESSAGES_PATH = "/webhooks/twilio/messages"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(database_url: str, data_dir: Path) -> dict[str, str]:
    """Sandboxed Switchboard on ``database_url``: replies are recorded in the outbox,
    never sent, so a benchmark cannot reach a vendor."""
    return {"SWITCHBOARD_DATABASE_URL": database_url, "SWITCHBOARD_DATA_DIR": str(data_dir),
            "SWITCHBOARD_PUBLIC_URL": PUBLIC_URL, "SWITCHBOARD_SANDBOX": "1", "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_PHONE_NUMBER": OUR_NUMBER}


def _clean_env(env: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment minus Switchboard/vendor settings it may carry (a
    developer's real Twilio token must not leak into a benchmark), plus ``env``."""
    inherited = {k: v for k, v in os.environ.items()
                 if not k.startswith(("SWITCHBOARD_", "TWILIO_", "ZENDESK_", "SLACK_", "OPENAI_"))}
    return {**inherited, **env}


def wait_port(port: int, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:4]} exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout:.0f} s")


@dataclass
class Server:
    process: subprocess.Popen
    port: int

    def stop(self) -> None:
        stop(self.process)


def stop(process: subprocess.Popen, timeout: float = 30.0) -> None:
    """TERM, then KILL if it does not exit: gunicorn and Celery shut down warm."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def gunicorn(target: str, env: Mapping[str, str], *, workers: int, threads: int, chdir: Path,
             log: Path | None = None, worker_class: str = "gthread") -> Server:
    """gunicorn on a free loopback port, ready to answer: gthread workers of ``threads``
    threads, or gevent workers (switchboard/gunicorn_conf.py's choice with Redis workers)."""
    port = free_port()
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
    concurrency = ["--threads", str(threads)] if worker_class == "gthread" else ["--worker-connections", "1000"]
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", worker_class, *concurrency,
         "-b", f"127.0.0.1:{port}", "--chdir", str(chdir), "--log-level", "warning", target],
        env=_clean_env(env), stdout=out, stderr=out)
    wait_port(port, process)
    _wait_answering(port, process)
    return Server(process, port)


def _wait_answering(port: int, process: subprocess.Popen, timeout: float = 60.0) -> None:
    """The master binds before its workers import the app: wait for a real answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}; see its log")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            connection.close()
            return
        except (OSError, http.client.HTTPException):
            time.sleep(0.2)
    raise TimeoutError("gunicorn did not answer")


def private_redis(directory: Path) -> tuple[subprocess.Popen, str]:
    """A redis-server of our own, so no other process consumes or sees our queue."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server); "
                         "it is needed to measure with Celery workers")
    port = free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(directory)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, process, timeout=10)
    return process, f"redis://127.0.0.1:{port}/0"


def celery_worker(env: Mapping[str, str], *, concurrency: int, log: Path | None = None,
                  beat_schedule: Path | None = None) -> subprocess.Popen:
    """What `switchboard worker [--no-beat]` runs (prefork pool), started directly so
    its pid is the Celery main process rather than a wrapper. ``beat_schedule``: also
    run beat (the inbox sweep), keeping its schedule file there, not in the tree."""
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
    beat = ["--beat", f"--schedule={beat_schedule}"] if beat_schedule else []
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "switchboard.worker", "worker", f"--concurrency={concurrency}",
         "--loglevel=WARNING", "--without-gossip", "--without-mingle", *beat],
        cwd=ROOT, env=_clean_env(env), stdout=out, stderr=out)


def run_cli(args: list[str], env: Mapping[str, str], timeout: float = 900.0) -> str:
    """`switchboard ...` in a process of its own (its memory is not the bench's)."""
    done = subprocess.run([sys.executable, "-m", "switchboard.cli", *args], cwd=ROOT, env=_clean_env(env),
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        raise RuntimeError(f"switchboard {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def run_cli_measured(args: list[str], env: Mapping[str, str], log: Path) -> float:
    """`switchboard ...` to completion; returns its peak RSS in MB (from wait4, so the
    figure is that process's own, not the largest of all our children)."""
    with open(log, "ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "switchboard.cli", *args], cwd=ROOT,
                                   env=_clean_env(env), stdout=out, stderr=out)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"switchboard {' '.join(args)} failed with {process.returncode}: see {log}")
    return round(usage.ru_maxrss / 1024, 1)


# -- signed deliveries ------------------------------------------------------------------
_validator = RequestValidator(TOKEN)


def distinct(text: str, number: int) -> str:
    """``text`` made distinct for each ``number`` by trailing whitespace (``number`` in
    binary, as spaces and tabs): real customers' messages are all different, so no
    per-process cache keyed on a message's text (the language detector's) may answer
    a repeat of one of the benches' ten questions. Nothing that reads the text for its
    words (intent, sentiment, language, search) sees the difference."""
    return text + "".join(" \t"[int(bit)] for bit in f"{number:b}")


def signed_message(sid: str, sender: str, body: str) -> tuple[str, dict[str, str]]:
    """An inbound SMS as Twilio posts it, signed with twilio-python's own validator."""
    params = {"MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": sender, "To": OUR_NUMBER,
              "Body": body, "NumMedia": "0"}
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Twilio-Signature": _validator.compute_signature(PUBLIC_URL + MESSAGES_PATH, params)}
    return urlencode(params), headers


def post_message(port: int, sid: str, sender: str, body: str) -> int:
    payload, headers = signed_message(sid, sender, body)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", MESSAGES_PATH, body=payload, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


# -- memory -----------------------------------------------------------------------------
def _kib_fields(path: Path, names: tuple[str, ...]) -> dict[str, int]:
    found: dict[str, int] = {}
    for line in path.read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in names:
            found[name] = int(rest.split()[0])
    return found


def memory(pid: int) -> dict[str, float]:
    """One process's memory, in MB (Linux /proc):

    rss_mb       resident now (shared library pages counted in full);
    peak_rss_mb  the most it was ever resident (VmHWM);
    uss_mb       pages only this process holds: what it frees if it exits, and what
                 one more process of the same kind (a forked pool child) costs;
    pss_mb       its fair share of shared pages: sums across processes without double
                 counting what a pre-fork parent shares with its children.
    """
    status = _kib_fields(Path(f"/proc/{pid}/status"), ("VmRSS", "VmHWM"))
    rollup = _kib_fields(Path(f"/proc/{pid}/smaps_rollup"), ("Pss", "Private_Clean", "Private_Dirty"))
    mb = 1024.0
    return {"rss_mb": round(status["VmRSS"] / mb, 1), "peak_rss_mb": round(status["VmHWM"] / mb, 1),
            "uss_mb": round((rollup["Private_Clean"] + rollup["Private_Dirty"]) / mb, 1),
            "pss_mb": round(rollup["Pss"] / mb, 1)}


def children(pid: int) -> list[int]:
    """Direct children (gunicorn's workers, Celery's pool processes)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):  # a child may be forked by any thread
        found += [int(p) for p in task.read_text().split()]
    return sorted(set(found))


def tree_memory(pid: int, parent_role: str, child_role: str) -> dict[str, object]:
    """A pre-fork server's parent and children, and their PSS total."""
    processes = [{"role": parent_role, "pid": pid, **memory(pid)}]
    processes += [{"role": child_role, "pid": child, **memory(child)} for child in children(pid)]
    return {"processes": processes, "total_pss_mb": round(sum(p["pss_mb"] for p in processes), 1)}


@dataclass
class Statements:
    """What the connections of some engines sent while counting: statements, and the
    rows their SELECTs returned."""

    count: int = 0
    rows_read: int = 0


@contextmanager
def counting_statements(engines: Iterable[Engine]) -> Iterator[Statements]:
    """Count every statement the engines' PostgreSQL connections send, at the driver's
    cursor: SQLAlchemy's own events miss the webhooks' inbox INSERT, which core.inbox
    sends through the pooled connection's cursor. The engines' pools are emptied first
    (nothing may be checked out), so every connection used meanwhile is a counting one."""
    seen = Statements()

    class Counting(psycopg.Cursor):  # type: ignore[type-arg]
        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            result = super().execute(query, params, **kwargs)
            seen.count += 1
            text = query if isinstance(query, str) else str(query)
            if text.lstrip()[:6].upper() == "SELECT" and self.rowcount > 0:
                seen.rows_read += self.rowcount
            return result

        def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> Any:
            seen.count += 1
            return super().executemany(query, params_seq, **kwargs)

    def counting(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.cursor_factory = Counting

    engines = list(engines)
    for engine in engines:
        event.listen(engine, "connect", counting)
        engine.dispose()
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "connect", counting)
            engine.dispose()  # the counting connections go; later ones are plain again
