"""Rates over one cohort: outreach contacts, opt-outs and replies counted in the period
of the delivery they follow; reopens counted among conversations resolved at least
once. The histories are the audit's counter-examples (a negative deflection rate, a
reopen without a resolution), on SQLite and PostgreSQL (the ``app`` fixture)."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from switchboard.core.outcomes import metrics
from switchboard.core.outcomes.figures import Filters, figures, outreach_figures
from switchboard.core.store.models import Conversation, Customer
from switchboard.intake.db import get_db

#: A delivery day and the day after; both well inside the allowed range.
MONDAY = datetime(2026, 11, 9, 12, tzinfo=UTC)
TUESDAY = MONDAY + timedelta(days=1)


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with get_db(app).session() as db_session:
        yield db_session


def _customers(session: Session, account_id: int, count: int) -> list[Customer]:
    found = [Customer(account_id=account_id, tier="standard") for _ in range(count)]
    session.add_all(found)
    session.flush()
    return found


def _writes_in(session: Session, customer: Customer, at: datetime) -> Conversation:
    conversation = Conversation(account_id=customer.account_id, customer_id=customer.id, channel="sms",
                                status="open", started_at=at, last_message_at=at)
    session.add(conversation)
    session.flush()
    metrics.record(session, customer.account_id, "message.inbound", at=at, conversation_id=conversation.id,
                   customer_id=customer.id, channel="sms", new_conversation=True)
    return conversation


def _day(session: Session, account_id: int, moment: datetime, **filters: str) -> dict:
    return outreach_figures(session, account_id, Filters(moment.date(), moment.date(), **filters))


def test_contacts_opt_outs_and_replies_count_in_their_deliverys_period(app: Flask, session: Session) -> None:
    account_id = app.config["DEFAULT_ACCOUNT_ID"]
    ann, bob, cat, dev = _customers(session, account_id, 4)
    for customer in (ann, bob, dev):  # Monday: three deliveries by SMS
        metrics.record(session, account_id, "outreach.sent", at=MONDAY, customer_id=customer.id, channel="sms",
                       dedupe_key=f"outreach.sent:{customer.id}")
        metrics.record(session, account_id, "outreach.delivered", at=MONDAY, customer_id=customer.id,
                       channel="sms", dedupe_key=f"outreach.delivered:{customer.id}")
    # Tuesday: one delivery by WhatsApp, one failure
    metrics.record(session, account_id, "outreach.delivered", at=TUESDAY, customer_id=cat.id, channel="whatsapp")
    metrics.record(session, account_id, "outreach.failed", at=TUESDAY, customer_id=dev.id, channel="sms")
    # Tuesday: Ann and Bob write in, Dev sends STOP and replies: all about Monday's messages.
    _writes_in(session, ann, TUESDAY + timedelta(hours=1))
    _writes_in(session, bob, TUESDAY + timedelta(hours=2))
    metrics.opted_out(session, account_id, dev.id, "sms", at=TUESDAY + timedelta(hours=3))
    metrics.record(session, account_id, "outreach.reply", at=TUESDAY + timedelta(hours=4), customer_id=dev.id,
                   channel="sms", dedupe_key="reply:dev")  # linked to Monday's delivery by record()
    session.commit()

    monday, tuesday = _day(session, account_id, MONDAY), _day(session, account_id, TUESDAY)
    # Monday's cohort: 3 delivered, Ann and Bob wrote in, Dev opted out and replied.
    assert (monday["delivered"], monday["contacted"], monday["opted_out"], monday["replies"]) == (3, 2, 1, 1)
    assert monday["deflection_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert monday["opt_out_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert monday["delivery_rate"] == 1.0
    # Tuesday's cohort: Cat only, who never wrote. (Before the fix: contacted 2 of 1
    # delivered, deflection -100 %, opt-out 100 %.)
    assert (tuesday["delivered"], tuesday["failed"], tuesday["contacted"], tuesday["opted_out"]) == (1, 1, 0, 0)
    assert (tuesday["deflection_rate"], tuesday["opt_out_rate"], tuesday["delivery_rate"]) == (1.0, 0.0, 0.5)
    # A channel filter follows the delivery's channel.
    assert _day(session, account_id, MONDAY, channel="whatsapp")["delivered"] == 0
    assert _day(session, account_id, TUESDAY, channel="whatsapp")["delivered"] == 1
    # The week as a whole: 4 delivered, 2 contacted, 1 opt-out.
    week = outreach_figures(session, account_id, Filters(MONDAY.date(), TUESDAY.date()))
    assert (week["delivered"], week["contacted"], week["opted_out"], week["deflection_rate"]) == (4, 2, 1, 0.5)


def test_outreach_figures_select_event_kinds_with_in_not_like(app: Flask, session: Session) -> None:
    """``kind LIKE 'outreach.%'`` cannot use the (kind, occurred_at) index everywhere;
    ``kind IN (...)`` can."""
    statements: list[str] = []

    def remember(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", remember)
    try:
        metrics.record(session, app.config["DEFAULT_ACCOUNT_ID"], "outreach.delivered", at=MONDAY,
                       customer_id=_customers(session, app.config["DEFAULT_ACCOUNT_ID"], 1)[0].id, channel="sms")
        statements.clear()
        _day(session, app.config["DEFAULT_ACCOUNT_ID"], MONDAY)
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    on_events = [s for s in statements if "metric_events" in s]
    assert len(on_events) == 2  # the cohort's counts, then the linked events
    assert all(" LIKE " not in s.upper() and " IN (" in s.upper() for s in on_events)


def test_reopens_are_counted_among_conversations_resolved_at_least_once(app: Flask, session: Session) -> None:
    account_id = app.config["DEFAULT_ACCOUNT_ID"]
    eve, fay = _customers(session, account_id, 2)
    # Eve: the bot answers, she comes back 25 h later and asks for a person.
    reopened = _writes_in(session, eve, MONDAY)
    metrics.record(session, account_id, "bot.reply", at=MONDAY + timedelta(seconds=5),
                   conversation_id=reopened.id, label="answer", value=5)
    metrics.record(session, account_id, "message.inbound", at=MONDAY + timedelta(hours=25),
                   conversation_id=reopened.id, customer_id=eve.id)
    metrics.record(session, account_id, "handoff", at=MONDAY + timedelta(hours=25, seconds=5),
                   conversation_id=reopened.id, label="explicit_request")
    # Fay: answered, never back.
    answered = _writes_in(session, fay, MONDAY)
    metrics.record(session, account_id, "bot.reply", at=MONDAY + timedelta(seconds=5),
                   conversation_id=answered.id, label="answer", value=5)
    session.commit()

    t = figures(session, account_id, Filters(MONDAY.date(), MONDAY.date()))["totals"]
    # Eve's handoff undid the bot's resolution (not contained) but not her reopen.
    assert (t["contained"], t["escalated"], t["resolved"]) == (1, 1, 1)
    # Before the fix: 1 reopened "of" 1 resolved (Fay's), 100 %.
    assert (t["reopened"], t["resolved_ever"], t["reopen_rate"]) == (1, 2, 0.5)

    metrics.record(session, account_id, "agent.reply", at=MONDAY + timedelta(hours=26), conversation_id=reopened.id)
    metrics.record(session, account_id, "ticket.solved", at=MONDAY + timedelta(hours=27),
                   conversation_id=reopened.id)
    session.commit()
    t = figures(session, account_id, Filters(MONDAY.date(), MONDAY.date()))["totals"]
    assert (t["resolved"], t["resolved_ever"], t["reopened"], t["reopen_rate"]) == (2, 2, 1, 0.5)


def test_a_zendesk_reopen_counts_only_after_a_resolution_within_the_window(app: Flask, session: Session) -> None:
    account_id = app.config["DEFAULT_ACCOUNT_ID"]
    gus, hal, ida = _customers(session, account_id, 3)
    conversations = [_writes_in(session, customer, MONDAY) for customer in (gus, hal, ida)]
    solved_gus, solved_hal, open_ida = conversations
    for conversation in (solved_gus, solved_hal):
        metrics.record(session, account_id, "handoff", at=MONDAY + timedelta(seconds=5),
                       conversation_id=conversation.id, label="explicit_request")
        metrics.record(session, account_id, "ticket.solved", at=MONDAY + timedelta(hours=1),
                       conversation_id=conversation.id)
    metrics.ticket_reopened(session, solved_gus, at=MONDAY + timedelta(days=2))  # within 7 days
    metrics.ticket_reopened(session, solved_hal, at=MONDAY + timedelta(days=9))  # too late
    metrics.ticket_reopened(session, open_ida, at=MONDAY + timedelta(days=1))  # never resolved
    session.commit()
    t = figures(session, account_id, Filters(MONDAY.date(), MONDAY.date()))["totals"]
    assert (t["reopened"], t["resolved_ever"], t["reopen_rate"]) == (1, 2, 0.5)
