"""Signed deliveries of a shape no vendor sends are refused at the door with a 400 that
names the field, and nothing is stored, instead of being accepted with a 200 and
failing later in a handler where nobody hears about it. The well-formed control of
each is accepted and processed."""
from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from switchboard.core.store.models import InboxEvent
from switchboard.intake.db import get_db

from ..selfservice.test_selfservice_over_twilio import inbound
from ..signing import fixture
from .conftest import stored, vendor_for


def _comment(**changes: Any) -> dict[str, Any]:
    payload = fixture("zendesk", "ticket_comment_added.json")
    payload.update(changes)
    return payload


def _event(type_: str, **changes: Any) -> dict[str, Any]:
    payload = {"type": f"zen:event-type:ticket.{type_}", "id": f"evt-{type_}", "detail": {"id": "5158"}, "event": {}}
    payload.update(changes)
    return payload


ZENDESK_CASES = {
    "detail is text": (_event("status_changed", detail="x", event=[]), "detail must be an object"),
    "detail.id is not a number": (_comment(detail={"id": "abc"}), "detail.id must be the ticket's number"),
    "detail.id is a boolean": (_event("created", detail={"id": True}), "detail.id must be the ticket's number"),
    "detail.id beyond our INTEGER columns": (_event("created", detail={"id": str(2**31)}),
                                             "detail.id must be the ticket's number"),
    "detail.id is zero": (_event("tags_changed", detail={"id": 0}), "detail.id must be the ticket's number"),
    "detail.tags is text": (_event("tags_changed", detail={"id": "5158", "tags": "incident"}), "detail.tags"),
    "event is a list": (_comment(event=[1]), "event must be an object"),
    "event.comment is text": (_comment(event={"comment": "hello"}), "event.comment must be an object"),
    "event.comment.author is a list": (_comment(event={"comment": {"body": "hi", "author": [1]}}),
                                       "event.comment.author must be an object"),
}
TWILIO_CASES = {
    "NumMedia is not a number": ("/webhooks/twilio/messages", {"NumMedia": "abc"}, "NumMedia must be a whole number"),
    "NumMedia beyond Twilio's 10": ("/webhooks/twilio/messages", {"NumMedia": "99999999"}, "NumMedia"),
    "NumMedia is negative": ("/webhooks/twilio/messages", {"NumMedia": "-1"}, "NumMedia"),
    "ErrorCode is not a number": ("/webhooks/twilio/status", {"MessageStatus": "failed", "ErrorCode": "zz"},
                                  "ErrorCode must be a whole number"),
}
SLACK_CASES = {
    "event.channel is a number": ({"type": "event_callback", "team_id": "T0001", "event_id": "Ev9",
                                   "event": {"type": "message", "channel": 5}},
                                  "event.channel must be text or an object"),
    "event is null": ({"type": "event_callback", "team_id": "T0001", "event_id": "Ev8", "event": None},
                      "event must be an object, got null"),
    "no actions in block_actions": ({"type": "block_actions", "team": {"id": "T0001"}, "trigger_id": "1.1",
                                     "actions": []}, "actions.0.action_id"),
    "action_id is a number": ({"type": "block_actions", "team": {"id": "T0001"}, "trigger_id": "1.2",
                               "actions": [{"action_id": 7}]}, "actions.0.action_id as text, got int"),
    "team is a number": ({"type": "view_submission", "team": 5, "view": {"callback_id": "x"}},
                         "team must be text or an object"),
    "authorizations is text": ({"type": "event_callback", "authorizations": "abc", "event": {"type": "x"}},
                               "authorizations must be an array of objects"),
    "the body is an array": ([1, 2], "a Slack request is a JSON object"),
}


@pytest.mark.parametrize("name", sorted(ZENDESK_CASES))
def test_a_malformed_zendesk_ticket_event_is_a_400_naming_the_field(module_app: Flask, name: str) -> None:
    payload, expected = ZENDESK_CASES[name]
    before = stored(module_app)
    response = vendor_for(module_app).zendesk(payload)
    assert response.status_code == 400 and expected in response.get_json()["error"], response.get_json()
    assert stored(module_app) == before


@pytest.mark.parametrize("name", sorted(TWILIO_CASES))
def test_a_malformed_twilio_number_is_a_400_naming_the_field(module_app: Flask, name: str) -> None:
    path, changes, expected = TWILIO_CASES[name]
    before = stored(module_app)
    response = vendor_for(module_app).twilio(path, {**inbound("hello"), **changes})
    assert response.status_code == 400 and expected in response.get_json()["error"], response.get_json()
    assert stored(module_app) == before


@pytest.mark.parametrize("name", sorted(SLACK_CASES))
@pytest.mark.parametrize("as_form", [False, True], ids=["json", "form"])
def test_a_malformed_slack_request_is_a_400_from_our_screen(module_app: Flask, name: str, as_form: bool) -> None:
    """Named by our screen ("… must be …"), not Bolt's blanket "malformed Slack request
    (TypeError)": that one is left for our own listeners' bugs to be told apart."""
    payload, expected = SLACK_CASES[name]
    before = stored(module_app)
    signed = vendor_for(module_app)
    response = signed.slack_interaction(payload) if as_form else signed.slack_event(payload)  # type: ignore[arg-type]
    assert response.status_code == 400 and expected in response.get_json()["error"], response.get_json()
    assert stored(module_app) == before


def test_an_unsigned_malformed_slack_body_is_refused_as_unsigned_not_described(module_app: Flask) -> None:
    """Bolt reads the body before it checks the signature: the screen refuses it first,
    and tells a caller who did not sign it nothing about the shape."""
    payload, _ = SLACK_CASES["event.channel is a number"]
    response = module_app.test_client().post("/slack/events", data=json.dumps(payload), content_type="application/json",
                                             headers={"X-Slack-Request-Timestamp": "1700000000",
                                                      "X-Slack-Signature": "v0=" + "0" * 64})
    assert response.status_code == 403 and "not signed" in response.get_json()["error"]
    assert "channel" not in response.get_json()["error"]


def test_the_well_formed_controls_are_accepted_and_processed(module_app: Flask) -> None:
    signed = vendor_for(module_app)
    media = {**inbound("see the photo"), "NumMedia": "1", "MediaUrl0": "https://api.twilio.com/media/ME1"}
    comment = fixture("zendesk", "ticket_comment_added.json")
    event = {**fixture("slack", "event_app_mention.json"), "event_id": "EvControl1"}
    responses = [signed.twilio("/webhooks/twilio/messages", media), signed.zendesk(comment), signed.slack_event(event)]
    assert [r.status_code for r in responses] == [200, 200, 200], [r.get_data(as_text=True) for r in responses]
    with get_db(module_app).session() as session:
        events = session.scalars(select(InboxEvent).where(InboxEvent.dedupe_key.in_(
            [media["MessageSid"], f"event:{comment['id']}", "event_id:EvControl1"]))).all()
        assert sorted((e.kind.split(".")[0], e.status, e.error) for e in events) == [
            ("slack", "done", None), ("twilio", "done", None), ("zendesk", "done", None)]
