"""Fixtures of the web chat tests: the app (SQLite and PostgreSQL, sandboxed vendors,
tasks run before the response returns) with the sample shop's knowledge base, and a
visitor's browser speaking the widget's API through Flask's test client."""
from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.test import TestResponse

from switchboard.core.store.models import InboxEvent, Message, OutboxCall
from switchboard.intake.db import get_db

SLUG = "default"
_ids = itertools.count(1)


class Visitor:
    """A browser with the widget open: it keeps its token as the widget keeps it in
    localStorage, and sends what the widget sends."""

    def __init__(self, client: FlaskClient, *, origin: str | None = None) -> None:
        self.client = client
        self.origin = origin
        self.token: str | None = None
        self.visitor: str | None = None

    def headers(self, **extra: str) -> dict[str, str]:
        headers = dict(extra)
        if self.origin:
            headers["Origin"] = self.origin
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return headers

    def start(self, *, token: str | None = None, locale: str | None = None) -> dict[str, Any]:
        """POST /session as the widget does on load: with the stored token, if any."""
        response = self.client.post(f"/chat/{SLUG}/session", json={"token": token or self.token, "locale": locale},
                                    headers=self.headers())
        assert response.status_code == 200, response.get_data(as_text=True)
        answer: dict[str, Any] = response.get_json()
        self.token, self.visitor = answer["token"], answer["visitor"]
        return answer

    def send(self, text: str, *, client_id: str | None = None, **headers: str) -> TestResponse:
        return self.client.post(f"/chat/{SLUG}/messages", json={"text": text, "client_id": client_id or
                                                                f"c{next(_ids)}"}, headers=self.headers(**headers))

    def say(self, text: str, **kwargs: Any) -> None:
        response = self.send(text, **kwargs)
        assert response.status_code == 202, response.get_data(as_text=True)

    def messages(self, after: int = 0) -> list[dict[str, Any]]:
        response = self.client.get(f"/chat/{SLUG}/messages?after={after}", headers=self.headers())
        assert response.status_code == 200, response.get_data(as_text=True)
        found: list[dict[str, Any]] = response.get_json()["messages"]
        return found


@pytest.fixture
def visitor(shop: Flask) -> Visitor:
    """A visitor on the Switchboard's own page (no Origin: same-origin), session started."""
    browser = Visitor(shop.test_client())
    browser.start()
    return browser


def inbox(app: Flask) -> list[InboxEvent]:
    with get_db(app).session() as session:
        return list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))


def outbox(app: Flask, vendor: str | None = None) -> list[OutboxCall]:
    with get_db(app).session() as session:
        query = select(OutboxCall).order_by(OutboxCall.id)
        if vendor:
            query = query.where(OutboxCall.vendor == vendor)
        return list(session.scalars(query))


def timeline(app: Flask) -> list[Message]:
    with get_db(app).session() as session:
        return list(session.scalars(select(Message).order_by(Message.id)))


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """``app`` served on a loopback port by a real WSGI server (a thread per request),
    for what the test client cannot do: read an event stream while others post."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="webchat-test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
