"""A request authenticated for account B can never read or change account A's data,
through any /api/ route (the sidebar's included).

The routes are enumerated from the app's url_map and each must have a probe in
PROBES: a new endpoint without one fails this test by name, so isolation is decided
for every route when it is added, not remembered later."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from switchboard.core import accounts
from switchboard.core.store import outbox
from switchboard.core.store.audit import audit
from switchboard.core.store.models import (
    Account,
    ActionExecution,
    AuditEntry,
    Conversation,
    Customer,
    Message,
    OutboxCall,
    OutreachCampaign,
    OutreachRecipient,
    OutreachSegment,
    Suggestion,
    SuggestionFeedback,
)
from switchboard.intake.db import get_db

from ..selfservice.test_selfservice_over_twilio import inbound
from .conftest import vendor_for

A_SECRET_TEXT = "Initech parcel question ZX81"
A_TICKET = 5158


@dataclass
class World:
    a_key: str
    b_key: str
    conversation_id: int
    suggestion_id: int
    ticket_id: int
    campaign_id: int
    execution_id: int


@dataclass(frozen=True)
class Probe:
    """How to aim one route at A's data. ``list`` routes, and routes that act inside
    the caller's own account (B creating a campaign, B running an action on its ticket
    with A's ticket number), must answer B with a 2xx carrying B's data only and leave
    A's untouched; ``item`` routes must refuse (403/404)."""

    kind: str  # "item" | "list" | "public"
    url: Callable[[World], str]
    json: dict[str, Any] | None = None
    headers: dict[str, str] | None = None


PROBES: dict[tuple[str, str], Probe] = {
    ("GET", "/api/conversations"): Probe("list", lambda w: "/api/conversations"),
    ("GET", "/api/conversations/<int:conversation_id>"):
        Probe("item", lambda w: f"/api/conversations/{w.conversation_id}"),
    ("GET", "/api/sandbox/outbox"): Probe("list", lambda w: "/api/sandbox/outbox"),
    ("GET", "/api/audit"): Probe("list", lambda w: f"/api/audit?ticket={w.ticket_id}"),
    ("GET", "/api/sidebar/tickets/<int:ticket_id>"): Probe("item", lambda w: f"/api/sidebar/tickets/{w.ticket_id}"),
    ("POST", "/api/sidebar/tickets/<int:ticket_id>/reply-translation"):
        Probe("item", lambda w: f"/api/sidebar/tickets/{w.ticket_id}/reply-translation", {"text": "Hello"}),
    ("POST", "/api/sidebar/tickets/<int:ticket_id>/draft-check"):
        Probe("item", lambda w: f"/api/sidebar/tickets/{w.ticket_id}/draft-check", {"text": "I guarantee it"}),
    ("POST", "/api/sidebar/tickets/<int:ticket_id>/disposition"):
        Probe("item", lambda w: f"/api/sidebar/tickets/{w.ticket_id}/disposition", {"code": "payments"}),
    ("POST", "/api/sidebar/suggestions/<int:suggestion_id>/feedback"):
        Probe("item", lambda w: f"/api/sidebar/suggestions/{w.suggestion_id}/feedback",
              {"rating": "down", "reason": "outdated"}),
    ("POST", "/api/sidebar/suggestions/<int:suggestion_id>/inserted"):
        Probe("item", lambda w: f"/api/sidebar/suggestions/{w.suggestion_id}/inserted"),
    ("GET", "/api/outreach/campaigns"): Probe("list", lambda w: "/api/outreach/campaigns"),
    ("GET", "/api/outreach/campaigns/<int:campaign_id>"):
        Probe("item", lambda w: f"/api/outreach/campaigns/{w.campaign_id}"),
    # B's campaign to "everyone" must reach B's customers only (checked on the recipients).
    ("POST", "/api/outreach/campaigns"):
        Probe("list", lambda w: "/api/outreach/campaigns",
              {"name": "Everyone", "criteria": {"all": True}, "template": "Hi {first_name}, news."}),
    ("GET", "/api/sidebar/tickets/<int:ticket_id>/governed-actions"):
        Probe("list", lambda w: f"/api/sidebar/tickets/{w.ticket_id}/governed-actions"),
    ("POST", "/api/sidebar/tickets/<int:ticket_id>/governed-actions/<name>"):
        Probe("list", lambda w: f"/api/sidebar/tickets/{w.ticket_id}/governed-actions/add_note",
              {"params": {"note": "from Globex"}, "confirm": True}, {"Idempotency-Key": "isolation-probe"}),
    ("POST", "/api/sidebar/governed-actions/<int:execution_id>/confirm"):
        Probe("item", lambda w: f"/api/sidebar/governed-actions/{w.execution_id}/confirm"),
    # B's sign-in code for the dashboard opens B's dashboard (the code names B's account).
    ("POST", "/api/sidebar/dashboard-session"): Probe("list", lambda w: "/api/sidebar/dashboard-session"),
    ("GET", "/api/openapi.json"): Probe("public", lambda w: "/api/openapi.json"),
    # A's customer named by their number: to B that customer does not exist (and nothing is erased).
    ("GET", "/api/customers/export"): Probe("item", lambda w: "/api/customers/export?identity=%2B14155550100"),
    ("POST", "/api/customers/erase"): Probe("item", lambda w: "/api/customers/erase", {"identity": "+14155550100"}),
    ("GET", "/api/sidebar/tickets/<int:ticket_id>/call"):
        Probe("item", lambda w: f"/api/sidebar/tickets/{w.ticket_id}/call"),
    ("GET", "/api/sidebar/tickets/<int:ticket_id>/vault"):
        Probe("item", lambda w: f"/api/sidebar/tickets/{w.ticket_id}/vault"),
    ("POST", "/api/sidebar/tickets/<int:ticket_id>/vault/<token>/reveal"):
        Probe("item", lambda w: f"/api/sidebar/tickets/{w.ticket_id}/vault/[PHONE_1]/reveal",
              headers={"X-Zendesk-User-Id": "4021"}),
}


