"""`/switchboard` in Slack: a signed slash command is answered in its own HTTP
response (Slack shows it, only to the caller) and recorded like any Slack request."""
from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import urlencode

from flask import Flask
from sqlalchemy import select

from switchboard.core.store.models import AuditEntry, InboxEvent
from switchboard.intake.db import get_db

from ..signing import VendorClient
from .conftest import APPROVAL_CHANNEL, click, post_campaign

DELAY = {"name": "Delivery delay north", "criteria": {"attributes": {"region": "north"}},
         "template": "Hi {first_name}, your order is late."}


def command(vendor: VendorClient, text: str) -> tuple[dict[str, Any], float]:
    """A slash command as Slack posts it (form fields), signed with slack_sdk."""
    form = {"token": "legacy", "team_id": "T0001", "team_domain": "acme", "channel_id": APPROVAL_CHANNEL,
            "channel_name": "outreach-approvals", "user_id": "U0SOMEONE", "user_name": "someone",
            "command": "/switchboard", "text": text, "api_app_id": "A0001", "is_enterprise_install": "false",
            "response_url": "https://hooks.slack.com/commands/T0001/1/XXXX",
            "trigger_id": f"{uuid.uuid4().int % 10**11}.738474920.{uuid.uuid4().hex[:24]}"}
    started = time.monotonic()
    response = vendor.slack(urlencode(form), content_type="application/x-www-form-urlencoded")
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json(), elapsed


def test_campaigns_lists_recent_campaigns_with_status_and_counts(app: Flask, api_key: str, customers,  # type: ignore[no-untyped-def]
                                                                  vendor: VendorClient) -> None:
    customers("+14155550101", name="Ada", region="north")
    customers("+14155550102", name="Bob", region="north")
    customers("+14155550103", name="Cy", region="north", opted_out=True)
    client = app.test_client()
    sent = post_campaign(client, api_key, DELAY).get_json()["id"]
    vendor.slack_interaction(click("outreach:approve", sent))
    waiting = post_campaign(client, api_key, {**DELAY, "name": "Outage <south> & more"}).get_json()["id"]

    answer, elapsed = command(vendor, "campaigns")

    assert answer["response_type"] == "ephemeral" and elapsed < 3.0  # in Slack's 3 s, as the HTTP answer
    listing = answer["blocks"][1]["text"]["text"].splitlines()
    assert listing == [
        f"• *#{waiting} Outage &lt;south&gt; &amp; more* — pending approval · 3 customers: pending 2, skipped 1",
        f"• *#{sent} Delivery delay north* — sent · 3 customers: queued 2, skipped 1",
    ]
    with get_db(app).session() as session:
        [event] = session.scalars(select(InboxEvent).where(InboxEvent.kind == "slack.command")).all()
        assert (event.payload["command"], event.payload["text"], event.status) == ("/switchboard", "campaigns",
                                                                                  "done")
        assert session.scalar(select(AuditEntry).where(AuditEntry.action == "webhook.received",
                                                       AuditEntry.subject_id == str(event.id))) is not None


def test_help_and_anything_else_show_the_usage(app: Flask, vendor: VendorClient) -> None:
    answer, _ = command(vendor, "help")
    assert answer["response_type"] == "ephemeral"
    assert "/switchboard campaigns" in answer["blocks"][0]["text"]["text"]
    answer, _ = command(vendor, "")
    assert "/switchboard campaigns" in answer["blocks"][0]["text"]["text"]
    answer, _ = command(vendor, "launch <rockets>")
    text = answer["blocks"][0]["text"]["text"]
    assert text.startswith("I do not know `launch`.") and "/switchboard campaigns" in text


def test_campaigns_says_so_when_there_are_none(app: Flask, vendor: VendorClient) -> None:
    answer, _ = command(vendor, "campaigns")
    assert answer["text"].startswith("No outreach campaigns yet")
