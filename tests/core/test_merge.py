"""Two customers who are one person become one: everything that pointed at the newer
one moves to the older, and the agent then reads one timeline across channels.

The customers are made the way real ones are (signed Twilio deliveries: one on SMS, one
on WhatsApp with a profile name), merged by the core, and read back through what the
agent sees: the handoff package recorded for Zendesk and the sidebar API.
"""
from __future__ import annotations

import itertools
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from switchboard.core import accounts
from switchboard.core.customers.merge import MergeRefused, customer_references, merge_customers
from switchboard.core.store.models import (
    Account,
    AuditEntry,
    Conversation,
    ConversationOutcome,
    Customer,
    Identity,
    IdentityKind,
    MetricEvent,
    OutboxCall,
    OutreachCampaign,
    OutreachRecipient,
    OutreachSegment,
    VaultEntry,
)
from switchboard.intake.db import get_db, make_engine

from ..signing import VendorClient

SMS_PHONE = "+14155550101"
WA_PHONE = "+14155550102"
_sid = itertools.count(1)


def sms(vendor: VendorClient, body: str, phone: str = SMS_PHONE) -> None:
    params = {"MessageSid": f"SM{next(_sid):032x}", "AccountSid": "AC" + "1" * 32, "Body": body,
              "NumMedia": "0", "From": phone, "To": "+15005550006"}
    assert vendor.twilio("/webhooks/twilio/messages", params).status_code == 200


def whatsapp(vendor: VendorClient, body: str, phone: str = WA_PHONE) -> None:
    params = {"MessageSid": f"SM{next(_sid):032x}", "AccountSid": "AC" + "1" * 32, "Body": body,
              "NumMedia": "0", "From": f"whatsapp:{phone}", "To": "whatsapp:+14155238886",
              "WaId": phone.lstrip("+"), "ProfileName": "Ada Lovelace"}
    assert vendor.twilio("/webhooks/twilio/messages", params).status_code == 200


def customer_of(session: Session, kind: IdentityKind, value: str) -> Customer:
    customer = session.scalar(select(Customer).join(Identity).where(Identity.kind == kind, Identity.value == value))
    assert customer is not None
    return customer


def two_customers(app: Flask, vendor: VendorClient) -> tuple[int, int, int]:
    """An SMS customer (older, no name, a card number vaulted) and a WhatsApp one."""
    sms(vendor, "my card 4111 1111 1111 1111 was charged twice for order A1001")
    whatsapp(vendor, "how long does delivery take to Canada?")
    with get_db(app).session() as session:
        older = customer_of(session, IdentityKind.PHONE, SMS_PHONE)
        newer = customer_of(session, IdentityKind.PHONE, WA_PHONE)
        # Created a second apart in real life: make the order certain.
        older.created_at = datetime.now(UTC) - timedelta(days=3)
        session.commit()
        return older.account_id, older.id, newer.id


def test_merge_moves_everything_to_the_older_customer_and_is_audited_without_customer_text(
        app: Flask, vendor: VendorClient) -> None:
    account_id, older, newer = two_customers(app, vendor)
    with get_db(app).session() as session:
        newer_conversation = session.scalar(select(Conversation.id).where(Conversation.customer_id == newer))
        assert session.scalar(select(func.count()).select_from(VaultEntry)
                              .where(VaultEntry.customer_id == older)) == 1
        assert session.scalar(select(func.count()).select_from(MetricEvent)
                              .where(MetricEvent.customer_id == newer)) >= 1
        # Asked the other way round (newer into older's place): the older one still survives.
        merged = merge_customers(session, account_id, newer, older, actor="test", reason="verified_phone")
        session.commit()
        assert (merged.survivor_id, merged.merged_id, merged.already) == (older, newer, False)

    with get_db(app).session() as session:
        assert session.get(Customer, newer) is None
        survivor = session.get(Customer, older)
        assert survivor is not None
        assert sorted((i.kind.value, i.value) for i in survivor.identities) == [
            ("phone", SMS_PHONE), ("phone", WA_PHONE), ("whatsapp", WA_PHONE.lstrip("+"))]
        assert survivor.display_name == "Ada Lovelace"  # only the WhatsApp customer had a name
        assert survivor.created_at < datetime.now(UTC) - timedelta(days=2)  # the earliest kept
        assert session.get(Conversation, newer_conversation).customer_id == older  # type: ignore[union-attr]
        for model in (Conversation, MetricEvent, ConversationOutcome, VaultEntry):
            column = model.customer_id  # type: ignore[attr-defined]
            assert session.scalar(select(func.count()).select_from(model).where(column == newer)) == 0, model
        assert session.scalar(select(func.count()).select_from(ConversationOutcome)
                              .where(ConversationOutcome.customer_id == older)) == 2
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "customer.merged")).all()
        assert (entry.subject_type, entry.subject_id) == ("customer", str(older))
        assert entry.detail["merged_customer_id"] == newer and entry.detail["reason"] == "verified_phone"
        assert entry.detail["moved"]["identities.customer_id"] == 2
        text = str(entry.detail)
        for secret in (SMS_PHONE, WA_PHONE, "4111", "Ada", "Canada"):
            assert secret not in text

        # A repeat (a retried request, the loser of a race) changes nothing.
        again = merge_customers(session, account_id, newer, older, actor="test", reason="verified_phone")
        session.commit()
        assert (again.survivor_id, again.already) == (older, True)
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "customer.merged")) == 1


