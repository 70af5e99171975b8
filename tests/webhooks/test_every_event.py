"""Every event kind a handler acts on has a real payload beside its vendor's tests, and
each one, posted signed, is accepted, processed once and processed without error; a
redelivery changes nothing. The kinds come from the dispatch tables create_app
registers, so a new handler without a fixture fails here."""
from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from switchboard.app import event_handlers
from switchboard.core.store.models import AuditEntry, Customer, InboxEvent, Message, OutboxCall
from switchboard.intake.db import get_db

from ..signing import FIXTURES, VendorClient

#: (vendor, fixture) → the event kind it is recorded as.
FIXTURE_KINDS = {
    ("twilio", "inbound_sms.json"): "twilio.message",
    ("twilio", "inbound_whatsapp.json"): "twilio.message",
    ("twilio", "status_delivered.json"): "twilio.status",
    ("twilio", "status_undelivered_opted_out.json"): "twilio.status",
    ("twilio", "voice_incoming_call.json"): "twilio.voice",
    ("twilio", "voice_speech_result.json"): "twilio.voice.speech",
    ("twilio", "voice_status_completed.json"): "twilio.voice.status",
    ("twilio", "voice_transcription_started.json"): "twilio.voice.transcription",
    ("twilio", "voice_transcription_content.json"): "twilio.voice.transcription",
    ("twilio", "voice_transcription_stopped.json"): "twilio.voice.transcription",
    ("zendesk", "ticket_created.json"): "zendesk.ticket.created",
    ("zendesk", "ticket_comment_added.json"): "zendesk.ticket.comment_added",
    ("zendesk", "ticket_status_changed.json"): "zendesk.ticket.status_changed",
    ("zendesk", "ticket_tags_changed.json"): "zendesk.ticket.tags_changed",
    ("slack", "block_actions.json"): "slack.block_actions",
    ("slack", "view_submission.json"): "slack.view_submission",
    ("slack", "slash_command.json"): "slack.command",
    ("slack", "event_app_mention.json"): "slack.event.app_mention",
    ("webchat", "message.json"): "webchat.message",
}

#: Fixtures answered at the door and never recorded (Slack's URL check when the app's
#: Request URL is saved); their own tests say what the answer is.
ANSWERED_AT_THE_DOOR = {("slack", "url_verification.json")}


def inbox(app: Flask) -> list[InboxEvent]:
    with get_db(app).session() as session:
        return list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))


def test_every_handled_kind_and_every_fixture_is_listed() -> None:
    on_disk = {(path.parent.parent.name, path.name) for path in FIXTURES.glob("*/fixtures/*.json")}
    assert on_disk == set(FIXTURE_KINDS) | ANSWERED_AT_THE_DOOR, \
        "list each fixture here with the kind it is recorded as"
    assert event_handlers().kinds() <= set(FIXTURE_KINDS.values()), "a handled event kind has no fixture"


@pytest.mark.parametrize(("vendor_name", "name"), sorted(FIXTURE_KINDS))
def test_each_fixture_is_accepted_and_processed_once(app: Flask, vendor: VendorClient, vendor_name: str,
                                                     name: str) -> None:
    first = vendor.deliver(vendor_name, name)
    assert first.status_code in (200, 202, 204), first.get_data(as_text=True)
    [event] = inbox(app)
    assert (event.vendor, event.kind, event.status, event.error) == (vendor_name, FIXTURE_KINDS[vendor_name, name],
                                                                     "done", None)
    with get_db(app).session() as session:
        calls = session.query(OutboxCall).count()

    again = vendor.deliver(vendor_name, name)

    assert again.status_code in (200, 202, 204)
    assert len(inbox(app)) == 1
    with get_db(app).session() as session:
        assert session.query(OutboxCall).count() == calls


@pytest.mark.parametrize(("vendor_name", "name"), sorted(ANSWERED_AT_THE_DOOR))
def test_a_fixture_answered_at_the_door_records_nothing(app: Flask, vendor: VendorClient, vendor_name: str,
                                                        name: str) -> None:
    assert vendor.deliver(vendor_name, name).status_code == 200
    assert inbox(app) == []


def test_a_number_that_opted_out_at_the_carrier_gets_nothing_more(app: Flask, vendor: VendorClient) -> None:
    """Twilio's 21610 on a reply we sent: the customer is marked opted out (audited),
    and their next message gets no answer."""
    assert vendor.deliver("twilio", "inbound_sms.json").status_code == 200
    with get_db(app).session() as session:
        reply = session.scalars(select(Message).where(Message.direction == "outbound")).first()
        assert reply is not None and reply.external_id
        sid = reply.external_id

    assert vendor.deliver("twilio", "status_undelivered_opted_out.json", MessageSid=sid, SmsSid=sid).status_code == 204

    with get_db(app).session() as session:
        customer = session.scalars(select(Customer)).one()
        assert customer.opted_out_at is not None
        assert session.get(Message, reply.id).status == "undelivered"
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "consent.opt_out")).all()
        assert entry.detail == {"error_code": "21610"}
        answers = session.query(Message).filter(Message.direction == "outbound").count()
    vendor.deliver("twilio", "inbound_sms.json", MessageSid="SM" + "2" * 32, SmsSid="SM" + "2" * 32,
                   SmsMessageSid="SM" + "2" * 32, Body="hello?")
    with get_db(app).session() as session:
        assert session.query(Message).filter(Message.direction == "outbound").count() == answers


def test_the_slash_command_is_answered_in_its_http_response(vendor: VendorClient) -> None:
    response = vendor.deliver("slack", "slash_command.json")
    assert response.status_code == 200
    assert "/switchboard campaigns" in response.get_json()["text"] + str(response.get_json().get("blocks"))


def test_an_edit_for_a_campaign_that_does_not_exist_changes_nothing(app: Flask, vendor: VendorClient) -> None:
    assert vendor.deliver("slack", "view_submission.json").status_code == 200
    with get_db(app).session() as session:
        assert session.query(OutboxCall).count() == 0  # no modal update, no message

