"""Supervisor approval: the agent confirms the preview before Slack is asked; nobody can
approve without configured approvers; undecided requests expire and people are told."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from flask import Flask
from sqlalchemy import select

from switchboard.app import create_app
from switchboard.apps.slack.action_approvals import expire_overdue
from switchboard.core.settings import load_settings
from switchboard.core.store.models import ActionExecution
from switchboard.intake.db import get_db
from switchboard.tasks import actions_tick

from ..signing import VendorClient
from .conftest import APPROVER, BYSTANDER, sends
from .order_server import OrderServer
from .test_approvals_and_sidebar import agent_headers, click, handed_over, pending_refund, run
from .test_selfservice_actions import executions


def test_an_agents_large_refund_is_confirmed_before_it_goes_to_slack(app: Flask, vendor: VendorClient,
                                                                     order_system: OrderServer) -> None:
    ticket = handed_over(app, vendor)
    first = run(vendor, app, ticket, "refund", {"params": {"order_id": "A1002"}}, "refund-click")
    assert first.status_code == 202 and first.json["status"] == "awaiting_confirmation"
    assert first.json["message"] == "Confirm to refund $180.00 for order A1002."
    assert sends(app, "slack", "chat.postMessage") == []  # nothing asked of a supervisor yet
    confirm = vendor.client.post(f"/api/sidebar/governed-actions/{first.json['id']}/confirm",
                                 headers=agent_headers(app, "confirm"))
    assert confirm.status_code == 202 and confirm.json["status"] == "awaiting_approval"
    [request] = sends(app, "slack", "chat.postMessage")
    assert "refund $180.00 for order A1002" in request["text"]
    click(vendor, first.json["id"], APPROVER, trigger="t-agent")
    assert executions(app)[-1].status == "succeeded"
    [note] = [c for c in sends(app, "zendesk", "tickets.update")
              if "Governed action" in c["ticket"].get("comment", {}).get("body", "")]
    assert note["ticket"]["comment"]["public"] is False and "succeeded" in note["ticket"]["comment"]["body"]


def test_an_agent_cannot_say_yes_for_the_customer(app: Flask, vendor: VendorClient,
                                                  order_system: OrderServer) -> None:
    handed_over(app, vendor)
    with get_db(app).session() as session:  # set up: a model's refund preview waiting for the customer's YES
        waiting = session.scalars(select(ActionExecution)).one()
        waiting.action, waiting.role, waiting.status = "refund", "llm", "awaiting_confirmation"
        session.commit()
    response = vendor.client.post(f"/api/sidebar/governed-actions/{waiting.id}/confirm",
                                  headers=agent_headers(app, "c"))
    assert response.json["status"] == "awaiting_confirmation" and response.json["repeated"] is True
    assert response.json["message"] == "That request isn't waiting for your confirmation."
    assert order_system.calls("POST") == []


def policy_app(actions_env: dict[str, str], tmp_path: Path, **extra: str) -> Flask:
    policy = yaml.safe_load(Path(actions_env["SWITCHBOARD_ACTION_POLICY_FILE"]).read_text())
    policy["approvals"]["approvers"] = []
    path = tmp_path / "no_approvers.yaml"
    path.write_text(yaml.safe_dump(policy))
    return create_app(load_settings({**actions_env, "SWITCHBOARD_ACTION_POLICY_FILE": str(path), **extra}),
                      config={"TASKS_INLINE": True, "TESTING": True})


@pytest.fixture
def no_approvers(actions_env: dict[str, str], tmp_path: Path) -> Iterator[Flask]:
    app = policy_app(actions_env, tmp_path)
    yield app
    get_db(app).dispose()


def test_with_no_approvers_configured_nobody_can_approve(no_approvers: Flask, vendor: VendorClient,
                                                         order_system: OrderServer) -> None:
    vendor.client = no_approvers.test_client()
    execution = pending_refund(no_approvers, vendor)
    click(vendor, execution.id, BYSTANDER, trigger="t-any")
    assert executions(no_approvers)[0].status == "awaiting_approval"
    [denied] = sends(no_approvers, "slack", "chat.postEphemeral")
    assert "approvals.approvers" in denied["text"] and "SWITCHBOARD_OUTREACH_APPROVERS" in denied["text"]
    assert order_system.calls("POST") == []


def test_the_outreach_approvers_stand_in_when_the_policy_lists_none(actions_env: dict[str, str], tmp_path: Path,
                                                                    vendor: VendorClient,
                                                                    order_system: OrderServer) -> None:
    app = policy_app(actions_env, tmp_path, SWITCHBOARD_OUTREACH_APPROVERS=APPROVER)
    try:
        vendor.client = app.test_client()
        execution = pending_refund(app, vendor)
        click(vendor, execution.id, BYSTANDER, trigger="t-by")
        assert executions(app)[0].status == "awaiting_approval"
        click(vendor, execution.id, APPROVER, trigger="t-ok")
        assert executions(app)[0].status == "succeeded"
    finally:
        get_db(app).dispose()


def test_an_undecided_request_expires_in_the_sweep_and_the_customer_is_told(
        app: Flask, vendor: VendorClient, order_system: OrderServer) -> None:
    execution = pending_refund(app, vendor)
    with app.app_context(), get_db(app).session() as session:
        assert expire_overdue(session, app.config["SETTINGS"]) == []  # not due yet
        session.get(ActionExecution, execution.id).expires_at = datetime.now(UTC) - timedelta(minutes=1)
        session.commit()
    with app.app_context():  # what beat (or the embedded sweeper) runs
        assert actions_tick.run() == [execution.id]
        assert actions_tick.run() == []  # twice is harmless
    assert executions(app)[0].status == "expired"
    [update] = sends(app, "slack", "chat.update")
    assert update["text"].startswith("Expired before a decision")
    assert "wasn't approved in time" in sends(app)[-1]["body"]
    click(vendor, execution.id, APPROVER, trigger="t-late")  # a late click changes nothing
    assert executions(app)[0].status == "expired" and order_system.calls("POST") == []
