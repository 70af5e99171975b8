"""POST /webhooks/zendesk, signed as Zendesk signs: base64 HMAC-SHA256 of timestamp + body."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from switchboard.core.store.models import InboxEvent, OutboxCall
from switchboard.intake.db import get_db

from ...signing import VendorClient, fixture, zendesk_signature

URL = "/webhooks/zendesk"


def events(app: Flask) -> list[InboxEvent]:
    with get_db(app).session() as session:
        return list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))


def test_event_subscription_is_recorded_and_processed(app: Flask, vendor: VendorClient) -> None:
    response = vendor.zendesk(fixture("zendesk", "ticket_created.json"))
    assert response.status_code == 200
    assert response.get_json() == {"status": "accepted"}
    [event] = events(app)
    assert (event.kind, event.status) == ("zendesk.ticket.created", "done")
    assert event.dedupe_key == "event:cbe4028c-7239-495d-b020-f22348516046"
    with get_db(app).session() as session:
        # Processing enriched the new ticket and wrote the result back to Zendesk.
        [update] = session.scalars(select(OutboxCall).where(OutboxCall.operation == "tickets.update")).all()
        assert update.payload["ticket"]["id"] == 5158
        assert any(tag.startswith("sentiment_") for tag in update.payload["ticket"]["additional_tags"])


def test_duplicate_event_is_acknowledged_and_processed_once(app: Flask, vendor: VendorClient) -> None:
    payload = fixture("zendesk", "ticket_created.json")
    assert vendor.zendesk(payload).get_json() == {"status": "accepted"}
    assert vendor.zendesk(payload).get_json() == {"status": "duplicate"}
    assert len(events(app)) == 1
    with get_db(app).session() as session:
        assert session.scalar(select(func.count()).select_from(OutboxCall)) == 1


def test_trigger_webhooks_are_deduplicated_by_invocation_id(app: Flask, vendor: VendorClient) -> None:
    payload = {"event": "agent_reply", "ticket_id": 5158, "comment": "On its way"}
    headers = {"X-Zendesk-Webhook-Invocation-Id": "8350205582"}
    assert vendor.zendesk(payload, headers=headers).status_code == 200
    assert vendor.zendesk(payload, headers=headers).get_json() == {"status": "duplicate"}
    [event] = events(app)
    assert event.kind == "zendesk.agent_reply"


def test_wrong_secret_is_refused_and_nothing_stored(app: Flask, vendor: VendorClient) -> None:
    response = vendor.zendesk(fixture("zendesk", "ticket_created.json"), secret="another-secret")
    assert response.status_code == 403
    assert "does not match" in response.get_json()["error"]
    assert events(app) == []


def test_body_changed_by_one_byte_is_refused(app: Flask, vendor: VendorClient) -> None:
    body = json.dumps(fixture("zendesk", "ticket_created.json")).encode()
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    signature = zendesk_signature(vendor.zendesk_secret, stamp, body)
    tampered = body.replace(b"5158", b"5159", 1)
    response = vendor.client.post(URL, data=tampered, content_type="application/json", headers={
        "X-Zendesk-Webhook-Signature": signature, "X-Zendesk-Webhook-Signature-Timestamp": stamp})
    assert response.status_code == 403
    assert events(app) == []


@pytest.mark.parametrize("shift", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_timestamps_outside_the_window_are_refused(app: Flask, vendor: VendorClient, shift: timedelta) -> None:
    stamp = (datetime.now(UTC) + shift).strftime("%Y-%m-%dT%H:%M:%SZ")
    response = vendor.zendesk(fixture("zendesk", "ticket_created.json"), timestamp=stamp)
    assert response.status_code == 403
    assert "away from now" in response.get_json()["error"]
    assert events(app) == []


@pytest.mark.parametrize("headers", [
    {},
    {"X-Zendesk-Webhook-Signature": "not base64 !!", "X-Zendesk-Webhook-Signature-Timestamp": "2026-11-22T00:00:00Z"},
])
def test_missing_or_garbage_signature_is_refused(app: Flask, vendor: VendorClient, headers: dict[str, str]) -> None:
    response = vendor.client.post(URL, data=b"{}", content_type="application/json", headers=headers)
    assert response.status_code == 403
    assert events(app) == []


@pytest.mark.parametrize(("body", "problem"), [
    (b"{not json", "not JSON"),
    (b"[1, 2]", "expected a JSON object"),
    (b'{"type": "ticket.created"}', "not a Zendesk event type"),
    (b'{"ticket_id": 5}', "names no event"),
    (b"\xff\xfe{}", "not valid UTF-8"),
])
def test_malformed_signed_bodies_get_a_400_naming_the_problem(app: Flask, vendor: VendorClient, body: bytes,
                                                              problem: str) -> None:
    response = vendor.zendesk(body)
    assert response.status_code == 400
    assert problem in response.get_json()["error"]
    assert events(app) == []


def test_without_a_secret_zendesk_webhooks_are_refused_naming_the_variable(env: dict[str, str]) -> None:
    from switchboard.app import create_app
    from switchboard.core.settings import load_settings

    env = {k: v for k, v in env.items() if k != "ZENDESK_WEBHOOK_SECRET"}
    app = create_app(load_settings(env), config={"TASKS_INLINE": True})
    try:
        response = VendorClient(app.test_client(), twilio_token="", zendesk_secret="x", slack_secret="",
                                public_url="").zendesk(fixture("zendesk", "ticket_created.json"))
        assert response.status_code == 403
        assert "ZENDESK_WEBHOOK_SECRET" in response.get_json()["error"]
        assert events(app) == []
    finally:
        get_db(app).dispose()
