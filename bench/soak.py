"""Soak and fault run on README's production topology (issue 42, "What must hold"):
mixed signed traffic at a steady rate while the processes around it fail, then an
audit from the database that nothing accepted was lost or done twice.

    python bench/soak.py [--minutes 3] [--rate 4] [--visitors 6] [--drain-timeout 480]

The topology, all on 127.0.0.1 and all started (and stopped) by this bench:

- gunicorn with the project's own settings, ``-c python:switchboard.gunicorn_conf``
  (gevent workers, one a core, since Redis workers are set), behind one pretend proxy
  (``SWITCHBOARD_TRUSTED_PROXIES=1``, each web chat visitor its own X-Forwarded-For);
- two Celery workers, ``switchboard worker`` (one with beat, the other ``--no-beat``);
- PostgreSQL: a database of its own (``sb_soak_<hex>``) in the server at 127.0.0.1:5432,
  dropped at the end;
- Redis: a redis-server of its own on a free port (``--save '' --appendonly no``), so it
  can be restarted without touching anyone else's.

Traffic, everything sandboxed (no vendor is called; the connectors record in the outbox):

- ``sms``: inbound SMS signed with twilio's RequestValidator (bench/harness.py), the
  customers' questions of bench/intake.py, among them "I want to talk to a human";
- ``webchat``: --visitors web chat visitors, each with a live SSE stream open (reopened
  when the server ends it) and a message every few seconds, within the visitor limit;
- ``zendesk``: agents' public comments (``ticket.comment_added``, signed as Zendesk signs)
  on the tickets the handovers opened, which go to the customer by SMS;
- ``slack``: outreach approval clicks (``block_actions`` signed with slack_sdk's
  SignatureVerifier scheme) on campaigns the bench creates through the API, each to two
  customers of its own.

A delivery answered with a non-2xx (or not answered) is retried as the vendors retry,
the same delivery (same MessageSid, comment id, client_id, trigger_id), up to 4 times.

Phases (shares of --minutes): warm-up; steady; ``sigterm``: the --no-beat worker gets
SIGTERM (Celery's warm shutdown) and is started again once it exited; ``sigkill``: the
beat worker's process group gets SIGKILL (main process and pool children: a lost host
or container) and is started again; ``redis_restart``: the Redis server is stopped and
started again on its port (its queue, unsaved, is lost: the inbox sweep re-enqueues);
``postgres_outage``: with ``--restart-postgres`` the PostgreSQL server itself is
restarted (only where nothing else uses it); without it the server, shared with other
work, is left alone and the outage is simulated by terminating every backend of the
bench's database (``pg_terminate_backend``) every 0.2 s for a stretch, so every
connection the services hold breaks mid-use; ``recovery``. Then the load stops and the bench waits for every
event to settle (a task killed with its worker is picked up by the sweep once the
claim's 5-minute lease has run out, so the drain can take that long).

Output (JSON): events sent and accepted per kind and phase; ``lost`` (accepted, but the
inbox event is not done or the reply it must cause was not recorded) and ``twice`` (a
reply recorded more than once for one message: bot replies on the timeline and outbox
calls, per key and per message), per kind; p50/p95 from the first delivery attempt to
the reply's outbox row (``outbox_calls.created_at``), per kind and phase; every
process's memory (RSS and PSS from /proc) sampled every few seconds, with the slope
after the warm-up (MB per minute, least squares) per process (a restarted worker is a
new process); live stream events the web chat visitors received; ``unexpected_exits``:
a worker that exited without being told to (with the CRITICAL line of its log) is
started again within 2 s, as a process manager would, and listed (with celery and
kombu 5.7.0 a Redis restart can end a worker: "Unrecoverable error: AttributeError
('NoneType' object has no attribute 'hostname')" from kombu's restore of unacknowledged
messages on the lost connection; run workers under a process manager that restarts
them). Read ``lost`` and
``twice`` first (both must be 0), then the slopes (a positive slope over a short run is
mostly warm-up still going on: the issue asks for 30 minutes, ``--minutes 30``), then
the p95s (the machine's load is printed beside them: on a shared machine they say how
the faults move the latency, not what a dedicated host gives).

Needs PostgreSQL on 127.0.0.1:5432 (trust, as the test suite) and redis-server.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import itertools
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psycopg
import requests
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (  # noqa: E402
    MESSAGES_PATH,
    _clean_env,
    base_env,
    children,
    free_port,
    memory,
    signed_message,
    stop,
    wait_port,
)

from intake import QUESTIONS, SAMPLE_KB  # noqa: E402

PG_ADMIN = os.environ.get("SWITCHBOARD_SOAK_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
ZENDESK_SECRET = "c29hay1iZW5jaC16ZW5kZXNrLXNlY3JldA=="
SLACK_SECRET = "soak-bench-slack-signing-secret0"
APPROVAL_CHANNEL = "C0SOAKAPPROVE"
APPROVER = "U0SOAKAPPROVER"
#: Shares of --minutes, in order, and what happens as each starts.
PHASES = (("warm_up", 0.15), ("steady", 0.20), ("sigterm", 0.15), ("sigkill", 0.15),
          ("redis_restart", 0.10), ("postgres_outage", 0.10), ("recovery", 0.15))
#: Share of each kind in the traffic (a tick of the sender picks one).
MIX = (("sms", 0.6), ("webchat", 0.25), ("zendesk", 0.12), ("slack", 0.03))
RETRIES = 4
SAMPLE_SECONDS = 5.0


def now() -> float:
    return time.time()


# -- the database ------------------------------------------------------------------------
@contextmanager
def own_database() -> Iterator[tuple[str, str]]:
    """A database of our own in the local server (its backends are ours alone to
    terminate), dropped afterwards. Yields its SQLAlchemy URL and its name."""
    name = f"sb_soak_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", name
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def terminate_backends(database: str) -> int:
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        rows = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = %s AND pid <> pg_backend_pid()", (database,)).fetchall()
    return len(rows)


# -- the processes -----------------------------------------------------------------------
@dataclass
class Topology:
    """The servers of the run, each with its Popen handle (and restart)."""

    work: Path
    env: dict[str, str]
    redis_port: int
    redis: subprocess.Popen | None = None
    web: subprocess.Popen | None = None
    web_port: int = 0
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)
    restarts: list[dict[str, Any]] = field(default_factory=list)

    def start_redis(self) -> None:
        self.redis = subprocess.Popen(["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
                                       "--save", "", "--appendonly", "no", "--dir", str(self.work)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.redis_port, self.redis, timeout=10)

    def start_web(self) -> None:
        self.web_port = free_port()
        log = (self.work / "gunicorn.log").open("ab")
        self.web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:switchboard.gunicorn_conf",
             "-b", f"127.0.0.1:{self.web_port}", "switchboard.wsgi:app"],
            cwd=self.work, env=_clean_env(self.env), stdout=log, stderr=log)
        wait_port(self.web_port, self.web)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.base}/healthz", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise TimeoutError("gunicorn did not answer /healthz")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start_worker(self, name: str) -> None:
        """``switchboard worker`` (it becomes the Celery process: same pid), in a session of
        its own so its whole tree can be killed; ``beat`` runs the sweep."""
        log = (self.work / f"worker-{name}.log").open("ab")
        beat = [] if name == "beat" else ["--no-beat"]
        self.workers[name] = subprocess.Popen(
            [sys.executable, "-m", "switchboard.cli", "worker", "--concurrency", "2", *beat],
            cwd=self.work, env=_clean_env(self.env), stdout=log, stderr=log, start_new_session=True)

    def processes(self) -> dict[str, int]:
        """Every process of the topology now, by a label that says what it is."""
        found: dict[str, int] = {}
        if self.web and self.web.poll() is None:
            found[f"gunicorn master {self.web.pid}"] = self.web.pid
            for child in children(self.web.pid):
                found[f"gunicorn worker {child}"] = child
        for name, process in self.workers.items():
            if process.poll() is None:
                found[f"celery {name} main {process.pid}"] = process.pid
                for child in children(process.pid):
                    found[f"celery {name} child {child}"] = child
        if self.redis and self.redis.poll() is None:
            found[f"redis-server {self.redis.pid}"] = self.redis.pid
        return found

    def sigterm_worker(self, name: str) -> dict[str, Any]:
        process = self.workers[name]
        began = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=120)
            outcome = {"exited_with": process.returncode}
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            outcome = {"exited_with": "no exit within 120 s: killed"}
        orphans = _session_alive(process.pid)
        self.start_worker(name)
        return {"worker": name, "signal": "SIGTERM", **outcome, "seconds_to_exit": round(time.monotonic() - began, 1),
                "processes_left_in_its_session": orphans, "restarted_pid": self.workers[name].pid}

    def sigkill_worker(self, name: str) -> dict[str, Any]:
        process = self.workers[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        self.start_worker(name)
        return {"worker": name, "signal": "SIGKILL to its process group (main and pool children)",
                "restarted_pid": self.workers[name].pid}

    def restart_redis(self, down_seconds: float = 3.0) -> dict[str, Any]:
        assert self.redis is not None
        stop(self.redis)
        time.sleep(down_seconds)
        self.start_redis()
        return {"redis": "stopped (SIGTERM, nothing saved) and started again on its port",
                "down_seconds": down_seconds}

    def revive(self) -> list[dict[str, Any]]:
        """A worker that exited without being told to is started again, as a process
        manager (systemd's Restart=on-failure) would; each such exit is reported, with
        the last CRITICAL line of its log (why it went)."""
        revived = []
        for name, process in list(self.workers.items()):
            if process.poll() is not None:
                log = (self.work / f"worker-{name}.log").read_text(errors="replace").splitlines()
                why = next((line for line in reversed(log) if "CRITICAL" in line), "no CRITICAL line in its log")
                revived.append({"worker": name, "pid": process.pid, "exit_code": process.returncode,
                                "why": why[-300:]})
                self.start_worker(name)
        return revived

    def stop_all(self) -> None:
        for process in self.workers.values():
            stop(process, timeout=60)
        if self.web:
            stop(self.web)
        if self.redis:
            stop(self.redis)


def _session_alive(sid: int) -> int:
    """Processes still alive in session ``sid`` (Celery pool children left orphaned)."""
    alive = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            alive += 1
    return alive


# -- signed deliveries -------------------------------------------------------------------
@dataclass
class Sent:
    """One delivery the bench made (with its retries)."""

    kind: str
    key: str  # what the audit finds it by (MessageSid, visitor:client_id, comment id, campaign id)
    phase: str
    first_at: float
    event_key: str = ""  # the inbox event's dedupe key
    attempts: int = 0
    accepted: bool = False
    statuses: list[str] = field(default_factory=list)


class Traffic:
    """The four kinds of delivery, each signed as its vendor signs it."""

    def __init__(self, topology: Topology, api_key: str, engine: Engine) -> None:
        self.topology, self.api_key, self.engine = topology, api_key, engine
        self.sent: list[Sent] = []
        self.lock = threading.Lock()
        self.phase = "warm_up"
        self.counter = itertools.count(1)
        self.http = requests.Session()
        self.tickets: list[int] = []
        self.tickets_checked = 0.0
        self.visitors: list[Visitor] = []

    def _post(self, record: Sent, send: Callable[[], requests.Response]) -> None:
        """A vendor's delivery: retried on a non-2xx or no answer, the same delivery each time."""
        for attempt in range(RETRIES):
            record.attempts = attempt + 1
            try:
                response = send()
                record.statuses.append(str(response.status_code))
                if 200 <= response.status_code < 300:
                    record.accepted = True
                    return
            except requests.RequestException as exc:
                record.statuses.append(type(exc).__name__)
            time.sleep(1.0 + attempt)

    def _record(self, kind: str, key: str, event_key: str | None = None) -> Sent:
        record = Sent(kind, key, self.phase, now(), event_key=event_key or key)
        with self.lock:
            self.sent.append(record)
        return record

    def sms(self) -> None:
        n = next(self.counter)
        sid = f"SM{uuid.uuid4().hex}"
        sender = f"+1415777{n % 60:04d}"
        body, headers = signed_message(sid, sender, f"{QUESTIONS[n % len(QUESTIONS)]} ({n})")
        record = self._record("sms", sid)
        self._post(record, lambda: self.http.post(self.topology.base + MESSAGES_PATH, data=body,
                                                  headers=headers, timeout=30))

    def webchat(self) -> None:
        ready = [v for v in self.visitors if v.token and now() >= v.next_message_at]
        if not ready:
            return self.sms()
        visitor = random.choice(ready)
        visitor.next_message_at = now() + 7.0  # within messages_per_visitor (10/minute)
        client_id = f"m-{uuid.uuid4().hex[:16]}"
        record = self._record("webchat", f"{visitor.id}:{client_id}")
        question = QUESTIONS[next(self.counter) % len(QUESTIONS)]
        self._post(record, lambda: self.http.post(
            f"{self.topology.base}/chat/default/messages", json={"text": question, "client_id": client_id},
            headers={"Authorization": f"Bearer {visitor.token}", "X-Forwarded-For": visitor.ip}, timeout=30))
        return None

    def open_tickets(self) -> list[int]:
        if now() - self.tickets_checked > 5:
            self.tickets_checked = now()
            try:
                with self.engine.connect() as connection:
                    self.tickets = list(connection.execute(text(
                        "SELECT zendesk_ticket_id FROM conversations WHERE zendesk_ticket_id IS NOT NULL "
                        "AND status = 'human' AND channel = 'sms'")).scalars())
            except Exception:  # noqa: BLE001 - the outage phase breaks our connections too
                self.engine.dispose()
        return self.tickets

    def zendesk(self) -> None:
        tickets = self.open_tickets()
        if not tickets:
            return self.sms()
        ticket, comment = random.choice(tickets), str(10_000_000 + next(self.counter))
        payload = {"account_id": 22129848, "id": str(uuid.uuid4()), "subject": f"zen:ticket:{ticket}",
                   "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                   "type": "zen:event-type:ticket.comment_added", "zendesk_event_version": "2022-11-06",
                   "detail": {"actor_id": "8447388090494", "id": str(ticket), "requester_id": "1",
                              "status": "OPEN", "subject": "Soak", "via": {"channel": "web_service"}},
                   "event": {"comment": {"author": {"id": "8447388090494", "is_staff": True, "name": "Ava Agent"},
                                         "body": f"Your parcel left our warehouse ({comment}).", "id": comment,
                                         "is_public": True}}}
        body = json.dumps(payload).encode()
        record = self._record("zendesk", comment, f"event:{payload['id']}")

        def send() -> requests.Response:
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            signature = base64.b64encode(hmac.new(ZENDESK_SECRET.encode(), stamp.encode() + body,
                                                  hashlib.sha256).digest()).decode()
            return self.http.post(self.topology.base + "/webhooks/zendesk", data=body, timeout=30, headers={
                "Content-Type": "application/json", "X-Zendesk-Webhook-Signature": signature,
                "X-Zendesk-Webhook-Signature-Timestamp": stamp})
        self._post(record, send)
        return None

    def slack(self) -> None:
        """A campaign to two customers of its own (created through the API), approved
        with a signed click: the click is the event, the two texts its replies."""
        number = next(self.counter)
        batch = f"soak{number}"
        try:
            seed_customers(self.engine, number)
            created = self.http.post(
                self.topology.base + "/api/outreach/campaigns", timeout=30,
                headers={"Authorization": f"Bearer {self.api_key}", "Idempotency-Key": batch},
                json={"name": f"Soak {batch}", "criteria": {"attributes": {"batch": batch}},
                      "template": "Hi {first_name}, your order is on its way."})
        except Exception:  # noqa: BLE001 - a campaign is set-up, not an event: skip it in an outage
            self.engine.dispose()
            return self.sms()
        if created.status_code not in (200, 201):
            return self.sms()
        campaign = created.json()["id"]
        record = self._record("slack", str(campaign))
        payload = {"type": "block_actions", "api_app_id": "A0001", "token": "legacy",
                   "user": {"id": APPROVER, "username": "approver", "name": "approver", "team_id": "T0001"},
                   "team": {"id": "T0001", "domain": "acme"},
                   "container": {"type": "message", "message_ts": "1763781000.000200", "channel_id": APPROVAL_CHANNEL},
                   "channel": {"id": APPROVAL_CHANNEL, "name": "outreach-approvals"},
                   "trigger_id": f"{uuid.uuid4().int % 10**11}.738474920.{uuid.uuid4().hex[:24]}",
                   "response_url": "https://hooks.slack.com/actions/T0001/0002/XXXX",
                   "actions": [{"action_id": "outreach:approve", "block_id": "outreach:decision",
                                "value": str(campaign), "type": "button", "action_ts": f"{now():.6f}",
                                "text": {"type": "plain_text", "text": "Approve"}}]}
        form = urlencode({"payload": json.dumps(payload)})

        def send() -> requests.Response:
            stamp = str(int(now()))
            signature = SignatureVerifier(SLACK_SECRET).generate_signature(timestamp=stamp, body=form)
            return self.http.post(self.topology.base + "/slack/events", data=form.encode(), timeout=30, headers={
                "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": signature})
        self._post(record, send)
        return None


def seed_customers(engine: Engine, batch: int) -> None:
    """Two customers only campaign ``batch`` reaches (an import of a CRM would add them)."""
    from sqlalchemy.orm import Session

    from switchboard.core.store.models import Account, Customer, Identity, IdentityKind

    with Session(engine) as session:
        account = session.query(Account).filter_by(slug="default").one()
        for i, name in enumerate(("Ada Soak", "Grace Soak")):
            session.add(Customer(account_id=account.id, display_name=name, timezone="UTC",
                                 attributes={"batch": f"soak{batch}"}, identities=[Identity(
                                     account_id=account.id, kind=IdentityKind.PHONE,
                                     value=f"+1628{batch:06d}{i}")]))
        session.commit()


# -- web chat visitors ----------------------------------------------------------------------
@dataclass
class Visitor:
    """A browser with the widget open: a session, a live stream kept open, messages."""

    ip: str
    id: str = ""
    token: str | None = None
    next_message_at: float = 0.0
    stream_events: int = 0
    streams_opened: int = 0
    stream_refusals: Counter[str] = field(default_factory=Counter)


def keep_visitor(base: str, visitor: Visitor, stopping: threading.Event) -> None:
    """Start a session, then hold its SSE stream open, reopening it as the widget does."""
    http = requests.Session()
    while not stopping.is_set() and visitor.token is None:
        try:
            answer = http.post(f"{base}/chat/default/session", json={"token": None}, timeout=30,
                               headers={"X-Forwarded-For": visitor.ip})
            if answer.status_code == 200:
                visitor.id, visitor.token = answer.json()["visitor"], answer.json()["token"]
                break
        except requests.RequestException:
            pass
        stopping.wait(2)
    while not stopping.is_set():
        try:
            with http.get(f"{base}/chat/default/stream", params={"token": visitor.token}, stream=True, timeout=90,
                          headers={"X-Forwarded-For": visitor.ip, "Accept": "text/event-stream"}) as stream:
                if stream.status_code != 200:
                    visitor.stream_refusals[str(stream.status_code)] += 1
                    stopping.wait(3)
                    continue
                visitor.streams_opened += 1
                for line in stream.iter_lines():
                    if stopping.is_set():
                        break
                    if line.startswith(b"data:"):
                        visitor.stream_events += 1
        except requests.RequestException as exc:
            visitor.stream_refusals[type(exc).__name__] += 1
            stopping.wait(1)


# -- memory -----------------------------------------------------------------------------------
def sample_memory(topology: Topology, samples: dict[str, list[tuple[float, float, float, str]]],
                  phase: Callable[[], str], stopping: threading.Event) -> None:
    while not stopping.is_set():
        for label, pid in topology.processes().items():
            try:
                measured = memory(pid)
            except (OSError, KeyError):
                continue
            samples[label].append((time.monotonic(), measured["rss_mb"], measured["pss_mb"], phase()))
        stopping.wait(SAMPLE_SECONDS)


def slope_per_minute(points: list[tuple[float, float]]) -> float | None:
    if len(points) < 3:
        return None
    xs, ys = [p[0] / 60 for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mx) ** 2 for x in xs)
    return round(sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / spread, 2) if spread else None


