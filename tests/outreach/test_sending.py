"""What happens after approval: quiet hours in the customer's zone, WhatsApp's
24-hour rule, status callbacks in any order, and replies handled like any message."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import select

from switchboard.core.store.models import AuditEntry, Conversation, Message, OutreachRecipient
from switchboard.intake.db import get_db

from ..conftest import TWILIO_SID
from ..signing import VendorClient
from .conftest import add_customer, calls, campaign, click, post_campaign

HX = "HX" + "0" * 32


def zone_where_it_is(hour: int) -> str:
    """An Etc/GMT zone whose local time now has this hour (Etc signs are inverted)."""
    offset = (hour - datetime.now(UTC).hour) % 24
    offset = offset - 24 if offset > 14 else offset
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def recipients(app: Flask) -> dict[str, OutreachRecipient]:
    with get_db(app).session() as session:
        return {r.phone: r for r in session.scalars(select(OutreachRecipient))}


def test_quiet_hours_defer_night_customers_to_morning_in_their_zone(env: dict[str, str], api_key_app) -> None:  # type: ignore[no-untyped-def]
    app, key = api_key_app(SWITCHBOARD_OUTREACH_QUIET_HOURS="21:00-08:00")
    night, day = zone_where_it_is(2), zone_where_it_is(13)
    with get_db(app).session() as session:
        add_customer(session, "+14155550111", name="Nora", timezone=night, region="north")
        add_customer(session, "+14155550112", name="Dana", timezone=day, region="north")
    campaign_id = post_campaign(app.test_client(), key, {"name": "Maintenance", "criteria": {"attributes": {
        "region": "north"}}, "template": "Hi {first_name}, maintenance tonight."}).get_json()["id"]
    vendor = VendorClient(app.test_client(), twilio_token="", zendesk_secret="",
                          slack_secret=env["SLACK_SIGNING_SECRET"], public_url=env["SWITCHBOARD_PUBLIC_URL"])

    vendor.slack_interaction(click("outreach:approve", campaign_id))

    assert [c.payload["to"] for c in calls(app, "messages.create")] == ["+14155550112"]
    deferred = recipients(app)["+14155550111"]
    assert (deferred.status, deferred.reason) == ("deferred", "quiet_hours")
    local = deferred.send_after.astimezone(ZoneInfo(night))
    assert (local.hour, local.minute) == (8, 0) and deferred.send_after > datetime.now(UTC)
    assert deferred.send_after - datetime.now(UTC) < timedelta(hours=7)
    assert "deferred for quiet hours 1" in calls(app, "chat.postMessage")[-1].payload["text"]
    assert campaign(app, campaign_id).status == "sending"  # not finished: one customer is waiting for morning

    with app.app_context():  # beat, the next morning: the deferred customer is due and sent once
        from switchboard.core.outreach import campaigns, sending
        from switchboard.intake import db

        resumed = campaigns.tick(db.session(), app.config["SETTINGS"], enqueue=lambda cid: None,
                                 now=deferred.send_after + timedelta(minutes=1))
        assert resumed["resumed"] == [campaign_id]
        assert campaigns.tick(db.session(), app.config["SETTINGS"], enqueue=lambda cid: None)["resumed"] == []
        assert not sending.has_due_work(db.session(), app.config["SETTINGS"], campaign_id, now=datetime.now(UTC))


def test_whatsapp_uses_the_approved_template_outside_the_24_hour_window(
        app: Flask, api_key: str, vendor: VendorClient) -> None:
    with get_db(app).session() as session:
        add_customer(session, "+14155550121", name="Ada", region="north", order_id="A-1",
                     preferred_channel="whatsapp", whatsapp_opt_in=True)
        recent = add_customer(session, "+14155550122", name="Bob", region="north", order_id="B-2",
                              preferred_channel="whatsapp", whatsapp_opt_in=True)
        add_customer(session, "+14155550123", name="Cy", region="north", preferred_channel="whatsapp")  # no consent
        conversation = Conversation(account_id=recent.account_id, customer_id=recent.id, channel="whatsapp")
        session.add(conversation)
        session.flush()
        session.add(Message(account_id=recent.account_id, conversation_id=conversation.id, direction="inbound",
                            channel="whatsapp", author="customer", body="thanks",
                            created_at=datetime.now(UTC) - timedelta(hours=2)))
        session.commit()
    campaign_id = post_campaign(app.test_client(), api_key, {
        "name": "Delay", "criteria": {"attributes": {"region": "north"}},
        "template": "Hi {first_name}, order {order_id} is late.",
        "whatsapp": {"content_sid": HX, "variables": {"1": "{first_name}", "2": "{order_id}"}}}).get_json()["id"]

    vendor.slack_interaction(click("outreach:approve", campaign_id))

    sent = {c.payload["to"]: c.payload for c in calls(app, "messages.create")}
    assert sent["whatsapp:+14155550121"]["content_sid"] == HX
    assert sent["whatsapp:+14155550121"]["content_variables"] == '{"1": "Ada", "2": "A-1"}'
    assert "body" not in sent["whatsapp:+14155550121"]
    assert sent["whatsapp:+14155550122"]["body"].startswith("Hi Bob, order B-2 is late.")  # inside the window
    assert "content_sid" not in sent["whatsapp:+14155550122"]
    assert sent["+14155550123"]["body"].startswith("Hi Cy")  # prefers WhatsApp, never opted in: SMS


def test_whatsapp_outside_the_window_without_template_is_skipped(app: Flask, api_key: str,
                                                                 vendor: VendorClient) -> None:
    with get_db(app).session() as session:
        add_customer(session, "+14155550131", name="Ada", region="north", preferred_channel="whatsapp",
                     whatsapp_opt_in="yes")
    campaign_id = post_campaign(app.test_client(), api_key, {"name": "Delay", "criteria": {"attributes": {
        "region": "north"}}, "template": "Hi {first_name}."}).get_json()["id"]
    vendor.slack_interaction(click("outreach:approve", campaign_id))
    assert calls(app, "messages.create") == []
    assert recipients(app)["+14155550131"].reason == "outside_whatsapp_window"


def status(vendor: VendorClient, sid: str, value: str, to: str, **extra: str):  # type: ignore[no-untyped-def]
    return vendor.twilio("/webhooks/twilio/status", {"MessageSid": sid, "MessageStatus": value, "SmsStatus": value,
                                                     "AccountSid": TWILIO_SID, "From": "+15005550006", "To": to,
                                                     "ApiVersion": "2010-04-01", **extra})


def test_status_callbacks_out_of_order_only_move_forward_then_results_go_to_the_thread(
        app: Flask, api_key: str, vendor: VendorClient) -> None:
    with get_db(app).session() as session:
        add_customer(session, "+14155550141", name="Ada", region="north")
        add_customer(session, "+14155550142", name="Bob", region="north")
    campaign_id = post_campaign(app.test_client(), api_key, {"name": "Delay", "criteria": {"attributes": {
        "region": "north"}}, "template": "Hi {first_name}."}).get_json()["id"]
    vendor.slack_interaction(click("outreach:approve", campaign_id))
    sids = {phone: r.message_sid for phone, r in recipients(app).items()}

    assert status(vendor, sids["+14155550141"], "delivered", "+14155550141").status_code == 204
    assert status(vendor, sids["+14155550141"], "sent", "+14155550141").status_code == 204  # late, older news
    assert status(vendor, sids["+14155550142"], "sent", "+14155550142").status_code == 204
    assert recipients(app)["+14155550141"].status == "delivered"
    assert not any("Delivery results" in c.payload["text"] for c in calls(app, "chat.postMessage"))
    status(vendor, sids["+14155550142"], "undelivered", "+14155550142", ErrorCode="30003")
    status(vendor, sids["+14155550142"], "queued", "+14155550142")

    rows = recipients(app)
    assert (rows["+14155550141"].status, rows["+14155550142"].status) == ("delivered", "undelivered")
    assert rows["+14155550142"].reason == "twilio error 30003"
    with get_db(app).session() as session:
        assert {m.external_id: m.status for m in session.scalars(select(Message))} == {
            sids["+14155550141"]: "delivered", sids["+14155550142"]: "undelivered"}
    [report] = [c for c in calls(app, "chat.postMessage") if "Delivery results" in c.payload["text"]]
    assert report.payload["text"] == "Delivery results: delivered 1, undelivered 1."
    assert campaign(app, campaign_id).status == "done"


def test_a_reply_to_a_campaign_joins_the_conversation_and_goes_through_self_service(
        app: Flask, api_key: str, vendor: VendorClient) -> None:
    with get_db(app).session() as session:
        add_customer(session, "+14155550100", name="Ada", region="north", order_id="A123456")
    campaign_id = post_campaign(app.test_client(), api_key, {"name": "Delay", "criteria": {"attributes": {
        "region": "north"}}, "template": "Hi {first_name}, order {order_id} is late."}).get_json()["id"]
    vendor.slack_interaction(click("outreach:approve", campaign_id))

    response = vendor.twilio("/webhooks/twilio/messages", {
        "MessageSid": "SM" + "7" * 32, "AccountSid": TWILIO_SID, "From": "+14155550100", "To": "+15005550006",
        "Body": "AGENT please, when will it arrive?", "NumMedia": "0"})
    assert response.status_code == 200

    with get_db(app).session() as session:
        conversations = session.scalars(select(Conversation)).all()
        assert len(conversations) == 1  # the campaign message and the reply share one timeline
        messages = session.scalars(select(Message).order_by(Message.id)).all()
        assert [(m.direction, m.author) for m in messages][:2] == [("outbound", "bot"), ("inbound", "customer")]
        assert messages[0].meta["outreach_campaign_id"] == campaign_id
        assert conversations[0].status == "human"  # handed over like any other message asking for a person
        assert any(e.action.startswith("selfservice.") for e in session.scalars(select(AuditEntry)))
    assert any(c.idempotency_key.startswith("reply:") for c in calls(app, "messages.create"))


def test_opt_out_reply_after_a_campaign_stops_the_next_one(app: Flask, api_key: str, vendor: VendorClient) -> None:
    with get_db(app).session() as session:
        add_customer(session, "+14155550100", name="Ada", region="north")
    body = {"name": "Delay", "criteria": {"attributes": {"region": "north"}}, "template": "Hi {first_name}."}
    first = post_campaign(app.test_client(), api_key, body).get_json()["id"]
    vendor.slack_interaction(click("outreach:approve", first))
    vendor.twilio("/webhooks/twilio/messages", {"MessageSid": "SM" + "8" * 32, "AccountSid": TWILIO_SID,
                                                "From": "+14155550100", "To": "+15005550006", "Body": "STOP",
                                                "NumMedia": "0"})
    second = post_campaign(app.test_client(), api_key, body).get_json()
    assert second["recipients"] == {"skipped": 1, "skipped:opted_out": 1}
    vendor.slack_interaction(click("outreach:approve", second["id"]))
    assert len(calls(app, "messages.create")) == 1
