"""Who did it: the sidebar API audits the agent the app names (ZAF's currentUser), the
agent a Zendesk signed token names over it, and "agent" for an app that names nobody.

Through the sidebar API as the app calls it (account key, or a signed-URL JWT), after a
handoff through signed Twilio messages; the audit trail read back through /api/audit.
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from switchboard.app import create_app
from switchboard.core.knowledge.loaders import load_articles
from switchboard.core.knowledge.service import KnowledgeBase
from switchboard.core.settings import load_settings
from switchboard.core.store.models import ActionExecution
from switchboard.intake.db import get_db

from ..conftest import PUBLIC_URL, TWILIO_TOKEN, ZENDESK_SECRET
from ..signing import VendorClient
from .test_sidebar_api import SAMPLE_KB, handed_over_ticket, key_for

NAME = "Søren Ødegård"


def identity(user_id: str, name: str = NAME, email: str = "søren@acme.test") -> dict[str, str]:
    """The headers the app sends: the id, and name and email percent-encoded (encodeURIComponent)."""
    return {"X-Zendesk-User-Id": user_id, "X-Zendesk-User-Name": quote(name, safe=""),
            "X-Zendesk-User-Email": quote(email, safe="")}


def audit_trail(client: FlaskClient, key: str, ticket: int) -> list[dict[str, Any]]:
    exported = client.get(f"/api/audit?ticket={ticket}", headers={"Authorization": f"Bearer {key}"})
    assert exported.status_code == 200
    return [json.loads(line) for line in exported.get_data(as_text=True).splitlines()]


def agent_did_things(client: FlaskClient, ticket: int, headers: dict[str, str]) -> None:
    """Rate a suggestion, insert it, and add a note: three audited acts of the agent."""
    view = client.get(f"/api/sidebar/tickets/{ticket}", headers=headers)
    assert view.status_code == 200
    first = view.get_json()["suggestions"][0]["id"]
    assert client.post(f"/api/sidebar/suggestions/{first}/inserted", headers=headers).status_code == 204
    assert client.post(f"/api/sidebar/suggestions/{first}/feedback", headers=headers,
                       json={"rating": "up"}).status_code == 204
    ran = client.post(f"/api/sidebar/tickets/{ticket}/governed-actions/add_note",
                      json={"params": {"note": "Told them about the hold"}},
                      headers={**headers, "Idempotency-Key": f"note-{time.monotonic_ns()}"})
    assert ran.status_code == 200, ran.get_data(as_text=True)


def actors(trail: list[dict[str, Any]]) -> dict[str, str]:
    return {e["action"]: e["actor"] for e in trail
            if e["action"] in ("assist.inserted", "assist.rated_up", "action.requested")}


def test_the_agent_the_app_names_is_audited_by_zendesk_user_id(shop: Flask, vendor: VendorClient) -> None:
    ticket = handed_over_ticket(shop, vendor)
    key = key_for(shop)
    agent_did_things(vendor.client, ticket, {"Authorization": f"Bearer {key}", **identity("4021")})

    trail = audit_trail(vendor.client, key, ticket)
    assert actors(trail) == {"assist.inserted": "zendesk:4021", "assist.rated_up": "zendesk:4021",
                             "action.requested": "zendesk:4021"}
    rated = next(e for e in trail if e["action"] == "assist.rated_up")
    assert rated["detail"]["agent"] == {"id": "4021", "name": NAME, "email": "søren@acme.test", "verified": False}
    with get_db(shop).session() as session:
        [note] = session.scalars(select(ActionExecution)).all()
        assert (note.role, note.actor) == ("agent", "zendesk:4021")


def test_an_app_that_names_nobody_is_audited_as_agent_as_before(shop: Flask, vendor: VendorClient) -> None:
    ticket = handed_over_ticket(shop, vendor)
    key = key_for(shop)
    agent_did_things(vendor.client, ticket, {"Authorization": f"Bearer {key}"})

    trail = audit_trail(vendor.client, key, ticket)
    assert actors(trail) == {"assist.inserted": "agent", "assist.rated_up": "agent",
                             "action.requested": "zendesk:agent"}
    assert all("agent" not in e["detail"] for e in trail if e["action"].startswith("assist."))


@pytest.mark.parametrize("said", ["ava", "12 34", "1" * 21, "-5"])
def test_an_agent_id_that_is_not_a_zendesk_user_id_is_refused_by_name(shop: Flask, vendor: VendorClient,
                                                                      said: str) -> None:
    ticket = handed_over_ticket(shop, vendor)
    response = vendor.client.get(f"/api/sidebar/tickets/{ticket}",
                                 headers={"Authorization": f"Bearer {key_for(shop)}", "X-Zendesk-User-Id": said})
    assert response.status_code == 400
    assert "X-Zendesk-User-Id" in response.get_json()["error"]


def _rsa_pair() -> tuple[Any, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = private.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


@pytest.fixture
def signed_urls_app(env: dict[str, str]) -> Iterator[tuple[Flask, Any]]:
    """An app whose Zendesk public key is configured: the sidebar may call with a signed-URL JWT."""
    private, public = _rsa_pair()
    app = create_app(load_settings({**env, "SWITCHBOARD_ZENDESK_APP_PUBLIC_KEY": public}),
                     config={"TASKS_INLINE": True, "TESTING": True})
    with get_db(app).session() as session:
        KnowledgeBase(session, app.config["DEFAULT_ACCOUNT_ID"], app.config["SETTINGS"].data_dir).import_articles(
            load_articles(SAMPLE_KB))
    yield app, private
    get_db(app).dispose()


def zaf_token(private: Any, sub: str) -> str:
    """What Zendesk POSTs to an app with signedUrls: RS256, issued by the account, naming the user."""
    now = int(time.time())
    return jwt.encode({"iss": "acme.zendesk.com", "aud": "https://acme.zendesk.com/api/v2/apps/installations/1.json",
                       "iat": now, "exp": now + 300, "sub": sub, "qsh": "x",
                       "context": {"product": "support", "location": "ticket_sidebar"}}, private, algorithm="RS256")


def test_a_signed_token_names_the_agent_over_what_the_app_says(signed_urls_app: Any,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    app, private = signed_urls_app
    vendor = VendorClient(app.test_client(), twilio_token=TWILIO_TOKEN, zendesk_secret=ZENDESK_SECRET,
                          slack_secret="", public_url=PUBLIC_URL)
    ticket = handed_over_ticket(app, vendor)
    token = zaf_token(private, "777")
    # The page's script says someone else: the verified token wins, and none of the
    # unverified name is attached to the verified id.
    agent_did_things(vendor.client, ticket, {"Authorization": f"Bearer {token}", **identity("999", "Mallory")})
    assert "signed token says 777" in caplog.text

    key = key_for(app)
    trail = audit_trail(vendor.client, key, ticket)
    assert actors(trail) == {"assist.inserted": "zendesk:777", "assist.rated_up": "zendesk:777",
                             "action.requested": "zendesk:777"}
    rated = next(e for e in trail if e["action"] == "assist.rated_up")
    assert rated["detail"]["agent"] == {"id": "777", "name": None, "email": None, "verified": True}

    # The same agent's own page: the token's id with the name the app read.
    view = vendor.client.get(f"/api/sidebar/tickets/{ticket}", headers={"Authorization": f"Bearer {token}"})
    first = view.get_json()["suggestions"][0]["id"]
    assert vendor.client.post(f"/api/sidebar/suggestions/{first}/feedback", json={"rating": "down"},
                              headers={"Authorization": f"Bearer {token}", **identity("777")}).status_code == 204
    down = next(e for e in audit_trail(vendor.client, key, ticket) if e["action"] == "assist.rated_down")
    assert (down["actor"], down["detail"]["agent"]) == (
        "zendesk:777", {"id": "777", "name": NAME, "email": "søren@acme.test", "verified": True})

    # The dashboard's sign-in verifies the same token with the same code.
    signed_in = app.test_client().post("/dashboard/login", data={"token": token})
    assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith("/dashboard/")
