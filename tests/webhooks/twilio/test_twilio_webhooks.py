"""Twilio's inbound-message and status webhooks, signed with twilio's RequestValidator."""
from __future__ import annotations

from urllib.parse import urlencode

import pytest
from flask import Flask
from sqlalchemy import func, select

from switchboard.core.store.models import Conversation, Customer, Identity, InboxEvent, Message, OutboxCall
from switchboard.intake.db import get_db

from ...signing import VendorClient, fixture

MESSAGES = "/webhooks/twilio/messages"
STATUS = "/webhooks/twilio/status"


def count(app: Flask, model: type) -> int:
    with get_db(app).session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_inbound_sms_is_recorded_redacted_and_answered_with_empty_twiml(app: Flask, vendor: VendorClient) -> None:
    response = vendor.twilio(MESSAGES, fixture("twilio", "inbound_sms.json"))
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    assert b"<Response/>" in response.data
    with get_db(app).session() as session:
        event = session.scalars(select(InboxEvent)).one()
        assert (event.vendor, event.kind, event.status) == ("twilio", "twilio.message", "done")
        message = session.scalars(select(Message).where(Message.direction == "inbound")).one()
        assert message.external_id == "SM1f0e8ae6ade43cb3c0ce4525424e404f"
        assert (message.direction, message.channel, message.author) == ("inbound", "sms", "customer")
        assert "4111" not in message.body and "[CARD_1]" in message.body
        assert "#A123456" in message.body  # order numbers are not personal data
        assert message.meta["redactions"] == {"card": 1}


def test_same_person_on_sms_and_whatsapp_is_one_customer_with_one_timeline(app: Flask, vendor: VendorClient) -> None:
    assert vendor.twilio(MESSAGES, fixture("twilio", "inbound_sms.json")).status_code == 200
    assert vendor.twilio(MESSAGES, fixture("twilio", "inbound_whatsapp.json")).status_code == 200
    with get_db(app).session() as session:
        customer = session.scalars(select(Customer)).one()
        assert customer.display_name == "Dana"
        kinds = {(i.kind.value, i.value) for i in session.scalars(select(Identity))}
        assert {k for k in kinds if k[0] != "zendesk_user"} == {("phone", "+14155550100"), ("whatsapp", "14155550100")}
        conversation = session.scalars(select(Conversation)).one()
        inbound = [m for m in conversation.messages if m.direction == "inbound"]
        assert [m.channel for m in inbound] == ["sms", "whatsapp"]
        assert conversation.channel == "whatsapp"  # replies go where the customer last wrote


def test_duplicate_delivery_is_acknowledged_and_processed_once(app: Flask, vendor: VendorClient) -> None:
    params = fixture("twilio", "inbound_sms.json")
    first, second = vendor.twilio(MESSAGES, params), vendor.twilio(MESSAGES, params)
    assert first.status_code == second.status_code == 200
    assert count(app, InboxEvent) == 1
    with get_db(app).session() as session:
        assert session.scalars(select(InboxEvent)).one().duplicates == 1
        directions = session.scalars(select(Message.direction).order_by(Message.id)).all()
        assert directions == ["inbound", "outbound"]  # one message, one reply


def test_wrong_signature_is_refused_and_nothing_is_stored(app: Flask, vendor: VendorClient) -> None:
    response = vendor.twilio(MESSAGES, fixture("twilio", "inbound_sms.json"), token="0" * 32)
    assert response.status_code == 403
    assert "X-Twilio-Signature does not match" in response.get_json()["error"]
    assert count(app, InboxEvent) == 0


def test_missing_signature_is_refused(app: Flask, vendor: VendorClient) -> None:
    response = vendor.twilio(MESSAGES, fixture("twilio", "inbound_sms.json"), signature="")
    assert response.status_code == 403
    assert "missing X-Twilio-Signature" in response.get_json()["error"]
    assert count(app, InboxEvent) == 0


def test_a_parameter_changed_after_signing_is_refused(app: Flask, vendor: VendorClient) -> None:
    params = fixture("twilio", "inbound_sms.json")
    signature = vendor_signature(vendor, MESSAGES, params)
    tampered = {**params, "Body": params["Body"] + "!"}
    assert vendor.twilio(MESSAGES, tampered, signature=signature).status_code == 403
    assert count(app, InboxEvent) == 0


