"""Agent assist through its HTTP surface: signed Zendesk webhooks in, the sidebar API
out, with the sandbox recording every Zendesk and Twilio call."""
from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from sqlalchemy import select

from switchboard.app import create_app
from switchboard.core import accounts
from switchboard.core.knowledge.loaders import load_articles
from switchboard.core.knowledge.service import KnowledgeBase
from switchboard.core.settings import load_settings
from switchboard.core.store.models import Account, Conversation, OutboxCall, Suggestion
from switchboard.intake.db import get_db

from ..signing import VendorClient, fixture

SAMPLE_KB = Path(__file__).parents[2] / "switchboard" / "data" / "sample_kb.json"
_n = iter(range(1, 100_000))


def key_for(app: Flask, slug: str = "default") -> str:
    with get_db(app).session() as session:
        account = accounts.by_slug(session, slug)
        assert account is not None
        return accounts.create_api_key(session, account)


def say(vendor: VendorClient, body: str, channel: str = "sms") -> None:
    params = {"MessageSid": f"SM{next(_n):032x}", "AccountSid": "AC" + "1" * 32, "Body": body, "NumMedia": "0",
              "From": "+14155550100", "To": "+15005550006"}
    if channel == "whatsapp":
        params.update(From="whatsapp:+14155550100", To="whatsapp:+14155238886", WaId="14155550100")
    assert vendor.twilio("/webhooks/twilio/messages", params).status_code == 200


def ticket_created(ticket_id: int, subject: str, description: str) -> dict[str, Any]:
    payload = fixture("zendesk", "ticket_created.json")
    payload["id"] = f"evt-{next(_n)}"
    payload["detail"].update(id=str(ticket_id), subject=subject, description=description)
    return payload


def comment(ticket_id: int, body: str, *, staff: bool, public: bool = True, author: str = "111") -> dict[str, Any]:
    payload = fixture("zendesk", "ticket_comment_added.json")
    payload["id"] = f"evt-{next(_n)}"
    payload["detail"]["id"] = str(ticket_id)
    payload["event"]["comment"].update(body=body, is_public=public, id=str(next(_n)),
                                       author={"id": author, "is_staff": staff, "name": "Ava"})
    return payload


def handed_over_ticket(shop: Flask, vendor: VendorClient) -> int:
    say(vendor, "how long does delivery take?")
    say(vendor, "my card 4111 1111 1111 1111 was charged twice for order #A123456")
    say(vendor, "AGENT")
    with get_db(shop).session() as session:
        ticket = session.scalars(select(Conversation)).one().zendesk_ticket_id
    assert ticket  # no Zendesk event about it: the handoff itself prepared the suggestions
    return ticket


def test_sidebar_shows_the_package_and_ready_suggestions(shop: Flask, vendor: VendorClient) -> None:
    ticket = handed_over_ticket(shop, vendor)
    response = vendor.client.get(f"/api/sidebar/tickets/{ticket}", headers={"Authorization": f"Bearer {key_for(shop)}"})
    assert response.status_code == 200
    view = response.get_json()
    assert view["customer"]["identities"]["phone"] == ["+14155550100"]
    assert view["handoff"]["trigger"] == "explicit_request"
    assert "charged twice" in view["handoff"]["summary"] or "delivery" in view["handoff"]["summary"]
    assert [m["author"] for m in view["timeline"]][:2] == ["customer", "bot"]
    assert all("4111" not in m["body"] for m in view["timeline"])
    # The customer's last real question was about a double charge: the suggestion answers that.
    [top, *_] = view["suggestions"]
    assert top["sources"][0]["url"] == "https://help.acme.example/articles/charged-twice"
    assert top["text"].startswith("Hi there,") and top["text"].rstrip().endswith("the team")
    assert "authorisation hold" in top["text"]


def test_ticket_events_write_enrichment_back_to_zendesk(shop: Flask, vendor: VendorClient) -> None:
    assert vendor.zendesk(ticket_created(777, "Refund?", "When will I get my refund for the jacket I sent back?")
                          ).status_code == 200
    with get_db(shop).session() as session:
        updates = [c.payload["ticket"] for c in session.scalars(
            select(OutboxCall).where(OutboxCall.operation == "tickets.update"))]
        assert updates and updates[0]["id"] == 777
        assert "intent_refund_status" in updates[0]["additional_tags"]
        ready = session.scalars(select(Suggestion).where(Suggestion.zendesk_ticket_id == 777)).all()
        assert ready and ready[0].sources[0]["article_id"] == "refund-timing"


def test_an_emailed_ticket_gets_suggestions_for_its_question_not_its_greeting(shop: Flask,
                                                                              vendor: VendorClient) -> None:
    """Most tickets are emails: "Hi team," and "Kind regards, Anna Smith" around the
    question. Their words, which no article covers, kept the ticket below the topic gate."""
    email = ("Hi team,\n\nWhen will I get my refund for the jacket I sent back?\n\n"
             "Kind regards,\nAnna Smith")
    assert vendor.zendesk(ticket_created(779, "Refund", email)).status_code == 200
    with get_db(shop).session() as session:
        ready = session.scalars(select(Suggestion).where(Suggestion.zendesk_ticket_id == 779)).all()
        updates = [c.payload["ticket"] for c in session.scalars(
            select(OutboxCall).where(OutboxCall.operation == "tickets.update"))]
    assert ready and ready[0].sources[0]["article_id"] == "refund-timing"
    assert "intent_refund_status" in updates[0]["additional_tags"]


