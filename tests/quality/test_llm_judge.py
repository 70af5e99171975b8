"""Criteria the rubric gives to an LLM (`judge: llm`), judged by an OpenAI-compatible
model served on loopback (the HTTP layer faked, nothing of ours patched), when
`switchboard qa score-idle` scores a bot conversation that came through signed Twilio
messages: a verdict resting on a real sentence of the conversation is used, one quoting
what nobody wrote is discarded and the local rule's verdict kept."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select, update

from switchboard.cli import main
from switchboard.core.store.models import AuditEntry, Conversation, ConversationScore, Message
from switchboard.intake.db import get_db

from ..assist.test_sidebar_api import say
from ..fakes.openai_server import FakeOpenAI
from ..signing import VendorClient
from .test_conversation_scores import verdicts

RUBRIC = ("version: 1\nname: with-llm\ncriteria:\n  grounded: {weight: 1}\n"
          "  resolved: {weight: 1, judge: llm}\n"
          "  tone:\n    weight: 1\n    judge: llm\n    description: Warm, plain and specific.\n")


def idle_bot_conversation(shop: Flask, vendor: VendorClient) -> Message:
    say(vendor, "How long does delivery take?")
    with get_db(shop).session() as session:
        session.execute(update(Conversation).values(last_message_at=datetime.now(UTC) - timedelta(days=2)))
        session.commit()
        answer = session.scalars(select(Message).where(Message.author == "bot").order_by(Message.id.desc())).first()
        assert answer is not None
        session.expunge(answer)
        return answer


def test_a_verdict_on_real_sentences_is_used_and_one_on_invented_words_is_discarded(
        shop: Flask, vendor: VendorClient, env: dict[str, str], tmp_path: Path) -> None:
    answer = idle_bot_conversation(shop, vendor)
    # A sentence of the bot's answer as written (the one its last line of text starts with).
    sentence = max(re.findall(r"[^.!?\n]+[.!?]*", answer.body), key=len).strip()
    rubric = tmp_path / "rubric.yaml"
    rubric.write_text(RUBRIC)
    with FakeOpenAI() as fake:
        fake.reply(json.dumps({"verdicts": [
            {"criterion": "tone", "verdict": "missed", "sentences": [{"message_id": answer.id, "quote": sentence}]},
            {"criterion": "resolved", "verdict": "missed",
             "sentences": [{"message_id": answer.id, "quote": "Your parcel is lost and we will not refund it."}]},
        ]}))
        result = CliRunner().invoke(main, ["qa", "score-idle"], env={
            **env, "OPENAI_BASE_URL": fake.base_url, "SWITCHBOARD_QA_RUBRIC_FILE": str(rubric)})
        assert result.exit_code == 0, result.output
        [asked] = fake.requests
    assert "(prompt qa_judge_v1)" in asked["messages"][0]["content"]
    assert "- tone: Warm, plain and specific." in asked["messages"][0]["content"]
    assert "- grounded" not in asked["messages"][0]["content"]  # the local engine's alone
    assert f"[{answer.id}] bot: " in asked["messages"][1]["content"]
    with get_db(shop).session() as session:
        [score] = session.scalars(select(ConversationScore)).all()
        assert verdicts(score) == {"grounded": "met", "resolved": "met", "tone": "missed"}
        tone = next(c for c in score.criteria if c["criterion"] == "tone")
        assert tone["evidence"] == [{"message_id": answer.id, "author": "bot", "quote": sentence, "judge": "llm"}]
        resolved = next(c for c in score.criteria if c["criterion"] == "resolved")
        assert all(e.get("judge") != "llm" for e in resolved["evidence"])  # the local rule's verdict and evidence
        assert score.score == round(100 * 2 / 3, 1)
        [audited] = session.scalars(select(AuditEntry).where(AuditEntry.action == "quality.conversation_scored"))
        assert audited.detail["llm"] == {"prompt": "qa_judge_v1", "model": "gpt-4o-mini", "used": ["tone"],
                                         "discarded": {"resolved": f"a quote that is not a sentence of message "
                                                                   f"{answer.id}"}}


def test_an_answer_that_is_not_json_keeps_every_local_verdict(
        shop: Flask, vendor: VendorClient, env: dict[str, str], tmp_path: Path) -> None:
    idle_bot_conversation(shop, vendor)
    rubric = tmp_path / "rubric.yaml"
    rubric.write_text(RUBRIC)
    with FakeOpenAI() as fake:
        fake.reply("Tone: missed. The bot was curt.")
        result = CliRunner().invoke(main, ["qa", "score-idle"], env={
            **env, "OPENAI_BASE_URL": fake.base_url, "SWITCHBOARD_QA_RUBRIC_FILE": str(rubric)})
        assert result.exit_code == 0, result.output
    with get_db(shop).session() as session:
        [score] = session.scalars(select(ConversationScore)).all()
        assert verdicts(score) == {"grounded": "met", "resolved": "met", "tone": "met"} and score.score == 100.0
        [audited] = session.scalars(select(AuditEntry).where(AuditEntry.action == "quality.conversation_scored"))
        assert audited.detail["llm"]["used"] == []
        assert set(audited.detail["llm"]["discarded"]) == {"resolved", "tone"}
