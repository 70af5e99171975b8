"""After the agent: a solved ticket's recap and CSAT question reach the widget, the
visitor's 1-5 answer rates the conversation, and an erasure ends the visitor (their
token resumes nothing)."""
from __future__ import annotations

import uuid

from flask import Flask
from sqlalchemy import select

from switchboard.core import accounts
from switchboard.core.store.models import Conversation, WebVisitor
from switchboard.intake.db import get_db

from ..signing import VendorClient, fixture
from .conftest import Visitor
from .test_api_handoff import agent_reply, hand_over


def solved(ticket_id: int) -> dict[str, object]:
    payload = fixture("zendesk", "ticket_status_changed.json")
    payload["id"] = str(uuid.uuid4())
    payload["detail"]["id"] = str(ticket_id)
    return payload


def test_a_solved_ticket_sends_the_recap_and_the_visitors_rating_is_recorded(visitor: Visitor, shop: Flask,
                                                                             vendor: VendorClient) -> None:
    ticket_id = hand_over(visitor, shop)
    assert vendor.zendesk(agent_reply(ticket_id)).status_code == 200
    assert vendor.zendesk(solved(ticket_id)).status_code == 200

    recap = visitor.messages()[-1]
    assert recap["author"] == "system"
    assert "marked your request as solved" in recap["text"] and "1 (poor) to 5 (great)" in recap["text"]
    assert "Your parcel left our warehouse" in recap["text"]

    visitor.say("5")

    with get_db(shop).session() as session:
        conversation = session.scalars(select(Conversation)).one()
        assert (conversation.status, conversation.csat_score) == ("closed", 5)
    rated, thanks = visitor.messages(after=recap["id"])
    assert (rated["author"], rated["text"]) == ("customer", "5")
    assert (thanks["author"], thanks["text"]) == ("system", "Thank you for your feedback!")


def test_an_erased_visitors_token_resumes_nothing(visitor: Visitor, shop: Flask) -> None:
    visitor.say("How long does delivery take?")
    with get_db(shop).session() as session:
        account = accounts.by_slug(session, "default")
        assert account is not None
        key = accounts.create_api_key(session, account)

    erased = visitor.client.post("/api/customers/erase", json={"identity": visitor.visitor},
                                 headers={"Authorization": f"Bearer {key}"})

    assert erased.status_code == 200, erased.get_data(as_text=True)
    assert erased.get_json()["rows"]["web_visitors"] == 1
    assert visitor.send("hello again").status_code == 401
    old = visitor.visitor
    again = visitor.start()
    assert again["visitor"] != old and again["messages"] == []
    with get_db(shop).session() as session:
        assert session.get(WebVisitor, old) is None
