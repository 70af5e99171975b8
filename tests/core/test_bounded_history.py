"""A message costs the same however long the customer's history is.

Counting the SQL statements one message takes is deterministic where timing is not: a
query that read the whole timeline would not change the count, but one that loaded it
row by row, or an extra query per earlier message, would; and the tests below also check
what the bounded reads still see (the latest messages, the right counts).
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, insert, select

from switchboard.app import create_app
from switchboard.core.customers import timeline
from switchboard.core.helpdesk.handoff import PACKAGE_MESSAGES
from switchboard.core.resources import data_file
from switchboard.core.settings import load_settings
from switchboard.core.store.models import Conversation, ConversationOutcome, Message, OutboxCall
from switchboard.intake.db import get_db

from ..conftest import (
    PUBLIC_URL,
    SLACK_SECRET,
    TWILIO_TOKEN,
    ZENDESK_SECRET,
    _truncate_postgres,
    base_env,
    with_sample_kb,
)
from ..signing import VendorClient, fixture

MESSAGES = "/webhooks/twilio/messages"
PHONE = "+14155550100"
_sid = itertools.count(1)


def _policy_without_turn_limits(tmp_path: Path) -> Path:
    """The shipped policy with the two limits a long conversation reaches by itself
    turned off, so the bot keeps the conversation and each message takes the same path."""
    text = data_file("escalation_policy.yaml").read_text()
    for name in ("too_many_turns:", "too_long_with_bot:"):
        text = text.replace(f"  {name}\n", f"  {name}\n    enabled: false\n")
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


@pytest.fixture
def long_app(tmp_path: Path, pg_url: str) -> Iterator[Flask]:
    _truncate_postgres(pg_url)
    env = {**base_env(tmp_path, pg_url), "SWITCHBOARD_POLICY_FILE": str(_policy_without_turn_limits(tmp_path))}
    app = create_app(load_settings(env), config={"TASKS_INLINE": True, "TESTING": True})
    yield with_sample_kb(app)
    get_db(app).dispose()


@pytest.fixture
def signed(long_app: Flask) -> VendorClient:
    return VendorClient(long_app.test_client(), twilio_token=TWILIO_TOKEN, zendesk_secret=ZENDESK_SECRET,
                        slack_secret=SLACK_SECRET, public_url=PUBLIC_URL)


def sms(body: str, phone: str = PHONE) -> dict[str, str]:
    return {"MessageSid": f"SM{next(_sid):032d}", "AccountSid": "AC" + "1" * 32, "From": phone,
            "To": "+15005550006", "Body": body, "NumMedia": "0"}


def add_history(app: Flask, phone: str, earlier: int) -> int:
    """The customer writes once (a real delivery: customer, conversation, bot reply), then
    their conversation gains ``earlier`` more messages, customer and bot in turn, an hour
    ago. Returns the conversation's id."""
    assert signed_client(app).twilio(MESSAGES, sms("how long does delivery take?", phone)).status_code == 200
    with get_db(app).session() as session:
        conversation = session.scalars(select(Conversation).order_by(Conversation.id.desc())).first()
        assert conversation is not None
        at = datetime.now(UTC) - timedelta(hours=1)
        rows: list[dict[str, Any]] = []
        for i in range(earlier):
            customer = i % 2 == 0
            rows.append({
                "account_id": conversation.account_id, "conversation_id": conversation.id,
                "direction": "inbound" if customer else "outbound", "channel": "sms",
                "author": "customer" if customer else "bot", "body": f"earlier message {i}", "status": "received",
                "meta": ({"enrichment": {"sentiment": 0.1, "intent": "other"}} if customer
                         else {"action": "answer", "reason": None, "sources": []}),
                "created_at": at + timedelta(milliseconds=i)})
        if rows:
            session.execute(insert(Message), rows)
        session.commit()
        return conversation.id


def signed_client(app: Flask) -> VendorClient:
    return VendorClient(app.test_client(), twilio_token=TWILIO_TOKEN, zendesk_secret=ZENDESK_SECRET,
                        slack_secret=SLACK_SECRET, public_url=PUBLIC_URL)


