"""The sidebar checks an agent's draft before it is sent: through the sidebar API with
its credential, on a ticket handed over through signed Twilio messages."""
from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from switchboard.core.store.models import AuditEntry, Conversation
from switchboard.intake.db import get_db

from ..assist.test_sidebar_api import handed_over_ticket, key_for, say
from ..signing import VendorClient

DRAFT = "I guarantee a full refund of $500 tomorrow, unfortunately the courier lost it."


def check(vendor: VendorClient, app: Flask, ticket: int, body: object, token: str | None = None):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token or key_for(app)}", "X-Zendesk-User-Id": "4021"}
    return vendor.client.post(f"/api/sidebar/tickets/{ticket}/draft-check", json=body, headers=headers)


def test_an_agents_risky_draft_is_flagged_with_its_words_and_fixes_and_audited_without_them(
        shop: Flask, vendor: VendorClient) -> None:
    ticket = handed_over_ticket(shop, vendor)
    response = check(vendor, shop, ticket, {"text": DRAFT})
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["flagged"] is True
    found = {(f["guardrail"], f["rule"]): f for f in answer["findings"]}
    assert found[("risky_promise", "guarantee")]["words"] == ["guarantee"]
    assert found[("risky_promise", "amount")]["words"] == ["$500", "refund"]
    assert found[("style", "style_card")]["words"] == ["unfortunately"]  # the shipped style card's word
    assert all(f["fix"] for f in answer["findings"])
    with get_db(shop).session() as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "quality.draft_checked")).all()
        assert (entry.actor, entry.subject_id, entry.detail["flagged"]) == ("zendesk:4021", str(ticket), True)
        assert "risky_promise.guarantee" in entry.detail["rules"]
        assert "$500" not in str(entry.detail) and "courier" not in str(entry.detail)


def test_the_tickets_intent_decides_the_disclaimer(shop: Flask, vendor: VendorClient) -> None:
    say(vendor, "I'm going to take legal action against you, my lawyer will be in touch")
    with get_db(shop).session() as session:
        ticket = session.scalars(select(Conversation)).one().zendesk_ticket_id
    assert ticket  # legal threats go to a person at once
    answer = check(vendor, shop, ticket, {"text": "I have passed your message on."}).get_json()
    assert answer["intent"] == "legal"
    assert [(f["rule"], f["words"]) for f in answer["findings"]] == [("legal", ["intent: legal"])]
    clean = check(vendor, shop, ticket, {"text": "I have passed your message to our legal team."}).get_json()
    assert (clean["flagged"], clean["findings"]) == (False, [])


def test_a_malformed_draft_is_a_400_and_a_bad_credential_a_401_with_nothing_recorded(
        shop: Flask, vendor: VendorClient) -> None:
    ticket = handed_over_ticket(shop, vendor)
    bad = check(vendor, shop, ticket, {"draft": DRAFT})
    assert bad.status_code == 400 and '{"text": "your reply as written"}' in bad.get_json()["error"]
    refused = check(vendor, shop, ticket, {"text": DRAFT}, token="sb_not_a_key")
    assert refused.status_code == 401
    with get_db(shop).session() as session:
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "quality.draft_checked")).all() == []
