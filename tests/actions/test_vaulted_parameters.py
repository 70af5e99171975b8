"""A vault token as an action parameter: the agent changes the customer's contact phone
to "[PHONE_1]" from the sidebar; the order system (over real loopback HTTP) receives
the number the customer wrote, while everything we store or show — the execution, the
audit, the timeline, the outbox's Zendesk, Slack and HTTP records, the sidebar's
answers — holds the token. A token of another conversation is refused by name."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from sqlalchemy import select

from switchboard.app import create_app
from switchboard.core.settings import load_settings
from switchboard.core.store.models import ActionExecution, AuditEntry, Conversation, Message, OutboxCall
from switchboard.intake.db import get_db

from ..signing import VendorClient
from .conftest import APPROVER, OTHER, sends
from .order_server import OrderServer
from .test_approvals_and_sidebar import agent_headers, click
from .test_selfservice_actions import say

NUMBER = "+44 20 7946 0958"
#: How the number could appear anywhere: as written, without spaces, or URL-quoted.
SPELLINGS = ("7946 0958", "79460958", "7946%200958")


@pytest.fixture
def app(actions_env: dict[str, str]) -> Iterator[Flask]:
    """The default policy, with a supervisor's approval required for a phone change, so
    the Slack approval message is on the path too."""
    path = Path(actions_env["SWITCHBOARD_ACTION_POLICY_FILE"])
    policy = yaml.safe_load(path.read_text())
    policy["actions"]["update_contact_phone"]["supervisor_approval"] = {"always": True}
    path.write_text(yaml.safe_dump(policy))
    app = create_app(load_settings(actions_env), config={"TASKS_INLINE": True, "TESTING": True})
    yield app
    get_db(app).dispose()


def handed_over(app: Flask, vendor: VendorClient, number: str = NUMBER) -> int:
    say(vendor, app, f"I have a new number, please call me on {number} about order A1001")
    say(vendor, app, "AGENT")
    # Another customer's conversation holds a [PHONE_1] and a [PHONE_2] of its own.
    say(vendor, app, "my numbers are +1 212 555 0188 and +1 212 555 0199", sender=OTHER)
    with get_db(app).session() as session:
        ticket = session.scalar(select(Conversation.zendesk_ticket_id)  # the first customer's, made first
                                .where(Conversation.zendesk_ticket_id.is_not(None)).order_by(Conversation.id))
        bodies = list(session.scalars(select(Message.body).where(Message.author == "customer")))
    assert ticket
    assert "I have a new number, please call me on [PHONE_1] about order A1001" in bodies  # vaulted
    assert "my numbers are [PHONE_1] and [PHONE_2]" in bodies
    return ticket


def run_phone(vendor: VendorClient, app: Flask, ticket: int, phone: str, key: str) -> Any:
    return vendor.client.post(f"/api/sidebar/tickets/{ticket}/governed-actions/update_contact_phone",
                              json={"params": {"phone": phone}}, headers=agent_headers(app, key))


def everything_stored(app: Flask) -> str:
    """The executions, the audit, the timeline and every outbox record, as one string."""
    with get_db(app).session() as session:
        rows: list[Any] = []
        for e in session.scalars(select(ActionExecution)):
            rows.append([e.params, e.facts, e.result, e.reasons, e.error])
        rows += [[a.action, a.detail] for a in session.scalars(select(AuditEntry))]
        rows += [[m.body, m.meta] for m in session.scalars(select(Message))]
        rows += [[c.vendor, c.operation, c.payload, c.response, c.error] for c in session.scalars(select(OutboxCall))]
    return json.dumps(rows, default=str)


def test_the_order_system_gets_the_number_and_we_keep_only_the_token(
        app: Flask, vendor: VendorClient, order_system: OrderServer) -> None:
    ticket = handed_over(app, vendor)
    asked = run_phone(vendor, app, ticket, "[PHONE_1]", "click-1")
    assert asked.status_code == 202 and asked.json["status"] == "awaiting_confirmation"
    assert asked.json["params"] == {"phone": "[PHONE_1]"} and "[PHONE_1]" in asked.json["preview"]
    confirmed = vendor.client.post(f"/api/sidebar/governed-actions/{asked.json['id']}/confirm",
                                   headers=agent_headers(app, "confirm-1"))
    assert confirmed.status_code == 202 and confirmed.json["status"] == "awaiting_approval"
    [approval] = sends(app, "slack", "chat.postMessage")
    assert "[PHONE_1]" in json.dumps(approval)
    assert order_system.calls("PUT", "/customers/") == []

    click(vendor, asked.json["id"], APPROVER, trigger="t-1")
    [put] = order_system.calls("PUT", "/customers/")
    assert put["path"].endswith("/phone") and put["body"] == {"phone": NUMBER}  # the real number, once

    with get_db(app).session() as session:
        execution = session.get(ActionExecution, asked.json["id"])
        assert execution is not None and execution.status == "succeeded"
        assert execution.params == {"phone": "[PHONE_1]"}
        [call] = session.scalars(select(OutboxCall).where(OutboxCall.vendor == "http_action",
                                                          OutboxCall.operation == "contact_phone_update"))
        # The system echoed the number; what we recorded of its answer is the token.
        assert call.payload["json"] == {"phone": "[PHONE_1]"} and call.response["phone"] == "[PHONE_1]"
    listing = vendor.client.get(f"/api/sidebar/tickets/{ticket}/governed-actions",
                                headers=agent_headers(app, "list")).get_data(as_text=True)
    stored = everything_stored(app)
    assert "[PHONE_1]" in stored and "update_contact_phone" in stored
    for shown in (stored, listing, asked.get_data(as_text=True), confirmed.get_data(as_text=True)):
        assert not [s for s in SPELLINGS if s in shown], shown
    with get_db(app).session() as session:
        vendors = set(session.scalars(select(OutboxCall.vendor)))
    assert {"zendesk", "slack", "http_action"} <= vendors  # each kind of payload was there to be walked

def test_a_refusal_quoting_the_number_is_recorded_with_the_token(
        app: Flask, vendor: VendorClient, order_system: OrderServer) -> None:
    ticket = handed_over(app, vendor, "+44 20 7946 0000")  # the order system refuses this one, quoting it
    asked = run_phone(vendor, app, ticket, "[PHONE_1]", "click-5")
    vendor.client.post(f"/api/sidebar/governed-actions/{asked.json['id']}/confirm",
                       headers=agent_headers(app, "confirm-5"))
    click(vendor, asked.json["id"], APPROVER, trigger="t-5")
    [put] = order_system.calls("PUT", "/customers/")
    assert put["body"] == {"phone": "+44 20 7946 0000"}
    with get_db(app).session() as session:
        execution = session.get(ActionExecution, asked.json["id"])
        assert execution is not None and execution.status == "failed"
        assert "[PHONE_1] cannot receive calls" in (execution.error or "")
    assert "7946 0000" not in everything_stored(app)


def test_a_token_of_another_conversation_is_refused_by_name(
        app: Flask, vendor: VendorClient, order_system: OrderServer) -> None:
    ticket = handed_over(app, vendor)
    refused = run_phone(vendor, app, ticket, "[PHONE_2]", "click-2")  # only the other conversation has one
    assert refused.status_code == 422 and refused.json["reasons"] == ["unknown_token"]
    assert "[PHONE_2]" in refused.json["message"] and "nothing was changed" in refused.json["message"]
    wrong_kind = run_phone(vendor, app, ticket, "[EMAIL_1]", "click-3")
    assert wrong_kind.status_code == 422 and wrong_kind.json["reasons"] == ["invalid_input"]
    assert order_system.calls("PUT", "/customers/") == [] and sends(app, "slack", "chat.postMessage") == []
    with get_db(app).session() as session:
        refusals = [a.detail for a in session.scalars(select(AuditEntry).where(AuditEntry.action == "action.refused")
                                                      .order_by(AuditEntry.id))]
    assert refusals[0]["reasons"] == ["unknown_token"] and refusals[0]["tokens"] == ["[PHONE_2]"]
    bad = run_phone(vendor, app, ticket, "call me maybe", "click-4")
    assert bad.status_code == 422 and bad.json["reasons"] == ["invalid_input"]
