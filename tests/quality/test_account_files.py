"""Each account's own quality files (rubric, guardrails, dispositions): set for a further
account with `switchboard accounts set-secret` (a bad file refused with its line), used
for that account's conversations (signed Twilio messages), and read again when edited,
with no restart (the same process, the same app)."""
from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select, update

from switchboard.cli import main
from switchboard.core import accounts
from switchboard.core.resources import data_file
from switchboard.core.store.models import Account, Conversation, ConversationScore
from switchboard.intake.db import get_db
from switchboard.tasks import qa_score_idle

from ..assist.test_sidebar_api import _n
from ..conftest import TWILIO_TOKEN
from ..signing import VendorClient
from .test_bot_answer_guard import vendor_for
from .test_wrapup import app_with, correct, solved_ticket

GLOBEX_NUMBER = "+15005550009"
RUBRIC = "version: 1\nname: {name}\nidle_minutes: 5\ncriteria:\n  grounded: {{weight: 1}}\n  resolved: {{weight: 2}}\n"


def run(env: dict[str, str], *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args), env=env)


@pytest.fixture
def globex(app: Flask, env: dict[str, str]) -> str:
    """A further account with its own Twilio number (messages to it are its own)."""
    assert run(env, "accounts", "add", "globex", "--name", "Globex", "--twilio-phone-number",
               GLOBEX_NUMBER).exit_code == 0
    assert run(env, "accounts", "set-secret", "globex", "twilio_auth_token", "--value", TWILIO_TOKEN).exit_code == 0
    return "globex"


def text_globex(vendor: VendorClient, body: str, sender: str = "+14155550177") -> None:
    params = {"MessageSid": f"SM{next(_n):032x}", "AccountSid": "AC" + "1" * 32, "Body": body, "NumMedia": "0",
              "From": sender, "To": GLOBEX_NUMBER}
    assert vendor.twilio("/webhooks/twilio/messages", params).status_code == 200


def score_idle_now(app: Flask) -> dict[str, int]:
    with get_db(app).session() as session:
        session.execute(update(Conversation).values(last_message_at=datetime.now(UTC) - timedelta(days=2)))
        session.commit()
    with app.app_context():
        return qa_score_idle.run()  # type: ignore[no-any-return]


def rewrite(path: Path, text: str) -> None:
    """An edit, with a modification time that surely differs (file systems round it)."""
    stamp = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    os.utime(path, ns=(stamp + 2_000_000_000, stamp + 2_000_000_000))


def test_a_further_accounts_own_rubric_scores_its_conversations_and_an_edit_is_read_without_a_restart(
        app: Flask, vendor: VendorClient, env: dict[str, str], globex: str, tmp_path: Path) -> None:
    rubric = tmp_path / "globex_rubric.yaml"
    rewrite(rubric, RUBRIC.format(name="globex-1"))
    stored = run(env, "accounts", "set-secret", globex, "qa_rubric_file", "--value", str(rubric))
    assert stored.exit_code == 0, stored.output

    text_globex(vendor, "Where is my parcel?")
    assert score_idle_now(app) == {"default": 0, "globex": 1}
    rewrite(rubric, RUBRIC.format(name="globex-2").replace("resolved: {weight: 2}", "tone: {weight: 1}"))
    text_globex(vendor, "Where is my other parcel?", sender="+14155550178")
    assert score_idle_now(app) == {"default": 0, "globex": 1}
    with get_db(app).session() as session:
        scores = session.scalars(select(ConversationScore).order_by(ConversationScore.id)).all()
        assert [(s.rubric, [c["criterion"] for c in s.criteria]) for s in scores] == [
            ("globex-1", ["grounded", "resolved"]), ("globex-2", ["grounded", "tone"])]


def test_the_default_account_keeps_the_shipped_rubric_beside_a_further_accounts_own(
        app: Flask, vendor: VendorClient, env: dict[str, str], globex: str, tmp_path: Path) -> None:
    rubric = tmp_path / "globex_rubric.yaml"
    rewrite(rubric, RUBRIC.format(name="globex-1"))
    assert run(env, "accounts", "set-secret", globex, "qa_rubric_file", "--value", str(rubric)).exit_code == 0
    params = {"MessageSid": f"SM{next(_n):032x}", "AccountSid": "AC" + "1" * 32, "Body": "Where is my parcel?",
              "NumMedia": "0", "From": "+14155550100", "To": "+15005550006"}
    assert vendor.twilio("/webhooks/twilio/messages", params).status_code == 200
    text_globex(vendor, "Where is my parcel?")
    assert score_idle_now(app) == {"default": 1, "globex": 1}
    with get_db(app).session() as session:
        rubrics = {session.get(Account, s.account_id).slug: s.rubric  # type: ignore[union-attr]
                   for s in session.scalars(select(ConversationScore))}
        assert rubrics == {"default": "default-1", "globex": "globex-1"}


