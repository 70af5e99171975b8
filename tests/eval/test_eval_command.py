"""`switchboard eval`: questions through the live decision path, nothing sent or stored."""
from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import func, select

from switchboard.app import create_app
from switchboard.cli import main
from switchboard.core.bot.decisions import Decision
from switchboard.core.conversation.evaluation import HANDOFF, VERDICTS, Question, outcome_of
from switchboard.core.knowledge.records import Hit, Passage
from switchboard.core.settings import load_settings
from switchboard.core.store.models import Base, OutboxCall
from switchboard.intake.db import get_db

from ..conftest import with_sample_kb
from ..fakes.openai_server import FakeOpenAI
from ..selfservice.test_selfservice_over_twilio import MESSAGES, SAMPLE_KB, inbound
from ..signing import VendorClient

QUESTIONS = Path(__file__).parent / "fixtures" / "sample_kb_questions.csv"
PAYMENT = "which payment methods do you accept?"


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'sb.db'}", "SWITCHBOARD_DATA_DIR": str(tmp_path),
            "SWITCHBOARD_SANDBOX": "1", "OPENAI_API_KEY": "", "OPENAI_BASE_URL": "", **extra}


def run(env: dict[str, str], *args: str) -> Result:
    result = CliRunner().invoke(main, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result


def row_counts(env: dict[str, str]) -> dict[str, int]:
    app = create_app(load_settings(env))
    try:
        with get_db(app).session() as session:
            return {table.name: session.scalar(select(func.count()).select_from(table)) or 0
                    for table in Base.metadata.sorted_tables}
    finally:
        get_db(app).dispose()


def kb_without(tmp_path: Path, article_id: str) -> Path:
    data = json.loads(SAMPLE_KB.read_text())
    data["articles"] = [a for a in data["articles"] if a["id"] != article_id]
    path = tmp_path / f"kb-without-{article_id}.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def shop_env(tmp_path: Path) -> dict[str, str]:
    env = cli_env(tmp_path)
    run(env, "kb", "import", str(SAMPLE_KB))
    return env


def test_eval_prints_a_table_and_json_whose_counts_match_the_rows(shop_env: dict[str, str]) -> None:
    before = row_counts(shop_env)
    expected = [row["expected"] for row in csv.DictReader(QUESTIONS.open())]

    table = run(shop_env, "eval", str(QUESTIONS)).stdout.splitlines()
    assert table[0].split()[:3] == ["#", "verdict", "decision"]
    # header, a row per question, the summary, what the help center's own calibration expects
    assert len(table) == 1 + len(expected) + 2
    assert "delivery-times" in table[1] and table[1].split()[1:3] == ["answered", "right"]
    ended_right = sum(1 for line in table[1:-2] if " right " in line[:30] and "without" not in line[:30])
    assert table[-2].startswith(f"{ended_right}/{len(expected)} right")
    assert re.match(r"This help center: \d+% or more of questions answered outright and about \d+% by a menu",
                    table[-1]), table[-1]

    report = json.loads(run(shop_env, "eval", "run", str(QUESTIONS), "--json").stdout)
    rows, counts = report["questions"], report["counts"]
    assert [r["expected"] for r in rows] == expected
    assert counts["questions"] == len(rows) == sum(counts[v] for v in VERDICTS)
    for verdict in VERDICTS:
        assert counts[verdict] == sum(r["verdict"] == verdict for r in rows), verdict
    assert counts["right"] == sum(r["right"] for r in rows)
    assert counts["handed_over"] == sum(r["action"] == "handoff" for r in rows)
    for r in rows:
        if r["action"] == "answer":
            assert r["article"] == r["articles"][0] and 0 < r["score"] <= 1
            assert r["right"] == (r["expected"] in r["articles"])
        if r["action"] == "choices":
            assert r["right"] == (r["expected"] in r["choices"])
        if r["expected"] == HANDOFF:  # a request for a person, fraud, legal: the policy's triggers
            assert (r["action"], r["right"]) == ("handoff", True), r
    by_question = {r["question"]: r for r in rows}
    assert by_question[PAYMENT]["verdict"] == "answered_right"
    assert by_question["I want to talk to a real person"]["reason"] == "explicit_request"

    assert row_counts(shop_env) == before  # nothing stored
    assert before[OutboxCall.__tablename__] == 0  # nothing sent, not even to the sandbox


def test_eval_compare_lists_the_questions_whose_outcome_changes(shop_env: dict[str, str], tmp_path: Path) -> None:
    without = kb_without(tmp_path, "payment-methods")
    report = json.loads(run(shop_env, "eval", str(QUESTIONS), "--compare-kb", str(without), "--compare-kb-alone",
                            "--json").stdout)
    assert report["a"]["configuration"]["kb"] == "account's"
    assert report["b"]["configuration"]["kb"] == str(without)
    [change] = [c for c in report["changed"] if c["question"] == PAYMENT]
    assert change["a"]["article"] == "payment-methods" and change["a"]["right"]
    assert "payment-methods" not in change["b"]["articles"] and not change["b"]["right"]
    changed = {c["question"] for c in report["changed"]}
    for a, b in zip(report["a"]["questions"], report["b"]["questions"], strict=True):
        differs = (a["action"], a["articles"], a["choices"]) != (b["action"], b["articles"], b["choices"])
        assert (a["question"] in changed) == differs
    assert report["b"]["counts"]["answered_right"] == report["a"]["counts"]["answered_right"] - 1

    table = run(shop_env, "eval", str(QUESTIONS), "--kb", str(SAMPLE_KB), "--compare-kb", str(without),
                "--compare-kb-alone").stdout
    assert f"{len(changed)} of 23 questions decided differently (A → B):" in table
    assert PAYMENT in table.split("decided differently")[1]


def test_eval_compare_kb_previews_the_live_articles_plus_the_file(shop_env: dict[str, str], tmp_path: Path) -> None:
    """Without --compare-kb-alone the file adds to (or edits) the live articles: a file
    of one new article leaves every other question as it was."""
    new = tmp_path / "gift-cards.json"
    new.write_text(json.dumps({"articles": [{
        "id": "gift-cards", "title": "Do you sell gift cards?",
        "body": "Yes: digital gift cards from $10 to $200 are sold on our website and never expire."}]}))
    questions = tmp_path / "questions.csv"
    questions.write_text(f"question,expected\nDo you sell gift cards?,gift-cards\n{PAYMENT},payment-methods\n")
    report = json.loads(run(shop_env, "eval", str(questions), "--compare-kb", str(new), "--json").stdout)
    assert report["b"]["configuration"]["kb"] == f"account's + {new}"
    a, b = report["a"]["questions"], report["b"]["questions"]
    assert a[0]["verdict"] != "answered_right" and b[0]["verdict"] == "answered_right"
    assert a[1]["verdict"] == b[1]["verdict"] == "answered_right"  # the live article is still there
    alone = json.loads(run(shop_env, "eval", str(questions), "--compare-kb", str(new), "--compare-kb-alone",
                           "--json").stdout)
    assert alone["b"]["questions"][1]["verdict"] != "answered_right"  # a KB of the file alone lacks it


def test_eval_compare_with_nothing_to_compare_says_what_to_give(shop_env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["eval", str(QUESTIONS), "--compare"], env=shop_env)
    assert result.exit_code != 0 and "--compare-kb" in result.output


def test_eval_names_the_bad_line_of_a_question_file(shop_env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "questions.jsonl"
    bad.write_text('{"question": "how long does delivery take?", "expected": "delivery-times"}\n'
                   '{"question": "where is my order?"}\n')
    result = CliRunner().invoke(main, ["eval", str(bad)], env=shop_env)
    assert result.exit_code != 0 and "line 2" in result.output and "expected" in result.output


def test_eval_reads_a_semicolon_csv_and_articles_named_by_url_or_title(shop_env: dict[str, str],
                                                                       tmp_path: Path) -> None:
    """A question file saved by a European Excel (semicolons) was refused for want of a
    'question' column, and one labelled with the articles' URLs or titles was judged all
    wrong. A label that names no article is told, on its line, and still judged."""
    questions = tmp_path / "questions.csv"
    questions.write_text("Question;Expected\n"
                         f"{PAYMENT};https://help.acme.example/articles/payment-methods/\n"
                         "do you ship internationally?;do YOU ship internationally?\n"
                         "how long does delivery take?;delivery-times\n"
                         f"{PAYMENT};payments-page\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", str(questions), "--json"], env=shop_env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [o["expected"] for o in report["questions"]] == ["payment-methods", "international-shipping",
                                                            "delivery-times", "payments-page"]
    assert [o["verdict"] for o in report["questions"]] == ["answered_right"] * 3 + ["answered_wrong"]
    assert report["naming_no_article"] == [{"where": "line 5", "expected": "payments-page"}]
    assert "line 5: expected 'payments-page' names no single article" in result.stderr


def test_eval_reports_an_unclosed_quote_in_a_question_file_on_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "questions.csv"
    bad.write_text('question,expected\nhow long does delivery take?,delivery-times\n'
                   '"where is my order,handoff\nhi,handoff\n')
    result = CliRunner().invoke(main, ["eval", str(bad)], env=cli_env(tmp_path))
    assert result.exit_code == 1
    assert f"{bad}, line 3: a quote opens a field here and is never closed" in result.output


def test_eval_with_the_llm_engine_unconfigured_says_what_to_set(shop_env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["eval", str(QUESTIONS), "--engine", "llm"], env=shop_env)
    assert result.exit_code != 0 and "OPENAI_API_KEY" in result.output


def test_eval_of_an_empty_knowledge_base_says_how_to_fill_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["eval", str(QUESTIONS)], env=cli_env(tmp_path))
    assert result.exit_code != 0 and "switchboard kb import" in result.output and "--kb" in result.output
    assert json.loads(run(cli_env(tmp_path), "eval", str(QUESTIONS), "--kb", str(SAMPLE_KB), "--json").stdout)[
        "counts"]["answered_right"] > 0


def test_eval_with_the_llm_engine_drafts_through_the_model_and_records_nothing(shop_env: dict[str, str],
                                                                              tmp_path: Path) -> None:
    questions = tmp_path / "questions.csv"
    questions.write_text("question,expected\n"
                         "when will I get my refund after my return reaches your warehouse?,refund-timing\n")
    with FakeOpenAI() as fake:
        fake.reply("We refund you within 3 working days of your return reaching our warehouse [1].")
        env = {**shop_env, "OPENAI_BASE_URL": fake.base_url}
        before = row_counts(env)
        report = json.loads(run(env, "eval", str(questions), "--engine", "llm", "--model", "eval-model",
                                "--json").stdout)
        [request] = fake.requests
    assert request["model"] == "eval-model"
    assert report["configuration"]["engine"] == "llm" and report["configuration"]["model"] == "eval-model"
    [row] = report["questions"]
    assert (row["action"], row["articles"], row["verdict"]) == ("answer", ["refund-timing"], "answered_right")
    assert row_counts(env) == before  # no outbox row for the model call either


def test_offered_choices_are_read_from_the_decision_whatever_holds_them() -> None:
    def hit(article: str) -> Hit:
        return Hit(Passage(f"{article}#1", article, article.title(), "text"), 0.5)

    class WithChoices:  # the Decision of a build that offers choices
        action, reason, draft = "choices", None, None
        hits = (hit("return-item"), hit("refund-timing"))
        choices = hits

    offered = outcome_of(Question("returns?", "refund-timing"), WithChoices())  # type: ignore[arg-type]
    assert (offered.choices, offered.verdict, offered.score) == (("return-item", "refund-timing"),
                                                                 "choices_with_right", 0.5)
    missed = outcome_of(Question("returns?", "warranty"), WithChoices())  # type: ignore[arg-type]
    assert missed.verdict == "choices_without_right"
    plain = outcome_of(Question("hello", HANDOFF), Decision("clarify", "…", reason="too_vague"))
    assert (plain.choices, plain.verdict, plain.score) == ((), "clarified", None)


# --- replay: first messages that came in through the app ------------------------------------

def test_replay_shows_what_would_now_be_decided_differently(app: Flask, vendor: VendorClient,
                                                            env: dict[str, str], tmp_path: Path) -> None:
    with_sample_kb(app)
    for n, text in enumerate([PAYMENT, "how long does delivery take?", "AGENT"]):
        assert vendor.twilio(MESSAGES, inbound(text, sender=f"+1415555010{n}")).status_code == 200
    vendor.twilio(MESSAGES, inbound("and how much does delivery cost?", sender="+14155550101"))  # not a first
    env = {**env, "OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}
    before = row_counts(env)
    today = datetime.now(UTC).strftime("%Y-%m-%d")

    same = json.loads(run(env, "eval", "replay", "--since", today, "--json").stdout)
    assert (same["replayed"], same["changed"], same["skipped"]) == (3, 0, 0)
    assert [m["text"] for m in same["messages"]] == [PAYMENT, "how long does delivery take?", "AGENT"]
    assert [m["was"] for m in same["messages"]] == [
        {"action": "answer", "articles": ["payment-methods"], "language": "en"},
        {"action": "answer", "articles": ["delivery-times"], "language": "en"},
        {"action": "handoff", "articles": [], "language": "en"}]

    without = kb_without(tmp_path, "payment-methods")
    now = json.loads(run(env, "eval", "replay", "--since", today, "--kb", str(without), "--json").stdout)
    assert now["changed"] == 1
    [changed] = [m for m in now["messages"] if m["changed"]]
    assert changed["text"] == PAYMENT and "payment-methods" not in changed["now"]["articles"]
    table = run(env, "eval", "replay", "--since", today, "--kb", str(without)).stdout
    assert PAYMENT in table and "answer payment-methods →" in table
    assert table.splitlines()[-1].startswith("1 of 3 first messages would now be decided differently")

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    assert json.loads(run(env, "eval", "replay", "--since", tomorrow, "--json").stdout)["replayed"] == 0
    assert row_counts(env) == before
