"""Issue 42, item 2: erasing a customer who was handed to a person leaves none of their
words behind, whatever links the rows that carry them: the Zendesk relays of their
follow-ups and the handoff note (linked by the ticket), the agent's reply quoting
them (SMS, Zendesk event, audit of the sent suggestion), the solved ticket's summary.

Signed Twilio messages and Zendesk webhooks in, Twilio and Zendesk faked at the HTTP
layer, the sidebar as the app calls it, then POST /api/customers/erase; every text and
JSON column of every table is searched afterwards, on SQLite and PostgreSQL."""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import responses
from flask import Flask
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DatabaseError

from switchboard.app import create_app
from switchboard.core.settings import load_settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import AuditEntry, Customer, Message
from switchboard.intake.db import get_db

from ..conftest import with_sample_kb
from ..handoff.test_handoff_to_zendesk import TICKET_ID, Fakes, agent_comment
from ..signing import fixture
from .helpers import LiveVendors, key_for, say, traces
from .test_vault_and_keys import vendor_for

SENDER = "+14155550123"
WORDS = ("My name is Carol Quintrell, I live at 12 Baker Street",
         "my SSN is 078-05-1120 if you need it",
         "or call my landline 020 7946 0958")
#: What must be gone: their name and street (quoted by the agent too), the SSN, both
#: phones, in any spelling a vendor or a payload might use.
MARKERS = ("carol", "quintrell", "baker street", "078-05-1120", "078051120", "7946 0958", "79460958",
           "4155550123")
OTHER = "+14155550177"


@pytest.fixture
def live(env: dict[str, str]) -> Iterator[Flask]:
    app = create_app(load_settings({**env, "SWITCHBOARD_SANDBOX": "0", "ZENDESK_EMAIL": "bot@acme.test",
                                    "ZENDESK_API_TOKEN": "zd-token"}),
                     config={"TASKS_INLINE": True, "TESTING": True})
    yield with_sample_kb(app)
    get_db(app).dispose()


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield LiveVendors(mock)


def solved(ticket_id: int) -> dict[str, object]:
    payload = fixture("zendesk", "ticket_status_changed.json")
    payload["id"] = str(uuid.uuid4())
    payload["detail"]["id"] = str(ticket_id)
    return payload


def test_erase_after_a_handoff_leaves_none_of_their_words_in_any_table(live: Flask, fakes: Fakes) -> None:
    vendor = vendor_for(live)
    say(vendor, "how long does delivery take?", sender=SENDER)
    say(vendor, "AGENT", sender=SENDER)
    for words in WORDS:  # relayed to the ticket as the customer's comments
        say(vendor, words, sender=SENDER)
    key = key_for(live)
    sidebar = {"Authorization": f"Bearer {key}", "X-Zendesk-User-Id": "4021"}
    view = vendor.client.get(f"/api/sidebar/tickets/{TICKET_ID}", headers=sidebar)
    assert view.status_code == 200, view.get_data(as_text=True)
    first = view.get_json()["suggestions"][0]["id"]
    assert vendor.client.post(f"/api/sidebar/suggestions/{first}/inserted", headers=sidebar).status_code == 204
    quote = "Thanks Carol, we will send the parcel to 12 Baker Street tomorrow."
    assert vendor.zendesk(agent_comment(quote)).status_code == 200
    assert vendor.zendesk(solved(TICKET_ID)).status_code == 200
    say(vendor, "how long does delivery take?", sender=OTHER)

    with get_db(live).session() as session:
        before = traces(session, MARKERS)
    # The rows the probe found the words in: the search sees them where the flows put them.
    assert {"messages.body", "inbox_events.payload", "outbox_calls.payload", "audit_log.detail"} <= set(before), before
    relayed = [b["ticket"]["comment"]["body"] for b in fakes.zendesk("PUT", f"/tickets/{TICKET_ID}.json")
               if b["ticket"].get("comment", {}).get("public")]
    assert any("Baker Street" in body for body in relayed), relayed

    erased = vendor.client.post("/api/customers/erase", json={"identity": SENDER},
                                headers={"Authorization": f"Bearer {key}"})
    assert erased.status_code == 200, erased.get_data(as_text=True)

    with get_db(live).session() as session:
        assert traces(session, MARKERS) == {}
        # The other customer keeps their words; the erased one's audit entries keep who
        # did what and when.
        kept = session.scalars(select(Message.body).where(Message.body == "how long does delivery take?")).all()
        assert kept == ["how long does delivery take?"]
        customer = session.scalars(select(Customer).where(Customer.id == erased.get_json()["customer_id"])).one()
        sent = session.scalars(select(AuditEntry).where(AuditEntry.action == "assist.sent")).one()
        assert (sent.actor, sent.subject_id, sent.detail) == ("zendesk:111", str(TICKET_ID), {"erased": True})
        assert customer.attributes == {"erased": True}
        assert json.dumps(session.scalars(select(AuditEntry.detail).where(
            AuditEntry.action == "privacy.erased")).one())


def test_the_audit_log_takes_a_tombstone_and_no_other_change(app: Flask) -> None:
    """What erasure may do to an entry (blank its detail) is all the database allows."""
    with get_db(app).session() as session:
        audit(session, account_id=app.config["DEFAULT_ACCOUNT_ID"], actor="zendesk:4021", action="assist.sent",
              subject_type="ticket", subject_id=5158, detail={"sent": "Thanks Carol"})
        session.commit()
        for forged in ({"detail": {"sent": "something else"}}, {"detail": {"erased": True}, "actor": "nobody"},
                       {"actor": "nobody"}):
            with pytest.raises(DatabaseError, match="append-only"):
                session.execute(update(AuditEntry).values(**forged))
                session.commit()
            session.rollback()
        with pytest.raises(DatabaseError, match="append-only"):
            session.execute(delete(AuditEntry))
            session.commit()
        session.rollback()
        session.execute(update(AuditEntry).values(detail={"erased": True}))
        session.commit()
        entry = session.scalars(select(AuditEntry)).one()
        assert (entry.actor, entry.action, entry.subject_id, entry.detail) == (
            "zendesk:4021", "assist.sent", "5158", {"erased": True})
