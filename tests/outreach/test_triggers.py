"""The two other ways a campaign starts: an incident ticket through the signed
Zendesk webhook, and a schedule that beat's dispatcher starts exactly once."""
from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from flask import Flask

from switchboard.core.store.models import OutreachCampaign
from switchboard.intake.db import get_db

from ..signing import VendorClient, fixture
from .conftest import add_customer, calls, campaign, post_campaign


def incident_ticket(tags: list[str], ticket_id: str = "5158") -> dict:  # type: ignore[type-arg]
    payload = copy.deepcopy(fixture("zendesk", "ticket_created.json"))
    payload["detail"].update(id=ticket_id, type="problem", subject="Fibre outage in the north", tags=tags)
    payload["id"] = f"evt-{ticket_id}-{'-'.join(tags)}"
    return payload


def campaigns_of(app: Flask) -> list[OutreachCampaign]:
    with get_db(app).session() as session:
        return list(session.query(OutreachCampaign).order_by(OutreachCampaign.id))


def test_incident_ticket_from_zendesk_starts_a_campaign_for_the_affected_customers(
        app: Flask, vendor: VendorClient) -> None:
    with get_db(app).session() as session:
        add_customer(session, "+14155550151", name="Ada", tier="gold", region="north")
        add_customer(session, "+14155550152", name="Bob", region="north")
        add_customer(session, "+14155550153", name="Cy", region="south")

    assert vendor.zendesk(incident_ticket(["incident", "region_north"])).status_code == 200
    redelivered = incident_ticket(["incident", "region_north"])
    redelivered["id"] = "evt-other-delivery"  # a second event about the same ticket
    assert vendor.zendesk(redelivered).status_code == 200

    [row] = campaigns_of(app)
    assert (row.trigger, row.status, row.dedupe_key) == ("zendesk", "pending_approval", "zendesk:ticket:5158")
    [post] = [c for c in calls(app, "chat.postMessage") if "outreach" in (c.idempotency_key or "")]
    text = str(post.payload["blocks"])
    assert "Fibre outage in the north" in text and "*gold* · 1 customers" in text and "*standard* · 1 customers" in text
    assert calls(app, "messages.create") == []  # waits for a supervisor


def test_tickets_that_are_not_incidents_or_name_nobody_start_nothing(app: Flask, vendor: VendorClient) -> None:
    vendor.zendesk(incident_ticket(["billing"], ticket_id="1"))
    vendor.zendesk(incident_ticket(["outage"], ticket_id="2"))  # no region/product/tier tag
    assert campaigns_of(app) == []
    from switchboard.core.store.models import AuditEntry

    with get_db(app).session() as session:
        ignored = session.query(AuditEntry).filter(AuditEntry.action == "outreach.trigger_ignored").one()
        assert ignored.subject_id == "2" and "region_north" in ignored.detail["why"]


def test_scheduled_campaign_is_started_once_by_the_beat_dispatcher(app: Flask, api_key: str) -> None:
    from switchboard.tasks import outreach_tick

    with get_db(app).session() as session:
        add_customer(session, "+14155550161", name="Ada", region="north")
    # An hour ahead, then made due by moving the stored start into the past: a start one
    # second ahead had passed before the request was handled on a loaded machine.
    start = datetime.now(UTC) + timedelta(hours=1)
    body = post_campaign(app.test_client(), api_key, {
        "name": "Monday maintenance", "criteria": {"attributes": {"region": "north"}},
        "template": "Hi {first_name}, maintenance on Monday.", "start_at": start.isoformat()}).get_json()
    assert (body["status"], body["trigger"]) == ("scheduled", "schedule")

    with app.app_context():
        assert outreach_tick.run()["started"] == []  # not due yet
    assert calls(app, "chat.postMessage") == []
    with get_db(app).session() as session:
        row = session.get(OutreachCampaign, body["id"])
        assert row is not None
        row.start_at = datetime.now(UTC) - timedelta(seconds=1)
        session.commit()
    with app.app_context():
        assert outreach_tick.run()["started"] == [body["id"]]
        assert outreach_tick.run()["started"] == []  # a second beat starts nothing

    assert campaign(app, body["id"]).status == "pending_approval"
    assert len(calls(app, "chat.postMessage")) == 1
    assert "outreach-tick" in app.extensions["celery"].conf.beat_schedule


def test_incident_tag_added_later_starts_the_campaign_once(app: Flask, vendor: VendorClient) -> None:
    with get_db(app).session() as session:
        add_customer(session, "+14155550171", name="Ada", product="router")
    payload = incident_ticket(["product_router"], ticket_id="77")
    payload.update(type="zen:event-type:ticket.tags_changed", id="evt-tags-1",
                   event={"previous": ["product_router"], "current": ["product_router", "outage"]})
    assert vendor.zendesk(payload).status_code == 200
    assert vendor.zendesk({**payload, "id": "evt-tags-2"}).status_code == 200
    [row] = campaigns_of(app)
    assert row.dedupe_key == "zendesk:ticket:77" and row.status == "pending_approval"