def test_a_bad_file_is_refused_by_set_secret_with_its_line_and_what_to_fix_and_nothing_is_stored(
        app: Flask, env: dict[str, str], globex: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad_rubric.yaml"
    bad.write_text("version: 1\nname: typo\ncriteria:\n  grounded: {weight: 1}\n  tone:\n    weight: heavy\n")
    refused = run(env, "accounts", "set-secret", globex, "qa_rubric_file", "--value", str(bad))
    assert refused.exit_code == 2
    assert f"{bad} line 6: criteria.tone.weight: expected a number of 0 or more" in refused.output
    codes = tmp_path / "codes.yaml"
    codes.write_text("version: 1\ncodes:\n  - code: billing\n  - code: billing\n")
    twice = run(env, "accounts", "set-secret", globex, "dispositions_file", "--value", str(codes))
    assert twice.exit_code == 2 and "line 4: codes.1.code: code 'billing' is listed twice; keep one" in twice.output
    policy = tmp_path / "guardrails.yaml"
    policy.write_text(data_file("guardrails.yaml").read_text().replace("  amounts:", "  amonts:"))
    typo = run(env, "accounts", "set-secret", globex, "guardrails_file", "--value", str(policy))
    assert typo.exit_code == 2 and "risky_promises.amonts: unknown key 'amonts'" in typo.output
    assert "line " in typo.output
    missing = run(env, "accounts", "set-secret", globex, "guardrails_file", "--value", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 2 and "cannot be read" in missing.output
    with get_db(app).session() as session:
        account = accounts.by_slug(session, globex)
        assert account is not None and set(account.secrets) == {"twilio_auth_token"}


def test_qa_check_uses_the_accounts_guardrails_and_reads_an_edit_without_a_restart(
        app: Flask, env: dict[str, str], globex: str, tmp_path: Path) -> None:
    reply = "I can refund $500 for the damaged parcel."
    assert run(env, "qa", "check", reply).exit_code == 1  # the shipped policy: at most 100
    policy = tmp_path / "globex_guardrails.yaml"
    shipped = data_file("guardrails.yaml").read_text()
    rewrite(policy, shipped.replace("max_amount: 100", "max_amount: 1000"))
    assert run(env, "accounts", "set-secret", globex, "guardrails_file", "--value", str(policy)).exit_code == 0
    allowed = run(env, "qa", "check", "--account", globex, reply)
    assert (allowed.exit_code, allowed.output.strip()) == (0, "ok: nothing flagged")
    rewrite(policy, shipped.replace("max_amount: 100", "max_amount: 250"))
    flagged = run(env, "qa", "check", "--account", globex, reply)
    assert flagged.exit_code == 1 and "risky_promise.amount" in flagged.output and "250" in flagged.output


def test_an_edited_taxonomy_is_used_at_once_and_a_broken_edit_keeps_the_last_good_one(
        env: dict[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    codes = tmp_path / "dispositions.yaml"
    shipped = data_file("dispositions.yaml").read_text()
    rewrite(codes, shipped)
    with app_with(env, SWITCHBOARD_DISPOSITIONS_FILE=str(codes)) as app:
        vendor = vendor_for(app)
        ticket = solved_ticket(app, vendor)
        assert correct(app, vendor, ticket, {"code": "chargeback"}).status_code == 409
        rewrite(codes, shipped.replace("codes:\n", "codes:\n  - code: chargeback\n    description: Disputes.\n", 1))
        assert correct(app, vendor, ticket, {"code": "chargeback"}).status_code == 200
        with caplog.at_level(logging.ERROR):
            rewrite(codes, shipped.replace("version: 1", "version: 2"))
            assert correct(app, vendor, ticket, {"code": "payments"}).status_code == 200  # still the last good file
        assert f"{codes} changed and is refused" in caplog.text and "line" in caplog.text
