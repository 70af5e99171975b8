from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import responses
from sqlalchemy.orm import Session

from switchboard.core.accounts import ensure_default_account
from switchboard.core.settings import Settings
from switchboard.core.store import outbox
from switchboard.core.store.models import Account
from switchboard.vendors.outbound import VendorError, VendorRateLimited, VendorUnavailable
from switchboard.vendors.zendesk.connector import ZendeskConnector

from .conftest import OUTBOX_KEYS, basic, connection_refused, outbox_rows

API = "https://acme.zendesk.com/api/v2"
AUTH = basic("bot@acme.test/token", "zendesk-api-token")

TICKET_ARGS: dict[str, Any] = {
    "requester": {"name": "Ada Lovelace", "email": "ada@example.com"},
    "subject": "Refund for order #1042",
    "comment_body": "Customer asked for a refund over SMS. Summary: ...",
    "tags": ["switchboard", "sms"],
    "priority": "high",
    "group_id": 360001,
    "custom_fields": [{"id": 900001, "value": "order-1042"}],
}
TICKET_WIRE = {
    "ticket": {
        "requester": {"name": "Ada Lovelace", "email": "ada@example.com"},
        "subject": "Refund for order #1042",
        "comment": {"body": "Customer asked for a refund over SMS. Summary: ...", "public": False},
        "tags": ["switchboard", "sms"],
        "priority": "high",
        "group_id": 360001,
        "custom_fields": [{"id": 900001, "value": "order-1042"}],
    }
}


def audit_json(ticket_id: int, audit_id: int = 5001, status: str = "new") -> dict[str, Any]:
    return {"ticket": {"id": ticket_id, "status": status, "subject": "Refund for order #1042",
                       "url": f"{API}/tickets/{ticket_id}.json"},
            "audit": {"id": audit_id, "ticket_id": ticket_id, "events": []}}


def sent_json(call: responses.Call) -> Any:
    assert call.request.body is not None
    return json.loads(call.request.body)


def test_sandbox_create_ticket_records_the_wire_body_and_sends_nothing(
    session: Session, sandbox_account: Account, sandbox_settings: Settings, http: responses.RequestsMock
) -> None:
    result = ZendeskConnector(session, sandbox_account, sandbox_settings).create_ticket(**TICKET_ARGS)

    assert len(http.calls) == 0
    [row] = outbox_rows(session)
    recorded = outbox.as_json(row)
    assert set(recorded) == OUTBOX_KEYS
    assert (recorded["vendor"], recorded["operation"], recorded["status"]) == ("zendesk", "tickets.create", "sandboxed")
    assert recorded["payload"] == TICKET_WIRE
    assert result.response == {"ticket_id": 100_000 + row.id, "status": "new"}


def test_sandbox_comment_and_user_have_plausible_ids(
    session: Session, sandbox_account: Account, sandbox_settings: Settings, http: responses.RequestsMock
) -> None:
    connector = ZendeskConnector(session, sandbox_account, sandbox_settings)

    note = connector.add_comment(35436, body="Bot handed over", public=False)
    user = connector.find_or_create_user(name="Ada", phone="+15551234567", external_id="customer-7")

    assert note.response["ticket_id"] == 35436
    assert user.response == {"user_id": 100_000 + user.call.id}
    assert [row.status for row in outbox_rows(session)] == ["sandboxed", "sandboxed"]
    assert len(http.calls) == 0


