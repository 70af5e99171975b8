"""A draft's proof tries the questions real customers asked that the live articles
answered, not only the articles' titles: a draft titled as customers ask can take their
questions while every title stays with its article (bench/knowledge_loop.py, StackFAQ:
drafts took four other threads' questions that no title showed). A question the
customer disowned ("that didn't help") is not one the article answers."""
from __future__ import annotations

from typing import Any

from flask import Flask

from switchboard.core.knowledge.records import Article
from switchboard.core.knowledge_loop import proof
from switchboard.core.store.models import Account
from switchboard.intake.db import get_db

from ..signing import VendorClient
from .conftest import sms
from .test_loop_end_to_end import last_bot_reply

PAYPAL = "can I pay with paypal?"
TITLES = 21  # switchboard/data/sample_kb.json
DRAFT = Article("kb-draft-paypal", "Can I pay with PayPal?",
                "Yes, you can pay with PayPal at checkout: choose PayPal as the payment method and log in to "
                "PayPal to confirm the order.")


def proven(app: Flask) -> dict[str, Any]:
    with app.app_context(), get_db(app).session() as session:
        account = session.get(Account, app.config["DEFAULT_ACCOUNT_ID"])
        assert account is not None
        return proof.prove(session, account, app.config["SETTINGS"], DRAFT, ["do you take paypal"])


def test_a_draft_taking_a_question_customers_had_answered_is_marked(app: Flask, vendor: VendorClient) -> None:
    assert proven(app)["steals"] is False  # no customer yet: the titles alone stay with their articles

    sms(vendor, PAYPAL, phone="+14155550171")
    reply = last_bot_reply(app)
    assert reply.meta["action"] == "answer" and reply.meta["sources"][0]["passage"].startswith("payment-methods#")
    marked = proven(app)
    assert marked["others"]["questions"] == TITLES + 1 and marked["steals"] is True
    assert {"question": PAYPAL, "expected": "payment-methods", "now": ["kb-draft-paypal"]} in marked["stolen"]


def test_a_question_whose_answer_the_customer_disowned_is_not_tried(app: Flask, vendor: VendorClient) -> None:
    sms(vendor, PAYPAL, phone="+14155550172")
    sms(vendor, "that didn't help", phone="+14155550172")
    tried = proven(app)
    assert tried["steals"] is False
    assert tried["others"]["questions"] == TITLES  # the sample's titles, and not the disowned question
