"""`switchboard customers erase` and POST /api/customers/erase leave no trace of the
customer in any table, keep the aggregates and one audit entry; export gives their
data as JSON. The check walks every text and JSON column of every table the models
declare, on PostgreSQL, for markers planted through the real flows: a column added
later that keeps a copy fails it."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select

from switchboard.app import create_app
from switchboard.cli import main
from switchboard.core.knowledge.loaders import load_articles
from switchboard.core.knowledge.service import KnowledgeBase
from switchboard.core.settings import load_settings
from switchboard.core.store.models import (
    AuditEntry,
    ConversationOutcome,
    Customer,
    Identity,
    InboxEvent,
    Message,
    OutreachCampaign,
    OutreachRecipient,
    OutreachSegment,
    VaultEntry,
)
from switchboard.intake.db import get_db

from ..conftest import SAMPLE_KB, _truncate_postgres, base_env
from .helpers import key_for, say, traces
from .test_vault_and_keys import vendor_for

ERASED_PHONE, KEPT_PHONE = "+447700900123", "+447700900456"
#: Unique strings planted through the flows: the name, free text, an email, a phone.
MARKERS = ("zorbamark", "7700900123", "7946 0958", "79460958")


@pytest.fixture
def pg_app(pg_url: str, tmp_path: Path) -> Iterator[Flask]:
    _truncate_postgres(pg_url)
    app = create_app(load_settings(base_env(tmp_path, pg_url)), config={"TASKS_INLINE": True, "TESTING": True})
    with get_db(app).session() as session:
        KnowledgeBase(session, app.config["DEFAULT_ACCOUNT_ID"], app.config["SETTINGS"].data_dir).import_articles(
            load_articles(SAMPLE_KB))
    yield app
    get_db(app).dispose()


def plant(app: Flask) -> None:
    """A WhatsApp customer named Zorbamark writes their email, a phone and their
    street, asks about a refund and for a person; a campaign reaches them; another
    customer writes too."""
    vendor = vendor_for(app)
    for body in ("hi, this is Quill Zorbamark, mail quill.zorbamark@example.com or call +44 20 7946 0958",
                 "my parcel went to 12 Zorbamark Lane instead, how do I get a refund?",
                 "how long does delivery take?",
                 "AGENT"):
        say(vendor, body, sender=ERASED_PHONE, channel="whatsapp", profile_name="Quill Zorbamark")
    say(vendor, "how long does delivery take?", sender=KEPT_PHONE)
    with get_db(app).session() as session:
        customer = session.scalars(select(Customer).where(Customer.display_name == "Quill Zorbamark")).one()
        campaign = OutreachCampaign(account_id=customer.account_id, name="Storm delays", trigger="api",
                                    created_by="test")
        session.add(campaign)
        session.flush()
        segment = OutreachSegment(account_id=customer.account_id, campaign_id=campaign.id, key="standard",
                                  draft="Storms delay deliveries this week.")
        session.add(segment)
        session.flush()
        session.add(OutreachRecipient(account_id=customer.account_id, campaign_id=campaign.id, segment_id=segment.id,
                                      customer_id=customer.id, phone=ERASED_PHONE))
        session.commit()


def test_erase_leaves_no_trace_in_any_table_but_keeps_aggregates_and_an_audit_entry(pg_app: Flask) -> None:
    plant(pg_app)
    with get_db(pg_app).session() as session:
        before = traces(session, MARKERS)
        outcomes_before = session.scalar(select(func.count()).select_from(ConversationOutcome))
    # The walk sees the planted data where the flows put it (else it would prove nothing).
    assert {"customers.display_name", "identities.value", "messages.body", "inbox_events.payload",
            "outbox_calls.payload", "outreach_recipients.phone"} <= set(before), before
    assert "audit_log.detail" not in before

    key = key_for(pg_app)
    erased = pg_app.test_client().post("/api/customers/erase", json={"identity": ERASED_PHONE},
                                       headers={"Authorization": f"Bearer {key}"})
    assert erased.status_code == 200, erased.get_data(as_text=True)
    assert erased.get_json()["rows"]["vault_entries"] == 2

    with get_db(pg_app).session() as session:
        assert traces(session, MARKERS) == {}
        customer_id = erased.get_json()["customer_id"]
        assert session.scalar(select(func.count()).select_from(VaultEntry)
                              .where(VaultEntry.customer_id == customer_id)) == 0
        assert session.scalar(select(func.count()).select_from(Identity)
                              .where(Identity.customer_id == customer_id)) == 0
        assert session.scalar(select(func.count()).select_from(ConversationOutcome)) == outcomes_before
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "privacy.erased")).all()
        assert (entry.actor, entry.subject_id) == ("api", str(customer_id))
        # The other customer is untouched.
        kept = session.scalars(select(Message.body).where(Message.author == "customer",
                                                          Message.body == "how long does delivery take?")).all()
        assert kept == ["how long does delivery take?"]  # the same words as the erased customer's, kept
        payloads = session.scalars(select(InboxEvent.payload).where(InboxEvent.kind == "twilio.message")).all()
        assert [p["Body"] for p in payloads if p.get("From") == KEPT_PHONE] == ["how long does delivery take?"]
        assert session.scalar(select(Identity.value).where(Identity.value == KEPT_PHONE)) == KEPT_PHONE


def test_export_gives_the_customers_data_with_vaulted_values(pg_app: Flask) -> None:
    plant(pg_app)
    key = key_for(pg_app)
    exported = pg_app.test_client().get(f"/api/customers/export?identity={ERASED_PHONE.replace('+', '%2B')}",
                                        headers={"Authorization": f"Bearer {key}"})
    assert exported.status_code == 200, exported.get_data(as_text=True)
    data = exported.get_json()
    assert data["customer"]["name"] == "Quill Zorbamark"
    assert {(i["kind"], i["value"]) for i in data["identities"]} >= {("phone", ERASED_PHONE)}
    [conversation] = data["conversations"]
    assert conversation["messages"][0]["body"] == "hi, this is Quill Zorbamark, mail [EMAIL_1] or call [PHONE_1]"
    assert {(v["token"], v["value"]) for v in data["vault"]} == {("[EMAIL_1]", "quill.zorbamark@example.com"),
                                                                 ("[PHONE_1]", "+44 20 7946 0958")}
    assert data["outreach"][0]["phone"] == ERASED_PHONE


def test_the_cli_exports_and_erases_by_identity(env: dict[str, str], app: Flask) -> None:
    say(vendor_for(app), "call me on +44 20 7946 0958, Zorbamark here", sender=ERASED_PHONE)
    runner = CliRunner()
    exported = runner.invoke(main, ["customers", "export", ERASED_PHONE], env=env)
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.output)["vault"][0]["value"] == "+44 20 7946 0958"

    unknown = runner.invoke(main, ["customers", "erase", "+447700900999", "--yes"], env=env)
    assert unknown.exit_code != 0 and "no customer with the identity" in unknown.output
    done = runner.invoke(main, ["customers", "erase", ERASED_PHONE, "--yes"], env=env)
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["erased"]["vault_entries"] == 1
    with get_db(app).session() as session:
        assert session.scalars(select(Message.body).where(Message.author == "customer")).all() == ["[erased]"]
        assert session.scalar(select(func.count()).select_from(Identity)) == 0


def test_erase_names_the_problem_for_a_bad_request(app: Flask) -> None:
    key = key_for(app)
    headers = {"Authorization": f"Bearer {key}"}
    missing = app.test_client().post("/api/customers/erase", json={}, headers=headers)
    assert missing.status_code == 400 and "identity" in missing.get_data(as_text=True)
    unknown = app.test_client().post("/api/customers/erase", json={"identity": "nobody@example.com"}, headers=headers)
    assert unknown.status_code == 404
    for nul in (app.test_client().post("/api/customers/erase", json={"identity": "+1415\x00"}, headers=headers),
                app.test_client().get("/api/customers/export?identity=%00", headers=headers)):
        assert nul.status_code == 400 and "NUL byte" in nul.get_data(as_text=True)
    assert app.test_client().post("/api/customers/erase", json={"identity": ERASED_PHONE}).status_code == 401