def test_live_create_ticket_posts_what_was_recorded(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    http.post(f"{API}/tickets.json", status=201, json=audit_json(35436))

    result = ZendeskConnector(session, live_account, live_settings).create_ticket(**TICKET_ARGS)

    [call] = http.calls
    assert sent_json(call) == TICKET_WIRE == result.call.payload
    assert call.request.headers["Authorization"] == AUTH
    assert "Idempotency-Key" not in call.request.headers
    assert result.response == {"ticket_id": 35436, "status": "new"}
    assert outbox_rows(session)[0].status == "sent"


def test_create_ticket_passes_the_idempotency_key_to_zendesk_and_replays_locally(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    http.post(f"{API}/tickets.json", status=201, json=audit_json(35437))
    connector = ZendeskConnector(session, live_account, live_settings)

    first = connector.create_ticket(**TICKET_ARGS, idempotency_key="handoff-conv-9")
    second = connector.create_ticket(**TICKET_ARGS, idempotency_key="handoff-conv-9")

    assert len(http.calls) == 1
    assert http.calls[0].request.headers["Idempotency-Key"] == "handoff-conv-9"
    assert second.repeated and second.response == first.response == {"ticket_id": 35437, "status": "new"}


def test_requester_by_id_sends_requester_id(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    http.post(f"{API}/tickets.json", status=201, json=audit_json(35438))

    ZendeskConnector(session, live_account, live_settings).create_ticket(
        requester={"id": 777}, subject="Hi", comment_body="Hello", public=True)

    assert sent_json(http.calls[0]) == {"ticket": {
        "requester_id": 777, "subject": "Hi", "comment": {"body": "Hello", "public": True}}}


def test_internal_note_is_a_private_comment_with_added_tags(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    http.put(f"{API}/tickets/35436.json", status=200, json=audit_json(35436, audit_id=6002, status="open"))

    result = ZendeskConnector(session, live_account, live_settings).add_comment(
        35436, body="Suggested reply: ...", public=False, tags=["ai_suggested"])

    [call] = http.calls
    expected = {"ticket": {"id": 35436, "comment": {"body": "Suggested reply: ...", "public": False},
                           "additional_tags": ["ai_suggested"]}}
    assert sent_json(call) == expected == result.call.payload
    assert result.call.operation == "tickets.update"
    assert result.response == {"ticket_id": 35436, "audit_id": 6002}


def test_find_or_create_user_posts_to_create_or_update(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    http.post(f"{API}/users/create_or_update.json", status=201,
              json={"user": {"id": 9873843, "name": "Ada", "email": "ada@example.com"}})

    result = ZendeskConnector(session, live_account, live_settings).find_or_create_user(
        name="Ada", email="ada@example.com")

    assert sent_json(http.calls[0]) == {"user": {"name": "Ada", "email": "ada@example.com"}}
    assert result.call.operation == "users.create_or_update"
    assert result.response == {"user_id": 9873843}


def test_rate_limit_raises_at_once_with_zendesks_retry_after(
    session: Session, live_account: Account, live_settings: Settings
) -> None:
    # A success queued behind the 429: had zenpy slept through Retry-After and asked
    # again, it would get the ticket and no error would be raised.
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        http.post(f"{API}/tickets.json", status=429, headers={"Retry-After": "3"},
                  json={"error": "TooManyRequests", "description": "Rate limit exceeded"})
        http.post(f"{API}/tickets.json", status=201, json=audit_json(35439))

        with pytest.raises(VendorRateLimited) as caught:
            ZendeskConnector(session, live_account, live_settings).create_ticket(**TICKET_ARGS)

        assert len(http.calls) == 1
    assert caught.value.retry_after == 3
    assert caught.value.vendor == "zendesk"
    assert outbox_rows(session)[0].status == "pending"


def test_validation_errors_carry_zendesks_details(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    http.put(f"{API}/tickets/1.json", status=422, json={
        "error": "RecordInvalid", "description": "Record validation errors",
        "details": {"base": [{"description": "Ticket is closed"}]}})

    with pytest.raises(VendorError, match="Record validation errors.*Ticket is closed") as caught:
        ZendeskConnector(session, live_account, live_settings).add_comment(1, body="x", public=False)

    assert type(caught.value) is VendorError
    assert outbox_rows(session)[0].status == "failed"


def test_bad_credentials_say_which_variable_to_fix(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    http.post(f"{API}/tickets.json", status=401, json={"error": "Couldn't authenticate you"})

    with pytest.raises(VendorError, match="ZENDESK_API_TOKEN"):
        ZendeskConnector(session, live_account, live_settings).create_ticket(**TICKET_ARGS)


@pytest.mark.parametrize("failure", [
    {"status": 500, "json": {"error": "InternalError"}},
    {"status": 502, "body": "<html>Bad gateway</html>"},
    {"body": connection_refused()},
], ids=["http-500-json", "http-502-html", "connection-refused"])
def test_server_and_network_failures_are_retryable(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock,
    failure: dict[str, object],
) -> None:
    http.post(f"{API}/tickets.json", **failure)

    with pytest.raises(VendorUnavailable) as caught:
        ZendeskConnector(session, live_account, live_settings).create_ticket(**TICKET_ARGS)

    assert not isinstance(caught.value, VendorRateLimited)
    assert outbox_rows(session)[0].status == "pending"


def test_further_accounts_use_their_subdomain_email_and_token(
    session: Session, live_settings: Settings, http: responses.RequestsMock
) -> None:
    account = Account(slug="globex", name="Globex", zendesk_subdomain="globex",
                      secrets={"zendesk_email": "ops@globex.test", "zendesk_api_token": "globex-token"})
    session.add(account)
    session.commit()
    http.post("https://globex.zendesk.com/api/v2/tickets.json", status=201, json=audit_json(1))

    ZendeskConnector(session, account, live_settings).create_ticket(**TICKET_ARGS)

    assert http.calls[0].request.headers["Authorization"] == basic("ops@globex.test/token", "globex-token")


def test_missing_email_means_sandbox(
    session: Session, make_settings: Callable[..., Settings], http: responses.RequestsMock
) -> None:
    settings = make_settings(ZENDESK_SUBDOMAIN="acme")
    account = ensure_default_account(session, settings)

    result = ZendeskConnector(session, account, settings).create_ticket(**TICKET_ARGS)

    assert result.call.status == "sandboxed"
    assert len(http.calls) == 0
