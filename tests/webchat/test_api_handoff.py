"""A web chat visitor asks for a person: the Zendesk ticket opens with the web
conversation in its package, their later messages join it, and the agent's public
reply (a signed Zendesk webhook) is on the widget's record and arrives on its live
stream, woken in the process (embedded) or through Redis (a worker elsewhere)."""
from __future__ import annotations

import json
import queue
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
import requests
from flask import Flask
from sqlalchemy import select

from switchboard import tasks
from switchboard.app import create_app
from switchboard.core.knowledge.loaders import load_articles
from switchboard.core.knowledge.service import KnowledgeBase
from switchboard.core.settings import load_settings
from switchboard.core.store import inbox as core_inbox
from switchboard.core.store.models import Conversation, InboxEvent
from switchboard.intake import db
from switchboard.intake.db import get_db

from ..conftest import REDIS_URL, SAMPLE_KB
from ..signing import VendorClient, fixture
from .conftest import SLUG, Visitor, outbox, serving

AGENT_TEXT = "Your parcel left our warehouse this morning."


def hand_over(visitor: Visitor, app: Flask) -> int:
    visitor.say("How long does delivery take?")
    visitor.say("I want to talk to a person")
    with get_db(app).session() as session:
        conversation = session.scalars(select(Conversation)).one()
        assert conversation.status == "human" and conversation.zendesk_ticket_id is not None
        return conversation.zendesk_ticket_id


def agent_reply(ticket_id: int, comment_id: str = "10001", body: str = AGENT_TEXT) -> dict[str, Any]:
    payload = fixture("zendesk", "ticket_comment_added.json")
    payload["id"] = str(uuid.uuid4())
    payload["detail"]["id"] = str(ticket_id)
    payload["event"]["comment"].update(id=comment_id, body=body)
    return payload


def test_asking_for_a_person_opens_a_ticket_with_the_web_conversation(visitor: Visitor, shop: Flask) -> None:
    ticket_id = hand_over(visitor, shop)

    [created] = [c for c in outbox(shop, "zendesk") if c.operation == "tickets.create"]
    ticket = created.payload["ticket"]
    assert ticket["subject"].startswith("WEB from")
    package = ticket["comment"]["body"]
    assert "channels used here: web" in package
    assert "WEB] customer: I want to talk to a person" in package
    assert "channel_web" in ticket["tags"]
    assert created.response is not None and created.response["ticket_id"] == ticket_id
    told = visitor.messages()[-1]
    assert told["author"] == "bot" and "member of our team" in told["text"]

    visitor.say("Are you there?")

    relayed = [c for c in outbox(shop, "zendesk") if c.operation == "tickets.add_comment"
               or "comment" in c.payload.get("ticket", {})]
    assert any("[WEB] Are you there?" in json.dumps(c.payload) for c in relayed)
    ack = visitor.messages()[-1]
    assert ack["author"] == "system" and "A member of our team has your conversation" in ack["text"]


def test_an_agents_public_reply_is_on_the_widgets_record_once(visitor: Visitor, shop: Flask,
                                                               vendor: VendorClient) -> None:
    ticket_id = hand_over(visitor, shop)
    before = visitor.messages()[-1]["id"]

    assert vendor.zendesk(agent_reply(ticket_id)).status_code == 200
    again = agent_reply(ticket_id)  # Zendesk delivers the same comment again under a new event id
    assert vendor.zendesk(again).status_code == 200

    [reply] = visitor.messages(after=before)
    assert (reply["author"], reply["text"], reply["sources"], reply["choices"]) == ("agent", AGENT_TEXT, [], [])
    [delivery] = [c for c in outbox(shop, "webchat") if c.idempotency_key == "agent-reply:10001"]
    assert delivery.payload["to"] == visitor.visitor
    assert outbox(shop, "twilio") == []


class EventStream:
    """An EventSource, as far as the tests need one: reads a text/event-stream with a
    real HTTP client on a thread and queues each event (``retry`` and comments too)."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.events: queue.Queue[dict[str, str]] = queue.Queue()
        self.response = requests.get(url, stream=True, timeout=(5, 90), headers=headers or {})
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        event: dict[str, str] = {}
        try:
            for raw in self.response.iter_lines(decode_unicode=True):
                if raw == "":
                    if event:
                        self.events.put(event)
                    event = {}
                elif raw.startswith(":"):
                    self.events.put({"comment": raw[1:].strip()})
                else:
                    name, _, value = raw.partition(":")
                    event[name] = value.removeprefix(" ")
        except Exception:  # noqa: BLE001 - closed under the reader by close(): the stream is over either way
            pass
        finally:
            self.events.put({"end": "1"})

    def next(self, timeout: float) -> dict[str, str]:
        return self.events.get(timeout=timeout)

    def next_message(self, timeout: float) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while True:
            event = self.next(max(0.01, deadline - time.monotonic()))
            if "data" in event or "end" in event:
                return event

    def close(self) -> None:
        """Hang up as a browser closing the tab does: shut the socket, so the reader's
        blocked read ends now rather than at the server's next keepalive."""
        reader = getattr(self.response.raw, "_fp", None)  # urllib3 2's http.client response
        sock = getattr(getattr(getattr(reader, "fp", None), "raw", None), "_sock", None)
        if isinstance(sock, socket.socket):
            sock.shutdown(socket.SHUT_RDWR)
        self.thread.join(timeout=5)
        self.response.close()


