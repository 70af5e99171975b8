"""What an outreach approval request in Slack may carry: no part of the API key that
started the campaign (the key is named by its id and name), and a ticket subject as
written, never as Slack markup (``<!channel>`` must not notify a whole channel)."""
from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from sqlalchemy import select

from switchboard.core.store.models import ApiKey, AuditEntry, Customer
from switchboard.intake.db import get_db

from ..signing import VendorClient
from .conftest import calls, campaign, post_campaign
from .test_api_and_approval import DELAY, seed
from .test_triggers import incident_ticket


def test_a_campaign_started_over_the_api_names_the_key_not_its_characters(
        app: Flask, api_key: str, customers: Callable[..., Customer]) -> None:
    seed(customers)
    response = post_campaign(app.test_client(), api_key, DELAY)
    assert response.status_code == 201, response.get_json()
    with get_db(app).session() as session:
        key = session.scalars(select(ApiKey).where(ApiKey.name == "outreach-tests")).one()
        actors = session.scalars(select(AuditEntry.actor).where(AuditEntry.action == "outreach.created")).all()
        stored_prefix = key.prefix
    author = campaign(app, response.get_json()["id"]).created_by
    assert author == f"api:key:{key.id}:outreach-tests"
    assert actors == [author]
    [post] = calls(app, "chat.postMessage")
    shown = str(post.payload)
    assert f"api:key:{key.id}:outreach-tests" in shown
    for fragment in (api_key[:10], api_key[3:10]):  # "sb_" and seven characters of the secret
        assert fragment not in shown and fragment not in author
    assert stored_prefix == "sb_"


def test_an_incident_subject_reaches_slack_as_text_not_markup(app: Flask, vendor: VendorClient,
                                                             customers: Callable[..., Customer]) -> None:
    customers("+14155550151", name="Ada", region="north")
    ticket = incident_ticket(["incident", "region_north"])
    ticket["detail"]["subject"] = "<!channel> fibre down & <https://evil.example|click here>"
    assert vendor.zendesk(ticket).status_code == 200
    [post] = [c for c in calls(app, "chat.postMessage") if "outreach" in (c.idempotency_key or "")]
    text = post.payload["text"]
    assert "&lt;!channel&gt; fibre down &amp; &lt;https://evil.example|click here&gt;" in text, text
    assert "<!channel>" not in text and "<https://" not in text
    assert not [t for t in _mrkdwn(post.payload["blocks"]) if "<!channel>" in t]  # plain_text is never parsed


def _mrkdwn(value: object) -> list[str]:
    if isinstance(value, dict):
        own = [str(value["text"])] if value.get("type") == "mrkdwn" else []
        return own + [t for inner in value.values() for t in _mrkdwn(inner)]
    if isinstance(value, list):
        return [t for inner in value for t in _mrkdwn(inner)]
    return []
