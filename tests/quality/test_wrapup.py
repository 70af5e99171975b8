"""The wrap-up written back to Zendesk when a conversation ends, through signed Twilio
messages and Zendesk events, read from the sandbox outbox: the disposition in the
ticket's custom field and tags; a bot-resolved conversation logged as a solved ticket once."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from sqlalchemy import select
from werkzeug.test import TestResponse

from switchboard.app import create_app
from switchboard.core.settings import load_settings
from switchboard.core.store.models import AuditEntry, Conversation, OutboxCall
from switchboard.intake.db import get_db

from ..assist.test_sidebar_api import comment, handed_over_ticket, key_for, say
from ..conftest import with_sample_kb
from ..signing import VendorClient
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


def correct(app: Flask, vendor: VendorClient, ticket: int, body: object) -> TestResponse:
    return vendor.client.post(f"/api/sidebar/tickets/{ticket}/disposition", json=body,
                              headers={"Authorization": f"Bearer {key_for(app)}", "X-Zendesk-User-Id": "4021"})


def solved_ticket(app: Flask, vendor: VendorClient) -> int:
    """handed_over_ticket's conversation again (the customer's previous one was solved)."""
    say(vendor, "my card 4111 1111 1111 1111 was charged twice for order #A123456")
    say(vendor, "AGENT")
    with get_db(app).session() as session:
        ticket = session.scalars(select(Conversation).order_by(Conversation.id.desc())).first().zendesk_ticket_id
    assert ticket
    vendor.zendesk(comment(ticket, "The second charge is a hold and disappears within 5 days.", staff=True))
    solve(vendor, ticket)
    return ticket


def test_agents_correct_the_disposition_in_the_sidebar_and_two_agreeing_corrections_are_learned(
        env: dict[str, str]) -> None:
    with app_with(env, SWITCHBOARD_ZENDESK_DISPOSITION_FIELD_ID=FIELD) as app:
        vendor = vendor_for(app)
        first = solved_ticket(app, vendor)
        assert correct(app, vendor, first, {"kode": "x"}).status_code == 400
        unknown = correct(app, vendor, first, {"code": "no_such_code"})
        assert unknown.status_code == 409 and "use one of" in unknown.get_json()["error"]
        assert correct(app, vendor, first, {"code": "returns_refunds"}).get_json() == {
            "disposition": "returns_refunds", "corrected_by": "zendesk:4021", "confidence": 1.0}
        corrected = [t for t in zendesk_calls(app, "tickets.update")
                     if t.get("custom_fields") == [{"id": int(FIELD), "value": "returns_refunds"}]]
        assert [t["id"] for t in corrected] == [first]
        assert wrapups(app)[-1]["code"] == "payments"  # one correction is not yet a lesson
        second = solved_ticket(app, vendor)
        assert wrapups(app)[-1]["code"] == "payments"
        assert correct(app, vendor, second, {"code": "returns_refunds"}).status_code == 200
        solved_ticket(app, vendor)  # the same question again: two agents agreed on another code
        assert (wrapups(app)[-1]["code"], wrapups(app)[-1]["learned"]) == ("returns_refunds", True)
        assert wrapups(app)[-1]["confidence"] == 1.0  # both of the intent's corrections chose it
        with get_db(app).session() as session:
            assert session.scalars(select(AuditEntry).where(
                AuditEntry.action == "quality.disposition_corrected")).all()[0].detail == {
                    "from": "payments", "to": "returns_refunds"}