@contextmanager
def stream_of(base_url: str, visitor: Visitor, after: int) -> Iterator[EventStream]:
    events = EventStream(f"{base_url}/chat/{SLUG}/stream?token={visitor.token}&after={after}")
    try:
        assert events.response.status_code == 200
        assert events.response.headers["Content-Type"].startswith("text/event-stream")
        assert events.next(10) == {"retry": "2000"}  # subscribed: what is published from now on wakes it
        yield events
    finally:
        events.close()


def test_an_agents_reply_arrives_live_on_the_stream(visitor: Visitor, shop: Flask, vendor: VendorClient) -> None:
    # The stream's own look at the database is every 30 s here: only the wake-up after
    # the reply's commit can bring it within the few seconds allowed below.
    shop.config["WEBCHAT_RECHECK_SECONDS"] = 30
    ticket_id = hand_over(visitor, shop)
    last = visitor.messages()[-1]["id"]
    with serving(shop) as base_url, stream_of(base_url, visitor, last) as events:
        sent_at = time.monotonic()
        assert vendor.zendesk(agent_reply(ticket_id)).status_code == 200

        event = events.next_message(timeout=10)

        assert time.monotonic() - sent_at < 10
        message = json.loads(event["data"])
        assert (event["event"], int(event["id"]), message["author"], message["text"]) == (
            "message", message["id"], "agent", AGENT_TEXT)
        assert message == visitor.messages(after=last)[0]


def test_the_stream_ends_in_time_and_resumes_from_last_event_id(visitor: Visitor, shop: Flask) -> None:
    shop.config["WEBCHAT_STREAM_SECONDS"] = 1
    visitor.say("How long does delivery take?")
    mine, answer = visitor.messages()

    started = time.monotonic()
    body = visitor.client.get(f"/chat/{SLUG}/stream?token={visitor.token}&after=0").get_data(as_text=True)

    assert time.monotonic() - started < 10
    assert body.startswith("retry: 2000\n\n")
    assert f"id: {mine['id']}\nevent: message\ndata: " in body and f"id: {answer['id']}\n" in body
    resumed = visitor.client.get(f"/chat/{SLUG}/stream?token={visitor.token}&after=0",
                                 headers={"Last-Event-ID": str(mine["id"])}).get_data(as_text=True)
    assert f"id: {mine['id']}\n" not in resumed and f"id: {answer['id']}\n" in resumed
    assert json.loads(resumed.split("data: ", 1)[1].split("\n", 1)[0]) == answer


@pytest.fixture
def queued_env(env: dict[str, str]) -> dict[str, str]:
    """Redis configured: tasks go to the queue (a worker elsewhere), wake-ups through Redis."""
    return {**env, "SWITCHBOARD_REDIS_URL": REDIS_URL, "SWITCHBOARD_QUEUE": f"test-webchat-{uuid.uuid4().hex[:8]}"}


def run_queued_events(app: Flask) -> list[str]:
    """What the worker does with each queued event (in this process, its own session)."""
    with app.app_context():
        session = db.session()
        pending = list(session.scalars(select(InboxEvent.id).where(InboxEvent.status == "received")
                                       .order_by(InboxEvent.id)))
        outcome = [core_inbox.process(session, event_id, tasks.handlers()) for event_id in pending]
        db.get_db().sessions.remove()
        return outcome


def test_with_redis_a_workers_commit_wakes_the_stream_through_pub_sub(queued_env: dict[str, str]) -> None:
    app = create_app(load_settings(queued_env), config={
        "TESTING": True, "WEBCHAT_RECHECK_SECONDS": 30, "WEBCHAT_LIMIT_PREFIX": f"test-{uuid.uuid4().hex}"})
    try:
        with get_db(app).session() as session:
            KnowledgeBase(session, app.config["DEFAULT_ACCOUNT_ID"], app.config["SETTINGS"].data_dir).import_articles(
                load_articles(SAMPLE_KB))
        visitor = Visitor(app.test_client())
        visitor.start()
        visitor.say("How long does delivery take?")  # recorded and queued: no answer yet
        assert [m["author"] for m in visitor.messages()] == []
        with serving(app) as base_url, stream_of(base_url, visitor, 0) as events:
            assert run_queued_events(app) == ["done"]

            mine = json.loads(events.next_message(timeout=10)["data"])
            answer = json.loads(events.next_message(timeout=10)["data"])

        assert (mine["author"], answer["author"]) == ("customer", "bot")
        assert "2 to 4 working days" in answer["text"]
    finally:
        get_db(app).dispose()
        redis.Redis.from_url(REDIS_URL).delete(queued_env["SWITCHBOARD_QUEUE"])  # the unconsumed task