#: A process's own warm-up (Celery's preload of the models, a gunicorn worker's first
#: requests) is left out of its slope: the first this many seconds of its samples.
OWN_WARM_UP_SECONDS = 60.0


def memory_report(samples: dict[str, list[tuple[float, float, float, str]]]) -> dict[str, Any]:
    """Per process: first, last and largest RSS/PSS, and the least-squares slope (MB a
    minute) over its samples after the run's warm-up phase and its own first minute;
    none with fewer than 6 such samples (a process that lived too short to tell)."""
    report = {}
    for label, points in sorted(samples.items()):
        born = points[0][0]
        after = [p for p in points if p[3] != "warm_up" and p[0] - born >= OWN_WARM_UP_SECONDS]
        enough = len(after) >= 6
        report[label] = {
            "samples": len(points), "seconds_sampled": round(points[-1][0] - born),
            "first_rss_mb": points[0][1], "last_rss_mb": points[-1][1], "max_rss_mb": max(p[1] for p in points),
            "first_pss_mb": points[0][2], "last_pss_mb": points[-1][2],
            "samples_in_slope": len(after),
            "rss_slope_mb_per_min": slope_per_minute([(p[0], p[1]) for p in after]) if enough else None,
            "pss_slope_mb_per_min": slope_per_minute([(p[0], p[2]) for p in after]) if enough else None}
    return report


