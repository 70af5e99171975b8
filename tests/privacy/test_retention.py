"""Retention: originals and transcripts older than the account's retention period are
purged by beat's task (and `switchboard customers purge`); the audit keeps that it
happened; recent data and accounts without a period are untouched."""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select, update

from switchboard.app import create_app
from switchboard.cli import main
from switchboard.core.settings import load_settings
from switchboard.core.store.models import AuditEntry, InboxEvent, Message, OutboxCall, VaultEntry
from switchboard.intake.db import get_db
from switchboard.tasks import retention_purge

from .helpers import say
from .test_vault_and_keys import vendor_for

LONG_AGO = datetime.now(UTC) - timedelta(days=40)


@pytest.fixture
def env30(env: dict[str, str]) -> dict[str, str]:
    return {**env, "SWITCHBOARD_RETENTION_DAYS": "30"}


@pytest.fixture
def kept_30_days(env30: dict[str, str]) -> Iterator[Flask]:
    app = create_app(load_settings(env30), config={"TASKS_INLINE": True, "TESTING": True})
    yield app
    get_db(app).dispose()


def an_old_and_a_new_message(app: Flask) -> None:
    vendor = vendor_for(app)
    say(vendor, "my number is +44 20 7946 0958, old news")
    with get_db(app).session() as session:
        session.execute(update(Message).values(created_at=LONG_AGO))
        session.execute(update(VaultEntry).values(created_at=LONG_AGO))
        session.execute(update(InboxEvent).values(received_at=LONG_AGO))
        session.execute(update(OutboxCall).values(created_at=LONG_AGO))
        session.commit()
    say(vendor, "and my email is dana@example.com")


def test_beats_task_purges_what_is_older_than_the_period_and_audits_it(kept_30_days: Flask) -> None:
    an_old_and_a_new_message(kept_30_days)
    with kept_30_days.app_context():
        purged = retention_purge.run()
    assert purged["default"]["vault_entries"] == 1 and purged["default"]["messages"] >= 1
    with get_db(kept_30_days).session() as session:
        bodies = session.scalars(select(Message.body).where(Message.author == "customer").order_by(Message.id)).all()
        assert bodies == ["[purged]", "and my email is [EMAIL_1]"]
        assert [e.token for e in session.scalars(select(VaultEntry))] == ["[EMAIL_1]"]
        old_events = session.scalars(select(InboxEvent).where(InboxEvent.received_at < LONG_AGO + timedelta(days=1)))
        assert all(e.payload == {"purged": True} for e in old_events)
        everything = json.dumps([e.payload for e in session.scalars(select(InboxEvent))]
                                + [c.payload for c in session.scalars(select(OutboxCall))])
        assert "7946 0958" not in everything and "2079460958" not in everything  # not a bare "7946": ids are random hex
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "privacy.retention_purged")).all()
        assert entry.detail["days"] == 30 and entry.detail["rows"]["vault_entries"] == 1
    with kept_30_days.app_context():
        assert retention_purge.run() == {}  # nothing new to purge, nothing new audited
    with get_db(kept_30_days).session() as session:
        assert len(session.scalars(select(AuditEntry).where(
            AuditEntry.action == "privacy.retention_purged")).all()) == 1


def test_without_a_retention_period_nothing_is_purged(app: Flask, env: dict[str, str]) -> None:
    an_old_and_a_new_message(app)
    done = CliRunner().invoke(main, ["customers", "purge"], env=env)
    assert done.exit_code == 0, done.output
    assert done.output == ("default: nothing to purge: no retention period, everything is kept "
                           "(set SWITCHBOARD_RETENTION_DAYS)\n")
    as_json = CliRunner().invoke(main, ["customers", "purge", "--json"], env=env)
    assert json.loads(as_json.output) == {}
    with get_db(app).session() as session:
        assert len(session.scalars(select(VaultEntry)).all()) == 2
        assert "[purged]" not in session.scalars(select(Message.body)).all()


def test_the_command_purges_now_with_the_accounts_period(kept_30_days: Flask, env30: dict[str, str]) -> None:
    an_old_and_a_new_message(kept_30_days)
    done = CliRunner().invoke(main, ["customers", "purge"], env=env30)
    assert done.exit_code == 0, done.output
    assert done.output.startswith("default: purged what was older than 30 days: vaulted originals 1, "), done.output
    assert "message texts" in done.output
    again = CliRunner().invoke(main, ["customers", "purge", "--json"], env=env30)
    assert json.loads(again.output) == {}
    words = CliRunner().invoke(main, ["customers", "purge"], env=env30)
    assert words.output == "default: nothing to purge: nothing older than 30 days\n"


def test_a_further_account_keeps_its_own_period(env30: dict[str, str]) -> None:
    from switchboard.core.customer_data.subject_requests import retention_days
    from switchboard.core.store.models import Account

    settings = load_settings(env30)
    assert retention_days(Account(slug="default", secrets={}), settings) == 30
    assert retention_days(Account(slug="globex", secrets={"retention_days": "7"}), settings) == 7
    assert retention_days(Account(slug="globex", secrets={"retention_days": "off"}), settings) is None
    assert retention_days(Account(slug="globex", secrets={}), settings) == 30
    with pytest.raises(ValueError, match="retention_days setting of account 'globex'"):
        retention_days(Account(slug="globex", secrets={"retention_days": "a month"}), settings)
