"""The wrap-up written back to Zendesk when a conversation ends, through signed Twilio
messages and Zendesk events, read from the sandbox outbox: the disposition in the
ticket's custom field and tags; a bot-resolved conversation logged as a solved ticket once."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from sqlalchemy import select

from switchboard.app import create_app
from switchboard.config import load_settings
from switchboard.db import get_db
from switchboard.models import AuditEntry, OutboxCall

from ..assist.test_sidebar_api import comment, handed_over_ticket, say
from ..conftest import with_sample_kb
from .test_bot_answer_guard import vendor_for
from .test_conversation_scores import solve

FIELD = "360001"


@contextmanager
def app_with(env: dict[str, str], **extra: str) -> Iterator[Flask]:
    app = create_app(load_settings({**env, **extra}), config={"TASKS_INLINE": True, "TESTING": True})
    try:
        yield with_sample_kb(app)
    finally:
        get_db(app).dispose()


def zendesk_calls(app: Flask, operation: str) -> list[dict]:  # type: ignore[type-arg]
    with get_db(app).session() as session:
        return [c.payload["ticket"] for c in session.scalars(select(OutboxCall).where(
            OutboxCall.vendor == "zendesk", OutboxCall.operation == operation).order_by(OutboxCall.id))]


def wrapups(app: Flask) -> list[dict]:  # type: ignore[type-arg]
    with get_db(app).session() as session:
        return [a.detail for a in session.scalars(select(AuditEntry).where(
            AuditEntry.action == "quality.wrapup_written").order_by(AuditEntry.id))]


def test_a_solved_ticket_gets_its_disposition_in_the_custom_field_and_tags(env: dict[str, str]) -> None:
    with app_with(env, SWITCHBOARD_ZENDESK_DISPOSITION_FIELD_ID=FIELD) as app:
        vendor = vendor_for(app)
        ticket = handed_over_ticket(app, vendor)  # "my card … was charged twice": a payment question
        vendor.zendesk(comment(ticket, "The second charge is a hold and disappears within 5 days.", staff=True))
        solve(vendor, ticket)
        [written] = [t for t in zendesk_calls(app, "tickets.update") if t.get("custom_fields")]
        [wrapup] = wrapups(app)
        assert written["id"] == ticket
        assert written["custom_fields"] == [{"id": int(FIELD), "value": wrapup["code"]}]
        assert f"disposition_{wrapup['code']}" in written["additional_tags"]
        assert (wrapup["code"], wrapup["outcome"]) == ("payments", "agent_resolved")
        assert 0 < wrapup["confidence"] <= 1
        assert [t for t in zendesk_calls(app, "tickets.create") if t.get("status") == "solved"] == []


def test_a_bot_resolved_conversation_is_logged_as_a_solved_ticket_once(env: dict[str, str]) -> None:
    with app_with(env, SWITCHBOARD_ZENDESK_DISPOSITION_FIELD_ID=FIELD) as app:
        vendor = vendor_for(app)
        say(vendor, "How long does delivery take?")
        say(vendor, "thanks, that answers it")
        say(vendor, "How much does delivery cost?")
        say(vendor, "great, thanks")  # ends again: scored again, but the bot's ticket is already there
        [logged] = [t for t in zendesk_calls(app, "tickets.create")]
        assert logged["status"] == "solved" and "switchboard_bot_resolved" in logged["tags"]
        assert logged["custom_fields"] == [{"id": int(FIELD), "value": "order_tracking"}]
        assert "Resolved by the Switchboard assistant" in logged["comment"]["body"]
        assert logged["comment"]["public"] is False
        assert logged["requester_id"]
        assert [w["outcome"] for w in wrapups(app)] == ["bot_resolved", "bot_resolved"]


def test_logging_bot_conversations_can_be_switched_off(env: dict[str, str]) -> None:
    with app_with(env, SWITCHBOARD_ZENDESK_LOG_BOT_CONVERSATIONS="0") as app:
        vendor = vendor_for(app)
        say(vendor, "How long does delivery take?")
        say(vendor, "thanks, that answers it")
        assert zendesk_calls(app, "tickets.create") == []
        [wrapup] = wrapups(app)
        assert (wrapup["code"], wrapup["ticket_id"]) == ("order_tracking", None)