def statements_for(app: Flask, body: str, phone: str) -> tuple[int, int]:
    """How many SQL statements one signed message takes (intake and processing, inline),
    and how many rows they read: a query that read the whole timeline in one statement
    shows in the rows."""
    statements, rows = 0, 0
    engine = get_db(app).engine

    def count(_conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        nonlocal statements, rows
        statements += 1
        if statement.lstrip().upper().startswith("SELECT") and cursor.rowcount > 0:
            rows += cursor.rowcount

    event.listen(engine, "after_cursor_execute", count)
    try:
        assert signed_client(app).twilio(MESSAGES, sms(body, phone)).status_code == 200
    finally:
        event.remove(engine, "after_cursor_execute", count)
    return statements, rows


def test_a_message_takes_the_same_statements_and_rows_after_1_100_or_1000_earlier_ones(long_app: Flask) -> None:
    counts, rows = {}, {}
    for n, earlier in enumerate((1, 100, 1000)):
        phone = f"+1415555{n:04d}"
        add_history(long_app, phone, earlier)
        counts[earlier], rows[earlier] = statements_for(long_app, "how long does delivery take to Canada?", phone)
    assert counts[1] == counts[100] == counts[1000], counts
    # The window fills up between 1 and 100 earlier messages; from then on nothing grows.
    assert rows[100] == rows[1000], rows
    assert rows[1000] - rows[1] <= timeline.TURN_WINDOW + timeline.COUNT_CAP, rows
    with get_db(long_app).session() as session:  # the bot answered each, it did not hand over
        latest = session.scalars(select(Message).where(Message.author == "bot").order_by(Message.id.desc())).first()
        assert latest is not None and latest.meta["action"] == "answer"


def test_the_turn_reads_the_latest_messages_not_the_whole_timeline(long_app: Flask) -> None:
    conversation_id = add_history(long_app, PHONE, 1000)
    with get_db(long_app).session() as session:
        latest = timeline.recent(session, conversation_id)
        assert len(latest) == timeline.TURN_WINDOW
        assert latest[-1].body == "earlier message 999" and latest[0].body == "earlier message 980"
        before = timeline.recent(session, conversation_id, before_id=latest[-1].id, author="customer", limit=3)
        assert [m.body for m in before] == ["earlier message 994", "earlier message 996", "earlier message 998"]
        assert timeline.count_capped(session, select(Message.id).where(
            Message.conversation_id == conversation_id)) == timeline.COUNT_CAP


def test_the_handoff_package_of_a_long_conversation_shows_its_latest_messages(long_app: Flask) -> None:
    conversation_id = add_history(long_app, PHONE, 1000)
    assert signed_client(long_app).twilio(MESSAGES, sms("I want to talk to a real person")).status_code == 200
    with get_db(long_app).session() as session:
        call = session.scalars(select(OutboxCall).where(
            OutboxCall.idempotency_key == f"handoff:{conversation_id}")).one()
        note = str(call.payload)
    assert "I want to talk to a real person" in note  # the message that asked for a person
    assert "earlier message 999" in note and "earlier message 952" in note  # the latest ones, in full
    assert "earlier message 951" not in note and "earlier message 0:" not in note
    assert f"earlier message(s) not shown: the latest {PACKAGE_MESSAGES} follow" in note
    assert "100+ earlier message(s)" in note  # counted up to the cap, not to the end


def test_the_summary_of_a_solved_long_conversation_counts_up_to_the_cap(long_app: Flask) -> None:
    conversation_id = add_history(long_app, PHONE, 1000)
    client = signed_client(long_app)
    assert client.twilio(MESSAGES, sms("I want to talk to a real person")).status_code == 200
    with get_db(long_app).session() as session:
        ticket = session.get(Conversation, conversation_id).zendesk_ticket_id  # type: ignore[union-attr]
    assert ticket is not None
    solved = {**fixture("zendesk", "ticket_created.json"), "id": "evt-solved-long",
              "type": "zen:event-type:ticket.status_changed",
              "detail": {"id": str(ticket), "status": "SOLVED"}, "event": {"previous": "OPEN", "current": "SOLVED"}}
    statements = 0
    engine = get_db(long_app).engine

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(engine, "after_cursor_execute", count)
    try:
        assert client.zendesk(solved).status_code == 200
    finally:
        event.remove(engine, "after_cursor_execute", count)
    with get_db(long_app).session() as session:
        call = session.scalars(select(OutboxCall).where(
            OutboxCall.idempotency_key == f"summary:{ticket}:{conversation_id}")).one()
        summary = str(call.payload)
    assert "messages: 100+" in summary and "I want to talk to a real person" in summary, summary
    assert statements < 100, statements  # not one per stored message


def test_one_message_never_runs_the_same_read_twice(long_app: Flask) -> None:
    """While one message is processed (several commits: the outbox call commits before
    the vendor is called) the rows it loaded stay loaded and the artifact versions it
    looked up are reused: no SELECT runs twice with the same parameters, whether the
    message starts a conversation or continues one."""
    engine = get_db(long_app).engine
    reads: list[tuple[str, str]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            reads.append((statement, repr(parameters)))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        for body in ("how long does delivery take?", "and do you ship to Canada?", "how do I return an item"):
            reads.clear()
            assert signed_client(long_app).twilio(MESSAGES, sms(body, "+14155550177")).status_code == 200
            repeated = [(s.split("WHERE")[0][:80], p) for s, p in set(reads) if reads.count((s, p)) > 1]
            assert reads and not repeated, (body, repeated)
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def statements_of(app: Flask, delivery: dict[str, str]) -> list[str]:
    """The SQL statements one signed delivery runs (processed inline), whitespace folded."""
    seen: list[str] = []
    engine = get_db(app).engine

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "after_cursor_execute", record)
    try:
        assert signed_client(app).twilio(MESSAGES, delivery).status_code == 200
    finally:
        event.remove(engine, "after_cursor_execute", record)
    return seen


def test_a_returning_customers_message_reads_its_outcome_row_with_its_conversation(long_app: Flask) -> None:
    """Every customer message folds into its conversation's outcome row (metrics): the
    row comes with the open conversation, in the same statement, not in one of its own."""
    assert signed_client(long_app).twilio(MESSAGES, sms("how long does delivery take to Canada?")).status_code == 200
    seen = statements_of(long_app, sms("and to Mexico?"))
    reads = [s for s in seen if s.startswith("SELECT") and "FROM conversation_outcomes" in s]
    assert reads == [], reads
    assert any(s.startswith("UPDATE conversation_outcomes") for s in seen), seen  # and the message was folded in


def test_a_returning_customers_account_comes_with_the_customer(long_app: Flask) -> None:
    """The account a message is handled for is joined to the customer's lookup by
    phone number, not read in a statement of its own."""
    assert signed_client(long_app).twilio(MESSAGES, sms("how long does delivery take to Canada?")).status_code == 200
    seen = statements_of(long_app, sms("and to Mexico?"))
    finding = [s for s in seen if s.startswith("SELECT customers.")]
    assert len(finding) == 1 and "JOIN accounts" in finding[0], finding
    assert [s for s in seen if s.startswith("SELECT accounts.")] == []
    with get_db(long_app).session() as session:  # and the bot replied to both messages
        assert len(session.scalars(select(Message).where(Message.author == "bot")).all()) == 2


def test_a_new_customers_first_message_looks_up_no_history(long_app: Flask) -> None:
    """The customer the message created has no open conversation, no outcome row, no
    earlier conversation and no outreach delivery in the database: none is looked up.
    (A returning customer's first conversation still is: the outreach tests check the
    link to a delivery.)"""
    seen = statements_of(long_app, sms("how long does delivery take?", "+14155550999"))
    history = [s for s in seen if s.startswith(("SELECT conversations.", "SELECT conversation_outcomes.",
                                                  "SELECT metric_events."))]
    assert history == [], history
    assert sum(s.startswith("INSERT INTO conversation_outcomes") for s in seen) == 1
    with get_db(long_app).session() as session:
        conversation = session.scalars(select(Conversation).order_by(Conversation.id.desc())).first()
        assert conversation is not None
        assert session.get(ConversationOutcome, conversation.id).bot_replies == 1  # type: ignore[union-attr]
