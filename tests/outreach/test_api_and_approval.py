"""A campaign started through the API waits for a supervisor in Slack: approvers
decide, everyone else is refused, and nothing reaches a customer before approval."""
from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from sqlalchemy import select

from switchboard.core.store.models import AuditEntry, Customer, Message, OutreachRecipient
from switchboard.intake.db import get_db

from ..signing import VendorClient
from .conftest import (
    APPROVAL_CHANNEL,
    APPROVER,
    OUTSIDER,
    calls,
    campaign,
    click,
    edit_submission,
    post_campaign,
)

DELAY = {"name": "Delivery delay north", "criteria": {"attributes": {"region": "north"}}, "segment_by": "tier",
         "template": "Hi {first_name}, your order {order_id} will arrive two days late.",
         "templates": {"gold": "Hi {first_name}, your order {order_id} is late; we refunded the shipping."}}


def seed(customers: Callable[..., Customer]) -> None:
    customers("+14155550101", name="Ada Lovelace", tier="gold", region="north", order_id="A-1001")
    customers("+14155550102", name="Grace Hopper", region="north", order_id="A-1002")
    customers("+14155550103", name="Alan Turing", region="north", order_id="A-1003", opted_out=True)
    customers("+14155550104", name="Edsger Dijkstra", region="south", order_id="A-1004")


