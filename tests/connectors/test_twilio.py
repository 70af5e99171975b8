from __future__ import annotations

import json
import re
from collections.abc import Callable
from urllib.parse import parse_qs

import pytest
import responses
from sqlalchemy.orm import Session

from switchboard.core.accounts import ensure_default_account
from switchboard.core.settings import Settings
from switchboard.core.store import outbox
from switchboard.core.store.models import Account
from switchboard.vendors.outbound import VendorError, VendorRateLimited, VendorUnavailable
from switchboard.vendors.twilio.connector import (
    DEFAULT_RETRY_AFTER,
    OutsideWhatsAppWindow,
    RecipientOptedOut,
    SenderNotConfigured,
    TwilioConnector,
)

from .conftest import OUTBOX_KEYS, TWILIO_SID, basic, connection_refused, outbox_rows

MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"


def message_json(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "sid": "SM" + "f" * 32, "account_sid": TWILIO_SID, "status": "queued",
        "to": "+15551234567", "from": "+15005550006", "body": "Hello",
        "num_media": "0", "num_segments": "1", "direction": "outbound-api",
        "uri": f"/2010-04-01/Accounts/{TWILIO_SID}/Messages/SM{'f' * 32}.json",
    }
    body.update(overrides)
    return body


def twilio_error(code: int, message: str, status: int) -> dict[str, object]:
    return {"code": code, "message": message, "status": status,
            "more_info": f"https://www.twilio.com/docs/errors/{code}"}


def form_of(call: responses.Call) -> dict[str, list[str]]:
    assert call.request.body is not None
    body = call.request.body
    return parse_qs(body if isinstance(body, str) else body.decode())


def test_sandbox_records_the_sdk_arguments_and_sends_nothing(
    session: Session, sandbox_account: Account, sandbox_settings: Settings, http: responses.RequestsMock
) -> None:
    connector = TwilioConnector(session, sandbox_account, sandbox_settings)

    result = connector.send_message(to="+15551234567", body="Your order shipped",
                                    status_callback="https://sb.example/twilio/status")

    assert len(http.calls) == 0
    [row] = outbox_rows(session)
    recorded = outbox.as_json(row)
    assert set(recorded) == OUTBOX_KEYS
    assert {k: recorded[k] for k in ("vendor", "operation", "status")} == {
        "vendor": "twilio", "operation": "messages.create", "status": "sandboxed"}
    assert recorded["payload"] == {
        "to": "+15551234567", "from_": "+15005550006", "body": "Your order shipped",
        "status_callback": "https://sb.example/twilio/status",
    }
    assert recorded["created_at"] == row.created_at.isoformat()
    sid = result.response.pop("sid")
    assert result.response == {"status": "queued", "to": "+15551234567", "from": "+15005550006",
                               "outbox_id": row.id}
    assert re.fullmatch(r"SM[0-9a-f]{32}", sid) and sid != f"SM{row.id:032x}"  # never a real-looking small sid
    result.response["sid"] = sid
    assert row.response == result.response and not result.repeated


def test_sandbox_whatsapp_template_prefixes_both_numbers_and_encodes_variables(
    session: Session, sandbox_account: Account, sandbox_settings: Settings, http: responses.RequestsMock
) -> None:
    connector = TwilioConnector(session, sandbox_account, sandbox_settings)

    connector.send_message(to="+15551234567", channel="whatsapp", content_sid="HX" + "1" * 32,
                           content_variables={"1": "Ada", "2": "#1042"})

    [row] = outbox_rows(session)
    assert row.payload == {
        "to": "whatsapp:+15551234567", "from_": "whatsapp:+14155238886",
        "content_sid": "HX" + "1" * 32, "content_variables": '{"1": "Ada", "2": "#1042"}',
    }
    assert "body" not in row.payload
    assert len(http.calls) == 0


