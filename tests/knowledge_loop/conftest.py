"""The improvement loop's fixtures: the shop app (sample knowledge base) in sandbox mode
with an approval channel and one approver, signed vendor deliveries, and helpers that
play a customer texting, an agent answering in Zendesk and a supervisor clicking."""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from switchboard.app import create_app
from switchboard.cli import main
from switchboard.core.settings import load_settings
from switchboard.core.store.models import Conversation, OutboxCall
from switchboard.intake.db import get_db

from ..conftest import PUBLIC_URL, SLACK_SECRET, TWILIO_SID, TWILIO_TOKEN, ZENDESK_SECRET, with_sample_kb
from ..signing import VendorClient, fixture, slack_button_click

APPROVAL_CHANNEL = "C0KBREVIEW"
APPROVER = "U0APPROVER"
OUTSIDER = "U0OUTSIDER"
SECTION = "360001234567"
LOOP_ENV = {
    "SWITCHBOARD_SLACK_APPROVAL_CHANNEL": APPROVAL_CHANNEL,
    "SWITCHBOARD_KB_APPROVERS": APPROVER,
    "SWITCHBOARD_HELP_CENTER_SECTION_ID": SECTION,
    "SWITCHBOARD_COMPANY_NAME": "Acme",
}
_n = iter(range(1, 1_000_000))


@pytest.fixture
def loop_env(env: dict[str, str]) -> dict[str, str]:
    return {**env, **LOOP_ENV}


@pytest.fixture
def app(loop_env: dict[str, str]) -> Iterator[Flask]:
    app = create_app(load_settings(loop_env), config={"TASKS_INLINE": True, "TESTING": True})
    yield with_sample_kb(app)
    get_db(app).dispose()


@pytest.fixture
def vendor(app: Flask) -> VendorClient:
    return VendorClient(app.test_client(), twilio_token=TWILIO_TOKEN, zendesk_secret=ZENDESK_SECRET,
                        slack_secret=SLACK_SECRET, public_url=PUBLIC_URL)


def sms(vendor: VendorClient, body: str, *, phone: str) -> None:
    """A customer's SMS, signed as Twilio signs it."""
    params = {"MessageSid": f"SM{next(_n):032x}", "AccountSid": TWILIO_SID, "NumMedia": "0", "Body": body,
              "From": phone, "To": "+15005550006"}
    response = vendor.twilio("/webhooks/twilio/messages", params)
    assert response.status_code == 200, response.get_data(as_text=True)


def ticket_of(app: Flask, phone_conversation: int) -> int:
    with get_db(app).session() as session:
        conversation = session.get(Conversation, phone_conversation)
        assert conversation is not None and conversation.zendesk_ticket_id is not None
        return conversation.zendesk_ticket_id


def conversations(app: Flask) -> list[Conversation]:
    with get_db(app).session() as session:
        return list(session.scalars(select(Conversation).order_by(Conversation.id)))


def agent_replies(vendor: VendorClient, ticket_id: int, body: str, *, author: int = 111) -> None:
    """An agent's public comment on the ticket, as Zendesk's event subscription sends it."""
    payload = fixture("zendesk", "ticket_comment_added.json")
    payload["id"] = f"evt-{uuid.uuid4().hex}"
    payload["detail"]["id"] = str(ticket_id)
    payload["event"]["comment"].update(body=body, is_public=True, id=str(next(_n)),
                                       author={"id": str(author), "is_staff": True, "name": "Ava"})
    response = vendor.zendesk(payload)
    assert response.status_code == 200, response.get_data(as_text=True)


def solves(vendor: VendorClient, ticket_id: int) -> None:
    payload = fixture("zendesk", "ticket_status_changed.json")
    payload["id"] = f"evt-{uuid.uuid4().hex}"
    payload["detail"]["id"] = str(ticket_id)
    payload["event"].update(current="SOLVED", previous="OPEN")
    response = vendor.zendesk(payload)
    assert response.status_code == 200, response.get_data(as_text=True)


def click(action_id: str, draft_id: int, *, user: str = APPROVER) -> dict[str, Any]:
    """A block_actions payload as Slack sends it for a button on our review card."""
    return slack_button_click(action_id, str(draft_id), block_id="kbdraft:decision", user=user,
                              channel=APPROVAL_CHANNEL,
                              channel_name="kb-review")


def outbox(app: Flask, operation: str) -> list[OutboxCall]:
    """What the sandbox recorded instead of calling the vendor, oldest first."""
    with get_db(app).session() as session:
        return list(session.scalars(select(OutboxCall).where(OutboxCall.operation == operation)
                                    .order_by(OutboxCall.id)))


def cli(app: Flask, env: dict[str, str], *args: str) -> Any:
    """`switchboard ARGS` through click's runner, against the app's database."""
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output) if "--json" in args else result.output


def edit_submission(draft_id: int, version: int, *, title: str, body: str, user: str = APPROVER) -> dict[str, Any]:
    """A view_submission payload as Slack sends it when our draft's edit modal is saved."""
    return {
        "type": "view_submission", "api_app_id": "A0001", "token": "legacy",
        "team": {"id": "T0001", "domain": "acme"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0001"},
        "trigger_id": f"{uuid.uuid4().int % 10**11}.738474920.{uuid.uuid4().hex[:24]}",
        "view": {"id": f"V0{uuid.uuid4().hex[:8].upper()}", "type": "modal", "callback_id": "kbdraft:edit",
                 "hash": "1763781100.abc", "private_metadata": f"{draft_id}:{version}",
                 "state": {"values": {"title": {"text": {"type": "plain_text_input", "value": title}},
                                      "body": {"text": {"type": "plain_text_input", "value": body}}}}},
    }