def test_after_a_merge_the_handoff_package_and_sidebar_show_both_channels(app: Flask, vendor: VendorClient) -> None:
    account_id, older, newer = two_customers(app, vendor)
    with get_db(app).session() as session:
        merge_customers(session, account_id, older, newer, actor="test", reason="verified_phone")
        session.commit()
    whatsapp(vendor, "I want to talk to a real person")
    with get_db(app).session() as session:
        handed = session.scalars(select(Conversation).where(Conversation.status == "human")).one()
        call = session.scalars(select(OutboxCall).where(
            OutboxCall.idempotency_key == f"handoff:{handed.id}")).one()
        note = str(call.payload["comment"]["body"] if "comment" in call.payload else call.payload)
        ticket = handed.zendesk_ticket_id
        sms_conversation = session.scalar(select(Conversation.id).where(Conversation.id != handed.id))
    # The SMS customer's earlier words (redacted) are in the note the agent reads, marked
    # as another conversation's, beside the WhatsApp messages of this one.
    assert "charged twice for order A1001" in note and "4111 1111" not in note
    assert f"SMS, conversation {sms_conversation}] customer:" in note
    assert "WHATSAPP] customer: I want to talk to a real person" in note
    assert "channels used here: sms, whatsapp" in note

    with get_db(app).session() as session:
        account = accounts.by_slug(session, accounts.DEFAULT_SLUG)
        assert account is not None
        headers = {"Authorization": f"Bearer {accounts.create_api_key(session, account, 'sidebar')}"}
    response = vendor.client.get(f"/api/sidebar/tickets/{ticket}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    view = response.get_json()
    assert view["customer"]["channels"] == ["sms", "whatsapp"]
    assert {entry["conversation_id"] for entry in view["timeline"]} == {handed.id, sms_conversation}
    bodies = [entry["body"] for entry in view["timeline"]]
    assert any("order A1001" in body for body in bodies) and bodies[-1] != ""
    assert sorted(entry["at"] for entry in view["timeline"]) == [entry["at"] for entry in view["timeline"]]


def test_a_duplicate_outreach_recipient_is_dropped_not_moved(app: Flask, vendor: VendorClient) -> None:
    account_id, older, newer = two_customers(app, vendor)
    with get_db(app).session() as session:
        campaign = OutreachCampaign(account_id=account_id, name="Delay", trigger="api", created_by="test", spec={})
        session.add(campaign)
        session.flush()
        segment = OutreachSegment(account_id=account_id, campaign_id=campaign.id, key="all", draft="Hi")
        session.add(segment)
        session.flush()
        for customer, phone in ((older, SMS_PHONE), (newer, WA_PHONE)):
            session.add(OutreachRecipient(account_id=account_id, campaign_id=campaign.id, segment_id=segment.id,
                                          customer_id=customer, phone=phone, status="sent"))
        session.commit()
        merged = merge_customers(session, account_id, older, newer, actor="test", reason="test")
        session.commit()
        assert merged.dropped == {"outreach_recipients": 1}
        [kept] = session.scalars(select(OutreachRecipient)).all()
        assert (kept.customer_id, kept.phone) == (older, SMS_PHONE)


def test_merge_refuses_customers_of_another_account_and_itself(app: Flask, vendor: VendorClient) -> None:
    account_id, older, _ = two_customers(app, vendor)
    with get_db(app).session() as session:
        other = Account(slug="other", name="Other", secrets={})
        session.add(other)
        session.flush()
        stranger = Customer(account_id=other.id, attributes={})
        session.add(stranger)
        session.flush()
        with pytest.raises(MergeRefused, match="not both of account"):
            merge_customers(session, account_id, older, stranger.id, actor="test", reason="test")
        with pytest.raises(MergeRefused, match="into itself"):
            merge_customers(session, account_id, older, older, actor="test", reason="test")
        session.rollback()
        assert session.get(Customer, older) is not None


def test_every_reference_to_a_customer_is_known_to_the_merge() -> None:
    """A new table pointing at customers is moved by the merge without being listed."""
    found = {f"{c.table.name}.{c.name}" for c in customer_references()}
    assert {"identities.customer_id", "conversations.customer_id", "vault_entries.customer_id",
            "metric_events.customer_id", "conversation_outcomes.customer_id", "action_executions.customer_id",
            "customer_verifications.customer_id", "outreach_recipients.customer_id"} <= found


def test_two_merges_of_one_pair_at_once_merge_once(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        with Session(engine) as setup:
            account = Account(slug=f"merge-{uuid.uuid4().hex[:8]}", name="Merge", secrets={})
            setup.add(account)
            setup.flush()
            customers: list[Any] = []
            for n, phone in enumerate((SMS_PHONE, WA_PHONE)):
                customer = Customer(account_id=account.id, attributes={},
                                    created_at=datetime.now(UTC) - timedelta(days=2 - n))
                setup.add(customer)
                setup.flush()
                setup.add(Identity(account_id=account.id, customer_id=customer.id, kind=IdentityKind.PHONE,
                                   value=phone))
                customers.append(customer.id)
            setup.commit()
            account_id = account.id
        older, newer = customers
        first, second = Session(engine), Session(engine)
        assert merge_customers(first, account_id, older, newer, actor="a", reason="race").already is False
        found: dict[str, Any] = {}

        def race() -> None:
            # Waits on the first merge's row locks, then finds the newer customer gone.
            found["result"] = merge_customers(second, account_id, newer, older, actor="b", reason="race")
            second.commit()

        thread = threading.Thread(target=race)
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive(), "the second merge should wait for the first's locks"
        first.commit()
        thread.join(timeout=10)
        assert not thread.is_alive()
        assert found["result"].already is True and found["result"].survivor_id == older
        with Session(engine) as check:
            assert check.scalar(select(func.count()).select_from(Customer)
                                .where(Customer.account_id == account_id)) == 1
            assert check.scalar(select(func.count()).select_from(Identity).where(
                Identity.account_id == account_id, Identity.customer_id == older)) == 2
            assert check.scalar(select(func.count()).select_from(AuditEntry).where(
                AuditEntry.account_id == account_id, AuditEntry.action == "customer.merged")) == 1
        first.close()
        second.close()
    finally:
        engine.dispose()


def test_two_visitors_proving_one_new_number_at_once_become_one_customer(pg_url: str) -> None:
    """Both find nobody owning the number; the second insert waits on the unique identity,
    then finds the first's and merges instead of failing."""
    from switchboard.core.customers.address_verification import join_verified, normalise

    engine = make_engine(pg_url)
    try:
        with Session(engine) as setup:
            account = Account(slug=f"join-{uuid.uuid4().hex[:8]}", name="Join", secrets={})
            setup.add(account)
            setup.flush()
            visitors = [Customer(account_id=account.id, attributes={},
                                 created_at=datetime.now(UTC) - timedelta(minutes=10 - n)) for n in range(2)]
            setup.add_all(visitors)
            setup.commit()
            account_id, (first_id, second_id) = account.id, [v.id for v in visitors]
        phone = normalise("phone", "+14155550199")
        first, second = Session(engine), Session(engine)
        assert join_verified(first, account_id, first_id, phone, actor="visitor:v_a") == first_id
        found: dict[str, int] = {}

        def race() -> None:
            found["id"] = join_verified(second, account_id, second_id, phone, actor="visitor:v_b")
            second.commit()

        thread = threading.Thread(target=race)
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive(), "the second link should wait on the unique identity"
        first.commit()
        thread.join(timeout=10)
        assert not thread.is_alive()
        assert found["id"] == first_id
        with Session(engine) as check:
            assert check.scalar(select(func.count()).select_from(Customer)
                                .where(Customer.account_id == account_id)) == 1
            assert check.scalar(select(Identity.customer_id).where(
                Identity.account_id == account_id, Identity.value == phone.value)) == first_id
        first.close()
        second.close()
    finally:
        engine.dispose()
