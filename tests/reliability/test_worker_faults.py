"""Faults across processes: a real Celery worker (`switchboard worker`) on a private
Redis, killed with SIGKILL in the middle of a task, and Redis stopped while webhooks
keep arriving. Nothing accepted is lost and nothing is done twice."""
from __future__ import annotations

import copy
import itertools
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psutil
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask
from sqlalchemy import select, update

from switchboard.app import create_app
from switchboard.core.settings import load_settings
from switchboard.core.store.inbox import CLAIM_LEASE
from switchboard.core.store.models import ActionExecution, AuditEntry, Conversation, InboxEvent, Message, OutboxCall
from switchboard.core.store.outbox import ATTEMPT_LEASE
from switchboard.intake.db import get_db
from switchboard.tasks import sweep_inbox

from ..actions.order_server import TOKEN as SHOP_TOKEN
from ..actions.order_server import OrderServer
from ..conftest import TWILIO_SID, _truncate_postgres, base_env, with_sample_kb
from ..fakes.loopback import Answer, LoopbackFake, Request
from ..fakes.openai_server import CannedResponse, FakeOpenAI, ReceivedRequest
from ..selfservice.test_selfservice_over_twilio import inbound
from .conftest import PrivateRedis, kill_group, vendor_for, wait_until

# Slow: starts Celery workers and kills them.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
MESSAGES = "/webhooks/twilio/messages"


class HangingOpenAI(FakeOpenAI):
    """A model server whose first request hangs until released: the task that made it
    is, for as long as the test likes, in the middle of its work."""

    def __init__(self) -> None:
        super().__init__()
        self.first_request = threading.Event()
        self.release = threading.Event()
        self._hung = False

    def _answer(self, request: ReceivedRequest) -> CannedResponse:
        if not self._hung:
            self._hung = True
            self.first_request.set()
            self.release.wait(60)
        return super()._answer(request)


