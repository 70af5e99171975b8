"""Agents reveal a redacted value from the sidebar: allowed per kind by the account's
settings, refused otherwise, and audited either way — through the sidebar API as the
Zendesk app calls it, after a handoff through signed Twilio messages."""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from switchboard.app import create_app
from switchboard.core.knowledge.loaders import load_articles
from switchboard.core.knowledge.service import KnowledgeBase
from switchboard.core.settings import load_settings
from switchboard.intake.db import get_db

from ..assist.test_agent_identity import _rsa_pair, zaf_token
from ..conftest import SAMPLE_KB
from ..signing import VendorClient
from .helpers import agent, key_for, say, ticket_of
from .test_vault_and_keys import vendor_for

CARD, PHONE = "4111 1111 1111 1111", "+44 20 7946 0958"


def handed_over(app: Flask) -> tuple[VendorClient, int, str]:
    vendor = vendor_for(app)
    say(vendor, f"my card {CARD} was charged twice, call me back on {PHONE}")
    say(vendor, "AGENT")
    return vendor, ticket_of(app), key_for(app)


@pytest.fixture
def strict_shop(env: dict[str, str]) -> Iterator[tuple[Flask, Any]]:
    """Cards only for Zendesk user 381; phones for every identified agent. The app's
    Zendesk public key is configured, so the sidebar may call with a signed-URL JWT."""
    private, public = _rsa_pair()
    app = create_app(load_settings({**env, "SWITCHBOARD_VAULT_REVEAL": "phone,card:381",
                                    "SWITCHBOARD_ZENDESK_APP_PUBLIC_KEY": public}),
                     config={"TASKS_INLINE": True, "TESTING": True})
    with get_db(app).session() as session:
        KnowledgeBase(session, app.config["DEFAULT_ACCOUNT_ID"], app.config["SETTINGS"].data_dir).import_articles(
            load_articles(SAMPLE_KB))
    yield app, private
    get_db(app).dispose()


def trail(vendor: VendorClient, key: str, ticket: int) -> list[dict[str, Any]]:
    exported = vendor.client.get(f"/api/audit?ticket={ticket}", headers={"Authorization": f"Bearer {key}"})
    assert exported.status_code == 200
    return [json.loads(line) for line in exported.get_data(as_text=True).splitlines()
            if json.loads(line)["action"].startswith("vault.")]


def test_an_allowed_agent_reveals_the_callback_number_and_the_reveal_is_audited(shop: Flask) -> None:
    vendor, ticket, key = handed_over(shop)
    view = vendor.client.get(f"/api/sidebar/tickets/{ticket}", headers=agent("4021", key)).get_json()
    assert all(CARD not in m["body"] and "7946" not in m["body"] for m in view["timeline"])
    assert "[CARD_1]" in view["timeline"][0]["body"] and "[PHONE_1]" in view["timeline"][0]["body"]

    listed = vendor.client.get(f"/api/sidebar/tickets/{ticket}/vault", headers=agent("4021", key))
    assert listed.status_code == 200
    assert listed.get_json() == {"tokens": [{"token": "[CARD_1]", "kind": "card", "revealable": False},
                                            {"token": "[PHONE_1]", "kind": "phone", "revealable": True}]}
    revealed = vendor.client.post(f"/api/sidebar/tickets/{ticket}/vault/PHONE_1/reveal", headers=agent("4021", key))
    assert revealed.status_code == 200
    assert revealed.get_json() == {"token": "[PHONE_1]", "value": PHONE}

    [entry] = trail(vendor, key, ticket)
    assert (entry["action"], entry["actor"]) == ("vault.reveal", "zendesk:4021")
    assert entry["detail"]["token"] == "[PHONE_1]" and entry["detail"]["kind"] == "phone"
    trail_text = json.dumps(entry)  # the trail says who saw what, never the value
    assert "7946 0958" not in trail_text and "2079460958" not in trail_text