def api_routes(app: Flask) -> set[tuple[str, str]]:
    return {(method, rule.rule) for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")
            for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}}


def snapshot(app: Flask, account_id: int) -> dict[str, Any]:
    """A's rows that any endpoint could change."""
    with get_db(app).session() as session:
        def rows(model: type) -> list[tuple[Any, ...]]:
            return [tuple(sorted((k, repr(v)) for k, v in vars(r).items() if not k.startswith("_")))
                    for r in session.scalars(select(model).where(model.account_id == account_id).order_by(model.id))]

        return {m.__tablename__: rows(m) for m in (Conversation, Message, Customer, Suggestion, SuggestionFeedback,
                                                   OutboxCall, AuditEntry, OutreachCampaign, OutreachSegment,
                                                   OutreachRecipient, ActionExecution)}


@pytest.fixture
def world(app: Flask) -> World:
    assert vendor_for(app).twilio("/webhooks/twilio/messages", inbound(A_SECRET_TEXT)).status_code == 200
    # A vaulted value in A's conversation ([PHONE_1]), for the reveal probe to aim at.
    assert vendor_for(app).twilio("/webhooks/twilio/messages",
                                  inbound("call me back on +44 20 7946 0958")).status_code == 200
    with get_db(app).session() as session:
        a = accounts.by_slug(session, "default")
        assert a is not None
        b = Account(slug="globex", name="Globex", zendesk_subdomain="globex",
                    secrets={"slack_approval_channel": "C0GLOBEX1"})  # so B may start campaigns
        session.add(b)
        session.commit()
        conversation = session.scalars(select(Conversation).where(Conversation.account_id == a.id)).one()
        conversation.zendesk_ticket_id = A_TICKET
        # A line of a live call on A's ticket, for the call card's probe to aim at.
        session.add(Message(account_id=a.id, conversation_id=conversation.id, direction="inbound", channel="voice",
                            author="customer", body=A_SECRET_TEXT, external_id="GTa-call:2",
                            meta={"call_sid": "CAa-call", "transcript": "inbound_track"}))
        suggestion = Suggestion(account_id=a.id, zendesk_ticket_id=A_TICKET, conversation_id=conversation.id,
                                query=A_SECRET_TEXT, text=f"Answer about {A_SECRET_TEXT}", sources=[], engine="local")
        session.add(suggestion)
        audit(session, account_id=a.id, actor="agent", action="assist.inserted", subject_type="ticket",
              subject_id=A_TICKET, detail={"note": A_SECRET_TEXT})
        outbox.record_call(session, account_id=a.id, vendor="twilio", operation="messages.create",
                           payload={"to": "+14155550100", "body": A_SECRET_TEXT})
        campaign = OutreachCampaign(account_id=a.id, name=A_SECRET_TEXT, trigger="api", status="pending_approval",
                                    spec={}, created_by="api:test")
        session.add(campaign)
        session.flush()
        session.add(OutreachSegment(account_id=a.id, campaign_id=campaign.id, key="all", size=1,
                                    draft=f"Hello about {A_SECRET_TEXT}"))
        execution = ActionExecution(account_id=a.id, action="add_note", idempotency_key="a-note", role="agent",
                                    actor="zendesk:1", customer_id=conversation.customer_id,
                                    conversation_id=conversation.id, zendesk_ticket_id=A_TICKET,
                                    params={"note": A_SECRET_TEXT}, status="awaiting_confirmation")
        session.add(execution)
        session.commit()
        return World(accounts.create_api_key(session, a), accounts.create_api_key(session, b), conversation.id,
                     suggestion.id, A_TICKET, campaign.id, execution.id)