def test_no_credentials_means_sandbox_even_without_a_sending_number(
    session: Session, make_settings: Callable[..., Settings], http: responses.RequestsMock
) -> None:
    settings = make_settings()  # nothing configured: a newcomer's first run
    account = ensure_default_account(session, settings)

    result = TwilioConnector(session, account, settings).send_message(to="+15551234567", body="hi")

    assert result.call.status == "sandboxed"
    assert result.call.payload == {"to": "+15551234567", "body": "hi"}
    assert len(http.calls) == 0


def test_live_sms_posts_the_form_fields_twilio_documents(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    http.post(MESSAGES_URL, status=201, json=message_json())
    connector = TwilioConnector(session, live_account, live_settings)

    result = connector.send_message(
        to="+15551234567", body="Hello", media_url=["https://sb.example/a.png", "https://sb.example/b.png"],
        status_callback="https://sb.example/twilio/status",
    )

    [call] = http.calls
    assert form_of(call) == {
        "To": ["+15551234567"], "From": ["+15005550006"], "Body": ["Hello"],
        "MediaUrl": ["https://sb.example/a.png", "https://sb.example/b.png"],
        "StatusCallback": ["https://sb.example/twilio/status"],
    }
    assert call.request.headers["Authorization"] == basic(TWILIO_SID, "twilio-auth-token")
    assert result.response == {"sid": "SM" + "f" * 32, "status": "queued",
                               "to": "+15551234567", "from": "+15005550006"}
    [row] = outbox_rows(session)
    assert row.status == "sent" and row.sent_at is not None
    assert row.response == result.response


def test_live_whatsapp_template_sends_content_fields(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    http.post(MESSAGES_URL, status=201,
              json=message_json(to="whatsapp:+15551234567", **{"from": "whatsapp:+14155238886"}))

    TwilioConnector(session, live_account, live_settings).send_message(
        to="+15551234567", channel="whatsapp", content_sid="HX" + "1" * 32, content_variables={"1": "Ada"})

    assert form_of(http.calls[0]) == {
        "To": ["whatsapp:+15551234567"], "From": ["whatsapp:+14155238886"],
        "ContentSid": ["HX" + "1" * 32], "ContentVariables": ['{"1": "Ada"}'],
    }


def test_idempotency_key_returns_the_first_response_without_a_second_request(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    http.post(MESSAGES_URL, status=201, json=message_json())
    connector = TwilioConnector(session, live_account, live_settings)

    first = connector.send_message(to="+15551234567", body="Hello", idempotency_key="reply-77")
    second = TwilioConnector(session, live_account, live_settings).send_message(
        to="+15551234567", body="Hello", idempotency_key="reply-77")

    assert len(http.calls) == 1
    assert second.repeated and not first.repeated
    assert second.response == first.response
    assert len(outbox_rows(session)) == 1


def test_rate_limit_raises_with_retry_after_and_leaves_the_call_retryable(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    http.post(MESSAGES_URL, status=429, headers={"Retry-After": "30"},
              json=twilio_error(20429, "Too Many Requests", 429))
    connector = TwilioConnector(session, live_account, live_settings)

    with pytest.raises(VendorRateLimited) as caught:
        connector.send_message(to="+15551234567", body="Hello", idempotency_key="reply-78")

    assert caught.value.retry_after == 30
    assert caught.value.vendor == "twilio"
    [row] = outbox_rows(session)
    assert row.status == "pending"

    # The Celery retry: same key, and this time Twilio accepts.
    http.post(MESSAGES_URL, status=201, json=message_json())
    result = TwilioConnector(session, live_account, live_settings).send_message(
        to="+15551234567", body="Hello", idempotency_key="reply-78")
    assert result.call.id == row.id
    assert outbox_rows(session)[0].status == "sent"
    assert len(http.calls) == 2


def test_rate_limit_without_retry_after_uses_the_default(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    http.post(MESSAGES_URL, status=429, json=twilio_error(20429, "Too Many Requests", 429))

    with pytest.raises(VendorRateLimited) as caught:
        TwilioConnector(session, live_account, live_settings).send_message(to="+15551234567", body="Hello")

    assert caught.value.retry_after == DEFAULT_RETRY_AFTER


def test_opted_out_recipient_is_a_named_permanent_failure(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    http.post(MESSAGES_URL, status=400, json=twilio_error(
        21610, "Attempt to send to unsubscribed recipient", 400))

    # The number is redacted from the message: vendor errors end up in logs and retries.
    with pytest.raises(RecipientOptedOut, match=r"\[PHONE\] has opted out.*START"):
        TwilioConnector(session, live_account, live_settings).send_message(to="+15551234567", body="Hello")

    [row] = outbox_rows(session)
    assert row.status == "failed"
    assert "RecipientOptedOut" in (row.error or "")


def test_whatsapp_outside_the_24h_window_is_named(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    http.post(MESSAGES_URL, status=400, json=twilio_error(
        63016, "Failed to send freeform message because you are outside the allowed window.", 400))

    with pytest.raises(OutsideWhatsAppWindow, match="template"):
        TwilioConnector(session, live_account, live_settings).send_message(
            to="+15551234567", body="Hello again", channel="whatsapp")


def test_other_client_errors_carry_twilios_message(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    http.post(MESSAGES_URL, status=400, json=twilio_error(
        21211, "The 'To' number +1555 is not a valid phone number.", 400))

    with pytest.raises(VendorError, match="not a valid phone number") as caught:
        TwilioConnector(session, live_account, live_settings).send_message(to="+1555", body="Hello")

    assert type(caught.value) is VendorError
    assert outbox_rows(session)[0].status == "failed"


@pytest.mark.parametrize("failure", [
    {"status": 503, "json": twilio_error(20503, "Service Unavailable", 503)},
    {"body": connection_refused()},
], ids=["http-503", "connection-refused"])
def test_server_and_network_failures_are_retryable(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock,
    failure: dict[str, object],
) -> None:
    http.post(MESSAGES_URL, **failure)

    with pytest.raises(VendorUnavailable) as caught:
        TwilioConnector(session, live_account, live_settings).send_message(to="+15551234567", body="Hello")

    assert not isinstance(caught.value, VendorRateLimited)
    assert outbox_rows(session)[0].status == "pending"


def test_live_send_without_a_whatsapp_number_names_the_variable_and_records_nothing(
    session: Session, make_settings: Callable[..., Settings], http: responses.RequestsMock
) -> None:
    env = {"TWILIO_ACCOUNT_SID": TWILIO_SID, "TWILIO_AUTH_TOKEN": "t", "TWILIO_PHONE_NUMBER": "+15005550006"}
    settings = make_settings(**env)
    account = ensure_default_account(session, settings)

    with pytest.raises(SenderNotConfigured, match="TWILIO_WHATSAPP_NUMBER"):
        TwilioConnector(session, account, settings).send_message(to="+15551234567", body="hi", channel="whatsapp")

    assert outbox_rows(session) == []


def test_further_accounts_use_their_own_sid_token_and_number(
    session: Session, live_settings: Settings, http: responses.RequestsMock
) -> None:
    other_sid = "AC" + "9" * 32
    account = Account(slug="globex", name="Globex", twilio_account_sid=other_sid,
                      twilio_phone_number="+15005550001", secrets={"twilio_auth_token": "globex-token"})
    session.add(account)
    session.commit()
    http.post(f"https://api.twilio.com/2010-04-01/Accounts/{other_sid}/Messages.json", status=201,
              json=message_json(account_sid=other_sid, **{"from": "+15005550001"}))

    result = TwilioConnector(session, account, live_settings).send_message(to="+15551234567", body="Hi")

    [call] = http.calls
    assert call.request.headers["Authorization"] == basic(other_sid, "globex-token")
    assert form_of(call)["From"] == ["+15005550001"]
    assert result.call.account_id == account.id
    assert json.loads(json.dumps(result.response))["from"] == "+15005550001"
