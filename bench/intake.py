"""Webhook intake under sustained load: signed Twilio webhooks through gunicorn, side by
side with a bare Flask endpoint that does nothing (the ceiling), then a check that every
accepted event was processed exactly once.

    python bench/intake.py [--seconds 10] [--clients 16] [--workers 2] [--threads 4]

Needs PostgreSQL on 127.0.0.1:5432 (database `test`, like the test suite; a schema of
its own is created and dropped). Prints JSON.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import func, select, text
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parents[1]
PG_SERVER = os.environ.get("SWITCHBOARD_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TOKEN = "12345678901234567890123456789012"
PUBLIC_URL = "https://switchboard.example.com"
PATH = "/webhooks/twilio/messages"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(target: str, env: dict[str, str], workers: int, threads: int, chdir: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", "gthread", "--threads", str(threads),
         "-b", f"127.0.0.1:{port}", "--chdir", str(chdir), "--log-level", "warning", target],
        env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.2)
    time.sleep(1.0)  # workers import the app after the socket is bound
    return process, port


def load(port: int, seconds: float, clients: int) -> dict[str, object]:
    """``clients`` threads, each on one keep-alive connection, posting signed messages
    with unique MessageSids for ``seconds``."""
    validator = RequestValidator(TOKEN)
    latencies: list[float] = []
    accepted: list[str] = []
    errors: list[int] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, sids, errs = [], [], []
        i = 0
        while time.monotonic() < stop:
            i += 1
            sid = f"SM{uuid.uuid4().hex}"
            params = {"MessageSid": sid, "AccountSid": "AC" + "1" * 32, "From": f"+1415555{n:02d}{i % 100:02d}",
                      "To": "+15005550006", "Body": "how long does delivery take?", "NumMedia": "0"}
            body = urlencode(params)
            headers = {"Content-Type": "application/x-www-form-urlencoded",
                       "X-Twilio-Signature": validator.compute_signature(PUBLIC_URL + PATH, params)}
            started = time.perf_counter()
            try:
                connection.request("POST", PATH, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                errs.append(-1)
                continue
            mine.append(time.perf_counter() - started)
            (sids if response.status == 200 else errs).append(sid if response.status == 200 else response.status)
        connection.close()
        with lock:
            latencies.extend(mine)
            accepted.extend(sids)
            errors.extend(errs)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {"requests": len(latencies), "accepted": len(accepted), "errors": len(errors),
            "throughput_rps": round(len(latencies) / elapsed, 1), "p50_ms": round(cuts[49] * 1000, 2),
            "p95_ms": round(cuts[94] * 1000, 2), "p99_ms": round(cuts[98] * 1000, 2), "_sids": accepted}


def rss_mb(process: subprocess.Popen) -> float:
    import psutil

    parent = psutil.Process(process.pid)
    return round(sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)]) / 2**20, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from switchboard.db import make_engine, upgrade
    from switchboard.models import InboxEvent, Message

    schema = f"sb_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_SERVER)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    upgrade(engine)
    data_dir = tempfile.mkdtemp(prefix="sb-bench-")
    env = {"SWITCHBOARD_DATABASE_URL": url, "SWITCHBOARD_DATA_DIR": data_dir, "SWITCHBOARD_PUBLIC_URL": PUBLIC_URL,
           "SWITCHBOARD_SANDBOX": "1", "TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_AUTH_TOKEN": TOKEN,
           "TWILIO_PHONE_NUMBER": "+15005550006", "SWITCHBOARD_SWEEP_AFTER_SECONDS": "5"}
    result: dict[str, object] = {"machine_cpus": os.cpu_count(), "seconds": args.seconds, "clients": args.clients,
                                 "gunicorn": f"{args.workers} workers x {args.threads} threads (gthread)"}
    try:
        bare, port = serve("bare_flask:app", {}, args.workers, args.threads, ROOT / "bench")
        try:
            load(port, 3.0, 2)
            result["bare_flask"] = {k: v for k, v in load(port, args.seconds, args.clients).items() if k != "_sids"}
        finally:
            bare.terminate()
            bare.wait()
        ours, port = serve("switchboard.app:create_app()", env, args.workers, args.threads, ROOT)
        try:
            warm = load(port, 3.0, 2)  # first requests load models and the index in each worker
            run = load(port, args.seconds, args.clients)
            sids = set(run.pop("_sids")) | set(warm["_sids"])  # type: ignore[arg-type]
            result["switchboard"] = run
            result["web_rss_mb_after_load"] = rss_mb(ours)
            began = time.monotonic()
            with engine.connect() as connection:
                def count(q):  # type: ignore[no-untyped-def]
                    return connection.execute(q).scalar() or 0

                while time.monotonic() - began < args.drain_timeout:
                    done = count(select(func.count()).select_from(InboxEvent).where(InboxEvent.status == "done"))
                    if done >= len(sids):
                        break
                    connection.rollback()
                    time.sleep(1)
                result["drain_seconds"] = round(time.monotonic() - began, 1)
                events = count(select(func.count()).select_from(InboxEvent))
                done = count(select(func.count()).select_from(InboxEvent).where(InboxEvent.status == "done"))
                inbound = count(select(func.count(func.distinct(Message.external_id)))
                                .where(Message.direction == "inbound"))
                inbound_rows = count(select(func.count()).select_from(Message).where(Message.direction == "inbound"))
            result["events"] = {"accepted_2xx": len(sids), "stored": events, "processed": done,
                                "inbound_messages": inbound_rows, "distinct_inbound": inbound,
                                "lost": len(sids) - done, "processed_twice": inbound_rows - inbound}
        finally:
            ours.terminate()
            ours.wait()
        ceiling = result["bare_flask"]["throughput_rps"]  # type: ignore[index]
        result["throughput_ratio_vs_bare_flask"] = round(run["throughput_rps"] / ceiling, 3) if ceiling else None
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