@pytest.mark.parametrize(("ticket", "description", "article"), [
    (781, "¿Cómo devuelvo un artículo que compré?", "return-item"),  # Spanish, the articles English
    (782, "Wie kann ich meine Bestellung stornieren?", "cancel-order"),
    (783, "how do i send it back", "return-item"),  # no word of "How do I return an item?"
])
def test_a_ticket_in_other_words_than_the_articles_gets_suggestions(shop: Flask, vendor: VendorClient, ticket: int,
                                                                   description: str, article: str) -> None:
    """The topic gate counted shared words only: a ticket in another language than the
    articles, or in other words, got none. An article the bot would offer in a menu is
    suggested now, its opening quoted when no sentence shares a word with the ticket."""
    assert vendor.zendesk(ticket_created(ticket, "Help", description)).status_code == 200
    with get_db(shop).session() as session:
        ready = session.scalars(select(Suggestion).where(Suggestion.zendesk_ticket_id == ticket,
                                                         Suggestion.status == "ready")).all()
        passages = KnowledgeBase.of(session, 1, load_settings()).retriever().passages
    assert ready and ready[0].sources[0]["article_id"] == article, [r.sources for r in ready]
    opening = next(p.text for p in passages if p.article_id == article).split("\n")[0]  # its first sentence
    assert opening in ready[0].text, (opening, ready[0].text)


def test_an_off_topic_ticket_gets_no_suggestion(shop: Flask, vendor: VendorClient) -> None:
    assert vendor.zendesk(ticket_created(784, "Hi", "Can you recommend a good movie for tonight?")).status_code == 200
    with get_db(shop).session() as session:
        assert session.scalars(select(Suggestion).where(Suggestion.zendesk_ticket_id == 784)).all() == []


def test_a_new_customer_comment_refreshes_the_suggestions(shop: Flask, vendor: VendorClient) -> None:
    vendor.zendesk(ticket_created(778, "Delivery", "How long does delivery take?"))
    vendor.zendesk(comment(778, "Actually, which payment methods do you accept?", staff=False, author="555"))
    with get_db(shop).session() as session:
        rows = session.scalars(select(Suggestion).where(Suggestion.zendesk_ticket_id == 778)
                               .order_by(Suggestion.id)).all()
    assert {r.status for r in rows if r.sources[0]["article_id"] == "delivery-times"} == {"stale"}
    assert any(r.status == "ready" and r.sources[0]["article_id"] == "payment-methods" for r in rows)


