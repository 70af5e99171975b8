"""Webhook intake and processing, measured apart and together in one run: signed Twilio
webhooks through gunicorn with a private Redis and a Celery worker, beside a bare Flask
endpoint that does nothing (the ceiling) and one that only commits the form to
PostgreSQL (the durable floor: durable_flask.py), then an audit that every accepted
event was processed exactly once.

    python bench/intake.py [--seconds 10] [--rounds 1] [--clients 16] [--workers 2] [--threads 4]
                           [--worker-class gevent|gthread] [--celery-concurrency 2]
                           [--client wrk|python] [--max-requests 20000]

The web processes run gevent workers, as switchboard/gunicorn_conf.py gives them with
Redis workers (--worker-class gthread: threads, as before 2026-11-25's fourth session).
Three references run beside ours, on the same gunicorn settings and load: bare Flask,
and two durable floors (durable_flask.py: Flask, the form, and an INSERT through plain
psycopg committed before the 2xx; nothing verified, deduplicated or queued), one commit
a request, and one commit shared by the requests a process has in flight (our
intake's GroupCommit). No intake that must commit before its 2xx can beat the better
floor's throughput, so its ratio to bare Flask says how much of bare Flask's speed is
within reach at all. Three figures, in this order:

1. intake alone: the worker is started and warmed, then its consumer is cancelled
   (Celery remote control), so the web processes verify, record and enqueue while
   nothing is processed: a backlog builds up; with the CPU per request of the web
   processes (gunicorn master and workers) and of PostgreSQL's processes, from /proc.
   Each of --rounds rounds loads bare Flask, then the floors, then ours, one after the
   other (all four servers stay up, idle in between), so a slow moment of a shared
   machine falls on all three alike; the round with the median throughput is reported,
   every round's throughput and ratios beside it;
2. processing: the consumer is added back and the backlog drained; messages per second
   and the worker's CPU (main process and pool children, from /proc; the main
   process's share apart) and PostgreSQL's per message. Each round drains its own
   backlog before the next round's loads, and the drain with the median throughput is
   reported, every drain's figures beside it;
3. both together: the load again, with the worker consuming on the same cores.

The load generator is wrk (--client wrk, the default): requests are signed with
twilio's RequestValidator before the load starts and replayed from a Lua table, one
keep-alive connection per wrk thread, so the client costs little and each response is
matched to its MessageSid. --client python uses threads of http.client instead.

"Accepted" is a MessageSid the client got a 2xx for. "Lost" compares sets: accepted
MessageSids whose inbox event is not ``done`` once processing has drained. "Processed
twice" is checked on every effect one inbound message has: its inbox events, its
inbound timeline rows, the bot's replies to it on the timeline, and the outbox calls
made for it (the Twilio reply, or the Zendesk comment once a person has the
conversation). Traffic stays on 127.0.0.1 and is bounded by --seconds and
--max-requests; the drain by --drain-timeout.

Needs PostgreSQL on 127.0.0.1:5432 (database `test`, like the test suite; a schema of
its own is created and dropped), redis-server and wrk installed. The knowledge base is
the sample one `switchboard serve` loads. Prints JSON.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo
from sqlalchemy import Engine, select, text

sys.path.insert(0, str(Path(__file__).parent))
from harness import (  # noqa: E402
    MESSAGES_PATH,
    ROOT,
    Server,
    base_env,
    celery_worker,
    children,
    distinct,
    gunicorn,
    private_redis,
    run_cli,
    signed_message,
    stop,
    tree_memory,
)

PG_SERVER = os.environ.get("SWITCHBOARD_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SAMPLE_KB = ROOT / "switchboard" / "data" / "sample_kb.json"
#: Customers' questions, rotated: most have an article in the sample knowledge base,
#: some do not (clarify, then hand over), one asks for a person at once.
QUESTIONS = ("how long does delivery take?", "where is my parcel", "when will I get my refund?",
             "my card was declined", "can I change my delivery address", "do you sell garden furniture?",
             "I was charged twice for one order", "what does the warranty cover", "I want to talk to a human",
             "how do I return an item")
WARM_SECONDS = 3.0


@dataclass
class Load:
    """What the clients saw. Latency is per request, answered or not."""
    latencies: list[float] = field(default_factory=list)
    accepted: set[str] = field(default_factory=set)  # 2xx
    refused: Counter[int] = field(default_factory=Counter)  # non-2xx status -> count
    no_answer: set[str] = field(default_factory=set)  # connection error or timeout
    elapsed: float = 0.0
    wrk_latency_us: list[float] = field(default_factory=list)  # p50, p99, max (wrk's own histogram)
    wrk_requests: int = 0
    wrk_errors: int = 0

    def summary(self) -> dict[str, object]:
        if self.wrk_latency_us:
            p50, p99, top = (round(x / 1000, 2) for x in self.wrk_latency_us)
            return {"client": "wrk", "requests": self.wrk_requests, "accepted_2xx": len(self.accepted),
                    "refused": dict(self.refused), "socket_errors": self.wrk_errors,
                    "throughput_rps": round(self.wrk_requests / self.elapsed, 1) if self.elapsed else 0.0,
                    "p50_ms": p50, "p99_ms": p99, "max_ms": top}
        cuts = statistics.quantiles(self.latencies, n=100) if len(self.latencies) > 1 else [0.0] * 99
        return {"requests": len(self.latencies) + len(self.no_answer), "accepted_2xx": len(self.accepted),
                "refused": dict(self.refused), "no_answer": len(self.no_answer),
                "throughput_rps": round(len(self.latencies) / self.elapsed, 1) if self.elapsed else 0.0,
                "p50_ms": round(cuts[49] * 1000, 2), "p95_ms": round(cuts[94] * 1000, 2),
                "p99_ms": round(cuts[98] * 1000, 2), "max_ms": round(max(self.latencies, default=0) * 1000, 2)}


def load(port: int, seconds: float, clients: int, max_requests: int, prefix: str) -> Load:
    """``clients`` threads, each on one keep-alive connection, posting signed messages
    with unique MessageSids until ``seconds`` pass or ``max_requests`` were sent.
    Client ``n`` writes as 100 customers of its own, one message at a time each."""
    result, lock = Load(), threading.Lock()
    budget = iter(range(max_requests))
    stop_at = time.monotonic() + seconds

    def client(n: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = Load()
        i = 0
        while time.monotonic() < stop_at:
            with lock:
                if next(budget, None) is None:
                    break
            i += 1
            sid = f"SM{prefix}{uuid.uuid4().hex[len(prefix):]}"
            body, headers = signed_message(sid, f"+1415555{n:02d}{i % 100:02d}",
                                           distinct(QUESTIONS[i % len(QUESTIONS)], i * 100 + n))
            started = time.perf_counter()
            try:
                connection.request("POST", MESSAGES_PATH, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                mine.no_answer.add(sid)
                continue
            mine.latencies.append(time.perf_counter() - started)
            if 200 <= response.status < 300:
                mine.accepted.add(sid)
            else:
                mine.refused[response.status] += 1
        connection.close()
        with lock:
            result.latencies += mine.latencies
            result.accepted |= mine.accepted
            result.refused += mine.refused
            result.no_answer |= mine.no_answer

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.elapsed = time.monotonic() - began
    return result


# -- wrk: a load generator that is not the bottleneck ----------------------------------
WRK_SCRIPT = """
-- Pre-signed requests, one connection per thread, so a thread's responses come back in
-- the order of its requests: the n-th response answers the thread's n-th request.
local requests = dofile(%(table)s)
local threads, total = {}, #requests
local counter = 1
function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end
function init(args)
  step, next_index, answered, failed = %(threads)d, id, 0, {}
