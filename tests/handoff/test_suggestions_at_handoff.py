"""A ticket the bot hands over opens in the sidebar with suggestions ready.

Zendesk never tells Switchboard about a ticket Switchboard created: the provisioned
webhook does not subscribe to ticket.created, and the sandboxed helpdesk of the embedded
default sends nothing at all. So the handoff itself prepares the agent's suggestions.
Signed Twilio messages in (or the playground), the sidebar API out, signed as the
sidebar's requests are (the account key Zendesk's proxy adds).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from switchboard.core import accounts
from switchboard.core.store.models import AuditEntry, Conversation, InboxEvent, OutboxCall
from switchboard.intake.db import get_db

from ..signing import VendorClient, fixture

SAMPLE_KB = Path(__file__).parents[2] / "switchboard" / "data" / "sample_kb.json"
CHARGED_TWICE = "https://help.acme.example/articles/charged-twice"
_n = iter(range(1, 100_000))


def say(vendor: VendorClient, body: str) -> None:
    params = {"MessageSid": f"SM{next(_n):032x}", "AccountSid": "AC" + "1" * 32, "Body": body, "NumMedia": "0",
              "From": "+14155550100", "To": "+15005550006"}
    assert vendor.twilio("/webhooks/twilio/messages", params).status_code == 200


def sidebar_headers(app: Flask) -> dict[str, str]:
    with get_db(app).session() as session:
        account = accounts.by_slug(session, accounts.DEFAULT_SLUG)
        assert account is not None
        return {"Authorization": f"Bearer {accounts.create_api_key(session, account, 'sidebar')}"}


def handed_over_ticket(app: Flask) -> int:
    with get_db(app).session() as session:
        [conversation] = session.scalars(select(Conversation)).all()
        assert conversation.status == "human" and conversation.zendesk_ticket_id
        return conversation.zendesk_ticket_id


def sidebar(vendor: VendorClient, app: Flask, ticket: int) -> dict[str, Any]:
    response = vendor.client.get(f"/api/sidebar/tickets/{ticket}", headers=sidebar_headers(app))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_after_a_handoff_over_sms_the_sidebar_has_grounded_suggestions(shop: Flask, vendor: VendorClient) -> None:
    say(vendor, "I was charged twice for my order, why?")
    say(vendor, "AGENT")
    ticket = handed_over_ticket(shop)

    view = sidebar(vendor, shop, ticket)
    assert view["handoff"]["trigger"] == "explicit_request"
    [top, *_] = view["suggestions"]
    # Grounded in the article about double charges, with its source for the agent to check.
    assert top["sources"][0]["url"] == CHARGED_TWICE and top["sources"][0]["title"]
    assert "authorisation hold" in top["text"]
    with get_db(shop).session() as session:
        # No Zendesk event was ever received: the handoff prepared them.
        assert session.scalars(select(InboxEvent).where(InboxEvent.vendor == "zendesk")).all() == []
        suggested = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "assist.suggested", AuditEntry.subject_id == str(ticket))).all()
        assert [e.detail["suggestion_id"] for e in suggested] == [s["id"] for s in view["suggestions"]]
        # Only the ticket was written to Zendesk at the handoff; suggestions stay in Switchboard.
        assert [c.operation for c in session.scalars(select(OutboxCall).where(OutboxCall.vendor == "zendesk"))
                if c.operation.startswith("tickets.")] == ["tickets.create"]


def test_a_playground_handoff_opens_with_suggestions_too(shop: Flask, vendor: VendorClient) -> None:
    for text in ("how long does delivery take to Canada?", "I want to talk to a real person"):
        response = vendor.client.post("/playground/messages", json={"text": text})
        assert response.status_code == 200, response.get_data(as_text=True)
    ticket = response.get_json()["conversation"]["zendesk_ticket_id"]
    assert ticket

    [top, *_] = sidebar(vendor, shop, ticket)["suggestions"]
    assert top["sources"] and top["sources"][0]["url"].startswith("https://help.acme.example/articles/")
    assert "deliver" in top["text"].lower()


def test_a_later_ticket_created_event_for_that_ticket_keeps_the_suggestions(shop: Flask,
                                                                             vendor: VendorClient) -> None:
    """An account that does subscribe to ticket.created hears about the handoff's ticket
    afterwards: the agent may already be looking at the suggestions, so they stand."""
    say(vendor, "I was charged twice for my order, why?")
    say(vendor, "AGENT")
    ticket = handed_over_ticket(shop)
    before = [s["id"] for s in sidebar(vendor, shop, ticket)["suggestions"]]
    assert before

    created = fixture("zendesk", "ticket_created.json")
    created["id"] = "evt-handoff-ticket"
    created["detail"].update(id=str(ticket), subject="SMS from customer: explicit request",
                             description="Handed over by Switchboard")
    assert vendor.zendesk(created).status_code == 200
    assert [s["id"] for s in sidebar(vendor, shop, ticket)["suggestions"]] == before

    # A new question from the customer does refresh them.
    say(vendor, "Also, which payment methods do you accept?")
    created["id"] = "evt-handoff-ticket-2"
    assert vendor.zendesk(created).status_code == 200
    after = sidebar(vendor, shop, ticket)["suggestions"]
    assert after and after[0]["id"] not in before
