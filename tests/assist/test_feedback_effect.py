"""Agents' verdicts change what is suggested next time for a similar ticket."""
from __future__ import annotations

from typing import Any

from flask import Flask

from switchboard.core import accounts
from switchboard.core.knowledge.records import Article
from switchboard.core.knowledge.service import KnowledgeBase
from switchboard.intake.db import get_db

from ..signing import VendorClient, fixture

COMPETING = [
    Article(id="gift-card-refunds", title="Refunds on gift card orders",
            body="Refunds on gift card orders go back onto a new gift card within 2 working days.",
            url="https://help.acme.example/articles/gift-card-refunds"),
    Article(id="card-refunds", title="Refunds on card orders",
            body="Refunds on card orders go back to the same bank card within 5 working days.",
            url="https://help.acme.example/articles/card-refunds"),
]
_n = iter(range(1, 10_000))


def ticket(vendor: VendorClient, ticket_id: int, text: str) -> None:
    payload = fixture("zendesk", "ticket_created.json")
    payload["id"] = f"evt-fb-{next(_n)}"
    payload["detail"].update(id=str(ticket_id), subject="Refund", description=text)
    assert vendor.zendesk(payload).status_code == 200


def suggestions(vendor: VendorClient, auth: dict[str, str], ticket_id: int) -> list[dict[str, Any]]:
    return vendor.client.get(f"/api/sidebar/tickets/{ticket_id}", headers=auth).get_json()["suggestions"]


def test_votes_on_one_ticket_reorder_suggestions_for_a_similar_one(app: Flask, vendor: VendorClient) -> None:
    with get_db(app).session() as session:
        KnowledgeBase(session, app.config["DEFAULT_ACCOUNT_ID"], app.config["SETTINGS"].data_dir).import_articles(
            COMPETING)
        account = accounts.by_slug(session, "default")
        assert account is not None
        auth = {"Authorization": f"Bearer {accounts.create_api_key(session, account)}"}

    ticket(vendor, 1, "my order was refunded, when do I get the refund?")
    before = suggestions(vendor, auth, 1)
    assert len(before) == 2
    order_before = [s["sources"][0]["url"] for s in before]
    wrong, right = before[0], before[1]
    # The agent says the top suggestion is wrong for this customer and inserts the other.
    vendor.client.post(f"/api/sidebar/suggestions/{wrong['id']}/feedback", headers=auth,
                       json={"rating": "down", "reason": "customer paid by card"})
    vendor.client.post(f"/api/sidebar/suggestions/{right['id']}/feedback", headers=auth, json={"rating": "up"})

    ticket(vendor, 2, "when will I get the refund for my order?")
    after = [s["sources"][0]["url"] for s in suggestions(vendor, auth, 2)]
    assert after[0] == right["sources"][0]["url"] != order_before[0]

    ticket(vendor, 3, "what are your opening hours on saturday?")  # unrelated: no effect, nothing invented
    unrelated = vendor.client.get("/api/sidebar/tickets/3", headers=auth)
    assert unrelated.status_code == 404 and "no context" in unrelated.get_json()["error"]