end
function request()
  local r = requests[next_index]
  if r == nil then r = requests[total] end  -- the list ran out: repeats are refused as duplicates
  next_index = next_index + step
  return r
end
function response(status, headers, body)
  answered = answered + 1
  if status < 200 or status >= 300 then failed[#failed + 1] = answered .. ":" .. status end
end
function done(summary, latency, requests_)
  local out = io.open(%(out)s, "w")
  for _, t in ipairs(threads) do
    out:write(t:get("id"), " ", t:get("answered"), " ", table.concat(t:get("failed"), ","), "\\n")
  end
  out:write("latency ", latency:percentile(50), " ", latency:percentile(99), " ", latency.max, "\\n")
  out:write("totals ", summary.requests, " ", summary.duration, " ", summary.errors.connect, " ",
            summary.errors.read, " ", summary.errors.write, " ", summary.errors.timeout, "\\n")
  out:close()
end
"""


def wrk_load(port: int, seconds: float, clients: int, max_requests: int, prefix: str,
             work: Path) -> Load:
    """wrk with ``clients`` threads of one keep-alive connection each, posting pre-signed
    messages (unique MessageSids, signed with twilio's RequestValidator before the load
    starts, so signing costs the client nothing). Returns what the clients saw, with the
    MessageSids answered 2xx, for the audit."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed (apt-get install wrk), or pass --client python")
    sids, lines = [], ["return {"]
    for i in range(max_requests):
        n = i % clients
        sid = f"SM{prefix}{uuid.uuid4().hex[len(prefix):]}"
        body, headers = signed_message(sid, f"+1415555{n:02d}{(i // clients) % 100:02d}",
                                       distinct(QUESTIONS[i % len(QUESTIONS)], i))
        raw = (f"POST {MESSAGES_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
               + f"Content-Length: {len(body)}\r\n\r\n{body}")
        sids.append(sid)
        lines.append(f"{json.dumps(raw)},")
    lines.append("}")
    table, out, script = work / f"requests-{prefix}.lua", work / f"wrk-{prefix}.out", work / f"wrk-{prefix}.lua"
    table.write_text("\n".join(lines))
    script.write_text(WRK_SCRIPT % {"table": json.dumps(str(table)), "threads": clients, "out": json.dumps(str(out))})
    started = time.monotonic()
    done = subprocess.run([wrk, "-t", str(clients), "-c", str(clients), "-d", f"{seconds:.0f}s", "--timeout", "30s",
                           "-s", str(script), f"http://127.0.0.1:{port}{MESSAGES_PATH}"],
                          capture_output=True, text=True, timeout=seconds + 120)
    if done.returncode:
        raise RuntimeError(f"wrk failed: {done.stderr[-1000:]}")
    result = Load(elapsed=time.monotonic() - started)
    for line in out.read_text().splitlines():
        word, *rest = line.split(" ")
        if word == "latency":
            result.wrk_latency_us = [float(x) for x in rest]
        elif word == "totals":
            total, duration, *errors = (float(x) for x in rest)
            result.elapsed, result.wrk_requests, result.wrk_errors = duration / 1e6, int(total), int(sum(errors))
        else:
            thread, answered, failed = int(word), int(rest[0]), rest[1] if len(rest) > 1 else ""
            refused = {}
            for item in filter(None, failed.split(",")):
                number, status = item.split(":")
                refused[int(number)] = int(status)
                result.refused[int(status)] += 1
            for number in range(1, answered + 1):
                index = (thread - 1) + (number - 1) * clients
                if number not in refused and index < len(sids):
                    result.accepted.add(sids[index])
    return result


