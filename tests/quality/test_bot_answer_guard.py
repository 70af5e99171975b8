"""Every bot answer is checked before it leaves: one that breaks a guardrail is not sent,
the customer is handed to a person and the reason is recorded. Through signed Twilio
messages and the sandbox outbox."""
from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from switchboard.core.store.models import AuditEntry, Conversation, OutboxCall
from switchboard.intake.db import get_db

from ..assist.test_sidebar_api import say
from ..conftest import PUBLIC_URL, SAMPLE_KB, SLACK_SECRET, TWILIO_TOKEN, ZENDESK_SECRET
from ..signing import VendorClient
from .helpers import PROMISING_ARTICLE, shop_app

QUESTION = "When is my refund paid?"


def vendor_for(app: Flask) -> VendorClient:
    return VendorClient(app.test_client(), twilio_token=TWILIO_TOKEN, zendesk_secret=ZENDESK_SECRET,
                        slack_secret=SLACK_SECRET, public_url=PUBLIC_URL)


def texts_sent(app: Flask) -> list[str]:
    with get_db(app).session() as session:
        return [c.payload.get("body", "") for c in session.scalars(select(OutboxCall).where(
            OutboxCall.vendor == "twilio").order_by(OutboxCall.id))]


def test_an_answer_promising_beyond_the_policy_is_withheld_and_the_customer_handed_over(
        env: dict[str, str], tmp_path: Path) -> None:
    with shop_app(env, tmp_path, trust_knowledge_base=False) as app:
        say(vendor_for(app), QUESTION)
        [sent] = texts_sent(app)
        assert "guarantee" not in sent.lower() and "paid today" not in sent
        assert "passing you to a member of our team" in sent
        with get_db(app).session() as session:
            conversation = session.scalars(select(Conversation)).one()
            assert (conversation.status, conversation.handoff_reason) == ("human", "guardrail")
            assert conversation.zendesk_ticket_id
            [withheld] = session.scalars(select(AuditEntry).where(
                AuditEntry.action == "quality.answer_withheld")).all()
            rules = {(f["rule"], tuple(f["words"])) for f in withheld.detail["findings"]}
            assert ("guarantee", ("guarantee",)) in rules
            assert any(rule == "date" and "today" in words for rule, words in rules)
            tickets = [c for c in session.scalars(select(OutboxCall).where(OutboxCall.vendor == "zendesk"))]
        # The agent reads why in the ticket Zendesk received.
        assert any("The drafted answer was not sent" in json.dumps(c.payload) for c in tickets)


def test_the_same_answer_is_sent_when_the_policy_trusts_the_help_centers_own_promises(
        env: dict[str, str], tmp_path: Path) -> None:
    with shop_app(env, tmp_path, trust_knowledge_base=True) as app:
        say(vendor_for(app), QUESTION)
        [sent] = texts_sent(app)
        assert "We guarantee every refund is paid today" in sent
        with get_db(app).session() as session:
            conversation = session.scalars(select(Conversation)).one()
            assert (conversation.status, conversation.handoff_reason) == ("open", None)
            assert session.scalars(select(AuditEntry).where(AuditEntry.action == "quality.answer_withheld")).all() == []


def test_eval_reports_a_withheld_answer_as_the_live_bot_hands_it_over(tmp_path: Path) -> None:
    """The proof is the product: `switchboard eval` screens answers with the same
    guardrails, so an admin sees the handoff the customer would get, not the answer."""
    from click.testing import CliRunner

    from switchboard.cli import main

    from ..eval.test_eval_command import cli_env, run
    from .helpers import policy_file

    kb = tmp_path / "kb.json"  # the sample shop and its promising article, as shop_app has them
    sample = json.loads(SAMPLE_KB.read_text())
    kb.write_text(json.dumps({"articles": [*(sample["articles"] if isinstance(sample, dict) else sample),
                                           PROMISING_ARTICLE]}))
    questions = tmp_path / "questions.csv"
    questions.write_text(f"question,expected\n{QUESTION},same-day-refunds\n")
    verdicts = {}
    for trust in (False, True):
        (tmp_path / str(trust)).mkdir()
        env = cli_env(tmp_path / str(trust), SWITCHBOARD_GUARDRAILS_FILE=str(
            policy_file(tmp_path / str(trust), trust_knowledge_base=trust)))
        run(env, "kb", "import", str(kb))
        result = CliRunner().invoke(main, ["eval", str(questions), "--json"], env=env)
        assert result.exit_code == 0, result.output
        [outcome] = json.loads(result.stdout)["questions"]
        verdicts[trust] = (outcome["action"], outcome["reason"])
    assert verdicts == {False: ("handoff", "guardrail"), True: ("answer", None)}
