"""Web chat streams against webhooks on one web worker (issue 42, item 6): which way of
serving streams keeps a signed webhook and the health check answering while visitors
hold streams open, in embedded mode (the web process also runs the models).

    python bench/streams.py [--streams 16] [--webhooks 20] [--only NAME ...]

Each configuration is README's web command, ``gunicorn -c python:switchboard.gunicorn_conf``,
one worker, embedded mode on SQLite:

- ``gthread16-uncapped``: 16 threads, streams may take all of them (before the fix);
- ``gthread16-capped``: 16 threads, streams lent 12 (``reserved_for_requests`` 4);
- ``gthread32-capped``: 32 threads, streams lent 28;
- ``gevent-embedded``: a gevent worker, streams lent its connections but 4.

For each: ``--streams`` streams are opened from four visitors (how many were refused and
with what status), then ``--webhooks`` signed Twilio messages are posted one after the
other (each is answered by the models in the web process, which is the CPU work a
gevent loop cannot interleave) while /healthz is asked every 100 ms, each with a 5 s
timeout. Reported: latencies of both (p50, p95, max, timeouts) and the worker's memory.
Prints JSON. Everything listens on 127.0.0.1; every process is stopped by its handle.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (  # noqa: E402
    MESSAGES_PATH,
    ROOT,
    _clean_env,
    base_env,
    children,
    free_port,
    memory,
    signed_message,
    stop,
    wait_port,
)

UNCAPPED = """from switchboard.gunicorn_conf import *  # noqa: F401,F403


def post_worker_init(worker):
    worker.wsgi.config["WEBCHAT_STREAMS_PER_PROCESS"] = None
"""
CONFIGURATIONS: dict[str, list[str]] = {
    "gthread16-uncapped": ["-k", "gthread", "--threads", "16"],
    "gthread16-capped": ["-k", "gthread", "--threads", "16"],
    "gthread32-capped": ["-k", "gthread", "--threads", "32"],
    "gevent-embedded": ["-k", "gevent"],
}


def _timed(method: str, url: str, **kwargs: Any) -> float | None:
    started = time.monotonic()
    try:
        requests.request(method, url, timeout=5, **kwargs).raise_for_status()
    except requests.RequestException:
        return None
    return time.monotonic() - started


def _summary(latencies: list[float | None]) -> dict[str, Any]:
    answered = sorted(x for x in latencies if x is not None)
    if not answered:
        return {"answered": 0, "timeouts": len(latencies)}
    return {"answered": len(answered), "timeouts": len(latencies) - len(answered),
            "p50_ms": round(statistics.median(answered) * 1000, 1),
            "p95_ms": round(answered[min(len(answered) - 1, int(len(answered) * 0.95))] * 1000, 1),
            "max_ms": round(answered[-1] * 1000, 1)}


def measure(name: str, work: Path, streams: int, webhooks: int) -> dict[str, Any]:
    data = work / name
    data.mkdir()
    env = _clean_env({**base_env(f"sqlite:///{data / 'switchboard.db'}", data), "WEB_CONCURRENCY": "1"})
    config = "python:switchboard.gunicorn_conf"
    if name.endswith("uncapped"):
        (data / "uncapped_conf.py").write_text(UNCAPPED)
        config = f"file:{data / 'uncapped_conf.py'}"
    port = free_port()
    log = (data / "gunicorn.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", config, *CONFIGURATIONS[name],
                                "-b", f"127.0.0.1:{port}", "--graceful-timeout", "2", "switchboard.wsgi:app"],
                               cwd=ROOT, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    opened: list[requests.Response] = []
    try:
        wait_port(port, process)
        deadline = time.monotonic() + 120
        while _timed("GET", f"{base}/healthz") is None:
            assert time.monotonic() < deadline and process.poll() is None, "gunicorn did not answer"
        # The first answer loads the models: not part of what is measured.
        payload, headers = signed_message(f"SM{uuid.uuid4().hex}", "+14155550100", "What are your opening hours?")
        requests.post(base + MESSAGES_PATH, data=payload, headers=headers, timeout=120)
        time.sleep(5)
        tokens = [requests.post(f"{base}/chat/default/session", json={"token": None}, timeout=10).json()["token"]
                  for _ in range(4)]
        statuses: dict[str, int] = {}
        for n in range(streams):
            try:
                stream = requests.get(f"{base}/chat/default/stream", params={"token": tokens[n % 4]}, stream=True,
                                      timeout=5)
                statuses[str(stream.status_code)] = statuses.get(str(stream.status_code), 0) + 1
                (opened.append(stream) if stream.status_code == 200 else stream.close())
            except requests.RequestException:
                statuses["timeout"] = statuses.get("timeout", 0) + 1
        health: list[float | None] = []
        done = threading.Event()

        def ask_health() -> None:
            while not done.is_set():
                health.append(_timed("GET", f"{base}/healthz"))
                time.sleep(0.1)
        poller = threading.Thread(target=ask_health)
        poller.start()
        hooks: list[float | None] = []
        for n in range(webhooks):
            payload, headers = signed_message(f"SM{uuid.uuid4().hex}", f"+1415555{n:04d}",
                                              "Where is my parcel? It has not arrived yet.")
            hooks.append(_timed("POST", base + MESSAGES_PATH, data=payload, headers=headers))
            time.sleep(0.3)
        time.sleep(3)  # the last answers are computed while /healthz is still asked
        done.set()
        poller.join()
        worker = children(process.pid)
        return {"streams": statuses, "webhook": _summary(hooks), "healthz": _summary(health),
                "worker_memory": memory(worker[0]) if worker else None}
    finally:
        for stream in opened:
            stream.close()
        stop(process)
        log.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=16)
    parser.add_argument("--webhooks", type=int, default=20)
    parser.add_argument("--only", nargs="*", choices=sorted(CONFIGURATIONS))
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"streams": args.streams, "webhooks": args.webhooks}
    with tempfile.TemporaryDirectory(prefix="bench-streams-") as work:
        for name in args.only or CONFIGURATIONS:
            results[name] = measure(name, Path(work), args.streams, args.webhooks)
            print(json.dumps({name: results[name]}), file=sys.stderr)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
