"""A web visitor proves a phone or email by one-time code through the widget's API
(``/chat/<slug>/identify``, ``/verify``, ``/preferences``) and joins that customer's
timeline; an agent's reply reaches a visitor who left by SMS, as they chose.

Everything through HTTP: the widget's requests (Flask's test client, as the widget
sends them), Twilio's and Zendesk's webhooks signed with their own algorithms, Twilio
Verify sandboxed (the code read where a developer reads it: the recorded send) or
faked at the HTTP layer with ``responses``.
"""
from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import responses
from flask import Flask
from sqlalchemy import func, select

from switchboard.app import create_app
from switchboard.core import accounts
from switchboard.core.settings import load_settings
from switchboard.core.store.models import Conversation, Customer, Identity, IdentityKind, OutboxCall, WebVisitor
from switchboard.intake.db import get_db

from ..conftest import base_env
from ..signing import VendorClient, fixture
from .conftest import SLUG, Visitor, outbox, timeline

SMS_PHONE = "+14155550101"
SERVICE_SID = "VA" + "abcdef0123456789" * 2
_sid = itertools.count(1)


def sms(vendor: VendorClient, body: str, phone: str = SMS_PHONE) -> None:
    params = {"MessageSid": f"SM{next(_sid):032x}", "AccountSid": "AC" + "1" * 32, "Body": body,
              "NumMedia": "0", "From": phone, "To": "+15005550006"}
    assert vendor.twilio("/webhooks/twilio/messages", params).status_code == 200


def identify(visitor: Visitor, kind: str, value: str) -> Any:
    return visitor.client.post(f"/chat/{SLUG}/identify", json={"kind": kind, "value": value},
                               headers=visitor.headers())


def verify(visitor: Visitor, kind: str, value: str, code: str) -> Any:
    return visitor.client.post(f"/chat/{SLUG}/verify", json={"kind": kind, "value": value, "code": code},
                               headers=visitor.headers())


def prefer(visitor: Visitor, notify: str) -> Any:
    return visitor.client.put(f"/chat/{SLUG}/preferences", json={"notify": notify}, headers=visitor.headers())


def sandbox_code(app: Flask) -> str:
    """Where a developer finds the code in the sandbox: the recorded Verify send, in the
    sandbox outbox listing (GET /api/sandbox/outbox)."""
    with get_db(app).session() as session:
        account = accounts.by_slug(session, accounts.DEFAULT_SLUG)
        assert account is not None
        key = accounts.create_api_key(session, account, "developer")
    listing = app.test_client().get("/api/sandbox/outbox", headers={"Authorization": f"Bearer {key}"})
    assert listing.status_code == 200, listing.get_data(as_text=True)
    [*_, sent] = [c for c in listing.get_json() if c["operation"] == "verifications.create"]
    assert sent["status"] == "sandboxed"
    return str(sent["payload"]["sandbox_code"])


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def prove(app: Flask, visitor: Visitor, kind: str, value: str) -> dict[str, Any]:
    assert identify(visitor, kind, value).status_code == 202
    answer = verify(visitor, kind, value, sandbox_code(app))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    result: dict[str, Any] = answer.get_json()
    return result


def test_a_visitor_who_proves_their_number_joins_the_sms_customers_timeline(shop: Flask,
                                                                           vendor: VendorClient) -> None:
    sms(vendor, "how long does delivery take to Canada?")
    visitor = Visitor(shop.test_client())  # opens the chat on the website later
    visitor.start()
    visitor.say("do you also ship to Mexico?")
    with get_db(shop).session() as session:
        sms_customer = session.scalar(select(Identity.customer_id).where(Identity.value == SMS_PHONE))
        assert session.scalar(select(func.count()).select_from(Customer)) == 2

    # The number as a visitor types it, in the company's national form.
    sent = identify(visitor, "phone", "(415) 555-0101")
    assert sent.status_code == 202, sent.get_data(as_text=True)
    assert sent.get_json()["masked"].endswith("0101") and "555" not in sent.get_json()["masked"]
    [call] = outbox(shop, "twilio_verify")
    assert (call.payload["to"], call.payload["channel"]) == (SMS_PHONE, "sms")
    code = sandbox_code(shop)

    refused = verify(visitor, "phone", "+1 415 555 0101", wrong(code))
    assert refused.status_code == 400 and refused.get_json()["error"].startswith("That code is not right")
    answer = verify(visitor, "phone", "+1 415 555 0101", code)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["verified"]["kind"] == "phone"

    # One customer now: the SMS customer (the older), with the visitor's web chat.
    with get_db(shop).session() as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 1
        web_visitor = session.get(WebVisitor, visitor.visitor)
        assert web_visitor is not None and web_visitor.customer_id == sms_customer
        kinds = sorted(i.kind.value for i in session.scalars(select(Identity).where(
            Identity.customer_id == sms_customer)))
        assert kinds == ["phone", "visitor"]
    resumed = visitor.start()
    assert resumed["verified"]["kind"] == "phone" and resumed["verified"]["masked"].endswith("0101")
    assert any(m["text"] == "do you also ship to Mexico?" for m in resumed["messages"])

    # The visitor asks for a person on the web: the agent's package holds the SMS too.
    visitor.say("I want to talk to a real person")
    with get_db(shop).session() as session:
        handed = session.scalars(select(Conversation).where(Conversation.status == "human")).one()
        note = str(session.scalars(select(OutboxCall).where(
            OutboxCall.idempotency_key == f"handoff:{handed.id}")).one().payload)
    assert "how long does delivery take to Canada?" in note and "do you also ship to Mexico?" in note
    assert "channels used here: sms, web" in note