class Worker:
    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.log = cwd / f"worker-{uuid.uuid4().hex[:6]}.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "switchboard.cli", "worker", "--concurrency", "1", "--no-beat"],
            env={**os.environ, **env}, cwd=cwd, stdout=self.log.open("w"), stderr=subprocess.STDOUT,
            start_new_session=True)

    def pool_children(self) -> list[psutil.Process]:
        """The prefork pool's processes: the leaves under `switchboard worker`."""
        return [p for p in psutil.Process(self.process.pid).children(recursive=True) if not p.children()
                and "celery" in " ".join(p.cmdline())]

    def stop(self) -> None:
        kill_group(self.process, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            kill_group(self.process, signal.SIGKILL)
            self.process.wait()

    def output(self) -> str:
        return self.log.read_text()


@pytest.fixture
def queued(tmp_path: Path, pg_url: str, private_redis: PrivateRedis) -> Iterator[tuple[dict[str, str], PrivateRedis]]:
    _truncate_postgres(pg_url)
    private_redis.start()
    env = {**base_env(tmp_path, pg_url), "SWITCHBOARD_REDIS_URL": private_redis.url,
           "SWITCHBOARD_QUEUE": f"rel-{uuid.uuid4().hex[:8]}", "SWITCHBOARD_SWEEP_AFTER_SECONDS": "1",
           "SWITCHBOARD_SWEEP_INTERVAL_SECONDS": "1"}
    yield env, private_redis


def statuses(app: Flask) -> list[str]:
    with get_db(app).session() as session:
        return list(session.scalars(select(InboxEvent.status).order_by(InboxEvent.id)))


def test_a_worker_killed_mid_task_completes_the_task_once_with_one_reply(
    queued: tuple[dict[str, str], PrivateRedis], tmp_path: Path
) -> None:
    env, _ = queued
    with HangingOpenAI() as model:
        for _ in range(3):
            model.reply("Delivery takes 2 to 4 working days [1].")
        env = {**env, "OPENAI_BASE_URL": model.base_url}
        app = with_sample_kb(create_app(load_settings(env), config={"TESTING": True}))
        worker = Worker(env, tmp_path)
        try:
            assert vendor_for(app).twilio(MESSAGES, inbound("how long does delivery take?")).status_code == 200
            assert model.first_request.wait(60), worker.output()
            [child] = worker.pool_children()
            child.send_signal(signal.SIGKILL)  # mid-task: the model call is in flight
            child.wait(10)
            model.release.set()
            assert wait_until(lambda: "WorkerLostError" in worker.output() or "lost" in worker.output().lower(),
                              timeout=30), worker.output()
            assert statuses(app) == ["processing"]  # held by the dead worker's claim
            # The claim and the model call's attempt are leases: let them run out (what
            # CLAIM_LEASE/ATTEMPT_LEASE of waiting would do), then the sweep redelivers.
            past = datetime.now(UTC) - max(CLAIM_LEASE, ATTEMPT_LEASE) - timedelta(seconds=1)
            with get_db(app).session() as session:
                session.execute(update(InboxEvent).values(claimed_at=past))
                session.execute(update(OutboxCall).where(OutboxCall.status == "sending").values(attempted_at=past))
                session.commit()
            with app.app_context():
                assert sweep_inbox.run() == 1
            assert wait_until(lambda: statuses(app) == ["done"], timeout=60), worker.output()
            with get_db(app).session() as session:
                assert len(session.scalars(select(Message).where(Message.direction == "inbound")).all()) == 1
                replies = session.scalars(select(OutboxCall).where(OutboxCall.vendor == "twilio")).all()
                assert len(replies) == 1 and replies[0].idempotency_key.startswith("reply:")
                assert len(session.scalars(select(Message).where(Message.direction == "outbound")).all()) == 1
                assert session.scalars(select(InboxEvent.attempts)).one() == 2
        finally:
            model.release.set()
            worker.stop()
            get_db(app).dispose()


def test_webhooks_arriving_while_redis_is_stopped_are_kept_and_processed_once_after_it_returns(
    queued: tuple[dict[str, str], PrivateRedis], tmp_path: Path
) -> None:
    env, redis = queued
    app = create_app(load_settings(env), config={"TESTING": True})
    worker = Worker({**env}, tmp_path)
    signed = vendor_for(app)
    try:
        assert signed.twilio(MESSAGES, inbound("first, redis up")).status_code == 200
        assert wait_until(lambda: statuses(app) == ["done"], timeout=60), worker.output()
        redis.stop()
        during = [inbound(f"message {n} while redis is down", sender=f"+1415555020{n}") for n in range(5)]
        assert [signed.twilio(MESSAGES, p).status_code for p in during] == [200] * 5  # stored: no vendor retry
        assert statuses(app).count("received") == 5
        redis.start()  # same port; the worker reconnects by itself

        def swept_and_done() -> bool:
            with app.app_context():
                sweep_inbox.run()  # beat's job in production, every sweep interval
            return statuses(app) == ["done"] * 6

        assert wait_until(swept_and_done, timeout=90), worker.output()
        with get_db(app).session() as session:
            assert len(session.scalars(select(Message).where(Message.direction == "inbound")).all()) == 6
            assert len(session.scalars(select(OutboxCall).where(OutboxCall.vendor == "twilio")).all()) == 6
    finally:
        worker.stop()
        get_db(app).dispose()


# --- killed after the vendor acted, before the outbox knew ----------------------------------
# The worker's Twilio and Zendesk calls go, unchanged, to their real https URLs through
# HTTPS_PROXY; the proxy terminates TLS with a certificate from a test CA the worker
# trusts (REQUESTS_CA_BUNDLE) and plays both vendors from loopback. `responses` cannot
# reach into the worker's process; this fakes the vendors at the HTTP layer all the same.

CONNECTOR_FIXTURES = Path(__file__).parents[1] / "connectors" / "fixtures"
MESSAGES_API = f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
CUSTOMER = "+14155550100"


def _test_ca(directory: Path, hosts: list[str]) -> tuple[Path, ssl.SSLContext]:
    """A CA for the worker to trust, and the server context of a certificate it signed."""
    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    now = datetime.now(UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("switchboard test CA")).issuer_name(name("switchboard test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(name(hosts[0])).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host) for host in hosts]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_path, chain = directory / "test-ca.pem", directory / "vendors.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain.write_bytes(leaf.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain)
    return ca_path, context


class FakeVendors(LoopbackFake):
    """Twilio's Messages API and Zendesk's tickets and users, as one stateful loopback
    server behind an HTTPS proxy. What a POST creates stays created, and is listed by
    the lookups the connectors reconcile with, even when the POST was never answered:
    ``hold`` makes the first POST to a path record its effect, report it and wait —
    the moment the test kills the worker."""

    protocol_version = "HTTP/1.1"

    def __init__(self, directory: Path) -> None:
        self.ca, self._tls = _test_ca(directory, ["api.twilio.com", "acme.zendesk.com"])
        self.messages: list[dict[str, Any]] = []
        self.tickets: list[dict[str, Any]] = []
        self.held, self.release = threading.Event(), threading.Event()
        self._hold: str | None = None
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        super().__init__()

    def env(self) -> dict[str, str]:
        proxy = self.origin
        return {"HTTPS_PROXY": proxy, "https_proxy": proxy, "NO_PROXY": "", "no_proxy": "",
                "REQUESTS_CA_BUNDLE": str(self.ca), "SWITCHBOARD_SANDBOX": "0",
                "ZENDESK_EMAIL": "bot@acme.test", "ZENDESK_API_TOKEN": "zd-token"}

    def hold(self, path: str) -> None:
        self._hold = path

    def closing(self) -> None:
        self.release.set()

    # -- the vendors -------------------------------------------------------------------

    def answer(self, request: Request) -> Answer:
        url = urlsplit(request.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        host = request.headers["Host"].split(":")[0]
        with self._lock:
            status, reply = self._route(request.method, host, url.path, query, request.body)
        if request.method == "POST" and url.path == self._hold:
            self._hold = None  # the first one only: the retry's calls are answered
            self.held.set()
            self.release.wait(60)
        return Answer(status, reply)

    def _route(self, method: str, host: str, path: str, query: dict[str, str],
               body: bytes) -> tuple[int, dict[str, Any]]:
        if host == "api.twilio.com" and path == MESSAGES_API:
            return self._create_message(body) if method == "POST" else (200, self._message_page(query))
        if host == "acme.zendesk.com":
            if (method, path) == ("GET", "/api/v2/users/search.json"):
                return 200, {"users": [], "count": 0, "next_page": None, "previous_page": None}
            if (method, path) == ("POST", "/api/v2/users/create_or_update.json"):
                return 201, {"user": {**json.loads(body)["user"], "id": 8447388090494}}
            if (method, path) == ("POST", "/api/v2/tickets.json"):
                return self._create_ticket(body)
            if (method, path) == ("GET", "/api/v2/tickets.json"):
                return 200, self._ticket_page(query.get("external_id"))
            if method == "PUT" and path.startswith("/api/v2/tickets/"):
                ticket_id = int(path.rsplit("/", 1)[-1].removesuffix(".json"))
                return 200, {"ticket": {"id": ticket_id}, "audit": {"id": next(self._ids), "ticket_id": ticket_id}}
        return 404, {"error": "NotFound", "description": f"the fake has no {method} {host}{path}"}

    def _create_message(self, body: bytes) -> tuple[int, dict[str, Any]]:
        form = {key: values[0] for key, values in parse_qs(body.decode()).items()}
        record = copy.deepcopy(json.loads((CONNECTOR_FIXTURES / "twilio" / "messages_page.json").read_text())
                               ["messages"][0])
        sid = "SM" + uuid.uuid4().hex  # never one of the inbound MessageSids the test made up
        record.update(sid=sid, account_sid=TWILIO_SID, to=form["To"], body=form.get("Body", ""),
                      date_created=format_datetime(datetime.now(UTC), usegmt=True),
                      uri=f"/2010-04-01/Accounts/{TWILIO_SID}/Messages/{sid}.json", **{"from": form.get("From")})
        self.messages.append(record)
        return 201, record

    def _message_page(self, query: dict[str, str]) -> dict[str, Any]:
        page = json.loads((CONNECTOR_FIXTURES / "twilio" / "messages_page.json").read_text())
        page["messages"] = [m for m in reversed(self.messages)  # newest first, as Twilio lists
                            if m["to"] == query.get("To") and m["from"] == query.get("From", m["from"])]
        page["end"] = max(len(page["messages"]) - 1, 0)
        return page

    def _create_ticket(self, body: bytes) -> tuple[int, dict[str, Any]]:
        ticket = {**json.loads(body)["ticket"], "id": 5000 + next(self._ids), "status": "new"}
        self.tickets.append(ticket)
        return 201, {"ticket": ticket, "audit": {"id": next(self._ids), "ticket_id": ticket["id"], "events": []}}

    def _ticket_page(self, external_id: str | None) -> dict[str, Any]:
        page = json.loads((CONNECTOR_FIXTURES / "zendesk" / "tickets_by_external_id.json").read_text())
        page["tickets"] = [t for t in self.tickets if external_id and t.get("external_id") == external_id]
        return page

    # -- the wire ----------------------------------------------------------------------

    def server_handler(self) -> type[BaseHTTPRequestHandler]:
        """An HTTPS proxy: each CONNECT tunnel is TLS-terminated with the test CA and
        served by the request handler, as if it were the vendor's host."""
        fake, vendor = self, self.request_handler()

        class Proxy(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_CONNECT(self) -> None:
                self.send_response(200, "Connection established")
                self.end_headers()
                try:
                    tunnel = fake._tls.wrap_socket(self.connection, server_side=True)
                    vendor(tunnel, self.client_address, self.server)
                except (OSError, ssl.SSLError):
                    pass
                self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Proxy


@pytest.fixture
def vendors(tmp_path: Path) -> Iterator[FakeVendors]:
    with FakeVendors(tmp_path) as fake:
        yield fake


def kill_while_held(worker: Worker, held: threading.Event, release: threading.Event, app: Flask) -> None:
    """SIGKILL the pool process while a fake holds its call, acted on but unanswered;
    then let the leases run out (what waiting would do) and sweep, as in the test above."""
    assert held.wait(60), worker.output()
    [child] = worker.pool_children()
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    release.set()
    assert wait_until(lambda: "WorkerLostError" in worker.output() or "lost" in worker.output().lower(),
                      timeout=30), worker.output()
    now = datetime.now(UTC)
    past = now - max(CLAIM_LEASE, ATTEMPT_LEASE) - timedelta(seconds=1)
    with get_db(app).session() as session:
        [in_flight] = session.scalars(select(OutboxCall).where(OutboxCall.status == "sending")).all()
        assert in_flight.response is None  # the outbox never heard back
        session.execute(update(InboxEvent).values(claimed_at=past))
        session.execute(update(OutboxCall).where(OutboxCall.status == "sending").values(attempted_at=past))
        # A governed action's run is a lease too (RUN_LEASE): it ends, not starts, at expires_at.
        session.execute(update(ActionExecution).where(ActionExecution.status == "running")
                        .values(expires_at=now - timedelta(seconds=1)))
        session.commit()
    with app.app_context():
        sweep_inbox.run()


def kill_when_the_vendor_has_it(worker: Worker, vendors: FakeVendors, app: Flask) -> None:
    """As ``kill_while_held`` for Twilio or Zendesk; the one event is then done."""
    kill_while_held(worker, vendors.held, vendors.release, app)
    assert wait_until(lambda: statuses(app) == ["done"], timeout=60), worker.output()


def test_a_worker_killed_after_twilio_accepted_the_reply_sends_it_once(
    queued: tuple[dict[str, str], PrivateRedis], vendors: FakeVendors, tmp_path: Path
) -> None:
    env = {**queued[0], **vendors.env()}
    app = with_sample_kb(create_app(load_settings(env), config={"TESTING": True}))
    vendors.hold(MESSAGES_API)
    worker = Worker(env, tmp_path)
    try:
        assert vendor_for(app).twilio(MESSAGES, inbound("how long does delivery take?")).status_code == 200
        kill_when_the_vendor_has_it(worker, vendors, app)

        [sent] = vendors.messages  # the customer got the reply once
        assert sent["to"] == CUSTOMER and "working days" in sent["body"]
        with get_db(app).session() as session:
            [reply] = session.scalars(select(OutboxCall).where(OutboxCall.vendor == "twilio")).all()
            assert (reply.status, reply.response["sid"]) == ("sent", sent["sid"])  # adopted, not re-sent
            [outbound] = session.scalars(select(Message).where(Message.direction == "outbound")).all()
            assert outbound.external_id == sent["sid"]
    finally:
        vendors.release.set()
        worker.stop()
        get_db(app).dispose()


def test_a_worker_killed_after_zendesk_created_the_ticket_hands_over_once(
    queued: tuple[dict[str, str], PrivateRedis], vendors: FakeVendors, tmp_path: Path
) -> None:
    env = {**queued[0], **vendors.env()}
    app = with_sample_kb(create_app(load_settings(env), config={"TESTING": True}))
    vendors.hold("/api/v2/tickets.json")
    worker = Worker(env, tmp_path)
    try:
        assert vendor_for(app).twilio(MESSAGES, inbound("I want to talk to a real person")).status_code == 200
        kill_when_the_vendor_has_it(worker, vendors, app)

        [ticket] = vendors.tickets  # the agents got one ticket
        with get_db(app).session() as session:
            conversation = session.scalars(select(Conversation)).one()
            assert (conversation.status, conversation.zendesk_ticket_id) == ("human", ticket["id"])
            assert ticket["external_id"] == f"switchboard:handoff:{conversation.id}:{conversation.account_id}"
            [created] = session.scalars(select(OutboxCall).where(OutboxCall.operation == "tickets.create")).all()
            assert (created.status, created.response["ticket_id"]) == ("sent", ticket["id"])
        assert len([m for m in vendors.messages if "team" in m["body"]]) == 1  # one "a person will follow up"
    finally:
        vendors.release.set()
        worker.stop()
        get_db(app).dispose()


# --- killed after the order system issued the refund, before we recorded it -------------
# The company's order system (tests/actions/order_server.py) is plain HTTP on loopback,
# and like real payment APIs applies a POST once per Idempotency-Key. The HTTP action
# has no way to ask it "did my refund go through?", so the retry's safety is the key:
# the same execution must send the same one.

REFUNDS = "/orders/A1001/refunds"
CODE = re.compile(r"verification code is (\d+)")


@pytest.fixture
def order_system() -> Iterator[OrderServer]:
    delivered = datetime.now(UTC) - timedelta(days=2)
    order = {"id": "A1001", "status": "delivered", "total": 42.5, "currency": "USD",
             "placed_at": (delivered - timedelta(days=3)).isoformat(), "delivered_at": delivered.isoformat(),
             "eta": None, "customer": {"phone": CUSTOMER}}
    with OrderServer({"A1001": order}) as server:
        yield server


def shop_env(order_system: OrderServer, directory: Path) -> dict[str, str]:
    """The default actions, with the shop system pointed at the loopback order system;
    the default policy lets a verified customer's $42.50 refund run without approval."""
    actions = directory / "actions.yaml"
    actions.write_text(yaml.safe_dump({"systems": {"shop": {
        # It applies a POST once per Idempotency-Key, as payment APIs do: said so here,
        # so a refund whose answer was lost may be sent again under the same key.
        "base_url": order_system.base_url, "timeout_seconds": 5, "idempotent": True,
        "auth": {"header": "Authorization", "value": "Bearer {secret}", "secret": "SHOP_API_TOKEN"}}}}))
    return {"SWITCHBOARD_ACTIONS_FILE": str(actions), "SHOP_API_TOKEN": SHOP_TOKEN}


def verification_code(vendors: FakeVendors) -> str:
    codes = [m.group(1) for sent in vendors.messages if (m := CODE.search(sent["body"]))]
    assert len(codes) == 1, [sent["body"] for sent in vendors.messages]
    return codes[0]


def test_a_worker_killed_after_the_order_system_issued_the_refund_refunds_once(
    queued: tuple[dict[str, str], PrivateRedis], vendors: FakeVendors, order_system: OrderServer,
    tmp_path: Path
) -> None:
    env = {**queued[0], **vendors.env(), **shop_env(order_system, tmp_path)}
    app = create_app(load_settings(env), config={"TESTING": True})
    signed = vendor_for(app)
    worker = Worker(env, tmp_path)
    try:
        assert signed.twilio(MESSAGES, inbound("please refund order A1001")).status_code == 200
        assert wait_until(lambda: statuses(app) == ["done"], timeout=60), worker.output()
        assert order_system.received == []  # nothing is looked up before the code
        assert signed.twilio(MESSAGES, inbound(verification_code(vendors))).status_code == 200
        assert wait_until(lambda: statuses(app) == ["done", "done"], timeout=60), worker.output()
        assert any(sent["body"].startswith("Reply YES to refund $42.50") for sent in vendors.messages)
        order_system.hold(REFUNDS)
        assert signed.twilio(MESSAGES, inbound("YES")).status_code == 200  # the refund runs on the customer's YES
        kill_while_held(worker, order_system.held, order_system.release, app)
        assert wait_until(lambda: statuses(app) == ["done", "done", "done"], timeout=60), worker.output()

        [issued] = order_system.refunds  # the order system refunded once
        assert (issued["order_id"], issued["amount"], issued["currency"]) == ("A1001", 42.5, "USD")
        posts = order_system.calls("POST", REFUNDS)
        assert len(posts) == 2 and [p["replayed"] for p in posts] == [False, True]  # the retry was a replay
        with get_db(app).session() as session:
            [execution] = session.scalars(select(ActionExecution)).all()
            assert {p["headers"]["Idempotency-Key"] for p in posts} == {f"action:{execution.id}:refund"}
            assert (execution.status, execution.result["refund_id"]) == ("succeeded", issued["id"])
            trail = session.scalars(select(AuditEntry.action).where(AuditEntry.subject_id == str(execution.id))).all()
            assert trail.count("action.succeeded") == 1 and "action.reclaimed" in trail
            [call] = session.scalars(select(OutboxCall).where(OutboxCall.operation == "refund_create")).all()
            assert (call.status, call.response["id"]) == ("sent", issued["id"])
        done = [sent for sent in vendors.messages if sent["body"].startswith("Done")]
        assert [d["body"] for d in done] == [
            "Done: a refund of $42.50 for order A1001 is on its way to your original payment method."]
        assert done[0]["to"] == CUSTOMER
    finally:
        order_system.release.set()
        worker.stop()
        get_db(app).dispose()
