"""A worker killed after Twilio accepted a message, before the outbox row was finished:
the attempt that takes over asks Twilio first, and sends only if the message is not
there. Twilio is faked at the HTTP layer; the list page is the documented shape."""
from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import responses
from responses import matchers
from sqlalchemy import update
from sqlalchemy.orm import Session

from switchboard.core.settings import Settings
from switchboard.core.store import outbox
from switchboard.core.store.models import Account, OutboxCall
from switchboard.vendors.outbound import VendorError, VendorOutcomeUnknown, VendorUnavailable
from switchboard.vendors.twilio.connector import TwilioConnector

from .conftest import TWILIO_SID, connection_refused, dropped_after_sending, outbox_rows, read_timeout

MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
PAGE = json.loads((Path(__file__).parent / "fixtures" / "twilio" / "messages_page.json").read_text())
CUSTOMER, SENDER = "+14155550100", "+15005550006"
SMS = {"to": CUSTOMER, "from_": SENDER, "body": "Your order #1042 has shipped."}
LISTED = "SM" + "a" * 32
POSTED = "SM" + "b" * 32
#: Made before any ``responses`` mock is active (see conftest).
READ_TIMEOUT, DROPPED, REFUSED = read_timeout(), dropped_after_sending(), connection_refused()


@pytest.fixture
def session(session_on_each_database: Session) -> Session:
    """Every test here runs on SQLite and on PostgreSQL."""
    return session_on_each_database