def test_five_wrong_codes_are_400_and_the_sixth_try_is_429(shop: Flask, visitor: Visitor) -> None:
    assert identify(visitor, "email", "Ada@Example.com").status_code == 202
    code = sandbox_code(shop)
    for _ in range(5):
        refused = verify(visitor, "email", "ada@example.com", wrong(code))
        assert refused.status_code == 400, refused.get_data(as_text=True)
        assert "not right" in refused.get_json()["error"]
    dead = verify(visitor, "email", "ada@example.com", code)
    assert dead.status_code == 429 and "Ask for a new one" in dead.get_json()["error"]
    with get_db(shop).session() as session:  # nothing linked
        assert session.scalar(select(func.count()).select_from(Identity)
                              .where(Identity.kind == IdentityKind.EMAIL)) == 0


def test_identify_is_limited_per_visitor_and_checks_what_it_is_given(shop: Flask, visitor: Visitor) -> None:
    bad = identify(visitor, "phone", "call me maybe")
    assert bad.status_code == 400 and "country code" in bad.get_json()["error"]
    assert identify(visitor, "fax", "1").get_json()["error"].startswith("kind must be")
    other = Visitor(shop.test_client())
    other.start()
    for _ in range(3):  # 2 bad requests above + 3 = the 5 an hour
        assert identify(visitor, "email", "ada@example.com").status_code == 202
    limited = identify(visitor, "email", "ada@example.com")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0, limited.get_data(as_text=True)
    assert "error" in limited.get_json(), limited.get_data(as_text=True)
    assert identify(other, "email", "ada@example.com").status_code == 202  # another visitor is not held back
    no_token = shop.test_client().post(f"/chat/{SLUG}/identify", json={"kind": "email", "value": "a@b.example"})
    assert no_token.status_code == 401
    form = other.client.post(f"/chat/{SLUG}/identify", data={"kind": "email"}, headers=other.headers())
    assert form.status_code == 415


def test_preferences_need_that_kind_verified(shop: Flask, visitor: Visitor) -> None:
    refused = prefer(visitor, "sms")
    assert refused.status_code == 400 and "needs a verified phone" in refused.get_json()["error"]
    assert prefer(visitor, "email").status_code == 400
    assert prefer(visitor, "carrier pigeon").status_code == 400
    assert prefer(visitor, "none").get_json() == {"notify": "none"}
    prove(shop, visitor, "email", "ada@example.com")
    assert prefer(visitor, "email").get_json() == {"notify": "email"}
    assert prefer(visitor, "sms").status_code == 400  # an email is not a phone
    assert visitor.start()["notify"] == "email"


def agent_replies(vendor: VendorClient, ticket: int, body: str, comment_id: str) -> None:
    comment = fixture("zendesk", "ticket_comment_added.json")
    comment["detail"]["id"] = str(ticket)
    comment["id"] = f"event-{comment_id}"
    comment["event"]["comment"].update(body=body, is_public=True, id=comment_id,
                                       author={"id": "111", "is_staff": True, "name": "Ava"})
    assert vendor.zendesk(comment).status_code == 200


def away(app: Flask, visitor: Visitor, minutes: int) -> None:
    with get_db(app).session() as session:
        row = session.get(WebVisitor, visitor.visitor)
        assert row is not None
        row.last_seen_at = datetime.now(UTC) - timedelta(minutes=minutes)
        session.commit()


