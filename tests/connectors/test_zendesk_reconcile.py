"""A worker killed after Zendesk created a ticket, before the outbox row was finished:
the attempt that takes over looks the ticket up by the external_id the creation
carried, and creates it only if it is not there. A creation whose answer never came
is left in flight for that check, while a refused connection is retried at once.
Zendesk is faked at the HTTP layer; the list page is the documented shape."""
from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from responses import matchers
from sqlalchemy import update
from sqlalchemy.orm import Session

from switchboard.core.settings import Settings
from switchboard.core.store import outbox
from switchboard.core.store.models import Account, OutboxCall
from switchboard.vendors.outbound import CallResult, VendorError, VendorOutcomeUnknown, VendorUnavailable
from switchboard.vendors.zendesk.connector import ZendeskConnector, ticket_external_id

from .conftest import connection_refused, dropped_after_sending, outbox_rows, read_timeout
from .test_zendesk import API, TICKET_ARGS, audit_json, sent_json

TICKETS_URL = f"{API}/tickets.json"
PAGE = json.loads((Path(__file__).parent / "fixtures" / "zendesk" / "tickets_by_external_id.json").read_text())
KEY = "handoff:9"
REFUSED, READ_TIMEOUT = connection_refused(), read_timeout()


def page(*tickets: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(PAGE)
    body["tickets"] = list(tickets)
    return body


def ticket(ticket_id: int, external_id: str, status: str = "new") -> dict[str, Any]:
    record = copy.deepcopy(PAGE["tickets"][0])
    record.update(id=ticket_id, external_id=external_id, status=status, url=f"{API}/tickets/{ticket_id}.json")
    return record


def create(session: Session, account: Account, settings: Settings, key: str | None = KEY) -> CallResult:
    return ZendeskConnector(session, account, settings).create_ticket(**TICKET_ARGS, idempotency_key=key)


def left_by_a_killed_worker(session: Session, account: Account, key: str = KEY) -> datetime:
    """The row a worker recorded and claimed for this creation, then died in, its lease
    run out. Returns when that attempt began."""
    payload = {"ticket": {"subject": TICKET_ARGS["subject"], "external_id": ticket_external_id(account, key)}}
    call, _ = outbox.record_call(session, account_id=account.id, vendor="zendesk", operation="tickets.create",
                                 payload=payload, idempotency_key=key)
    began = datetime.now(UTC) - outbox.ATTEMPT_LEASE - timedelta(minutes=1)
    assert outbox.claim_attempt(session, call, now=began)
    return began


def lookup(http: responses.RequestsMock, external_id: str, **reply: Any) -> None:
    http.add(responses.GET, TICKETS_URL,
             match=[matchers.query_param_matcher({"external_id": external_id}, strict_match=False)], **reply)


def lease_runs_out(session: Session) -> None:
    """What ATTEMPT_LEASE of waiting would do to the attempts in flight."""
    past = datetime.now(UTC) - outbox.ATTEMPT_LEASE - timedelta(seconds=1)
    session.execute(update(OutboxCall).where(OutboxCall.status == "sending").values(attempted_at=past))
    session.commit()


def methods(http: responses.RequestsMock) -> list[str]:
    return [str(call.request.method) for call in http.calls]


def test_a_keyed_ticket_carries_an_external_id_of_its_own(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    http.post(TICKETS_URL, status=201, json=audit_json(35436))

    create(session, live_account, live_settings)

    assert methods(http) == ["POST"]  # a first attempt does not look anything up
    sent = sent_json(http.calls[0])["ticket"]
    assert sent["external_id"] == f"switchboard:handoff:9:{live_account.id}"
    assert outbox_rows(session)[0].payload["ticket"]["external_id"] == sent["external_id"]


def test_a_ticket_zendesk_already_has_is_adopted_not_created_again(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    left_by_a_killed_worker(session, live_account)
    external_id = ticket_external_id(live_account, KEY)
    lookup(http, external_id, json=page(ticket(35436, external_id)))

    result = create(session, live_account, live_settings)

    assert methods(http) == ["GET"]  # no POST: the agents get one ticket
    assert result.repeated and result.response == {"ticket_id": 35436, "status": "new"}
    [row] = outbox_rows(session)
    assert (row.status, row.response, row.error) == ("sent", result.response, None)
    again = create(session, live_account, live_settings)
    assert again.response["ticket_id"] == 35436 and len(http.calls) == 1


def test_a_ticket_zendesk_never_got_is_created_exactly_once(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    left_by_a_killed_worker(session, live_account)
    external_id = ticket_external_id(live_account, KEY)
    lookup(http, external_id, json=page())
    http.post(TICKETS_URL, status=201, json=audit_json(35437))

    result = create(session, live_account, live_settings)

    assert methods(http) == ["GET", "POST"]
    assert http.calls[1].request.headers["Idempotency-Key"] == KEY
    assert sent_json(http.calls[1])["ticket"]["external_id"] == external_id
    assert not result.repeated and result.response["ticket_id"] == 35437
    assert outbox_rows(session)[0].status == "sent"


@pytest.mark.parametrize("status", [500, 503])
def test_when_zendesk_cannot_be_asked_nothing_is_created_and_the_check_is_retried(
    status: int, session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    began = left_by_a_killed_worker(session, live_account)
    external_id = ticket_external_id(live_account, KEY)
    lookup(http, external_id, status=status, json={"error": "InternalError"})

    with pytest.raises(VendorUnavailable, match="checked again later rather than created twice"):
        create(session, live_account, live_settings)

    assert set(methods(http)) == {"GET"}  # (zenpy's adapter may retry a 503 GET itself)
    [row] = outbox_rows(session)
    assert (row.status, row.attempted_at.replace(tzinfo=UTC)) == ("sending", began)  # SQLite drops the zone

    lookup(http, external_id, json=page(ticket(35436, external_id)))
    assert create(session, live_account, live_settings).response["ticket_id"] == 35436
    assert set(methods(http)) == {"GET"}


def test_a_refused_lookup_says_what_to_fix_and_creates_nothing(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    left_by_a_killed_worker(session, live_account)
    lookup(http, ticket_external_id(live_account, KEY), status=403, json={"error": "Forbidden"})

    with pytest.raises(VendorError, match="ZENDESK_API_TOKEN"):
        create(session, live_account, live_settings)

    assert methods(http) == ["GET"] and outbox_rows(session)[0].status == "sending"


@pytest.mark.parametrize("lost", [READ_TIMEOUT, dropped_after_sending()], ids=["read-timeout", "dropped"])
def test_a_creation_whose_answer_was_lost_is_checked_before_it_is_made_again(
    lost: requests.RequestException, session: Session, live_account: Account, live_settings: Settings,
    http: responses.RequestsMock,
) -> None:
    http.post(TICKETS_URL, body=lost)

    with pytest.raises(VendorOutcomeUnknown, match="may have created it"):
        create(session, live_account, live_settings)

    [row] = outbox_rows(session)
    assert row.status == "sending" and "did not answer" in (row.error or "")
    with pytest.raises(VendorUnavailable, match="in flight"):  # too early: nothing sent, nothing asked
        create(session, live_account, live_settings)
    assert methods(http) == ["POST"]

    lease_runs_out(session)
    external_id = ticket_external_id(live_account, KEY)
    lookup(http, external_id, json=page(ticket(35436, external_id)))
    result = create(session, live_account, live_settings)

    assert methods(http) == ["POST", "GET"] and result.response["ticket_id"] == 35436
    assert outbox_rows(session)[0].status == "sent"


def test_a_refused_connection_is_retried_at_once(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    http.post(TICKETS_URL, body=REFUSED)
    http.post(TICKETS_URL, status=201, json=audit_json(35438))

    with pytest.raises(VendorUnavailable) as caught:
        create(session, live_account, live_settings)
    assert not isinstance(caught.value, VendorOutcomeUnknown)
    assert outbox_rows(session)[0].status == "pending"

    result = create(session, live_account, live_settings)

    assert methods(http) == ["POST", "POST"] and result.response["ticket_id"] == 35438


def test_a_lost_answer_to_a_comment_is_simply_retried(
    session: Session, live_account: Account, live_settings: Settings, http: responses.RequestsMock
) -> None:
    """Comments cannot be looked up afterwards: waiting out a lease would only delay them."""
    http.put(f"{API}/tickets/35436.json", body=READ_TIMEOUT)

    with pytest.raises(VendorUnavailable) as caught:
        ZendeskConnector(session, live_account, live_settings).add_comment(35436, body="Hi", public=True,
                                                                           idempotency_key="relay:1")

    assert not isinstance(caught.value, VendorOutcomeUnknown)
    assert outbox_rows(session)[0].status == "pending"