def page(*messages: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(PAGE)
    body["messages"], body["end"] = list(messages), max(len(messages) - 1, 0)
    return body


def message(sid: str, created: datetime, **fields: Any) -> dict[str, Any]:
    """A listed message; still queued, so without a DateSent, unless told otherwise."""
    record = copy.deepcopy(PAGE["messages"][0])
    record.update(sid=sid, body=SMS["body"], date_created=format_datetime(created, usegmt=True),
                  uri=record["uri"].replace(PAGE["messages"][0]["sid"], sid))
    record.update(fields)
    return record


def left_by_a_killed_worker(session: Session, account: Account, payload: dict[str, Any], key: str) -> datetime:
    """A row a worker claimed, then died in (after Twilio may have accepted the message),
    whose lease has run out. Returns when that attempt began (to the second, as Twilio
    stamps DateCreated)."""
    call, _ = outbox.record_call(session, account_id=account.id, vendor="twilio", operation="messages.create",
                                 payload=payload, idempotency_key=key)
    began = datetime.now(UTC).replace(microsecond=0) - outbox.ATTEMPT_LEASE - timedelta(minutes=1)
    assert outbox.claim_attempt(session, call, now=began)
    return began


def list_lookup(http: responses.RequestsMock, to: str = CUSTOMER, sender: str = SENDER, **reply: Any) -> None:
    http.add(responses.GET, MESSAGES_URL,
             match=[matchers.query_param_matcher({"To": to, "From": sender, "PageSize": "100"})], **reply)


def methods(http: responses.RequestsMock) -> list[str]:
    return [str(call.request.method) for call in http.calls]


def send(session: Session, account: Account, settings: Settings, key: str) -> Any:
    return TwilioConnector(session, account, settings).send_message(to=CUSTOMER, body=SMS["body"],
                                                                    idempotency_key=key)


def test_a_message_twilio_already_has_is_recorded_not_sent_again(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    began = left_by_a_killed_worker(session, live_account, SMS, "campaign:7:42")
    list_lookup(http, json=page(
        message(LISTED, began + timedelta(seconds=1)),  # the dead worker's message, still queued
        message("SM" + "0" * 32, began - timedelta(days=1), date_sent="Mon, 01 Jan 2024 00:00:00 +0000"),
    ))

    result = send(session, live_account, live_settings, "campaign:7:42")

    assert methods(http) == ["GET"]  # no POST: the customer gets the message once
    assert result.repeated
    assert result.response == {"sid": LISTED, "status": "queued", "to": CUSTOMER, "from": SENDER}
    [row] = outbox_rows(session)
    assert (row.status, row.response, row.error) == ("sent", result.response, None)
    assert row.sent_at is not None

    again = send(session, live_account, live_settings, "campaign:7:42")
    assert again.repeated and again.response["sid"] == LISTED and len(http.calls) == 1


def test_a_message_twilio_never_got_is_sent_exactly_once(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    began = left_by_a_killed_worker(session, live_account, SMS, "campaign:7:43")
    list_lookup(http, json=page(
        message("SM" + "1" * 32, began + timedelta(seconds=5), body="Another text entirely."),
        # The same words, but sent well before this attempt began: an earlier message.
        message("SM" + "2" * 32, began - timedelta(hours=1), status="delivered",
                date_sent=format_datetime(began - timedelta(hours=1), usegmt=True)),
    ))
    http.add(responses.POST, MESSAGES_URL, status=201,
             json={"sid": POSTED, "status": "queued", "to": CUSTOMER, "from": SENDER})

    result = send(session, live_account, live_settings, "campaign:7:43")

    assert methods(http) == ["GET", "POST"]
    assert not result.repeated and result.response["sid"] == POSTED
    [row] = outbox_rows(session)
    assert row.status == "sent" and row.response["sid"] == POSTED


@pytest.mark.parametrize("status", [500, 503])
def test_when_twilio_cannot_be_asked_nothing_is_sent_and_the_check_is_retried(
    status: int, session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    began = left_by_a_killed_worker(session, live_account, SMS, "campaign:7:44")
    list_lookup(http, status=status, json={"code": 20500, "message": "Internal Server Error", "status": status})

    with pytest.raises(VendorUnavailable, match="checked again later rather than sent twice"):
        send(session, live_account, live_settings, "campaign:7:44")

    assert methods(http) == ["GET"]
    [row] = outbox_rows(session)
    # Still a stale attempt with its original start: not "pending", which would send blindly.
    assert (row.status, row.attempted_at) == ("sending", began)

    list_lookup(http, json=page(message(LISTED, began + timedelta(seconds=2))))
    result = send(session, live_account, live_settings, "campaign:7:44")
    assert methods(http) == ["GET", "GET"] and result.repeated and result.response["sid"] == LISTED


def test_a_refused_check_says_what_to_fix_and_sends_nothing(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    began = left_by_a_killed_worker(session, live_account, SMS, "campaign:7:45")
    list_lookup(http, status=403, json={"code": 20003, "message": "Permission Denied", "status": 403})

    with pytest.raises(VendorError, match="read access to Messages"):
        send(session, live_account, live_settings, "campaign:7:45")

    assert methods(http) == ["GET"]
    [row] = outbox_rows(session)
    assert (row.status, row.attempted_at) == ("sending", began)


def test_a_fresh_send_does_not_ask_twilio_first(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    http.add(responses.POST, MESSAGES_URL, status=201,
             json={"sid": POSTED, "status": "queued", "to": CUSTOMER, "from": SENDER})

    result = send(session, live_account, live_settings, "campaign:7:46")

    assert methods(http) == ["POST"] and result.response["sid"] == POSTED


def test_a_stale_whatsapp_template_matches_any_new_message_to_the_number(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    to, sender = "whatsapp:" + CUSTOMER, "whatsapp:+14155238886"
    template = {"to": to, "from_": sender, "content_sid": "HX" + "1" * 32, "content_variables": '{"1": "Ada"}'}
    began = left_by_a_killed_worker(session, live_account, template, "template:9")
    # Twilio lists the rendered text, not the ContentSid: the body cannot be compared.
    list_lookup(http, to=to, sender=sender, json=page(
        message(LISTED, began + timedelta(seconds=3), to=to, body="Hi Ada, your order has shipped.",
                **{"from": sender})))

    result = TwilioConnector(session, live_account, live_settings).send_message(
        to=CUSTOMER, channel="whatsapp", content_sid="HX" + "1" * 32, content_variables={"1": "Ada"},
        idempotency_key="template:9")

    assert methods(http) == ["GET"] and result.repeated and result.response["sid"] == LISTED


def test_a_message_another_row_recorded_is_not_taken_for_the_stale_one(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    began = left_by_a_killed_worker(session, live_account, SMS, "campaign:7:47")
    # The same words to the same customer, sent under another key after this attempt began.
    other, _ = outbox.record_call(session, account_id=live_account.id, vendor="twilio",
                                  operation="messages.create", payload=SMS, idempotency_key="campaign:8:47")
    outbox.finish(session, other, status="sent", response={"sid": LISTED, "status": "queued"})
    session.execute(update(OutboxCall).where(OutboxCall.id == other.id).values(sent_at=began + timedelta(seconds=9)))
    session.commit()
    list_lookup(http, json=page(message(LISTED, began + timedelta(seconds=8))))
    http.add(responses.POST, MESSAGES_URL, status=201,
             json={"sid": POSTED, "status": "queued", "to": CUSTOMER, "from": SENDER})

    result = send(session, live_account, live_settings, "campaign:7:47")

    assert methods(http) == ["GET", "POST"] and result.response["sid"] == POSTED


@pytest.mark.parametrize("lost", [READ_TIMEOUT, DROPPED], ids=["read-timeout", "dropped-after-sending"])
def test_a_send_whose_answer_was_lost_waits_for_its_lease_then_asks_twilio_first(
    lost: Exception, session: Session, live_account: Account, live_settings: Settings,
    http: responses.RequestsMock,
) -> None:
    http.add(responses.POST, MESSAGES_URL, body=lost)
    began = datetime.now(UTC).replace(microsecond=0)

    with pytest.raises(VendorOutcomeUnknown, match="may have accepted it"):
        send(session, live_account, live_settings, "reply:51")

    [row] = outbox_rows(session)
    assert row.status == "sending"  # an attempt in flight, not "pending" (which would send at once)
    with pytest.raises(VendorUnavailable, match="in flight"):
        send(session, live_account, live_settings, "reply:51")
    assert methods(http) == ["POST"]  # the early retry neither sent nor asked

    session.execute(update(OutboxCall).values(attempted_at=began - outbox.ATTEMPT_LEASE - timedelta(seconds=1)))
    session.commit()
    list_lookup(http, json=page(message(LISTED, began + timedelta(seconds=1))))  # Twilio had it after all
    result = send(session, live_account, live_settings, "reply:51")

    assert methods(http) == ["POST", "GET"] and result.repeated and result.response["sid"] == LISTED
    assert outbox_rows(session)[0].status == "sent"


def test_a_send_that_never_left_is_retried_at_once(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    http.add(responses.POST, MESSAGES_URL, body=REFUSED)
    http.add(responses.POST, MESSAGES_URL, status=201,
             json={"sid": POSTED, "status": "queued", "to": CUSTOMER, "from": SENDER})

    with pytest.raises(VendorUnavailable, match="could not be reached") as caught:
        send(session, live_account, live_settings, "reply:52")
    assert not isinstance(caught.value, VendorOutcomeUnknown)
    assert outbox_rows(session)[0].status == "pending"

    result = send(session, live_account, live_settings, "reply:52")

    assert methods(http) == ["POST", "POST"] and result.response["sid"] == POSTED
