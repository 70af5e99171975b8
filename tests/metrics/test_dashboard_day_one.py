"""A newcomer's first hour, as issue 17 (item 9) describes it: conversations played in
the playground, then the dashboard over HTTP, on SQLite and PostgreSQL. What the page
shows must be true of those conversations: who handled them, which are resolved, over
which days, in which unit."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from html.parser import HTMLParser

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from switchboard.cli.serve import ensure_sample_kb
from switchboard.core.outcomes import metrics
from switchboard.core.store.models import Account, Conversation, Customer
from switchboard.intake.db import get_db

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
    menu = play(client, "where's my stuff", "+15550100002")
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


def _started(app: Flask, days_ago: int) -> None:
    """A conversation started ``days_ago`` (recorded as the flows record one): history
    older than anything the playground can make."""
    start = datetime.combine(datetime.now(UTC).date() - timedelta(days=days_ago), time(9), tzinfo=UTC)
    with get_db(app).session() as session:
        account = session.get(Account, app.config["DEFAULT_ACCOUNT_ID"])
        assert account is not None
        customer = Customer(account_id=account.id, display_name="Earlier")
        session.add(customer)
        session.flush()
        conversation = Conversation(account_id=account.id, customer_id=customer.id, channel="sms",
                                    started_at=start, last_message_at=start)
        session.add(conversation)
        session.flush()
        metrics.record(session, account.id, "message.inbound", at=start, conversation_id=conversation.id,
                       customer_id=customer.id, channel="sms", new_conversation=True)
        session.commit()


def _period(page: Page) -> tuple[date, date]:
    return date.fromisoformat(page.values["from"]), date.fromisoformat(page.values["to"])


def test_a_young_account_is_charted_from_its_first_day_not_over_30_empty_ones(app: Flask,
                                                                               newcomer: VendorClient) -> None:
    client = newcomer.client
    today = datetime.now(UTC).date()
    # Nothing yet, and then only today's playground conversations: the last 7 days.
    assert _period(dashboard(client)) == (today - timedelta(days=6), today)
    play(client, "how long does delivery take?", "+15550100001")
    page = dashboard(client)
    assert _period(page) == (today - timedelta(days=6), today)
    assert [d["conversations"] for d in page.figures["daily"]] == [0] * 6 + [1]

    _started(app, days_ago=12)  # history since 12 days ago: all of it, and no more
    page = dashboard(client)
    assert _period(page) == (today - timedelta(days=12), today)
    assert len(page.figures["daily"]) == 13 and page.figures["daily"][0]["conversations"] == 1

    _started(app, days_ago=45)  # an older account: the last 30 days, as before
    assert _period(dashboard(client)) == (today - timedelta(days=29), today)


def test_a_period_the_user_picks_is_kept(app: Flask, newcomer: VendorClient) -> None:
    client = newcomer.client
    today = datetime.now(UTC).date()
    play(client, "how long does delivery take?", "+15550100001")
    _started(app, days_ago=12)
    for start, end in ((today - timedelta(days=59), today), (today, today),
                       (today - timedelta(days=12), today - timedelta(days=10))):
        page = dashboard(client, f"from={start.isoformat()}&to={end.isoformat()}")
        assert _period(page) == (start, end) and len(page.figures["daily"]) == (end - start).days + 1
    # Only an end: the start still follows the history, counted back from that end (a
    # week at least, however little history there is before it).
    end = today - timedelta(days=10)
    assert _period(dashboard(client, f"to={end.isoformat()}")) == (end - timedelta(days=6), end)
    end = today
    assert _period(dashboard(client, f"to={end.isoformat()}")) == (today - timedelta(days=12), end)


def test_the_sign_in_page_says_where_the_key_serve_wrote_is(app: Flask) -> None:
    browser = app.test_client()  # from 127.0.0.1, like the newcomer's browser
    page = Page(browser.get("/dashboard/login").get_data(as_text=True))
    assert ".switchboard-api-key in the server's data directory" in page.text("key-help")
    # `switchboard serve` writes the default account's key beside the database.
    key_file = app.config["SETTINGS"].data_dir / ".switchboard-api-key"
    key_file.write_text(key_for(app) + "\n")
    page = Page(browser.get("/dashboard/login").get_data(as_text=True))
    assert page.text("key-file") == str(key_file)
    assert f"paste the contents of {key_file}" in page.text("key-help")
    # Anyone else learns the file's name and folder, not the server's paths.
    elsewhere = app.test_client().get("/dashboard/login", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert str(key_file) not in elsewhere.get_data(as_text=True)
    assert Page(elsewhere.get_data(as_text=True)).text("key-file") == ".switchboard-api-key"

    wrong = browser.post("/dashboard/login", data={"key": "sb_from_somewhere_else"})
    assert wrong.status_code == 401 and "from .switchboard-api-key" in wrong.get_data(as_text=True)
    signed_in = browser.post("/dashboard/login", data={"key": key_file.read_text()})  # newline and all
    assert signed_in.status_code == 302 and browser.get("/dashboard/").status_code == 200


def test_day_one_says_there_were_no_questions_not_that_every_one_found_an_article(
        app: Flask, newcomer: VendorClient) -> None:
    client = newcomer.client
    assert dashboard(client).text("no-gaps") == (
        "No questions yet in this period: the questions the bot found no article for will be listed here.")
    play(client, "how long does delivery take?", "+15550100001")
    assert dashboard(client).text("no-gaps") == "The bot found an article for every question in this period."
