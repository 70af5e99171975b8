"""POST /slack/events through Bolt, signed with slack_sdk's SignatureVerifier."""
from __future__ import annotations

import time

import pytest
from flask import Flask
from sqlalchemy import select

from switchboard.core.store.models import AuditEntry, InboxEvent
from switchboard.intake.db import get_db

from ...signing import VendorClient, fixture


def events(app: Flask) -> list[InboxEvent]:
    with get_db(app).session() as session:
        return list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))


def test_url_verification_is_answered_with_the_challenge(app: Flask, vendor: VendorClient) -> None:
    payload = fixture("slack", "url_verification.json")
    response = vendor.slack_event(payload)
    assert response.status_code == 200
    assert response.get_json() == {"challenge": payload["challenge"]}
    assert events(app) == []


def test_event_is_recorded_and_processed(app: Flask, vendor: VendorClient) -> None:
    response = vendor.slack_event(fixture("slack", "event_app_mention.json"))
    assert response.status_code == 200
    [event] = events(app)
    assert (event.kind, event.dedupe_key, event.status) == ("slack.event.app_mention", "event_id:Ev08MFMKH6", "done")


def test_slack_retries_of_an_event_are_processed_once(app: Flask, vendor: VendorClient) -> None:
    payload = fixture("slack", "event_app_mention.json")
    assert vendor.slack_event(payload).status_code == 200
    retry = vendor.slack_event(payload, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert retry.status_code == 200
    [event] = events(app)
    assert event.duplicates == 1


def test_interactive_button_click_is_recorded(app: Flask, vendor: VendorClient) -> None:
    response = vendor.slack_interaction(fixture("slack", "block_actions.json"))
    assert response.status_code == 200
    [event] = events(app)
    assert event.kind == "slack.block_actions"
    assert event.payload["actions"][0]["value"] == "campaign:42"


def test_wrong_secret_is_refused_and_nothing_stored(app: Flask, vendor: VendorClient) -> None:
    response = vendor.slack_event(fixture("slack", "event_app_mention.json"), secret="wrong")
    assert response.status_code == 401
    assert events(app) == []


@pytest.mark.parametrize("age", [-301, 301, 3600])
def test_timestamps_outside_five_minutes_are_refused(app: Flask, vendor: VendorClient, age: int) -> None:
    response = vendor.slack_event(fixture("slack", "event_app_mention.json"), timestamp=int(time.time()) - age)
    assert response.status_code == 401
    assert events(app) == []


def test_missing_signature_headers_are_refused(app: Flask, vendor: VendorClient) -> None:
    response = vendor.client.post("/slack/events", json=fixture("slack", "event_app_mention.json"))
    assert response.status_code == 401
    assert events(app) == []


def test_without_a_signing_secret_slack_is_refused_naming_the_variable(env: dict[str, str]) -> None:
    from switchboard.app import create_app
    from switchboard.core.settings import load_settings

    env = {k: v for k, v in env.items() if k != "SLACK_SIGNING_SECRET"}
    app = create_app(load_settings(env), config={"TASKS_INLINE": True})
    try:
        response = app.test_client().post("/slack/events", json=fixture("slack", "event_app_mention.json"))
        assert response.status_code == 403
        assert "SLACK_SIGNING_SECRET" in response.get_json()["error"]
    finally:
        get_db(app).dispose()


def test_a_click_no_capability_owns_is_audited_with_its_action_id(app: Flask, vendor: VendorClient) -> None:
    payload = fixture("slack", "block_actions.json")
    payload["actions"][0]["action_id"] = "nobody_owns_this"
    assert vendor.slack_interaction(payload).status_code == 200
    [event] = events(app)
    assert event.status == "done"
    with get_db(app).session() as session:
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "slack.interaction_unhandled")))
    assert [(e.subject_id, e.detail["id"]) for e in entries] == [(str(event.id), "nobody_owns_this")]
