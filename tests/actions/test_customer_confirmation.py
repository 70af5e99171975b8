"""Self-service never starts a change alone: a state-changing action the LLM asked for,
or the bot matched in the customer's words, runs only after the customer replies YES to
its preview; a read-only lookup needs no yes.
Signed Twilio webhooks in, the loopback OpenAI-compatible server returning the
unrequested tool call, the loopback order system out."""
from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from switchboard.core.store.models import AuditEntry, Conversation
from switchboard.intake.db import get_db

from ..fakes.openai_server import FakeOpenAI
from ..signing import VendorClient
from .order_server import OrderServer
from .test_selfservice_actions import executions, last_code, say

PREVIEW = "Reply YES to refund $42.50 for order A1001. If you don't, nothing will be changed."


def verified_customer(vendor: VendorClient, app: Flask) -> None:
    """A verified customer (a local status request and its code: no LLM involved)."""
    say(vendor, app, "where is my order A1001?")
    assert say(vendor, app, last_code(app)) == "Order A1001 is shipped; expected delivery Friday."


def test_an_unrequested_refund_from_the_model_waits_for_the_customers_yes(
        llm_app: tuple[Flask, FakeOpenAI], vendor: VendorClient, order_system: OrderServer) -> None:
    app, fake = llm_app
    vendor.client = app.test_client()
    verified_customer(vendor, app)
    fake.reply_tool_call("refund", {"order_id": "A1001"})  # nobody asked for a refund
    assert say(vendor, app, "can you tell me what order A1001 contained?") == PREVIEW
    assert order_system.calls("POST") == []
    assert executions(app)[-1].status == "awaiting_confirmation"
    reply = say(vendor, app, "YES")
    assert reply == "Done: a refund of $42.50 for order A1001 is on its way to your original payment method."
    assert len(order_system.calls("POST", "/orders/A1001/refunds")) == 1
    with get_db(app).session() as session:
        confirmed = session.scalars(select(AuditEntry).where(AuditEntry.action == "action.confirmed")).one()
        assert confirmed.actor.startswith("customer:")


def test_anything_but_yes_drops_the_preview_and_a_late_yes_runs_nothing(
        llm_app: tuple[Flask, FakeOpenAI], vendor: VendorClient, order_system: OrderServer) -> None:
    app, fake = llm_app
    vendor.client = app.test_client()
    verified_customer(vendor, app)
    fake.reply_tool_call("refund", {"order_id": "A1001"})
    assert say(vendor, app, "what did order A1001 contain?") == PREVIEW
    assert say(vendor, app, "no") == "OK, I haven't changed anything."
    fake.reply_tool_call("refund", {"order_id": "A1001"})
    assert say(vendor, app, "and which address did order A1001 go to?") == PREVIEW
    fake.reply("NONE")
    say(vendor, app, "thanks, what are your opening hours?")  # moved on: the preview is dropped
    say(vendor, app, "YES")
    assert order_system.calls("POST") == []
    assert [(e.status, e.reasons) for e in executions(app)][-2:] == [
        ("refused", ["not_confirmed"]), ("refused", ["not_confirmed"])]


def test_a_read_only_lookup_from_the_model_needs_no_yes(
        llm_app: tuple[Flask, FakeOpenAI], vendor: VendorClient, order_system: OrderServer) -> None:
    app, fake = llm_app
    vendor.client = app.test_client()
    verified_customer(vendor, app)
    fake.reply_tool_call("order_status", {"order_id": "A1001"})
    assert say(vendor, app, "any news on order A1001 for me?") == "Order A1001 is shipped; expected delivery Friday."


def test_verifying_is_not_agreeing_the_preview_still_comes_after_the_code(
        llm_app: tuple[Flask, FakeOpenAI], vendor: VendorClient, order_system: OrderServer) -> None:
    app, fake = llm_app
    vendor.client = app.test_client()
    fake.reply_tool_call("refund", {"order_id": "A1001"})
    assert "code" in say(vendor, app, "I have a question about an order")
    assert say(vendor, app, last_code(app)) == PREVIEW
    assert order_system.calls("POST") == []
    assert say(vendor, app, "yes please").startswith("Done: a refund of $42.50")


def test_the_customers_own_words_are_previewed_too_and_only_yes_runs_the_refund(
        app: Flask, vendor: VendorClient, order_system: OrderServer) -> None:
    """A one-time code proves who writes, not what they agree to: "refund order A1001"
    is shown with the amount from the order record and runs only on YES. A YES after
    that is understood (the refund is done), not handed to a person as out of scope."""
    say(vendor, app, "please refund order A1001")
    assert say(vendor, app, last_code(app)) == PREVIEW
    assert order_system.calls("POST") == []
    assert say(vendor, app, "YES").startswith("Done: a refund of $42.50")
    again = say(vendor, app, "yes")
    assert again == "Done: a refund of $42.50 for order A1001 is on its way to your original payment method."
    assert len(order_system.calls("POST", "/orders/A1001/refunds")) == 1
    with get_db(app).session() as session:
        conversation = session.scalars(select(Conversation)).one()
        assert conversation.handoff_reason is None and conversation.zendesk_ticket_id is None


def test_words_that_only_mention_a_refund_start_none(app: Flask, vendor: VendorClient,
                                                     order_system: OrderServer) -> None:
    """Matching words is not understanding them: "I don't want a refund" reads as a
    refund request to a pattern. The preview lets the customer say no."""
    verified_customer(vendor, app)
    assert say(vendor, app, "I don't want a refund for order A1001, just a replacement") == PREVIEW
    assert say(vendor, app, "no") == "OK, I haven't changed anything."
    assert order_system.calls("POST") == []
