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


#: A phone company's article: routine, but a sentence of advice about a financial topic.
LOAN_ARTICLE = {"id": "phone-finance", "title": "Can I spread the cost of a new phone?",
                "body": "You can pay for a new phone over 24 months with an interest-free loan from our finance "
                        "partner. Apply in the app under Devices.",
                "url": "https://help.acme.example/articles/phone-finance", "locale": "en", "tags": ["phones"]}


def test_an_answer_that_only_lacks_a_disclaimer_is_sent_with_it_not_handed_over(
        env: dict[str, str], tmp_path: Path) -> None:
    """The policy asks a reply about a regulated topic to carry its disclaimer: the bot
    adds it (above the citation) rather than making a person send the same answer."""
    from .helpers import articles_of

    with shop_app(env, tmp_path) as app:
        with get_db(app).session() as session:
            from switchboard.core.knowledge.service import KnowledgeBase
            from switchboard.core.settings import load_settings

            KnowledgeBase(session, app.config["DEFAULT_ACCOUNT_ID"], load_settings(env).data_dir).import_articles(
                articles_of([LOAN_ARTICLE], tmp_path))
        say(vendor_for(app), "Can I spread the cost of a new phone?")
        [sent] = texts_sent(app)
        body = sent.split("\n\n", 1)[-1]  # after the assistant's disclosure
        lines = body.split("\n")
        assert lines[0].startswith("You can pay for a new phone over 24 months"), sent
        assert lines[-2].startswith("This is general information, not financial advice"), sent
        assert lines[-1].startswith("More:") and "phone-finance" in lines[-1]
        with get_db(app).session() as session:
            conversation = session.scalars(select(Conversation)).one()
            assert (conversation.status, conversation.handoff_reason) == ("open", None)
            assert session.scalars(select(AuditEntry).where(AuditEntry.action == "quality.answer_withheld")).all() == []
            [answered] = session.scalars(select(AuditEntry).where(AuditEntry.action == "selfservice.answer")).all()
            assert answered.detail["disclaimers_added"] == "financial"


def test_a_phone_contract_is_not_a_legal_topic() -> None:
    """'contract' alone is everyday help-center talk; breaching one still needs the line."""
    from switchboard.core.quality.guardrails import check

    assert check("You can upgrade after 12 months of your contract.") == []
    [finding] = check("You should sue them for breach of contract.")
    assert (finding.guardrail, finding.rule) == ("disclaimer", "legal")