def vendor_signature(vendor: VendorClient, path: str, params: dict[str, str]) -> str:
    from twilio.request_validator import RequestValidator

    return RequestValidator(vendor.twilio_token).compute_signature(vendor.public_url + path, params)


def test_signature_is_checked_against_the_public_url_not_the_internal_one(app: Flask, vendor: VendorClient) -> None:
    params = fixture("twilio", "inbound_sms.json")
    from twilio.request_validator import RequestValidator

    internal = RequestValidator(vendor.twilio_token).compute_signature("http://localhost" + MESSAGES, params)
    assert vendor.twilio(MESSAGES, params, signature=internal).status_code == 403


def test_sha256_shared_key_signatures_are_accepted(app: Flask, vendor: VendorClient) -> None:
    """Twilio's newer scheme names its algorithm in X-Twilio-Webhooks-Signature-Settings."""
    from twilio.request_validator import RequestValidator

    params = fixture("twilio", "inbound_sms.json")
    signature = RequestValidator(vendor.twilio_token).compute_signature(
        vendor.public_url + MESSAGES, params, algorithm="HMAC_SHA256")
    response = vendor.twilio(MESSAGES, params, signature=signature, headers={
        "X-Twilio-Webhooks-Signature-Settings": "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"})
    assert response.status_code == 200


def test_missing_required_parameter_is_a_400_naming_it(app: Flask, vendor: VendorClient) -> None:
    params = fixture("twilio", "inbound_sms.json")
    del params["From"]
    response = vendor.twilio(MESSAGES, params)
    assert response.status_code == 400
    assert "From" in response.get_json()["error"]
    assert count(app, InboxEvent) == 0


def test_unparseable_sender_is_a_400(app: Flask, vendor: VendorClient) -> None:
    params = {**fixture("twilio", "inbound_sms.json"), "From": "not-a-number"}
    response = vendor.twilio(MESSAGES, params)
    assert response.status_code == 400
    assert "From" in response.get_json()["error"]


@pytest.mark.parametrize("params", [
    {"Body": "hello\x00"},  # sent as %00
    {"Body\x00": "hello"},  # in a name
])
def test_a_nul_in_a_parameter_is_a_400_and_nothing_is_stored(app: Flask, vendor: VendorClient,
                                                             params: dict[str, str]) -> None:
    response = vendor.twilio(MESSAGES, {**fixture("twilio", "inbound_sms.json"), **params})
    assert response.status_code == 400
    assert "NUL" in response.get_json()["error"]
    assert count(app, InboxEvent) == 0


def test_a_nul_byte_in_the_body_is_a_400(app: Flask, vendor: VendorClient) -> None:
    params = fixture("twilio", "inbound_sms.json")
    response = vendor.client.post(MESSAGES, data=urlencode(params).encode() + b"&Extra=a\x00b",
                                  content_type="application/x-www-form-urlencoded",
                                  headers={"X-Twilio-Signature": vendor_signature(vendor, MESSAGES, params)})
    assert response.status_code == 400 and "NUL" in response.get_json()["error"]
    assert count(app, InboxEvent) == 0


def test_a_percent_sign_before_00_is_text_not_a_nul(app: Flask, vendor: VendorClient) -> None:
    params = {**fixture("twilio", "inbound_sms.json"), "Body": "100%00 sure"}  # sent as 100%2500
    assert vendor.twilio(MESSAGES, params).status_code == 200
    with get_db(app).session() as session:
        assert session.scalars(select(InboxEvent)).one().payload["Body"] == "100%00 sure"


def test_json_body_is_a_400_naming_the_expected_encoding(app: Flask, vendor: VendorClient) -> None:
    response = vendor.client.post(MESSAGES, json={"MessageSid": "SM1"}, headers={"X-Twilio-Signature": "x"})
    assert response.status_code == 400
    assert "x-www-form-urlencoded" in response.get_json()["error"]


def test_unknown_number_is_refused(app: Flask, vendor: VendorClient) -> None:
    params = {**fixture("twilio", "inbound_sms.json"), "To": "+15550001111", "AccountSid": "AC" + "9" * 32}
    response = vendor.twilio(MESSAGES, params)
    assert response.status_code == 403
    assert "no account owns Twilio number" in response.get_json()["error"]


