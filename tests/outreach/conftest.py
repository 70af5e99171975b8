"""Outreach fixtures: the app with an approval channel and one approver, customers to
reach, an API key, and signed Slack clicks built like Slack's own payloads."""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.app import create_app
from switchboard.core.accounts import by_slug, create_api_key
from switchboard.core.settings import load_settings
from switchboard.core.store.models import Customer, Identity, IdentityKind, OutboxCall, OutreachCampaign
from switchboard.intake.db import get_db

from ..conftest import PUBLIC_URL, SLACK_SECRET, TWILIO_TOKEN, ZENDESK_SECRET
from ..signing import VendorClient, slack_button_click

APPROVAL_CHANNEL = "C0APPROVE"
APPROVER = "U0APPROVER"
OUTSIDER = "U0OUTSIDER"
OUTREACH_ENV = {
    "SWITCHBOARD_SLACK_APPROVAL_CHANNEL": APPROVAL_CHANNEL,
    "SWITCHBOARD_OUTREACH_APPROVERS": f"{APPROVER},U0SECOND",
    "SWITCHBOARD_OUTREACH_QUIET_HOURS": "off",
    "SWITCHBOARD_OUTREACH_RATE": "1000",
    "SWITCHBOARD_COMPANY_NAME": "Acme",
}


def make_outreach_app(env: dict[str, str], **extra: str) -> Flask:
    return create_app(load_settings({**env, **OUTREACH_ENV, **extra}), config={"TASKS_INLINE": True, "TESTING": True})


@pytest.fixture
def app(env: dict[str, str]) -> Iterator[Flask]:
    app = make_outreach_app(env)
    yield app
    get_db(app).dispose()


@pytest.fixture
def api_key(app: Flask) -> str:
    with get_db(app).session() as session:
        account = by_slug(session, "default")
        assert account is not None
        return create_api_key(session, account, "outreach-tests")


def add_customer(session: Session, phone: str, *, name: str | None = None, tier: str = "standard",
                 timezone: str | None = "UTC", opted_out: bool = False, **attributes: Any) -> Customer:
    account = by_slug(session, "default")
    assert account is not None
    customer = Customer(account_id=account.id, display_name=name, tier=tier, timezone=timezone,
                        attributes=attributes, opted_out_at=datetime.now(UTC) if opted_out else None)
    session.add(customer)
    session.flush()
    session.add(Identity(account_id=account.id, customer_id=customer.id, kind=IdentityKind.PHONE, value=phone))
    session.commit()
    return customer


@pytest.fixture
def customers(app: Flask) -> Callable[..., Customer]:
    def make(phone: str, **kwargs: Any) -> Customer:
        with get_db(app).session() as session:
            return add_customer(session, phone, **kwargs)
    return make


def post_campaign(client: FlaskClient, key: str, body: dict[str, Any], **headers: str):  # type: ignore[no-untyped-def]
    return client.post("/api/outreach/campaigns", json=body, headers={"Authorization": f"Bearer {key}", **headers})


def click(action_id: str, campaign_id: int, *, user: str = APPROVER) -> dict[str, Any]:
    """A block_actions payload as Slack sends it for a button in our approval message."""
    return slack_button_click(action_id, str(campaign_id), block_id="outreach:decision", user=user,
                              channel=APPROVAL_CHANNEL,
                              channel_name="outreach-approvals")


def edit_submission(campaign_id: int, texts: dict[int, str], *, user: str = APPROVER) -> dict[str, Any]:
    """A view_submission payload for our edit modal."""
    return {
        "type": "view_submission", "api_app_id": "A0001", "token": "legacy",
        "team": {"id": "T0001", "domain": "acme"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0001"},
        "trigger_id": f"{uuid.uuid4().int % 10**11}.738474920.{uuid.uuid4().hex[:24]}",
        "view": {"id": "V0EDIT", "type": "modal", "callback_id": "outreach:edit", "hash": "1763781100.abc",
                 "private_metadata": str(campaign_id),
                 "state": {"values": {f"segment:{sid}": {"text": {"type": "plain_text_input", "value": text}}
                                      for sid, text in texts.items()}}},
    }


@pytest.fixture
def vendor(app: Flask) -> VendorClient:
    return VendorClient(app.test_client(), twilio_token=TWILIO_TOKEN, zendesk_secret=ZENDESK_SECRET,
                        slack_secret=SLACK_SECRET, public_url=PUBLIC_URL)


def calls(app: Flask, operation: str) -> list[OutboxCall]:
    """What the sandbox recorded instead of calling the vendor, oldest first."""
    with get_db(app).session() as session:
        return list(session.scalars(select(OutboxCall).where(OutboxCall.operation == operation)
                                    .order_by(OutboxCall.id)))


def campaign(app: Flask, campaign_id: int) -> OutreachCampaign:
    with get_db(app).session() as session:
        row = session.get(OutreachCampaign, campaign_id)
        assert row is not None
        return row


@pytest.fixture
def api_key_app(env: dict[str, str]) -> Iterator[Callable[..., tuple[Flask, str]]]:
    """An app with extra outreach settings, and an API key for it."""
    made: list[Flask] = []

    def make(**extra: str) -> tuple[Flask, str]:
        app = make_outreach_app(env, **extra)
        made.append(app)
        with get_db(app).session() as session:
            account = by_slug(session, "default")
            assert account is not None
            return app, create_api_key(session, account, "outreach-tests")

    yield make
    for app in made:
        get_db(app).dispose()