def test_an_agents_reply_reaches_a_visitor_who_left_by_sms(shop: Flask, vendor: VendorClient,
                                                           visitor: Visitor) -> None:
    prove(shop, visitor, "phone", "+14155550177")
    assert prefer(visitor, "sms").get_json() == {"notify": "sms"}
    visitor.say("I want to talk to a real person")
    with get_db(shop).session() as session:
        ticket = session.scalars(select(Conversation)).one().zendesk_ticket_id
    assert ticket

    agent_replies(vendor, ticket, "Still here? I can help now.", "7001")  # the visitor is on the page
    away(shop, visitor, minutes=5)
    agent_replies(vendor, ticket, "Your parcel left our depot today.", "7002")
    agent_replies(vendor, ticket, "Your parcel left our depot today.", "7002")  # Zendesk redelivers

    texts = [c for c in outbox(shop, "twilio") if c.operation == "messages.create"]
    assert [(c.payload["to"], c.payload["body"], c.idempotency_key) for c in texts] == [
        ("+14155550177", "Your parcel left our depot today.", "agent-reply-sms:7002")]
    replies = [m for m in timeline(shop) if m.author == "agent"]
    # The widget keeps both replies; the one sent while away says it went by SMS too.
    assert [(m.channel, m.body) for m in replies] == [("web", "Still here? I can help now."),
                                                      ("web", "Your parcel left our depot today.")]
    assert replies[0].meta["notified"] == {"by": "widget", "why": "present"}
    assert replies[1].meta["notified"]["by"] == "sms"
    assert [m["text"] for m in visitor.messages() if m["author"] == "agent"] == [
        "Still here? I can help now.", "Your parcel left our depot today."]


def test_a_visitor_who_chose_email_gets_it_through_the_ticket_requester(shop: Flask, vendor: VendorClient,
                                                                        visitor: Visitor) -> None:
    visitor.say("I want to talk to a real person")
    with get_db(shop).session() as session:
        ticket = session.scalars(select(Conversation)).one().zendesk_ticket_id
    assert ticket
    prove(shop, visitor, "email", "Ada@Example.com")
    assert prefer(visitor, "email").status_code == 200
    [added] = [c for c in outbox(shop, "zendesk") if c.operation == "users.identities.create"]
    assert added.payload["identity"] == {"type": "email", "value": "ada@example.com", "verified": True}
    away(shop, visitor, minutes=3)
    agent_replies(vendor, ticket, "We refunded you.", "8001")
    [reply] = [m for m in timeline(shop) if m.author == "agent"]
    assert reply.meta["notified"] == {"by": "email", "via": "zendesk_notification", "requester_email": "added"}
    # The same identity is not added twice, and nothing went by SMS.
    assert len([c for c in outbox(shop, "zendesk") if c.operation == "users.identities.create"]) == 1
    assert [c for c in outbox(shop, "twilio") if c.operation == "messages.create"] == []


def test_a_preflight_for_preferences_allows_put_for_an_allowed_origin(tmp_path: Path, pg_url: str) -> None:
    from ..conftest import _truncate_postgres

    _truncate_postgres(pg_url)
    env = {**base_env(tmp_path, pg_url), "SWITCHBOARD_WEBCHAT_ORIGINS": "https://shop.example"}
    app = create_app(load_settings(env), config={"TASKS_INLINE": True, "TESTING": True})
    client = app.test_client()
    preflight = client.options(f"/chat/{SLUG}/preferences", headers={
        "Origin": "https://shop.example", "Access-Control-Request-Method": "PUT"})
    assert preflight.status_code == 204
    assert "PUT" in preflight.headers["Access-Control-Allow-Methods"]
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    stranger = client.post(f"/chat/{SLUG}/identify", json={}, headers={"Origin": "https://evil.example"})
    assert stranger.status_code == 403 and "webchat_origins" in stranger.get_json()["error"]
    get_db(app).dispose()


@pytest.fixture
def live_app(tmp_path: Path, pg_url: str) -> Iterator[Flask]:
    """Twilio live (Verify faked at the HTTP layer), the rest sandboxed for lack of credentials."""
    from ..conftest import _truncate_postgres

    _truncate_postgres(pg_url)
    env = {**base_env(tmp_path, pg_url), "TWILIO_VERIFY_SERVICE_SID": SERVICE_SID}
    del env["SWITCHBOARD_SANDBOX"]
    app = create_app(load_settings(env), config={"TASKS_INLINE": True, "TESTING": True})
    yield app
    get_db(app).dispose()