@pytest.mark.parametrize("header", [None, "Bearer nope", "Bearer sb_forged", "Bearer a.b.c"])
def test_sidebar_refuses_requests_without_a_valid_credential(shop: Flask, vendor: VendorClient, header: str | None,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    handed_over_ticket(shop, vendor)
    headers = {"Authorization": header} if header else {}
    response = vendor.client.get("/api/sidebar/tickets/1", headers=headers)
    assert response.status_code == 401
    assert "token setting" in response.get_json()["error"]
    assert "sidebar request refused" in caplog.text


def test_sidebar_refuses_another_accounts_tickets(shop: Flask, vendor: VendorClient) -> None:
    ticket = handed_over_ticket(shop, vendor)
    with get_db(shop).session() as session:
        session.add(Account(slug="globex", name="Globex", secrets={}))
        session.commit()
    other = key_for(shop, "globex")
    response = vendor.client.get(f"/api/sidebar/tickets/{ticket}", headers={"Authorization": f"Bearer {other}"})
    assert response.status_code == 404
    with get_db(shop).session() as session:
        suggestion = session.scalars(select(Suggestion)).first()
        assert suggestion is not None
    rated = vendor.client.post(f"/api/sidebar/suggestions/{suggestion.id}/feedback", json={"rating": "up"},
                               headers={"Authorization": f"Bearer {other}"})
    assert rated.status_code == 404


def _rsa_pair() -> tuple[Any, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = private.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def test_a_zendesk_signed_url_jwt_is_accepted_only_when_verified(env: dict[str, str]) -> None:
    private, public = _rsa_pair()
    app = create_app(load_settings({**env, "SWITCHBOARD_ZENDESK_APP_PUBLIC_KEY": public}),
                     config={"TASKS_INLINE": True})
    try:
        with get_db(app).session() as session:
            KnowledgeBase(session, app.config["DEFAULT_ACCOUNT_ID"], app.config["SETTINGS"].data_dir).import_articles(
                load_articles(SAMPLE_KB))
        vendor = VendorClient(app.test_client(), twilio_token="", zendesk_secret=env["ZENDESK_WEBHOOK_SECRET"],
                              slack_secret="", public_url="")
        vendor.zendesk(ticket_created(901, "Delivery", "How long does delivery take?"))
        claims = {"iss": "acme.zendesk.com", "exp": int(time.time()) + 300, "context": {"ticket_id": 901}}
        good = jwt.encode(claims, private, algorithm="RS256")
        forged = jwt.encode(claims, _rsa_pair()[0], algorithm="RS256")
        expired = jwt.encode({**claims, "exp": int(time.time()) - 10}, private, algorithm="RS256")
        other_issuer = jwt.encode({**claims, "iss": "globex.zendesk.com"}, private, algorithm="RS256")
        client = app.test_client()
        assert client.get("/api/sidebar/tickets/901", headers={"Authorization": f"Bearer {good}"}).status_code == 200
        for token in (forged, expired, other_issuer):
            refused = client.get("/api/sidebar/tickets/901", headers={"Authorization": f"Bearer {token}"})
            assert refused.status_code == 401
    finally:
        get_db(app).dispose()


def test_feedback_and_insertion_are_recorded_and_audited(shop: Flask, vendor: VendorClient) -> None:
    ticket = handed_over_ticket(shop, vendor)
    auth = {"Authorization": f"Bearer {key_for(shop)}", "X-Zendesk-Agent": "ava@acme.test"}
    view = vendor.client.get(f"/api/sidebar/tickets/{ticket}", headers=auth).get_json()
    first = view["suggestions"][0]["id"]
    assert vendor.client.post(f"/api/sidebar/suggestions/{first}/inserted", headers=auth).status_code == 204
    assert vendor.client.post(f"/api/sidebar/suggestions/{first}/feedback", headers=auth,
                              json={"rating": "down", "reason": "policy changed"}).status_code == 204
    assert vendor.client.post(f"/api/sidebar/suggestions/{first}/feedback", headers=auth,
                              json={"rating": "meh"}).status_code == 400
    # The agent sends an edited version of the inserted suggestion from Zendesk.
    vendor.zendesk(comment(ticket, view["suggestions"][0]["text"].replace("Kind regards", "Thanks"), staff=True))
    exported = vendor.client.get(f"/api/audit?ticket={ticket}&format=jsonl", headers=auth)
    actions = [json.loads(line)["action"] for line in exported.get_data(as_text=True).splitlines()]
    assert "assist.suggested" in actions and "assist.inserted" in actions
    assert "assist.rated_down" in actions and "assist.sent" in actions
    entries = [json.loads(line) for line in exported.get_data(as_text=True).splitlines()]
    suggested = next(e for e in entries if e["action"] == "assist.suggested")
    assert suggested["detail"]["engine"] == "local" and suggested["detail"]["sources"]
    assert suggested["detail"]["redactions"] == {"card": 1}
    rated = next(e for e in entries if e["action"] == "assist.rated_down")
    assert (rated["actor"], rated["detail"]["reason"]) == ("ava@acme.test", "policy changed")
    sent = next(e for e in entries if e["action"] == "assist.sent")
    assert 0 < sent["detail"]["edit_distance"] < 0.5
    assert "Thanks" in sent["detail"]["sent"] and "Kind regards" in sent["detail"]["suggested"]
    as_csv = vendor.client.get(f"/api/audit?ticket={ticket}&format=csv", headers=auth).get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(as_csv)))
    assert [r["action"] for r in rows] == actions


def test_solving_a_ticket_summarises_recaps_and_asks_for_csat(shop: Flask, vendor: VendorClient) -> None:
    ticket = handed_over_ticket(shop, vendor)
    vendor.zendesk(comment(ticket, "The second charge is a hold and disappears within 5 days.", staff=True))
    solved = {**fixture("zendesk", "ticket_created.json"), "id": f"evt-{next(_n)}",
              "type": "zen:event-type:ticket.status_changed",
              "detail": {"id": str(ticket), "status": "SOLVED"}, "event": {"previous": "OPEN", "current": "SOLVED"}}
    assert vendor.zendesk(solved).status_code == 200
    with get_db(shop).session() as session:
        calls = session.scalars(select(OutboxCall).order_by(OutboxCall.id)).all()
        summary = [c.payload["ticket"] for c in calls if c.operation == "tickets.update"
                   and "Switchboard summary" in (c.payload["ticket"].get("comment") or {}).get("body", "")]
        assert len(summary) == 1
        assert summary[0]["comment"]["public"] is False
        assert "disposition_resolved_by_agent" in summary[0]["additional_tags"]
        recap = [c.payload for c in calls if c.operation == "messages.create"][-1]
        assert "solved" in recap["body"] and "disappears within 5 days" in recap["body"]
        assert "1 (poor) to 5 (great)" in recap["body"]
    say(vendor, "5")
    with get_db(shop).session() as session:
        conversations = session.scalars(select(Conversation)).all()
        assert len(conversations) == 1  # a rating is not a new conversation
        assert conversations[0].csat_score == 5
        thanks = session.scalars(select(OutboxCall).order_by(OutboxCall.id.desc())).first()
        assert thanks is not None and thanks.payload["body"] == "Thank you for your feedback!"