def test_a_card_is_refused_by_default_and_the_refusal_is_audited(shop: Flask) -> None:
    vendor, ticket, key = handed_over(shop)
    refused = vendor.client.post(f"/api/sidebar/tickets/{ticket}/vault/CARD_1/reveal", headers=agent("4021", key))
    assert refused.status_code == 403
    assert "SWITCHBOARD_VAULT_REVEAL" in refused.get_json()["error"]
    assert "4111" not in refused.get_data(as_text=True)
    [entry] = trail(vendor, key, ticket)
    assert (entry["action"], entry["actor"], entry["detail"]["kind"]) == ("vault.reveal_refused", "zendesk:4021",
                                                                          "card")


def test_an_agent_the_app_does_not_identify_reveals_nothing(shop: Flask) -> None:
    vendor, ticket, key = handed_over(shop)
    refused = vendor.client.post(f"/api/sidebar/tickets/{ticket}/vault/PHONE_1/reveal", headers=agent(None, key))
    assert refused.status_code == 403
    assert "does not identify" in refused.get_json()["error"]
    assert [e["action"] for e in trail(vendor, key, ticket)] == ["vault.reveal_refused"]


def signed(private: Any, user_id: str) -> dict[str, str]:
    """The sidebar calling with Zendesk's signed-URL token naming ``user_id``."""
    return {"Authorization": f"Bearer {zaf_token(private, user_id)}"}


def test_per_user_permission_rests_on_zendesks_signed_token(strict_shop: tuple[Flask, Any]) -> None:
    """Issue 42, item 3: with the account key, the agent's id is a header their own
    browser sets; agent 400 claiming to be 381 is refused where only 381 may reveal."""
    app, private = strict_shop
    vendor, ticket, key = handed_over(app)
    forged = vendor.client.post(f"/api/sidebar/tickets/{ticket}/vault/CARD_1/reveal", headers=agent("381", key))
    assert forged.status_code == 403 and "4111" not in forged.get_data(as_text=True)
    assert "signed token" in forged.get_json()["error"] and "X-Zendesk-User-Id" in forged.get_json()["error"]
    listed = vendor.client.get(f"/api/sidebar/tickets/{ticket}/vault", headers=agent("381", key)).get_json()
    assert {t["token"]: t["revealable"] for t in listed["tokens"]} == {"[CARD_1]": False, "[PHONE_1]": True}

    other = vendor.client.post(f"/api/sidebar/tickets/{ticket}/vault/CARD_1/reveal", headers=signed(private, "400"))
    assert other.status_code == 403
    allowed = vendor.client.post(f"/api/sidebar/tickets/{ticket}/vault/[CARD_1]/reveal",
                                 headers=signed(private, "381"))
    assert allowed.status_code == 200 and allowed.get_json()["value"] == CARD
    # A rule for every identified agent still takes the app's word for who they are.
    phone = vendor.client.post(f"/api/sidebar/tickets/{ticket}/vault/PHONE_1/reveal", headers=agent("400", key))
    assert phone.status_code == 200
    assert [(e["action"], e["actor"]) for e in trail(vendor, key, ticket)] == [
        ("vault.reveal_refused", "zendesk:381"), ("vault.reveal_refused", "zendesk:400"),
        ("vault.reveal", "zendesk:381"), ("vault.reveal", "zendesk:400")]


def test_unknown_tokens_and_tickets_are_404s(shop: Flask) -> None:
    vendor, ticket, key = handed_over(shop)
    assert vendor.client.post(f"/api/sidebar/tickets/{ticket}/vault/PHONE_9/reveal",
                              headers=agent("4021", key)).status_code == 404
    assert vendor.client.post(f"/api/sidebar/tickets/{ticket}/vault/whatever/reveal",
                              headers=agent("4021", key)).status_code == 404
    assert vendor.client.post("/api/sidebar/tickets/999999/vault/PHONE_1/reveal",
                              headers=agent("4021", key)).status_code == 404
    assert vendor.client.post(f"/api/sidebar/tickets/{ticket}/vault/PHONE_1/reveal").status_code == 401