# -- the audit --------------------------------------------------------------------------------
def settle(engine: Engine, timeout: float) -> tuple[bool, float]:
    """Wait until no inbox event waits or is in progress and no campaign is sending."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        try:
            with engine.connect() as connection:
                pending = connection.execute(text(
                    "SELECT (SELECT count(*) FROM inbox_events WHERE status IN ('received', 'processing')) + "
                    "(SELECT count(*) FROM outreach_recipients WHERE status IN ('pending', 'deferred', 'sending') "
                    " AND campaign_id IN (SELECT id FROM outreach_campaigns WHERE status <> 'pending_approval'))"
                )).scalar()
        except Exception:  # noqa: BLE001
            engine.dispose()
            pending = 1
        if not pending:
            return True, round(time.monotonic() - began, 1)
        time.sleep(2)
    return False, round(time.monotonic() - began, 1)


def _percentiles(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    return {"n": len(ordered), "p50_s": round(ordered[len(ordered) // 2], 2),
            "p95_s": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 2),
            "max_s": round(ordered[-1], 2)}


def audit(engine: Engine, sent: list[Sent]) -> dict[str, Any]:
    """Per kind: accepted deliveries whose inbox event is not done or whose reply is not
    recorded (lost), and replies recorded more than once (twice), from the database."""
    from switchboard.core.channels.webchat import external_id

    with engine.connect() as c:
        events = {(kind, key): status for kind, key, status in c.execute(text(
            "SELECT kind, dedupe_key, status FROM inbox_events"))}
        outbox: dict[str, list[float]] = defaultdict(list)
        for key, created in c.execute(text("SELECT idempotency_key, created_at FROM outbox_calls "
                                           "WHERE idempotency_key IS NOT NULL")):
            outbox[key].append(created.replace(tzinfo=created.tzinfo or UTC).timestamp())
        inbound: dict[str, list[int]] = defaultdict(list)
        for ext, mid in c.execute(text("SELECT external_id, id FROM messages "
                                       "WHERE direction = 'inbound' AND external_id IS NOT NULL")):
            inbound[ext].append(mid)
        bot_replies = Counter(c.execute(text(
            "SELECT meta->>'in_reply_to' FROM messages WHERE direction = 'outbound' AND author = 'bot'")).scalars())
        campaigns = {str(cid): (status, [r for r in recipients if r is not None]) for cid, status, recipients
                     in c.execute(text("SELECT c.id, c.status, array_agg(r.customer_id) FROM outreach_campaigns c "
                                       "LEFT JOIN outreach_recipients r ON r.campaign_id = c.id "
                                       "GROUP BY c.id, c.status"))}
    kind_of = {"sms": "twilio.message", "webchat": "webchat.message", "zendesk": "zendesk.ticket.comment_added"}
    result: dict[str, Any] = {}
    for kind in ("sms", "webchat", "zendesk", "slack"):
        mine = [s for s in sent if s.kind == kind]
        accepted = [s for s in mine if s.accepted]
        lost: list[dict[str, Any]] = []
        twice: list[dict[str, Any]] = []
        no_reply: list[str] = []
        latencies: dict[str, list[float]] = defaultdict(list)
        for s in accepted:
            if kind == "slack":  # the click's effect: the campaign sent, one text per recipient
                status, recipients = campaigns.get(s.key, ("missing", []))
                reply_keys = [f"outreach:{s.key}:{customer}" for customer in recipients]
                done = status == "sent"
            else:
                status = events.get((kind_of[kind], s.event_key), "not_stored")
                done = status == "done"
                if kind == "zendesk":
                    reply_keys = [f"agent-reply:{s.key}"]
                else:
                    ext = s.key if kind == "sms" else external_id(*s.key.split(":", 1))
                    if len(inbound[ext]) > 1:
                        twice.append({"key": s.key, "what": "inbound stored twice", "phase": s.phase})
                    mid = inbound[ext][0] if inbound[ext] else None
                    reply_keys = [f"{prefix}:{mid}" for prefix in ("reply", "handoff-ack", "relay")] if mid else []
                    if mid and bot_replies[str(mid)] > 1:
                        twice.append({"key": s.key, "what": f"{bot_replies[str(mid)]} bot replies", "phase": s.phase})
            if not done:
                lost.append({"key": s.key, "status": status, "phase": s.phase})
                continue
            if any(len(outbox.get(k, [])) > 1 for k in reply_keys):
                twice.append({"key": s.key, "what": "reply recorded twice in the outbox", "phase": s.phase})
            times = [min(outbox[k]) for k in reply_keys if outbox.get(k)]
            if not times or (kind == "slack" and len(times) < len(reply_keys)):
                no_reply.append(s.key)
                continue
            latencies[s.phase].append((max(times) if kind == "slack" else min(times)) - s.first_at)
        result[kind] = {
            "sent": len(mine), "accepted": len(accepted), "refused_after_retries": len(mine) - len(accepted),
            "retried": sum(1 for s in mine if s.attempts > 1),
            "answers_before_a_2xx_or_giving_up": dict(Counter(status for s in mine if s.attempts > 1
                                                              for status in s.statuses[:-1] if s.accepted)
                                                      + Counter(status for s in mine if not s.accepted
                                                                for status in s.statuses)),
            "lost": len(lost), "lost_sample": lost[:5], "twice": len(twice), "twice_sample": twice[:5],
            "done_without_a_reply": len(no_reply), "done_without_a_reply_sample": no_reply[:5],
            "accepted_per_phase": dict(Counter(s.phase for s in accepted)),
            "webhook_to_reply_per_phase": {phase: _percentiles(latencies[phase]) for phase, _ in PHASES}}
    return result


# -- the run ------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="sb-bench-soak-"))
    result: dict[str, Any] = {"benchmark": "soak", "minutes": args.minutes, "rate_per_second": args.rate,
                              "visitors": args.visitors, "machine_cpus": os.cpu_count(),
                              "load_average_before": [round(x, 2) for x in os.getloadavg()], "logs": str(work)}
    with own_database() as (url, database), ExitStack() as stack:
        from switchboard.intake.db import make_engine

        env = {**base_env(url, work), "ZENDESK_SUBDOMAIN": "acme", "ZENDESK_WEBHOOK_SECRET": ZENDESK_SECRET,
               "SLACK_SIGNING_SECRET": SLACK_SECRET, "SWITCHBOARD_TRUSTED_PROXIES": "1",
               "SWITCHBOARD_SLACK_APPROVAL_CHANNEL": APPROVAL_CHANNEL, "SWITCHBOARD_OUTREACH_APPROVERS": APPROVER,
               "SWITCHBOARD_OUTREACH_QUIET_HOURS": "off", "SWITCHBOARD_OUTREACH_RATE": "1000",
               "SWITCHBOARD_COMPANY_NAME": "Acme", "WEB_CONCURRENCY": "2"}
        topology = Topology(work, env, free_port())
        stack.callback(topology.stop_all)
        topology.start_redis()
        env["SWITCHBOARD_REDIS_URL"] = f"redis://127.0.0.1:{topology.redis_port}/0"
        cli = [sys.executable, "-m", "switchboard.cli"]
        for step in (["db", "upgrade"], ["kb", "import", str(SAMPLE_KB)]):
            subprocess.run([*cli, *step], cwd=work, env=_clean_env(env), check=True, capture_output=True)
        api_key = subprocess.run([*cli, "accounts", "key", "--name", "soak"], cwd=work, env=_clean_env(env),
                                 check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        topology.start_worker("beat")
        topology.start_worker("other")
        topology.start_web()
        engine = make_engine(url)
        stack.callback(engine.dispose)
        traffic = Traffic(topology, api_key, engine)
        stopping, senders_stop = threading.Event(), threading.Event()
        traffic.visitors = [Visitor(ip=f"10.77.{i // 250}.{i % 250 + 1}") for i in range(args.visitors)]
        threads = [threading.Thread(target=keep_visitor, args=(topology.base, v, stopping), daemon=True)
                   for v in traffic.visitors]
        samples: dict[str, list[tuple[float, float, float, str]]] = defaultdict(list)
        threads.append(threading.Thread(target=sample_memory, args=(topology, samples, lambda: traffic.phase,
                                                                   stopping), daemon=True))
        threads += [threading.Thread(target=send_steadily, args=(traffic, args.rate / args.senders, senders_stop),
                                     daemon=True) for _ in range(args.senders)]
        for thread in threads:
            thread.start()
        faults: list[dict[str, Any]] = []
        unexpected_exits: list[dict[str, Any]] = []
        began = time.monotonic()
        for name, share in PHASES:
            traffic.phase = name
            phase_began = time.monotonic()
            ends = phase_began + share * args.minutes * 60
            fault = start_fault(name, topology, database, ends, real_restart=args.restart_postgres)
            if fault:
                faults.append({"phase": name, "at_second": round(phase_began - began, 1), **fault})
            while time.monotonic() < ends:
                time.sleep(min(2.0, max(0.0, ends - time.monotonic())))
                for exit_ in topology.revive():
                    unexpected_exits.append({"phase": name, "at_second": round(time.monotonic() - began, 1),
                                             **exit_})
        senders_stop.set()
        result["load_seconds"] = round(time.monotonic() - began, 1)
        time.sleep(5)  # senders finish their retries
        settled, waited = settle(engine, args.drain_timeout)
        stopping.set()
        result["faults"] = faults
        result["unexpected_exits"] = unexpected_exits + [{"phase": "drain", **e} for e in topology.revive()]
        result["settled"] = {"all_settled": settled, "seconds_after_load": waited}
        result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        engine.dispose()
        result["events"] = audit(engine, traffic.sent)
        result["totals"] = {"sent": len(traffic.sent), "accepted": sum(1 for s in traffic.sent if s.accepted),
                            "lost": sum(k["lost"] for k in result["events"].values()),
                            "twice": sum(k["twice"] for k in result["events"].values())}
        result["webchat_streams"] = {
            "opened": sum(v.streams_opened for v in traffic.visitors),
            "events_received": sum(v.stream_events for v in traffic.visitors),
            "refused_or_cut": dict(sum((v.stream_refusals for v in traffic.visitors), Counter()))}
        with engine.connect() as connection:
            result["outbox_by_status"] = dict(connection.execute(text(
                "SELECT status, count(*) FROM outbox_calls GROUP BY status")).all())
        result["memory"] = memory_report(samples)
    return result


def send_steadily(traffic: Traffic, rate: float, stopping: threading.Event) -> None:
    """One sender: a delivery every 1/rate seconds on a fixed schedule (a slow answer
    does not lower the rate until it takes longer than the interval)."""
    kinds, weights = zip(*MIX, strict=True)
    interval, due = 1.0 / rate, time.monotonic()
    while not stopping.is_set():
        getattr(traffic, random.choices(kinds, weights)[0])()
        due += interval
        stopping.wait(max(0.0, due - time.monotonic()))


def restart_postgres() -> dict[str, Any]:
    """Restart the local PostgreSQL server itself (``--restart-postgres``: only on a
    machine whose server nothing else is using), as .ci/run starts it."""
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    started = time.monotonic()
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True,
                   capture_output=True, timeout=120)
    while subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"]).returncode != 0:
        time.sleep(0.2)
    return {"postgres": f"the server restarted (pg_ctlcluster {version} main restart)",
            "seconds_down": round(time.monotonic() - started, 1)}


def start_fault(phase: str, topology: Topology, database: str, ends: float, *,
                real_restart: bool = False) -> dict[str, Any] | None:
    """What happens as ``phase`` starts (the postgres outage runs in a thread for half of
    the phase, so the rest of it is recovery under load)."""
    if phase == "sigterm":
        return topology.sigterm_worker("other")
    if phase == "sigkill":
        return topology.sigkill_worker("beat")
    if phase == "redis_restart":
        return topology.restart_redis()
    if phase == "postgres_outage" and real_restart:
        return restart_postgres()
    if phase == "postgres_outage":
        seconds = max(5.0, (ends - time.monotonic()) / 2)
        terminated: list[int] = []

        def outage() -> None:
            until = time.monotonic() + seconds
            while time.monotonic() < until:
                terminated.append(terminate_backends(database))
                time.sleep(0.2)
        thread = threading.Thread(target=outage, daemon=True)
        thread.start()
        thread.join()
        return {"postgres": "simulated, the shared server is not restarted: every backend of the bench's "
                            "database terminated (pg_terminate_backend) every 0.2 s",
                "seconds": round(seconds, 1), "backends_terminated": sum(terminated)}
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=3.0, help="length of the load (the issue asks for 30)")
    parser.add_argument("--rate", type=float, default=4.0, help="deliveries per second, all kinds together")
    parser.add_argument("--senders", type=int, default=4, help="sending threads sharing the rate")
    parser.add_argument("--visitors", type=int, default=6, help="web chat visitors, each with a stream open")
    parser.add_argument("--drain-timeout", type=float, default=480.0,
                        help="seconds to wait after the load for every event to settle (a killed worker's "
                             "claims are taken back after the 5-minute lease)")
    parser.add_argument("--restart-postgres", action="store_true",
                        help="restart the PostgreSQL server itself in the outage phase (only where nothing else uses "
                             "it); without it the bench's connections are cut instead")
    args = parser.parse_args()
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()