def audit_actions(app: Flask) -> list[str]:
    with get_db(app).session() as session:
        return [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def sends(app: Flask) -> dict[str, str]:
    return {c.payload["to"]: c.payload.get("body", "") for c in calls(app, "messages.create")}


def test_api_campaign_asks_for_approval_and_sends_nothing(app: Flask, api_key: str, customers) -> None:  # type: ignore[no-untyped-def]
    seed(customers)
    response = post_campaign(app.test_client(), api_key, DELAY)

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "pending_approval"
    assert {s["key"]: s["size"] for s in body["segments"]} == {"gold": 1, "standard": 2}
    assert body["recipients"] == {"pending": 2, "skipped": 1, "skipped:opted_out": 1}
    assert sends(app) == {}
    [post] = calls(app, "chat.postMessage")
    assert post.payload["channel"] == APPROVAL_CHANNEL
    blocks = post.payload["blocks"]
    text = str(blocks)
    assert "Hi Ada, your order A-1001 is late; we refunded the shipping." in text  # the gold draft, personalised
    assert "Automated message from Acme." in text and "Reply STOP to opt out." in text
    actions = next(b for b in blocks if b["type"] == "actions")["elements"]
    assert [a["action_id"] for a in actions] == ["outreach:approve", "outreach:edit", "outreach:reject"]
    assert {a["value"] for a in actions} == {str(body["id"])}
    assert campaign(app, body["id"]).slack_ts is not None


def test_bad_requests_are_refused_naming_the_problem(app: Flask, api_key: str) -> None:
    client = app.test_client()
    assert post_campaign(client, "sb_wrong", DELAY).status_code == 401
    response = post_campaign(client, api_key, {**DELAY, "criteria": {"regoin": "north"}})
    assert response.status_code == 400 and "regoin" in response.get_json()["error"]
    response = post_campaign(client, api_key, {**DELAY, "template": "Hi {first_name!r}"})
    assert response.status_code == 400 and "template" in response.get_json()["error"]
    assert calls(app, "chat.postMessage") == []


def test_idempotency_key_starts_one_campaign(app: Flask, api_key: str, customers) -> None:  # type: ignore[no-untyped-def]
    seed(customers)
    client = app.test_client()
    first = post_campaign(client, api_key, DELAY, **{"Idempotency-Key": "delay-42"})
    second = post_campaign(client, api_key, DELAY, **{"Idempotency-Key": "delay-42"})
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.get_json()["id"] == second.get_json()["id"]
    assert len(calls(app, "chat.postMessage")) == 1


def test_approver_approves_and_each_consenting_customer_gets_one_message(
        app: Flask, api_key: str, customers, vendor: VendorClient) -> None:  # type: ignore[no-untyped-def]
    seed(customers)
    campaign_id = post_campaign(app.test_client(), api_key, DELAY).get_json()["id"]

    assert vendor.slack_interaction(click("outreach:approve", campaign_id)).status_code == 200

    sent = sends(app)
    assert set(sent) == {"+14155550101", "+14155550102"}  # not the opted-out one, not the south
    assert sent["+14155550102"].startswith("Hi Grace, your order A-1002 will arrive two days late.")
    assert sent["+14155550102"].endswith("Automated message from Acme. Reply STOP to opt out.")
    row = campaign(app, campaign_id)
    assert (row.status, row.decided_by) == ("sent", APPROVER)
    [update] = calls(app, "chat.update")
    assert f"Approved by <@{APPROVER}>" in str(update.payload["blocks"])
    assert not any(b["type"] == "actions" for b in update.payload["blocks"])
    thread = [c.payload["text"] for c in calls(app, "chat.postMessage") if c.payload.get("thread_ts")]
    assert thread[0].startswith("Sending to 2 customers")
    assert "Sent 2" in thread[-1] and "skipped (opted out) 1" in thread[-1]
    assert "outreach.approved" in audit_actions(app)
    with get_db(app).session() as session:
        outbound = session.scalars(select(Message).where(Message.direction == "outbound")).all()
        assert len(outbound) == 2 and all(m.meta["outreach_campaign_id"] == campaign_id for m in outbound)


def test_non_approver_is_refused_privately_and_nothing_is_sent(
        app: Flask, api_key: str, customers, vendor: VendorClient) -> None:  # type: ignore[no-untyped-def]
    seed(customers)
    campaign_id = post_campaign(app.test_client(), api_key, DELAY).get_json()["id"]

    vendor.slack_interaction(click("outreach:approve", campaign_id, user=OUTSIDER))

    [refusal] = calls(app, "chat.postEphemeral")
    assert refusal.payload["user"] == OUTSIDER and "Only outreach approvers" in refusal.payload["text"]
    assert sends(app) == {} and calls(app, "chat.update") == []
    assert campaign(app, campaign_id).status == "pending_approval"
    assert "outreach.decision_refused" in audit_actions(app)


def test_reject_sends_nothing_and_says_who(app: Flask, api_key: str, customers, vendor: VendorClient) -> None:  # type: ignore[no-untyped-def]
    seed(customers)
    campaign_id = post_campaign(app.test_client(), api_key, DELAY).get_json()["id"]

    vendor.slack_interaction(click("outreach:reject", campaign_id))
    vendor.slack_interaction(click("outreach:approve", campaign_id, user="U0SECOND"))  # too late

    assert sends(app) == {}
    assert campaign(app, campaign_id).status == "rejected"
    [update] = calls(app, "chat.update")
    assert f"Rejected by <@{APPROVER}>" in str(update.payload["blocks"])
    [late] = calls(app, "chat.postEphemeral")
    assert "already rejected" in late.payload["text"]
    assert audit_actions(app).count("outreach.rejected") == 1 and "outreach.decision_ignored" in audit_actions(app)


def test_double_approve_clicks_send_each_message_once(
        app: Flask, api_key: str, customers, vendor: VendorClient) -> None:  # type: ignore[no-untyped-def]
    seed(customers)
    campaign_id = post_campaign(app.test_client(), api_key, DELAY).get_json()["id"]

    for user in (APPROVER, APPROVER, "U0SECOND"):
        assert vendor.slack_interaction(click("outreach:approve", campaign_id, user=user)).status_code == 200

    recorded = calls(app, "messages.create")
    assert sorted(c.payload["to"] for c in recorded) == ["+14155550101", "+14155550102"]
    assert len(calls(app, "chat.update")) == 1
    assert audit_actions(app).count("outreach.approved") == 1
    assert len(calls(app, "chat.postEphemeral")) == 2


def test_edit_opens_a_modal_and_the_edited_text_is_what_is_sent(
        app: Flask, api_key: str, customers, vendor: VendorClient) -> None:  # type: ignore[no-untyped-def]
    seed(customers)
    body = post_campaign(app.test_client(), api_key, DELAY).get_json()
    standard = next(s for s in body["segments"] if s["key"] == "standard")
    payload = click("outreach:edit", body["id"])

    vendor.slack_interaction(payload)
    [modal] = calls(app, "views.open")
    assert modal.payload["trigger_id"] == payload["trigger_id"]
    inputs = {b["block_id"]: b["element"]["initial_value"]
              for b in modal.payload["view"]["blocks"] if b["type"] == "input"}
    assert inputs[f"segment:{standard['id']}"] == standard["draft"]
    assert sends(app) == {}

    edited = {standard["id"]: "{first_name}: order {order_id} ships Monday."}
    vendor.slack_interaction(edit_submission(body["id"], edited))
    updated = calls(app, "chat.update")[-1]
    assert "Grace: order A-1002 ships Monday." in str(updated.payload["blocks"])
    vendor.slack_interaction(click("outreach:approve", body["id"]))

    sent = sends(app)
    assert sent["+14155550102"] == ("Grace: order A-1002 ships Monday. Automated message from Acme. "
                                    "Reply STOP to opt out.")
    assert sent["+14155550101"].startswith("Hi Ada, your order A-1001 is late")  # the other segment unchanged
    assert "outreach.edited" in audit_actions(app)


def test_non_approver_gets_no_modal(app: Flask, api_key: str, customers, vendor: VendorClient) -> None:  # type: ignore[no-untyped-def]
    seed(customers)
    campaign_id = post_campaign(app.test_client(), api_key, DELAY).get_json()["id"]
    vendor.slack_interaction(click("outreach:edit", campaign_id, user=OUTSIDER))
    assert calls(app, "views.open") == []
    assert len(calls(app, "chat.postEphemeral")) == 1


def test_unapproved_campaign_expires_and_cannot_be_approved_after(
        app: Flask, api_key: str, customers, vendor: VendorClient) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    from switchboard.core.outreach import campaigns

    seed(customers)
    campaign_id = post_campaign(app.test_client(), api_key, DELAY).get_json()["id"]
    with app.app_context():
        from switchboard.intake import db

        settings = app.config["SETTINGS"]
        assert campaigns.expire_due(db.session(), settings) == []  # not yet
        later = datetime.now(UTC) + timedelta(hours=24, minutes=1)
        assert campaigns.expire_due(db.session(), settings, now=later) == [campaign_id]

    vendor.slack_interaction(click("outreach:approve", campaign_id))
    assert campaign(app, campaign_id).status == "expired"
    assert sends(app) == {}
    [update] = calls(app, "chat.update")
    assert "Expired unapproved" in str(update.payload["blocks"])
    with get_db(app).session() as session:
        assert {r.status for r in session.scalars(select(OutreachRecipient))} == {"pending", "skipped"}


def test_another_accounts_key_cannot_see_or_reach_the_campaign(app: Flask, api_key: str, customers) -> None:  # type: ignore[no-untyped-def]
    from switchboard.core.accounts import create_api_key
    from switchboard.core.store.models import Account

    seed(customers)
    campaign_id = post_campaign(app.test_client(), api_key, DELAY).get_json()["id"]
    with get_db(app).session() as session:
        other = Account(slug="other", name="Other Co", secrets={})
        session.add(other)
        session.commit()
        other_key = create_api_key(session, other)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {other_key}"}
    assert client.get(f"/api/outreach/campaigns/{campaign_id}", headers=headers).status_code == 404
    assert client.get("/api/outreach/campaigns", headers=headers).get_json() == []
    # Its own campaign would need its own approval channel, and could never select our customers.
    response = post_campaign(client, other_key, DELAY)
    assert response.status_code == 409 and "slack_approval_channel" in response.get_json()["error"]
