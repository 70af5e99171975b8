"""Every bot answer is checked before it leaves: one that breaks a guardrail is not sent,
the customer is handed to a person and the reason is recorded. Through signed Twilio
messages and the sandbox outbox."""
from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from switchboard.db import get_db
from switchboard.models import AuditEntry, Conversation, OutboxCall

from ..assist.test_sidebar_api import say
from ..conftest import PUBLIC_URL, SLACK_SECRET, TWILIO_TOKEN, ZENDESK_SECRET
from ..signing import VendorClient
from .helpers import shop_app

QUESTION = "When is my refund paid?"


def vendor_for(app: Flask) -> VendorClient:
    return VendorClient(app.test_client(), twilio_token=TWILIO_TOKEN, zendesk_secret=ZENDESK_SECRET,
                        slack_secret=SLACK_SECRET, public_url=PUBLIC_URL)


def texts_sent(app: Flask) -> list[str]:
    with get_db(app).session() as session:
        return [c.payload.get("body", "") for c in session.scalars(select(OutboxCall).where(
            OutboxCall.vendor == "twilio").order_by(OutboxCall.id))]


def test_an_answer_promising_beyond_the_policy_is_withheld_and_the_customer_handed_over(
        env: dict[str, str], tmp_path: Path) -> None:
    with shop_app(env, tmp_path, trust_knowledge_base=False) as app:
        say(vendor_for(app), QUESTION)
        [sent] = texts_sent(app)
        assert "guarantee" not in sent.lower() and "paid today" not in sent
        assert "passing you to a member of our team" in sent
        with get_db(app).session() as session:
            conversation = session.scalars(select(Conversation)).one()
            assert (conversation.status, conversation.handoff_reason) == ("human", "guardrail")
            assert conversation.zendesk_ticket_id
            [withheld] = session.scalars(select(AuditEntry).where(
                AuditEntry.action == "quality.answer_withheld")).all()
            rules = {(f["rule"], tuple(f["words"])) for f in withheld.detail["findings"]}
            assert ("guarantee", ("guarantee",)) in rules
            assert any(rule == "date" and "today" in words for rule, words in rules)
            tickets = [c for c in session.scalars(select(OutboxCall).where(OutboxCall.vendor == "zendesk"))]
        # The agent reads why in the ticket Zendesk received.
        assert any("The drafted answer was not sent" in json.dumps(c.payload) for c in tickets)


def test_the_same_answer_is_sent_when_the_policy_trusts_the_help_centers_own_promises(
        env: dict[str, str], tmp_path: Path) -> None:
    with shop_app(env, tmp_path, trust_knowledge_base=True) as app:
        say(vendor_for(app), QUESTION)
        [sent] = texts_sent(app)
        assert "We guarantee every refund is paid today" in sent
        with get_db(app).session() as session:
            conversation = session.scalars(select(Conversation)).one()
            assert (conversation.status, conversation.handoff_reason) == ("open", None)
            assert session.scalars(select(AuditEntry).where(AuditEntry.action == "quality.answer_withheld")).all() == []