def test_every_api_route_has_an_isolation_probe(app: Flask) -> None:
    unprobed = sorted(api_routes(app) - set(PROBES))
    assert not unprobed, (
        "these /api/ routes have no cross-account probe in tests/reliability/test_isolation_every_route.py "
        "PROBES; add one saying how to aim the route at another account's data:\n  "
        + "\n  ".join(f"{method} {rule}" for method, rule in unprobed))


def test_account_b_can_neither_read_nor_change_account_as_data(app: Flask, world: World) -> None:
    client = app.test_client()
    a_id = app.config["DEFAULT_ACCOUNT_ID"]
    before = snapshot(app, a_id)
    own = client.get(f"/api/conversations/{world.conversation_id}", headers={"Authorization": f"Bearer {world.a_key}"})
    assert own.status_code == 200 and A_SECRET_TEXT in own.get_data(as_text=True)  # the probes aim at real data
    failures = []
    for (method, rule), probe in sorted(PROBES.items()):
        if (method, rule) not in api_routes(app):
            continue  # a route of a capability not in this tree
        response = client.open(probe.url(world), method=method, json=probe.json,
                               headers={"Authorization": f"Bearer {world.b_key}", **(probe.headers or {})})
        body = response.get_data(as_text=True)
        if probe.kind == "item" and response.status_code not in (403, 404):
            failures.append(f"{method} {rule}: {response.status_code} (expected 403/404)")
        if probe.kind in ("list", "public") and not 200 <= response.status_code < 300:
            # B's own (empty) view must actually be served: a 4xx would prove nothing
            # about isolation, only that the probe never reached the data path.
            failures.append(f"{method} {rule}: {response.status_code} (expected 2xx) {body[:200]}")
        if A_SECRET_TEXT in body or "ZX81" in body:
            failures.append(f"{method} {rule}: account A's text in the answer to B")
    assert not failures, "\n".join(failures)
    assert snapshot(app, a_id) == before
    with get_db(app).session() as session:
        crossed = session.scalars(select(OutreachRecipient).join(Customer, OutreachRecipient.customer_id == Customer.id)
                                  .where(OutreachRecipient.account_id != Customer.account_id)).all()
        assert not crossed, "a campaign of one account reached another account's customers"