@pytest.mark.parametrize(("status", "body", "answer", "says"), [
    (429, {"code": 60203, "message": "Max send attempts reached", "status": 429}, 429, "too many codes"),
    (503, {"code": 20503, "message": "Service unavailable", "status": 503}, 503, "not answering"),
    (400, {"code": 60200, "message": "Invalid parameter", "status": 400}, 502, "refused asking for a code"),
])
def test_twilio_verify_refusing_or_failing_is_a_clear_error_and_links_nothing(
        live_app: Flask, status: int, body: dict[str, Any], answer: int, says: str) -> None:
    visitor = Visitor(live_app.test_client())
    visitor.start()
    with responses.RequestsMock() as http:
        http.post(f"https://verify.twilio.com/v2/Services/{SERVICE_SID}/Verifications", status=status, json=body)
        response = identify(visitor, "phone", "+14155550100")
    assert response.status_code == answer and says in response.get_json()["error"], response.get_data(as_text=True)
    assert verify(visitor, "phone", "+14155550100", "123456").status_code == 400  # no code to check
    with get_db(live_app).session() as session:
        assert session.scalar(select(func.count()).select_from(Identity)
                              .where(Identity.kind == IdentityKind.PHONE)) == 0


def test_a_live_code_is_sent_and_checked_by_twilio_verify(live_app: Flask) -> None:
    visitor = Visitor(live_app.test_client())
    visitor.start()
    verify_url = f"https://verify.twilio.com/v2/Services/{SERVICE_SID}"
    with responses.RequestsMock() as http:
        http.post(f"{verify_url}/Verifications", status=201,
                  json={"sid": "VE" + "3" * 32, "status": "pending", "channel": "email", "to": "ada@example.com"})
        http.post(f"{verify_url}/VerificationCheck", status=200,
                  json={"sid": "VE" + "3" * 32, "status": "pending", "valid": False})
        http.post(f"{verify_url}/VerificationCheck", status=200,
                  json={"sid": "VE" + "3" * 32, "status": "approved", "valid": True})
        assert identify(visitor, "email", "ada@example.com").status_code == 202
        assert verify(visitor, "email", "ada@example.com", "111111").status_code == 400
        assert verify(visitor, "email", "ada@example.com", "424242").status_code == 200
        assert "To=ada%40example.com" in str(http.calls[0].request.body)
        assert "Code=424242" in str(http.calls[2].request.body)
    assert visitor.start()["verified"]["kind"] == "email"


def test_an_open_stream_ends_at_once_when_the_visitor_joins_an_older_customer(shop: Flask,
                                                                             vendor: VendorClient) -> None:
    from .conftest import serving
    from .test_api_handoff import stream_of

    shop.config["WEBCHAT_RECHECK_SECONDS"] = 30  # only the wake-up can end it within the time allowed
    sms(vendor, "how long does delivery take to Canada?")
    visitor = Visitor(shop.test_client())
    visitor.start()
    assert identify(visitor, "phone", SMS_PHONE).status_code == 202
    code = sandbox_code(shop)
    with serving(shop) as base_url, stream_of(base_url, visitor, 0) as events:
        started = time.monotonic()
        assert verify(visitor, "phone", SMS_PHONE, code).status_code == 200
        assert events.next_message(timeout=10) == {"end": "1"}  # the widget reconnects to the joined timeline
        assert time.monotonic() - started < 10


def test_new_sessions_buy_no_more_codes_or_tries_for_the_same_phone(shop: Flask) -> None:
    """Each visitor gets five tries of a code and five codes an hour; a new session is a
    new visitor, so without a limit on the phone itself anyone could keep guessing (and
    keep texting the phone's owner) by opening new chats. The phone's own limits hold
    across visitors: ten tries and five codes an hour, whoever asks."""
    phone = "+14155550188"
    statuses: list[int] = []
    for _ in range(3):
        guesser = Visitor(shop.test_client())
        guesser.start()
        assert identify(guesser, "phone", phone).status_code == 202
        code = sandbox_code(shop)
        statuses += [verify(guesser, "phone", phone, wrong(code)).status_code for _ in range(5)]
    assert statuses == [400] * 10 + [429] * 5
    refused = verify(guesser, "phone", phone, code)  # even the right code: the phone's tries are used up
    assert refused.status_code == 429 and "tried for that phone in the last hour" in refused.get_json()["error"]

    for _ in range(2):  # codes four and five of the hour
        other = Visitor(shop.test_client())
        other.start()
        assert identify(other, "phone", phone).status_code == 202
    sixth = Visitor(shop.test_client())
    sixth.start()
    limited = identify(sixth, "phone", phone)
    assert limited.status_code == 429 and "sent to that phone in the last hour" in limited.get_json()["error"]
    assert int(limited.headers["Retry-After"]) > 0
    assert identify(sixth, "phone", "+14155550189").status_code == 202  # another phone is not held back
    with get_db(shop).session() as session:
        assert session.scalar(select(func.count()).select_from(Identity).where(Identity.value == phone)) == 0
