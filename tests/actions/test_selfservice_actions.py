"""Self-service actions end to end: signed Twilio webhooks in, a one-time code to the
phone on file, the HTTP action against the loopback order system, the customer told
in plain words, and every step in the audit log."""
from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import select

from switchboard.core.store.models import ActionExecution, AuditEntry, CustomerVerification, Message
from switchboard.intake.db import get_db

from ..signing import VendorClient
from .conftest import CUSTOMER, MESSAGES, inbound, sends
from .order_server import OrderServer


def say(vendor: VendorClient, app: Flask, body: str, **kwargs: str) -> str:
    assert vendor.twilio(MESSAGES, inbound(body, **kwargs)).status_code == 200
    return sends(app)[-1]["body"]


def last_code(app: Flask) -> str:
    codes = [re.search(r"verification code is (\d+)", s["body"]) for s in sends(app)]
    found = [m.group(1) for m in codes if m]
    assert found, "no verification code was texted"
    return found[-1]


def executions(app: Flask) -> list[ActionExecution]:
    with get_db(app).session() as session:
        return list(session.scalars(select(ActionExecution).order_by(ActionExecution.id)))


def audit_actions(app: Flask) -> list[str]:
    with get_db(app).session() as session:
        return [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def verified(vendor: VendorClient, app: Flask, first: str) -> str:
    """Send ``first``, answer the code, return the reply after verification."""
    reply = say(vendor, app, first)
    assert "code" in reply and "ending 0100" in reply
    return say(vendor, app, last_code(app))


def agreed(vendor: VendorClient, app: Flask, preview: str, **kwargs: str) -> str:
    """The customer's YES to the change ``preview`` asked them to confirm; what they are
    told then. A self-service change runs only on that YES."""
    assert preview.startswith("Reply YES to "), preview
    return say(vendor, app, "YES", **kwargs)


def test_order_status_is_disclosed_only_after_the_code_from_the_phone_on_file(
        app: Flask, vendor: VendorClient, order_system: OrderServer) -> None:
    reply = say(vendor, app, "hi, where is my order A1001?")
    assert reply.startswith("You're chatting with a virtual assistant")
    assert "shipped" not in reply and order_system.received == []  # nothing looked up before verification
    otp = [s for s in sends(app) if "verification code" in s["body"]]
    assert len(otp) == 1 and otp[0]["to"] == CUSTOMER
    code = last_code(app)
    reply = say(vendor, app, code)
    assert reply == "Order A1001 is shipped; expected delivery Friday."
    [lookup] = order_system.calls("GET", "/orders/A1001")
    assert lookup["headers"]["Authorization"] == "Bearer shop-test-token"
    assert lookup["headers"]["Idempotency-Key"].startswith("action:")
    with get_db(app).session() as session:
        stored = session.scalars(select(CustomerVerification)).one()
        assert stored.status == "verified" and code not in stored.code_hash and len(stored.code_hash) == 64
        bodies = [m.body for m in session.scalars(select(Message))]
        assert code not in " ".join(bodies) and "[verification code]" in bodies
        timeline = [m for m in session.scalars(select(Message).where(Message.channel == "action"))]
        assert timeline and "succeeded" in timeline[-1].body
    trail = audit_actions(app)
    for step in ("action.requested", "action.verification_sent", "action.verification_verified", "action.succeeded"):
        assert step in trail


def test_wrong_codes_run_out_and_nothing_is_disclosed(app: Flask, vendor: VendorClient,
                                                      order_system: OrderServer) -> None:
    say(vendor, app, "where is my order A1001")
    code = last_code(app)
    wrong = "000000" if code != "000000" else "111111"
    assert "2 tries left" in say(vendor, app, wrong)
    assert "1 try left" in say(vendor, app, wrong)
    assert "didn't match" in say(vendor, app, wrong)
    assert say(vendor, app, code) != "Order A1001 is shipped; expected delivery Friday."  # the code is dead now
    assert order_system.received == []
    assert executions(app)[0].status == "refused" and executions(app)[0].reasons == ["verification_failed"]


def test_refund_amount_comes_from_the_order_record_not_the_message(app: Flask, vendor: VendorClient,
                                                                   order_system: OrderServer) -> None:
    preview = verified(vendor, app, "please refund order A1001, it was $500")
    assert preview.startswith("Reply YES to refund $42.50 for order A1001.")
    reply = agreed(vendor, app, preview)
    assert reply == "Done: a refund of $42.50 for order A1001 is on its way to your original payment method."
    [refund] = order_system.calls("POST", "/orders/A1001/refunds")
    assert refund["body"]["amount"] == 42.5 and refund["body"]["currency"] == "USD"
    assert executions(app)[0].amount_cents == 4250


def test_refund_outside_the_membership_window_is_refused_in_plain_words(app: Flask, vendor: VendorClient,
                                                                        order_system: OrderServer) -> None:
    reply = verified(vendor, app, "I want a refund for order A1003")
    assert "within 30 days of delivery" in reply and "AGENT" in reply
    assert order_system.calls("POST") == []
    assert executions(app)[0].reasons == ["outside_window"]


def test_refunds_over_the_period_limit_are_refused(app: Flask, vendor: VendorClient,
                                                   order_system: OrderServer) -> None:
    agreed(vendor, app, verified(vendor, app, "refund order A1001"))  # 42.50
    assert "Done" in agreed(vendor, app, say(vendor, app, "refund order A1004"))  # 90 → 132.50 this month
    reply = agreed(vendor, app, say(vendor, app, "refund order A1006 please"))  # 60 → 192.50, fine
    assert "Done" in reply
    reply = say(vendor, app, "refund order A1005")  # a fourth refund (and 287.50): over both limits
    assert "refund limit" in reply
    assert [e.reasons for e in executions(app)][-1] == ["over_limit", "count_limit"]
    assert len(order_system.calls("POST")) == 3


def test_a_foreign_order_reads_as_not_found(app: Flask, vendor: VendorClient, order_system: OrderServer) -> None:
    reply = verified(vendor, app, "where is my order B2002?")
    assert reply.startswith("I couldn't find order B2002") and "500" not in reply
    assert "action.order_not_owned" in audit_actions(app)


def test_reschedule_a_technician_visit(app: Flask, vendor: VendorClient, order_system: OrderServer) -> None:
    reply = agreed(vendor, app, verified(vendor, app, "can you reschedule the technician visit V3003 to 2099-01-05 "
                                                     "afternoon"))
    assert reply == "Done: your visit V3003 is now on 2099-01-05 (afternoon)."
    [call] = order_system.calls("POST", "/appointments/V3003/reschedule")
    assert call["body"] == {"date": "2099-01-05", "slot": "afternoon"}


def test_a_duplicated_delivery_runs_the_action_once(app: Flask, vendor: VendorClient,
                                                    order_system: OrderServer) -> None:
    say(vendor, app, "where is my order A1001?")
    params = inbound(last_code(app))
    assert vendor.twilio(MESSAGES, params).status_code == 200
    assert vendor.twilio(MESSAGES, params).status_code == 200  # Twilio retried the same MessageSid
    assert len(order_system.calls("GET")) == 1
    assert len([s for s in sends(app) if "shipped" in s["body"]]) == 1
    assert len(executions(app)) == 1


def test_the_handoff_package_tells_the_customers_yes_from_the_bots_own_words(
        app: Flask, vendor: VendorClient, order_system: OrderServer) -> None:
    """The agent's note listed the bot's "Done: a refund…" as something the customer
    confirmed, and "action" (the governed actions' record) as a channel they used."""
    from switchboard.core.store.models import Conversation, OutboxCall

    preview = verified(vendor, app, "please refund order A1001")
    assert agreed(vendor, app, preview).startswith("Done: a refund of $42.50")
    say(vendor, app, "yes, thank you")  # after the bot's "Done": thanks, not a confirmation
    say(vendor, app, "I want to talk to a real person")
    with get_db(app).session() as session:
        handed = session.scalars(select(Conversation).where(Conversation.status == "human")).one()
        call = session.scalars(select(OutboxCall).where(OutboxCall.idempotency_key == f"handoff:{handed.id}")).one()
        note = call.payload["ticket"]["comment"]["body"] if "ticket" in call.payload else str(call.payload)
    gave = note.split("WHAT THE CUSTOMER ALREADY GAVE OR CONFIRMED\n", 1)[1].split("\n\n", 1)[0]
    assert gave.splitlines() == ["- Order A1001", '- Said yes to "Reply YES to refund $42.50 for order A1001. If you '
                                 "don't, nothing will be changed.\""], note
    assert "Done:" not in gave
    assert "channels used here: sms\n" in note, note
    assert "ACTION]" in note  # the action's record is still on the timeline the agent reads