def test_status_callbacks_only_move_a_message_forward(app: Flask, vendor: VendorClient) -> None:
    from switchboard.core.customers import identity, timeline

    with get_db(app).session() as session:
        customer = identity.resolve_customer(session, app.config["DEFAULT_ACCOUNT_ID"],
                                             identity.parse_twilio_address("+14155550100"))
        conversation = timeline.current_conversation(session, customer, "sms")
        timeline.append(session, conversation, direction="outbound", channel="sms", author="bot",
                        body="Your order ships today.", external_id="SM5c2f7e1d3b4a49c8a0e6f1d2c3b4a5e6",
                        status="queued")
        session.commit()
    delivered = fixture("twilio", "status_delivered.json")
    sent = {**delivered, "MessageStatus": "sent", "SmsStatus": "sent"}
    assert vendor.twilio(STATUS, delivered).status_code == 204
    assert vendor.twilio(STATUS, sent).status_code == 204  # arrives late, must not win
    with get_db(app).session() as session:
        assert session.scalars(select(Message).where(Message.direction == "outbound")).one().status == "delivered"
        assert session.scalar(select(func.count()).select_from(InboxEvent)) == 2


def test_without_an_auth_token_twilio_webhooks_are_refused_naming_the_variable(env: dict[str, str]) -> None:
    from switchboard.app import create_app
    from switchboard.core.settings import load_settings

    env = {k: v for k, v in env.items() if k not in ("TWILIO_AUTH_TOKEN", "TWILIO_ACCOUNT_SID")}
    app = create_app(load_settings(env), config={"TASKS_INLINE": True})
    try:
        params = fixture("twilio", "inbound_sms.json")
        response = app.test_client().post(MESSAGES, data=params, headers={"X-Twilio-Signature": "abc"})
        assert response.status_code == 403
        assert "TWILIO_AUTH_TOKEN" in response.get_json()["error"]
        assert count(app, InboxEvent) == 0
    finally:
        get_db(app).dispose()


def test_the_inbox_keeps_only_the_redacted_body_once_processed(app: Flask, vendor: VendorClient) -> None:
    assert vendor.twilio(MESSAGES, fixture("twilio", "inbound_sms.json")).status_code == 200
    with get_db(app).session() as session:
        event = session.scalars(select(InboxEvent)).one()
        assert "4111" not in event.payload["Body"] and "[CARD_1]" in event.payload["Body"]


def test_a_national_number_is_redacted_when_the_senders_region_says_nothing(app: Flask, vendor: VendorClient) -> None:
    """+1 555 01xx numbers belong to no region; a +44 customer may write a US number in US
    form. The company's country (here the region of our +1 number) is searched too."""
    for sender, body, number in (("+15550100001", "my number is 415 555 0132", "415 555 0132"),
                                 ("+447700900123", "call me back on (415) 555-2671 please", "555-2671")):
        form = {"MessageSid": "SM" + sender[-8:].rjust(32, "7"), "AccountSid": "AC" + "1" * 32, "From": sender,
                "To": "+15005550006", "Body": body, "NumMedia": "0"}
        assert vendor.twilio("/webhooks/twilio/messages", form).status_code == 200
        with get_db(app).session() as session:
            stored = session.scalars(select(Message.body).where(Message.external_id == form["MessageSid"])).one()
        assert number not in stored and "[PHONE_1]" in stored, stored


def test_a_new_whatsapp_customer_handed_over_at_once_has_both_numbers_in_the_package(
    app: Flask, vendor: VendorClient
) -> None:
    """The WhatsApp id is linked in the same unit that creates the customer and hands
    them over: the package must list it, and the Zendesk user linked on the way."""
    params = {**fixture("twilio", "inbound_whatsapp.json"), "Body": "I want to talk to a human please"}
    assert vendor.twilio(MESSAGES, params).status_code == 200
    with get_db(app).session() as session:
        [call] = session.scalars(select(OutboxCall).where(OutboxCall.vendor == "zendesk",
                                                          OutboxCall.operation == "tickets.create")).all()
        note = str(call.payload["ticket"]["comment"]["body"])
        customer = session.scalars(select(Customer)).one()
        assert {i.kind.value for i in customer.identities} == {"phone", "whatsapp", "zendesk_user"}
    assert "Phone: +14155550100; WhatsApp: 14155550100" in note, note
