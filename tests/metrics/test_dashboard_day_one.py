"""A newcomer's first hour, as issue 17 (item 9) describes it: conversations played in
the playground, then the dashboard over HTTP, on SQLite and PostgreSQL. What the page
shows must be true of those conversations: who handled them, which are resolved, over
which days, in which unit."""
from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from switchboard.cli import ensure_sample_kb
from switchboard.db import get_db
from switchboard.models import Conversation

from ..assist.test_sidebar_api import comment, key_for
from ..signing import VendorClient, fixture


class _Texts(HTMLParser):
    """The text inside each element that has an id (nested ids each get their own), as
    written and with the pieces apart (as the browser shows them, one block a line)."""

    def __init__(self) -> None:
        super().__init__()
        self.raw: dict[str, str] = {}
        self.texts: dict[str, str] = {}
        self.values: dict[str, str] = {}
        self._open: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        element_id = found.get("id")
        if element_id and "value" in found:
            self.values[element_id] = found["value"] or ""
        if tag in ("input", "meta", "link", "br", "img"):
            return
        self._open.append(element_id)
        if element_id:
            self.texts[element_id] = self.raw[element_id] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag not in ("input", "meta", "link", "br", "img") and self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for element_id in self._open:
            if element_id:
                self.texts[element_id] += " " + data
                self.raw[element_id] += data


class Page:
    """A dashboard page as the browser receives it: texts by element id, input values,
    and the figures embedded for the charts."""

    def __init__(self, html: str) -> None:
        self.html = html
        parser = _Texts()
        parser.feed(html)
        self.texts, self.values = parser.texts, parser.values
        self.figures = json.loads(parser.raw["figures"]) if "figures" in parser.raw else None

    def text(self, element_id: str) -> str:
        return " ".join(self.texts[element_id].split())


def play(client: FlaskClient, text: str, phone: str) -> dict:
    """One message typed into the playground, as the newcomer did."""
    response = client.post("/playground/messages", json={"text": text, "phone": phone})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def dashboard(client: FlaskClient, query: str = "") -> Page:
    response = client.get("/dashboard/" + (f"?{query}" if query else ""))
    assert response.status_code == 200, response.get_data(as_text=True)
    return Page(response.get_data(as_text=True))


@pytest.fixture
def newcomer(app: Flask, vendor: VendorClient) -> VendorClient:
    """`switchboard serve` on an empty database (the sample knowledge base loaded), a
    supervisor signed in to the dashboard with the account's key."""
    ensure_sample_kb(app)
    signed_in = vendor.client.post("/dashboard/login", data={"key": key_for(app)})
    assert signed_in.status_code == 302
    return vendor


def _ticket_of(app: Flask, conversation_id: int) -> int:
    with get_db(app).session() as session:
        ticket = session.scalar(select(Conversation.zendesk_ticket_id).where(Conversation.id == conversation_id))
    assert ticket
    return ticket


def test_the_automation_levels_count_who_handled_each_conversation(app: Flask, newcomer: VendorClient) -> None:
    client = newcomer.client
    answered = play(client, "how long does delivery take?", "+15550100001")
    menu = play(client, "where is my order?", "+15550100002")
    asked_for_a_person = play(client, "I want to talk to a person", "+15550100003")
    play(client, "can I return shoes?", "+15550100004")
    menu_then_agent = play(client, "AGENT", "+15550100004")
    assert answered["messages"][-1]["action"] == "answer" and menu["messages"][-1]["action"] == "choices"
    assert asked_for_a_person["conversation"]["status"] == menu_then_agent["conversation"]["status"] == "human"

    levels = {row["segment"]: row["conversations"] for row in dashboard(client).figures["by_automation"]}
    # Nobody has answered the two handoffs yet: no person has handled anything, and the
    # bot handled the other two on its own (a menu of articles is the bot's work too).
    assert levels == {"ai_only": 2, "awaiting_human": 2}

    # An agent answers both tickets in Zendesk; the replies reach the customers.
    for view in (asked_for_a_person, menu_then_agent):
        ticket = _ticket_of(app, view["conversation"]["id"])
        assert newcomer.zendesk(comment(ticket, "Hi, Ava here: I'm on it.", staff=True)).status_code == 200
    levels = {row["segment"]: row["conversations"] for row in dashboard(client).figures["by_automation"]}
    assert levels == {"ai_only": 2, "human_only": 1, "ai_then_human": 1}


def test_only_resolved_conversations_count_as_resolved(app: Flask, newcomer: VendorClient) -> None:
    client = newcomer.client
    play(client, "how long does delivery take?", "+15550100001")
    play(client, "which payment methods do you take?", "+15550100002")
    handed = play(client, "AGENT", "+15550100003")

    # Every conversation is still open: the bot answered two a moment ago (the customers
    # may yet come back) and nobody has solved the third's ticket.
    page = dashboard(client)
    totals = page.figures["totals"]
    assert (totals["contained"], totals["resolved"], totals["resolution_time_avg_s"]) == (2, 0, None)
    assert page.text("card-resolution") == "Time to resolution n/a 0 of 3 resolved"
    assert page.text("card-containment").endswith("2 answered without a person")

    # The agent solves the ticket in Zendesk: that conversation is closed, and resolved.
    ticket = _ticket_of(app, handed["conversation"]["id"])
    assert newcomer.zendesk(comment(ticket, "Sorted: your refund is on its way.", staff=True)).status_code == 200
    solved = {**fixture("zendesk", "ticket_created.json"), "id": "evt-day-one-solved",
              "type": "zen:event-type:ticket.status_changed",
              "detail": {"id": str(ticket), "status": "SOLVED"}, "event": {"previous": "OPEN", "current": "SOLVED"}}
    assert newcomer.zendesk(solved).status_code == 200
    page = dashboard(client)
    assert page.figures["totals"]["resolved"] == 1 and page.figures["totals"]["resolution_time_avg_s"] is not None
    assert page.text("card-resolution").endswith("1 of 3 resolved")
