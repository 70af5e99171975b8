"""A migrated in-memory database, settings built from a dict, and fake vendor HTTP:
``responses`` for the requests-based SDKs (twilio, zenpy) and a loopback Web API
server for slack_sdk, whose urllib transport ``responses`` cannot see."""
from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.core.accounts import ensure_default_account
from switchboard.core.settings import Settings, load_settings
from switchboard.core.store.models import Account, OutboxCall
from switchboard.intake.db import make_engine, upgrade

from ..fakes.loopback import Answer, LoopbackFake, Request

#: What ``outbox.as_json`` documents for a recorded call.
OUTBOX_KEYS = {"id", "vendor", "operation", "payload", "status", "created_at"}
TWILIO_SID = "AC" + "0123456789abcdef" * 2
LIVE_ENV = {
    "TWILIO_ACCOUNT_SID": TWILIO_SID,
    "TWILIO_AUTH_TOKEN": "twilio-auth-token",
    "TWILIO_PHONE_NUMBER": "+15005550006",
    "TWILIO_WHATSAPP_NUMBER": "+14155238886",
    "ZENDESK_SUBDOMAIN": "acme",
    "ZENDESK_EMAIL": "bot@acme.test",
    "ZENDESK_API_TOKEN": "zendesk-api-token",
    "SLACK_BOT_TOKEN": "xoxb-test-token",
}


@pytest.fixture
def session() -> Iterator[Session]:
    engine = make_engine("sqlite://")
    upgrade(engine)
    with Session(engine, expire_on_commit=False) as db_session:
        yield db_session
    engine.dispose()


@pytest.fixture
def session_on_each_database(database_url: str) -> Iterator[Session]:
    """Like ``session``, once on SQLite and once on PostgreSQL, for tests whose SQL
    (compare-and-set claims, JSON lookups) the two dialects could answer differently."""
    engine = make_engine(database_url)
    if engine.dialect.name == "sqlite":  # the PostgreSQL schema is migrated once per run
        upgrade(engine)
    with Session(engine, expire_on_commit=False) as db_session:
        yield db_session
    engine.dispose()


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**env: str) -> Settings:
        return load_settings({"SWITCHBOARD_DATA_DIR": str(tmp_path), **env})

    return make


@pytest.fixture
def live_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(**LIVE_ENV)


@pytest.fixture
def sandbox_settings(make_settings: Callable[..., Settings]) -> Settings:
    """Credentials present but SWITCHBOARD_SANDBOX=1: recording must win."""
    return make_settings(**LIVE_ENV, SWITCHBOARD_SANDBOX="1")


@pytest.fixture
def live_account(session: Session, live_settings: Settings) -> Account:
    return ensure_default_account(session, live_settings)


@pytest.fixture
def sandbox_account(session: Session, sandbox_settings: Settings) -> Account:
    return ensure_default_account(session, sandbox_settings)


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    """Every requests-based call must match a registered response, or it fails; and
    every registered response must be used."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def basic(user: str, password: str) -> str:
    """The Authorization header HTTP Basic auth sends, spelled out independently."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def outbox_rows(session: Session) -> list[OutboxCall]:
    session.expire_all()  # read what was committed, not what the session remembers
    return list(session.scalars(select(OutboxCall).order_by(OutboxCall.id)))


# --- network failures as requests really raises them ---------------------------------
# Made against loopback sockets, then handed to ``responses`` as a body (which it
# raises): the connectors see the very exception types and wrapping (MaxRetryError,
# NewConnectionError, ProtocolError) requests produces, not hand-built look-alikes.
# Make them before a ``responses`` mock is active (e.g. in a parametrize list): an
# active mock would answer the loopback request itself.

def _post(port: int, timeout: tuple[float, float] = (2.0, 2.0)) -> requests.RequestException:
    try:
        requests.post(f"http://127.0.0.1:{port}/2010-04-01/Messages.json", data={"Body": "hi"}, timeout=timeout)
    except requests.RequestException as exc:
        assert "by Responses" not in str(exc), "made while a responses mock was active: make it before"
        return exc
    raise AssertionError("the loopback request was expected to fail")


def connection_refused() -> requests.RequestException:
    """Nothing listens on the port: the request never left."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return _post(port)


def read_timeout() -> requests.RequestException:
    """The request was sent (the kernel accepted the connection), no answer came."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        return _post(listener.getsockname()[1], timeout=(2.0, 0.05))


def dropped_after_sending() -> requests.RequestException:
    """The server read the whole request, then closed the connection unanswered."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def read_then_hang_up() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.recv(65536)

        server = threading.Thread(target=read_then_hang_up)
        server.start()
        failure = _post(listener.getsockname()[1])
        server.join()
        return failure


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class FakeSlackApi(LoopbackFake):
    """A Slack Web API on 127.0.0.1: records each request; answers with the reply
    queued for the method, or a plausible ok=true message response."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[ReceivedRequest] = []
        self._replies: dict[str, list[Reply]] = {}
        self.url = f"{self.origin}/api/"

    def answer(self, request: Request) -> Answer:
        received = ReceivedRequest(request.path, request.headers, request.body)
        self.requests.append(received)
        method = request.path.rsplit("/", 1)[-1]
        queued = self._replies.get(method)
        reply = queued.pop(0) if queued else self._default_reply(method, received)
        return Answer(reply.status, reply.body, reply.headers, "application/json; charset=utf-8")

    def reply(self, method: str, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self._replies.setdefault(method, []).append(Reply(status, body, headers or {}))

    @staticmethod
    def _default_reply(method: str, request: ReceivedRequest) -> Reply:
        sent = request.json
        if method == "chat.postEphemeral":
            return Reply(200, {"ok": True, "message_ts": "1700000000.000200"})
        return Reply(200, {"ok": True, "channel": sent["channel"], "ts": sent.get("ts", "1700000000.000100"),
                           "message": {"text": sent.get("text")}})


@pytest.fixture
def slack_api() -> Iterator[FakeSlackApi]:
    with FakeSlackApi() as fake:
        yield fake
