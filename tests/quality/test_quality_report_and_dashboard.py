"""The scores where people read them: `switchboard qa report` (JSON and CSV, through
click's runner), `qa score-idle`, and the dashboard's quality page, after conversations
that went through signed Twilio messages and Zendesk events."""
from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select, update

from switchboard.cli import main
from switchboard.core.store.models import Conversation, ConversationScore
from switchboard.intake.db import get_db
from switchboard.tasks import qa_score_idle

from ..assist.test_sidebar_api import comment, handed_over_ticket, key_for, say
from ..signing import VendorClient
from .test_conversation_scores import RISKY, solve

TODAY = datetime.now(UTC).date().isoformat()


@pytest.fixture
def scored(shop: Flask, vendor: VendorClient) -> Flask:
    """One handed-over conversation solved after a risky agent reply."""
    ticket = handed_over_ticket(shop, vendor)
    assert vendor.zendesk(comment(ticket, RISKY, staff=True, author="111")).status_code == 200
    solve(vendor, ticket)
    return shop


def test_qa_report_json_and_csv_show_the_score_and_the_worst_with_evidence(
        scored: Flask, env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["qa", "report", "--since", TODAY, "--json"], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["conversations"] == 1 and 0 < data["mean_score"] < 100
    assert data["by"]["automation"] == {"handed_over": {"conversations": 1, "mean_score": data["mean_score"]}}
    assert list(data["by"]["agent"]) == ["Ava"]  # the comment's author, as Zendesk named them
    assert data["criteria"]["risky_promises"] == {"judged": 1, "met_rate": 0.0}
    [worst] = data["worst"]
    risky = next(m for m in worst["missed"] if m["criterion"] == "risky_promises")
    assert ["$500", "refund"] in [e["words"] for e in risky["evidence"]]

    as_csv = CliRunner().invoke(main, ["qa", "report", "--since", TODAY, "--csv"], env=env)
    [row] = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert (row["automation"], row["risky_promises"], row["no_repeat"], row["resolved"]) == (
        "handed_over", "missed", "missed", "met")

    later = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    empty = json.loads(CliRunner().invoke(main, ["qa", "report", "--since", later], env=env).output)
    assert (empty["conversations"], empty["worst"]) == (0, [])


def test_the_dashboard_quality_page_shows_scores_and_the_missed_criteria_with_their_words(
        scored: Flask) -> None:
    client = scored.test_client()
    assert client.get("/dashboard/quality").status_code == 302  # signed out: to the sign-in
    assert client.post("/dashboard/login", data={"key": key_for(scored)}).status_code == 302
    page = client.get("/dashboard/quality").get_data(as_text=True)
    assert "1</strong> conversation scored" in page
    assert 'id="criterion-risky_promises"' in page and "0%" in page
    assert "words: $500, refund" in page and "asked again: order number" in page
    assert client.get("/dashboard/quality?from=not-a-day").status_code == 400
    assert 'id="nav-quality"' in client.get("/dashboard").get_data(as_text=True)


def test_an_idle_bot_conversation_is_scored_once_by_score_idle(
        shop: Flask, vendor: VendorClient, env: dict[str, str], tmp_path: Path) -> None:
    say(vendor, "How long does delivery take?")
    rubric = tmp_path / "rubric.yaml"
    rubric.write_text("version: 1\nname: quick\nidle_minutes: 1\ncriteria:\n  grounded: {weight: 1}\n"
                      "  resolved: {weight: 1}\n")
    cli_env = {**env, "SWITCHBOARD_QA_RUBRIC_FILE": str(rubric)}
    first = CliRunner().invoke(main, ["qa", "score-idle"], env=cli_env)
    assert (first.exit_code, first.output.strip()) == (0, "scored 0 idle conversations")  # not idle yet
    with get_db(shop).session() as session:
        session.execute(update(Conversation).values(last_message_at=datetime.now(UTC) - timedelta(minutes=5)))
        session.commit()
    assert CliRunner().invoke(main, ["qa", "score-idle"], env=cli_env).output.strip() == "scored 1 idle conversation"
    assert CliRunner().invoke(main, ["qa", "score-idle"], env=cli_env).output.strip() == "scored 0 idle conversations"
    with get_db(shop).session() as session:
        [score] = session.scalars(select(ConversationScore)).all()
        assert (score.ended_by, score.rubric, score.score) == ("idle", "quick", 100.0)
        assert [c["criterion"] for c in score.criteria] == ["grounded", "resolved"]  # the rubric's criteria only


def test_beats_hourly_task_scores_idle_conversations_of_every_account(shop: Flask, vendor: VendorClient) -> None:
    say(vendor, "How long does delivery take?")
    with get_db(shop).session() as session:
        session.execute(update(Conversation).values(last_message_at=datetime.now(UTC) - timedelta(days=2)))
        session.commit()
    with shop.app_context():
        assert qa_score_idle.run() == {"default": 1}
        assert qa_score_idle.run() == {"default": 0}
    with get_db(shop).session() as session:
        [score] = session.scalars(select(ConversationScore)).all()
        assert (score.ended_by, score.automation) == ("idle", "bot")
        assert {c["criterion"]: c["verdict"] for c in score.criteria}["resolved"] == "met"  # answered, then quiet
