"""Every conversation scored when it ends, through signed Twilio messages and signed
Zendesk events: a bot conversation closed by the customer's thanks, and a handed-over
one whose agent promised too much, solved in Zendesk."""
from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from switchboard.core.store.models import AuditEntry, ConversationScore, Message
from switchboard.intake.db import get_db

from ..assist.test_sidebar_api import _n, comment, handed_over_ticket, say
from ..signing import VendorClient, fixture

RISKY = "I guarantee a full refund of $500 tomorrow. Could you send me your order number?"


def verdicts(score: ConversationScore) -> dict[str, str]:
    return {c["criterion"]: c["verdict"] for c in score.criteria}


def solve(vendor: VendorClient, ticket: int) -> None:
    solved = {**fixture("zendesk", "ticket_created.json"), "id": f"evt-{next(_n)}",
              "type": "zen:event-type:ticket.status_changed",
              "detail": {"id": str(ticket), "status": "SOLVED"}, "event": {"previous": "OPEN", "current": "SOLVED"}}
    assert vendor.zendesk(solved).status_code == 200


def test_a_bot_conversation_closed_by_the_customers_thanks_is_scored_with_disclosure_and_grounding_met(
        shop: Flask, vendor: VendorClient) -> None:
    say(vendor, "How long does delivery take?")
    say(vendor, "thanks, that answers it")
    with get_db(shop).session() as session:
        closing = session.scalars(select(Message).where(Message.author == "bot").order_by(Message.id.desc())).first()
        assert closing is not None and closing.meta["action"] == "clarify", closing.body  # it got a menu
        assert "You're welcome" in closing.body, closing.body
        [score] = session.scalars(select(ConversationScore)).all()
        assert (score.ended_by, score.automation, score.channel) == ("customer_closed", "bot", "sms")
        assert verdicts(score) == {"ai_disclosure": "met", "grounded": "met", "no_repeat": "n/a", "resolved": "met",
                                   "tone": "met", "risky_promises": "met", "disclaimers": "met"}
        assert score.score == 100.0
        grounded = next(c for c in score.criteria if c["criterion"] == "grounded")
        assert grounded["evidence"][0]["sources"][0]["passage"].startswith("delivery-times")
        disclosure = next(c for c in score.criteria if c["criterion"] == "ai_disclosure")
        assert "virtual assistant" in disclosure["evidence"][0]["quote"]
        [audited] = session.scalars(select(AuditEntry).where(AuditEntry.action == "quality.conversation_scored")).all()
        assert audited.detail["verdicts"]["grounded"] == "met" and audited.detail["score"] == 100.0


def test_an_agents_risky_reply_from_zendesk_is_flagged_with_its_words_and_counts_in_the_score_when_solved(
        shop: Flask, vendor: VendorClient) -> None:
    ticket = handed_over_ticket(shop, vendor)  # the customer gave order #A123456 to the bot
    assert vendor.zendesk(comment(ticket, RISKY, staff=True, author="111")).status_code == 200
    with get_db(shop).session() as session:
        [sent] = session.scalars(select(Message).where(Message.author == "agent")).all()
        flagged = {(f["guardrail"], f["rule"]): f["words"] for f in sent.meta["guardrails"]}
        assert flagged[("risky_promise", "guarantee")] == ["guarantee"]
        assert flagged[("risky_promise", "amount")] == ["$500", "refund"]
        assert flagged[("risky_promise", "date")] == ["guarantee", "tomorrow"]
        [audited] = session.scalars(select(AuditEntry).where(AuditEntry.action == "quality.agent_reply_flagged")).all()
        assert audited.actor == "zendesk:111" and "risky_promise.amount" in audited.detail["rules"]
        assert "$500" not in str(audited.detail)
    solve(vendor, ticket)
    solve(vendor, ticket)  # a repeated delivery scores nothing twice
    with get_db(shop).session() as session:
        [score] = session.scalars(select(ConversationScore)).all()
        assert (score.ended_by, score.automation, score.agent) == ("solved", "handed_over", "zendesk:111")
        got = verdicts(score)
        assert (got["risky_promises"], got["no_repeat"], got["resolved"], got["ai_disclosure"]) == (
            "missed", "missed", "met", "met")
        risky = next(c for c in score.criteria if c["criterion"] == "risky_promises")
        assert {tuple(e["words"]) for e in risky["evidence"]} >= {("guarantee",), ("$500", "refund")}
        repeat = next(c for c in score.criteria if c["criterion"] == "no_repeat")
        assert repeat["evidence"][0]["asked_again"] == ["order number"]
        assert 0 < score.score < 100