# -- the audit ---------------------------------------------------------------------------
def drain(engine: Engine, timeout: float, poll: float = 1.0) -> tuple[bool, float]:
    """Wait until no inbox event is waiting or in progress."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        with engine.connect() as connection:
            pending = connection.execute(text(
                "SELECT count(*) FROM inbox_events WHERE status IN ('received', 'processing')")).scalar()
        if not pending:
            return True, round(time.monotonic() - began, 1)
        time.sleep(poll)
    return False, round(time.monotonic() - began, 1)


def done_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM inbox_events WHERE status = 'done'")).scalar() or 0)


def more_than_once(counts: Counter[object]) -> int:
    return sum(1 for n in counts.values() if n > 1)


def audit(engine: Engine, accepted: set[str], no_answer: set[str]) -> dict[str, object]:
    """Sets and per-message counts straight from the database the service wrote."""
    from switchboard.core.store.models import InboxEvent, Message, OutboxCall

    with engine.connect() as c:
        events = c.execute(select(InboxEvent.dedupe_key, InboxEvent.status, InboxEvent.attempts, InboxEvent.error)
                           .where(InboxEvent.kind == "twilio.message")).all()
        inbound = c.execute(select(Message.external_id, Message.id).where(Message.direction == "inbound")).all()
        replies = c.execute(select(Message.meta, Message.external_id)
                            .where(Message.direction == "outbound", Message.author == "bot")).all()
        calls = c.execute(select(OutboxCall.vendor, OutboxCall.operation, OutboxCall.idempotency_key,
                                 OutboxCall.response)).all()
    status_of = {key: status for key, status, *_ in events}
    # Only the exception's type: its text may quote a customer's number.
    error_of = {key: (error or "").split(":")[0] for key, _, _, error in events}
    processed = {key for key, status, *_ in events if status == "done"}
    lost = accepted - processed
    message_ids = {sid: mid for sid, mid in inbound}
    ours = [message_ids[sid] for sid in accepted & processed if sid in message_ids]
    replies_to = Counter(meta.get("in_reply_to") for meta, _ in replies)
    keys = Counter(key for _, _, key, _ in calls)
    twilio_sends = [(key, response or {}) for vendor, op, key, response in calls
                    if vendor == "twilio" and op == "messages.create"]
    reply_sids = {sid for _, sid in replies}
    effects = Counter(min(replies_to[m] + keys[f"relay:{m}"], 2) for m in ours)
    return {
        "accepted_2xx": len(accepted),
        "processed_done": len(processed),
        "lost": len(lost),
        "lost_by_status": dict(Counter(status_of.get(sid, "not_stored") for sid in lost)),
        "lost_errors": dict(Counter(error_of.get(sid) or "none recorded" for sid in lost)),
        "lost_sample": sorted(lost)[:5],
        "processed_without_2xx": len(processed - accepted),
        "no_answer_but_stored": len(no_answer & set(status_of)),
        "events_claimed_more_than_once": sum(1 for _, _, attempts, _ in events if attempts > 1),
        "processed_twice": {
            "inbox_events_per_sid": more_than_once(Counter(key for key, *_ in events)),
            "inbound_messages_per_sid": more_than_once(Counter(sid for sid, _ in inbound)),
            "bot_replies_per_inbound": more_than_once(Counter({m: replies_to[m] for m in ours})),
            "twilio_sends_per_inbound": more_than_once(Counter({m: keys[f"reply:{m}"] for m in ours})),
            "zendesk_comments_per_inbound": more_than_once(Counter({m: keys[f"relay:{m}"] for m in ours})),
        },
        "effects_per_processed_message": {"none": effects[0], "one": effects[1], "more": effects[2]},
        "twilio_sends": len(twilio_sends),
        "twilio_sends_not_on_timeline": sum(1 for _, r in twilio_sends if r.get("sid") not in reply_sids),
        "twilio_sends_not_keyed_to_an_inbound": sum(1 for key, _ in twilio_sends
                                                    if not (key or "").startswith("reply:")),
    }


# -- the servers -------------------------------------------------------------------------
@contextmanager
def postgres_schema() -> Iterator[tuple[str, Engine]]:
    """A schema of our own in the shared database, dropped afterwards."""
    from switchboard.intake.db import make_engine, upgrade

    schema = f"sb_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_SERVER)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    try:
        upgrade(engine)
        yield url, engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def served(target: str, env: dict[str, str], args: argparse.Namespace, *, chdir: Path,
           log: Path | None = None) -> Server:
    """``target`` on the gunicorn settings every server of the run shares (workers,
    threads, worker class)."""
    return gunicorn(target, env, workers=args.workers, threads=args.threads, chdir=chdir, log=log,
                    worker_class=args.worker_class)


@contextmanager
def bare_flask(args: argparse.Namespace) -> Iterator[Server]:
    """bare_flask.py: the ceiling, a Flask endpoint that does nothing."""
    server = served("bare_flask:app", {}, args, chdir=ROOT / "bench")
    try:
        yield server
    finally:
        server.stop()


#: The floors' apps in bench/durable_flask.py, by their name in the output.
FLOORS = {"durable_floor": "app", "durable_floor_shared_commit": "shared_app"}


@contextmanager
def durable_floor(args: argparse.Namespace, app: str = "app") -> Iterator[tuple[Server, Callable[[], int]]]:
    """durable_flask.py's ``app``: Flask plus a committed INSERT of the form, nothing
    else (no signature, schema, deduplication or queue), in a schema of its own; with a
    count of the rows it stored. A bound on what any intake that commits before its 2xx
    reaches on this server and database."""
    schema = f"sb_floor_{uuid.uuid4().hex[:8]}"
    conninfo = _conninfo(PG_SERVER)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
        connection.execute(f"CREATE TABLE {schema}.floor_events (id bigserial PRIMARY KEY, payload jsonb NOT NULL)")

    def stored() -> int:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            row = connection.execute(f"SELECT count(*) FROM {schema}.floor_events").fetchone()
        return int(row[0]) if row else 0

    try:
        server = served(f"durable_flask:{app}",
                        {"BENCH_FLOOR_CONNINFO": make_conninfo(conninfo, options=f"-csearch_path={schema}")},
                        args, chdir=ROOT / "bench")
        try:
            yield server, stored
        finally:
            server.stop()
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


def measured_load(server: Server, args: argparse.Namespace, work: Path, prefix: str, *,
                  database: bool) -> tuple[Load, dict[str, object]]:
    """One load on ``server``: what the clients saw, with the CPU per request of its web
    processes (and, if ``database``, of PostgreSQL's)."""
    web_before, database_before = cpu_seconds(server.process.pid), postgres_cpu_seconds()
    done = generate(server.port, args.seconds, args.clients, args.max_requests, prefix, work, args)
    figures = {**done.summary(), **per_request("web", cpu_seconds(server.process.pid) - web_before, done)}
    if database:
        figures.update(per_request("postgres", postgres_cpu_seconds() - database_before, done))
    return done, figures


def _conninfo(url: str) -> str:
    """libpq's connection string for a SQLAlchemy URL (the floor talks to psycopg itself)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return make_conninfo(host=parsed.host, port=parsed.port, user=parsed.username, password=parsed.password,
                         dbname=parsed.database)


def generate(port: int, seconds: float, clients: int, max_requests: int, prefix: str, work: Path,
             args: argparse.Namespace) -> Load:
    """The load, from the client --client names."""
    if args.client == "wrk":
        return wrk_load(port, seconds, clients, max_requests, prefix, work)
    return load(port, seconds, clients, max_requests, prefix)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its live children (Celery's pool), from /proc."""
    return sum(own_cpu_seconds(one) for one in [pid, *children(pid)])


def own_cpu_seconds(pid: int) -> float:
    """User + system CPU of the process ``pid`` alone, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """User + system CPU of every PostgreSQL process on the machine (the server the
    benchmark's schema lives in): what the inserts and commits cost the database. Each
    process is counted alone: the postmaster's children are the backends listed too."""
    found = subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True, check=False).stdout.split()
    total = 0.0
    for pid in found:
        try:
            total += own_cpu_seconds(int(pid))
        except (FileNotFoundError, ProcessLookupError):  # a backend that exited meanwhile
            continue
    return total


def per_request(who: str, cpu: float, load: Load) -> dict[str, float | None]:
    """CPU milliseconds per request answered, under ``who``'s name."""
    requests = load.summary()["requests"]
    ok = isinstance(requests, int) and requests > 0
    return {f"{who}_cpu_ms_per_request": round(cpu * 1000 / requests, 3) if ok else None}  # type: ignore[operator]


def consumers(broker: str, queue: str, *, on: bool) -> None:
    """Pause or resume the workers' consumption of ``queue`` (Celery's remote control),
    so a backlog builds up while the worker processes stay warm."""
    from celery import Celery

    control = Celery(broker=broker).control
    replies = (control.add_consumer(queue, reply=True, timeout=10) if on
               else control.cancel_consumer(queue, reply=True, timeout=10))
    if not replies:
        raise RuntimeError(f"no Celery worker answered the {'add' if on else 'cancel'}_consumer request")


def wait_for_worker(broker: str, timeout: float = 120.0) -> None:
    from celery import Celery

    control = Celery(broker=broker).control
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if control.ping(timeout=1.0):
            return
    raise TimeoutError("the Celery worker did not answer a ping")


def ratio(ours: dict[str, object], reference: dict[str, object]) -> float | None:
    """Throughput of ``ours`` over ``reference``'s, measured in the same round."""
    theirs = float(reference["throughput_rps"])  # type: ignore[arg-type]
    return round(float(ours["throughput_rps"]) / theirs, 3) if theirs else None  # type: ignore[arg-type]


def median_by(rounds: list[dict[str, object]], key: str) -> dict[str, object]:
    """A copy of the round whose ``key`` is the median (the lower one of an even count;
    a missing figure counts as 0)."""
    ranked = sorted(rounds, key=lambda r: float(r[key] or 0))  # type: ignore[arg-type]
    return dict(ranked[(len(ranked) - 1) // 2])


def median_round(rounds: list[dict[str, object]]) -> dict[str, object]:
    """The round with the median throughput (the lower one of an even count), with every
    round's throughput and ratios beside it: on a shared machine one round can fall on a
    slow moment, and the median is the figure such a moment moves least."""
    chosen = median_by(rounds, "throughput_rps")
    if len(rounds) > 1:
        chosen["rounds_rps"] = [r["throughput_rps"] for r in rounds]
        for key in [key for key in chosen if key.startswith("ratio_vs_")]:
            chosen[f"rounds_{key}"] = [r[key] for r in rounds]
    return chosen


def drain_backlog(engine: Engine, broker: str, queue: str, worker: int, args: argparse.Namespace) -> dict[str, object]:
    """Processing: the consumer added back and the backlog the paused intake built up
    drained, with the worker's CPU (the Celery main process apart from its pool
    children) and PostgreSQL's per message."""
    with engine.connect() as connection:
        backlog = connection.execute(text("SELECT count(*) FROM inbox_events WHERE status = 'received'")).scalar()
    done_before = done_count(engine)
    main_before, cpu_before = own_cpu_seconds(worker), cpu_seconds(worker)
    database_before, began = postgres_cpu_seconds(), time.monotonic()
    consumers(broker, queue, on=True)
    drained, _ = drain(engine, args.drain_timeout, poll=0.2)
    seconds, cpu = time.monotonic() - began, cpu_seconds(worker) - cpu_before
    main, database = own_cpu_seconds(worker) - main_before, postgres_cpu_seconds() - database_before
    processed = done_count(engine) - done_before

    def per_message(value: float) -> float | None:
        return round(value * 1000 / processed, 2) if processed else None

    return {
        "backlog": backlog, "processed": processed, "all_settled": drained, "seconds": round(seconds, 2),
        "messages_per_second": round(processed / seconds, 1) if seconds else None,
        "worker_cpu_ms_per_message": per_message(cpu), "of_which_celery_main_ms": per_message(main),
        "postgres_cpu_ms_per_message": per_message(database),
        "pool": f"{args.celery_concurrency} prefork children",
        "cpu_counted": "worker: the Celery main process and its pool children; postgres: every PostgreSQL "
                       "process on the machine (the drain's polls included)"}


def median_processing(rounds: list[dict[str, object]]) -> dict[str, object]:
    """The drain with the median throughput, every drain's figures beside it (one per
    round: a single drain on a shared machine can fall on a slow minute)."""
    chosen = median_by(rounds, "messages_per_second")
    if len(rounds) > 1:
        for key in ("messages_per_second", "worker_cpu_ms_per_message", "postgres_cpu_ms_per_message"):
            chosen[f"rounds_{key}"] = [r[key] for r in rounds]
        chosen["all_settled"] = all(r["all_settled"] for r in rounds)
    return chosen


def measure_ours(args: argparse.Namespace, result: dict[str, object], work: Path) -> None:
    """The references and three figures in one run: in each of --rounds rounds, bare
    Flask, the durable floors and our intake alone (the worker paused, warm), loaded one
    after the other, then processing of the backlog that round built up; then both
    together; drained and audited at the end."""
    with postgres_schema() as (url, engine), ExitStack() as stack:
        bare = stack.enter_context(bare_flask(args))
        floors = {name: stack.enter_context(durable_floor(args, app)) for name, app in FLOORS.items()}
        redis, broker = private_redis(work)
        stack.callback(stop, redis)
        # No sweep during the run: a paused backlog is waiting by design, not stuck.
        env = {**base_env(url, work), "SWITCHBOARD_REDIS_URL": broker, "SWITCHBOARD_SWEEP_AFTER_SECONDS": "3600"}
        run_cli(["kb", "import", str(SAMPLE_KB)], env)
        worker = celery_worker(env, concurrency=args.celery_concurrency, log=work / "celery.log")
        stack.callback(stop, worker)
        server = served("switchboard.wsgi:app", env, args, chdir=ROOT, log=work / "gunicorn.log")
        stack.callback(server.stop)
        wait_for_worker(broker)
        warm = load(server.port, WARM_SECONDS, 2, args.max_requests, "1")  # models loaded in every process
        drain(engine, args.drain_timeout)
        queue = "switchboard"
        consumers(broker, queue, on=False)
        for reference in (bare, *(floor for floor, _ in floors.values())):
            generate(reference.port, WARM_SECONDS, 2, args.max_requests, "0", work, args)
        rounds: dict[str, list[dict[str, object]]] = {"bare_flask": [], **{name: [] for name in FLOORS},
                                                      "intake_alone": []}
        processing_rounds: list[dict[str, object]] = []
        intake = Load()  # every round's answers, for the audit
        for n in range(args.rounds):
            if n:
                consumers(broker, queue, on=False)
            ceiling = measured_load(bare, args, work, "0", database=False)[1]
            lower = {name: measured_load(floor, args, work, "0", database=True)[1]
                     for name, (floor, _) in floors.items()}
            done, ours = measured_load(server, args, work, f"2{n}", database=True)
            intake.accepted |= done.accepted
            intake.no_answer |= done.no_answer
            ours.update({"processing": "paused (Celery consumer cancelled)",
                         "ratio_vs_bare_flask": ratio(ours, ceiling)})
            for name, figures in lower.items():
                figures["ratio_vs_bare_flask"] = ratio(figures, ceiling)
                ours[f"ratio_vs_{name}"] = ratio(ours, figures)
            for name, figures in {"bare_flask": ceiling, **lower, "intake_alone": ours}.items():
                rounds[name].append(figures)
            processing_rounds.append(drain_backlog(engine, broker, queue, worker.pid, args))
        for name, measured in rounds.items():
            result[name] = median_round(measured)
        for name, (_, floor_rows) in floors.items():
            result[name]["stored_rows"] = floor_rows()  # type: ignore[index]
        result["processing"] = median_processing(processing_rounds)
        both = generate(server.port, args.seconds, args.clients, args.max_requests, "3", work, args)
        result["intake_and_processing"] = both.summary()
        drained, waited = drain(engine, args.drain_timeout)
        result["drain_after_both"] = {"all_settled": drained, "seconds_after_load": waited}
        result["memory_after_drain"] = {"web": tree_memory(server.process.pid, "gunicorn master", "gunicorn worker"),
                                        "worker": tree_memory(worker.pid, "celery main", "celery pool child")}
        if not drained:
            result["events_note"] = "processing had not drained by --drain-timeout: 'lost' counts events still waiting"
        accepted = warm.accepted | intake.accepted | both.accepted
        if args.client == "wrk":
            # wrk gives no hook when it reconnects, so its n-th answer may belong to the
            # (n+1)-th request of a thread: count instead. An event is stored before its
            # 2xx, so "every stored event done, and as many stored as answered 2xx"
            # proves nothing answered was lost; every stored one is audited for twice.
            answered = len(accepted)
            with engine.connect() as connection:
                accepted = set(connection.execute(text(
                    "SELECT dedupe_key FROM inbox_events WHERE kind = 'twilio.message'")).scalars())
            result["answered_2xx_vs_stored"] = {"answered_2xx": answered, "stored": len(accepted),
                                                "stored_at_least_answered": len(accepted) >= answered}
        result["events"] = audit(engine, accepted, warm.no_answer | intake.no_answer | both.no_answer)
        result["events"]["warm_up_included"] = len(warm.accepted)  # type: ignore[index]
        result["logs"] = str(work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="load duration for each server")
    parser.add_argument("--clients", type=int, default=16, help="concurrent keep-alive clients (at most 99)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="gthread threads per gunicorn worker")
    parser.add_argument("--worker-class", choices=("gevent", "gthread"), default="gevent",
                        help="gunicorn worker class of every server (ours, bare Flask, the floors)")
    parser.add_argument("--client", choices=("wrk", "python"), default="wrk",
                        help="load generator: wrk (pre-signed requests, Lua) or Python threads")
    parser.add_argument("--rounds", type=int, default=1,
                        help="rounds of: loads of bare Flask, the floors and our intake, then the drain of that "
                             "round's backlog; the median round of each is reported")
    parser.add_argument("--celery-concurrency", type=int, default=2)
    parser.add_argument("--max-requests", type=int, default=20_000, help="cap on requests per phase")
    parser.add_argument("--drain-timeout", type=float, default=900.0,
                        help="how long to wait for processing to finish after the load")
    args = parser.parse_args()
    if not 1 <= args.clients <= 99:
        parser.error("--clients must be between 1 and 99 (each client owns 100 phone numbers)")
    sys.path.insert(0, str(ROOT))
    result: dict[str, object] = {
        "benchmark": "intake", "machine_cpus": os.cpu_count(), "seconds": args.seconds, "clients": args.clients,
        "client": args.client,
        "gunicorn": (f"{args.workers} workers x {args.threads} threads (gthread)" if args.worker_class == "gthread"
                     else f"{args.workers} gevent workers"),
        "what": {"accepted_2xx": "MessageSids the clients got a 2xx for (with wrk: every stored MessageSid, checked "
                                 "against the count of 2xx answers in answered_2xx_vs_stored)",
                 "lost": "accepted MessageSids whose inbox event is not done after the drain (set difference)",
                 "processed_twice": "messages with more than one of: inbox event, inbound timeline row, bot reply, "
                                    "Twilio send (outbox reply:<id>), Zendesk comment (outbox relay:<id>)",
                 "effects_per_processed_message": "bot replies + Zendesk comments per processed inbound message",
                 "latency": "client-side, request sent to response read, keep-alive connections",
                 "memory_after_drain": "MB per process from /proc (rss, peak = VmHWM, uss = private, pss = "
                                       "fair share; total_pss_mb sums a pre-fork tree without double counting)"}}
    work = Path(tempfile.mkdtemp(prefix="sb-bench-intake-"))
    result["load_average_before"] = [round(x, 2) for x in os.getloadavg()]
    measure_ours(args, result, work)
    for reference in ("bare_flask", *FLOORS):
        result["intake_and_processing"][f"ratio_vs_{reference}"] = ratio(  # type: ignore[index]
            result["intake_and_processing"], result[reference])  # type: ignore[arg-type]
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
