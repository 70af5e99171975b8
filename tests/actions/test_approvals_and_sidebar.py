"""Supervisor approval in Slack (signed interactivity payloads) and the agent's
sidebar endpoints: confirm, double clicks, notes and address changes."""
from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from switchboard.core import accounts
from switchboard.core.store.models import Account, ActionExecution, AuditEntry, Conversation
from switchboard.intake.db import get_db

from ..signing import VendorClient
from .conftest import APPROVER, BYSTANDER, sends
from .order_server import OrderServer
from .test_selfservice_actions import agreed, executions, say, verified


def click(vendor: VendorClient, execution_id: int, user: str, *, approve: bool = True, trigger: str) -> None:
    payload = {"type": "block_actions", "user": {"id": user, "team_id": "T0001"}, "team": {"id": "T0001"},
               "trigger_id": trigger, "channel": {"id": "C0APPROVALS"},
               "container": {"type": "message", "channel_id": "C0APPROVALS", "message_ts": "1.000001"},
               "actions": [{"action_id": "action:approve" if approve else "action:reject", "type": "button",
                            "value": str(execution_id), "action_ts": "1763781005.000300"}]}
    assert vendor.slack_interaction(payload).status_code == 200


def pending_refund(app: Flask, vendor: VendorClient) -> ActionExecution:
    reply = agreed(vendor, app, verified(vendor, app, "refund order A1002"))  # $180: above the $100 threshold
    assert "asked a supervisor to approve" in reply and "$180.00" in reply
    [request] = sends(app, "slack", "chat.postMessage")
    assert request["channel"] == "C0APPROVALS"
    buttons = request["blocks"][1]["elements"]
    assert [b["action_id"] for b in buttons] == ["action:approve", "action:reject"]
    [execution] = executions(app)
    assert execution.status == "awaiting_approval" and buttons[0]["value"] == str(execution.id)
    return execution


def test_an_approver_approves_once_despite_a_double_click(app: Flask, vendor: VendorClient,
                                                          order_system: OrderServer) -> None:
    execution = pending_refund(app, vendor)
    assert order_system.calls("POST") == []
    click(vendor, execution.id, BYSTANDER, trigger="t-1")
    assert executions(app)[0].status == "awaiting_approval"  # a non-approver changes nothing
    [denied] = sends(app, "slack", "chat.postEphemeral")
    assert denied["user"] == BYSTANDER and "approvers" in denied["text"]
    click(vendor, execution.id, APPROVER, trigger="t-2")
    click(vendor, execution.id, APPROVER, trigger="t-3")  # double click: a second interaction
    assert executions(app)[0].status == "succeeded" and executions(app)[0].decided_by == f"slack:{APPROVER}"
    assert len(order_system.calls("POST", "/orders/A1002/refunds")) == 1
    assert sends(app)[-1]["body"].startswith("Done: a refund of $180.00")  # the customer is told
    [update] = sends(app, "slack", "chat.update")
    assert "Approved and done" in update["text"]
    with get_db(app).session() as session:
        trail = [e.action for e in session.scalars(select(AuditEntry))]
    assert {"action.awaiting_approval", "action.approval_denied", "action.approved", "action.succeeded"} <= set(trail)


def test_a_rejection_changes_nothing_and_the_customer_is_told(app: Flask, vendor: VendorClient,
                                                              order_system: OrderServer) -> None:
    execution = pending_refund(app, vendor)
    click(vendor, execution.id, APPROVER, approve=False, trigger="t-9")
    assert executions(app)[0].status == "rejected"
    assert order_system.calls("POST") == []
    assert "didn't approve" in sends(app)[-1]["body"]


def test_an_expired_request_cannot_be_approved(app: Flask, vendor: VendorClient, order_system: OrderServer) -> None:
    from datetime import UTC, datetime, timedelta

    execution = pending_refund(app, vendor)
    with get_db(app).session() as session:
        row = session.get(ActionExecution, execution.id)
        row.expires_at = datetime.now(UTC) - timedelta(minutes=1)
        session.commit()
    click(vendor, execution.id, APPROVER, trigger="t-late")
    assert executions(app)[0].status == "expired" and order_system.calls("POST") == []


def agent_headers(app: Flask, key: str) -> dict[str, str]:
    with get_db(app).session() as session:
        account = session.scalar(select(Account).where(Account.slug == "default"))
        api_key = accounts.create_api_key(session, account)
    return {"Authorization": f"Bearer {api_key}", "X-Zendesk-Agent": "42", "Idempotency-Key": key}


def handed_over(app: Flask, vendor: VendorClient) -> int:
    say(vendor, app, "where is my order A1001?")
    say(vendor, app, "AGENT")
    with get_db(app).session() as session:
        ticket = session.scalars(select(Conversation)).one().zendesk_ticket_id
    assert ticket
    return ticket


def run(vendor: VendorClient, app: Flask, ticket: int, name: str, body: dict[str, Any], key: str) -> Any:
    return vendor.client.post(f"/api/sidebar/tickets/{ticket}/governed-actions/{name}", json=body,
                              headers=agent_headers(app, key))


def test_agent_address_change_needs_confirmation_and_updates_zendesk_and_the_system(
        app: Flask, vendor: VendorClient, order_system: OrderServer) -> None:
    ticket = handed_over(app, vendor)
    address = {"line1": "5 Oak Street", "city": "Springfield", "postcode": "62704", "country": "US"}
    first = run(vendor, app, ticket, "update_address", {"params": address}, "click-1")
    assert first.status_code == 202 and first.json["status"] == "awaiting_confirmation"
    assert "5 Oak Street" in first.json["message"] and order_system.calls("PUT") == []
    confirm = vendor.client.post(f"/api/sidebar/governed-actions/{first.json['id']}/confirm",
                                 headers=agent_headers(app, "confirm-1"))
    assert confirm.status_code == 200 and confirm.json["status"] == "succeeded"
    [user] = [c for c in sends(app, "zendesk", "users.create_or_update") if "user_fields" in c["user"]]
    assert user["user"]["external_id"].startswith("switchboard-")  # the same Zendesk user the handoff made
    assert user["user"]["user_fields"]["address_line1"] == "5 Oak Street"
    [put] = order_system.calls("PUT")
    assert put["body"] == {"line1": "5 Oak Street", "city": "Springfield", "postcode": "62704", "country": "US"}
    listing = vendor.client.get(f"/api/sidebar/tickets/{ticket}/governed-actions",
                                headers=agent_headers(app, "list")).json
    assert [e["status"] for e in listing["executions"]][-1] == "succeeded"
    assert "refund" in [a["name"] for a in listing["available"]]


def test_a_double_clicked_note_is_added_once(app: Flask, vendor: VendorClient) -> None:
    ticket = handed_over(app, vendor)
    body = {"params": {"note": "Customer called about A1001", "tags": ["order_status"]}}
    one = run(vendor, app, ticket, "add_note", body, "same-click")
    two = run(vendor, app, ticket, "add_note", body, "same-click")
    assert one.status_code == two.status_code == 200 and two.json["repeated"] is True
    notes = [c for c in sends(app, "zendesk", "tickets.update")
             if c["ticket"].get("comment", {}).get("body") == "Customer called about A1001"]
    assert len(notes) == 1 and notes[0]["ticket"]["comment"]["public"] is False


def test_sidebar_refuses_a_run_without_an_idempotency_key_and_bad_input(app: Flask, vendor: VendorClient) -> None:
    ticket = handed_over(app, vendor)
    headers = agent_headers(app, "k")
    headers.pop("Idempotency-Key")
    response = vendor.client.post(f"/api/sidebar/tickets/{ticket}/governed-actions/add_note",
                                  json={"params": {"note": "x"}}, headers=headers)
    assert response.status_code == 400 and "Idempotency-Key" in response.get_data(as_text=True)
    bad = run(vendor, app, ticket, "refund", {"params": {"order_id": "A1001", "amount": 500}}, "k2")
    assert bad.status_code == 422 and bad.json["reasons"] == ["invalid_input"]


def test_a_nul_character_in_the_parameters_is_refused_by_name_and_nothing_is_run(app: Flask,
                                                                                   vendor: VendorClient) -> None:
    """Found by the OpenAPI fuzz: PostgreSQL cannot store U+0000, so it used to end as a 500."""
    ticket = handed_over(app, vendor)
    for params in ({"no\x00te": "x"}, {"note": "call me\x00"}):
        response = run(vendor, app, ticket, "add_note", {"params": params}, f"nul-{len(params)}-{next(iter(params))}")
        assert response.status_code == 400 and "NUL byte" in response.json["error"]
    with get_db(app).session() as session:
        assert session.scalars(select(ActionExecution).where(ActionExecution.action == "add_note")).all() == []


def test_a_repeated_request_is_told_where_it_stands_in_the_customers_language(
        app: Flask, vendor: VendorClient, order_system: OrderServer) -> None:
    """A retried self-service request (same idempotency key) runs nothing and says where
    it stands, in the language the conversation is now held in; an agent's repeat stays
    in English, the agents' language."""
    from switchboard.core.actions.engine import ActionRequest, Governor, Principal
    from switchboard.core.actions.wording import WAITING_APPROVAL

    execution = pending_refund(app, vendor)
    say(vendor, app, "¿Cuánto tarda la entrega a Madrid? Necesito saberlo hoy, por favor.")
    with app.app_context(), get_db(app).session() as session:
        account = session.get(Account, execution.account_id)
        assert account is not None
        governor = Governor(session, account, app.config["SETTINGS"])
        again = governor.request(ActionRequest(
            execution.action, execution.params, Principal("bot", "bot"), execution.idempotency_key,
            customer_id=execution.customer_id, conversation_id=execution.conversation_id))
        assert governor.texts(again.execution).language == "es"
    assert again.repeated and again.execution.status == "awaiting_approval"
    assert again.message != WAITING_APPROVAL
    assert again.message.startswith("Esta solicitud (") and "A1002" in again.message
    assert again.message.endswith(") está pendiente de la aprobación de un supervisor.")
    assert order_system.calls("POST") == []  # the repeat ran nothing
