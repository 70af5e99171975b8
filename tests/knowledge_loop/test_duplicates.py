"""Duplicate and contradicting articles listed for review: `switchboard kb duplicates
[--json]`, the dashboard's knowledge page and the digest. Two articles that answer the
same questions are found by the retrieval encoder; two that give different numbers for
the same thing, on their sentences. The sample help center has neither."""
from __future__ import annotations

import json

from click.testing import CliRunner
from flask import Flask

from switchboard.cli import main
from switchboard.core.knowledge.records import Article
from switchboard.core.knowledge.service import KnowledgeBase
from switchboard.intake.db import get_db

from .conftest import cli

DUPLICATE = Article(id="delivery-how-long", title="How long will my delivery take to arrive?",
                    body="Orders arrive in 2 to 4 working days with standard delivery, or the next working day "
                         "with express delivery.")
CONTRADICTING = Article(id="returns-policy", title="Our returns policy",
                        body="You can return most items within 14 days of delivery, unused and in their original "
                             "packaging. Refunds go back to the card you paid with.")


def add(app: Flask, *articles: Article) -> None:
    with get_db(app).session() as session:
        KnowledgeBase.of(session, app.config["DEFAULT_ACCOUNT_ID"], app.config["SETTINGS"]).import_articles(articles)


def test_the_sample_help_center_has_no_duplicates_and_no_contradictions(app: Flask, loop_env: dict[str, str]) -> None:
    found = cli(app, loop_env, "kb", "duplicates", "--json")
    assert found["articles"] == 21 and found["duplicates"] == [] and found["contradictions"] == []


def test_a_duplicate_and_a_contradicting_article_are_listed_in_the_cli_dashboard_and_digest(
        app: Flask, loop_env: dict[str, str]) -> None:
    from ..selfservice.test_learned_phrasings import operator

    add(app, DUPLICATE, CONTRADICTING)
    found = cli(app, loop_env, "kb", "duplicates", "--json")
    # The reworded delivery article, and the second returns policy (which also contradicts the first).
    assert {(d["article_id"], d["other_id"]) for d in found["duplicates"]} == {
        ("delivery-how-long", "delivery-times"), ("return-item", "returns-policy")}
    [contradiction] = found["contradictions"]
    assert {contradiction["article_id"], contradiction["other_id"]} == {"return-item", "returns-policy"}
    assert contradiction["quantity"] == "day"
    assert {contradiction["values"][0], contradiction["other_values"][0]} == {"14", "30"}
    text = cli(app, loop_env, "kb", "duplicates")
    assert "2 duplicate pair(s), 1 contradicting pair(s) among 23 articles" in text

    page = operator(app).get("/dashboard/knowledge").get_data(as_text=True)
    section = page.split('id="conflicts"', 1)[1].split("</section>", 1)[0]
    assert "How long will my delivery take to arrive?" in section and "How long does delivery take?" in section
    assert "within 14 days of delivery" in section and "within 30 days of delivery" in section

    preview = CliRunner().invoke(main, ["digest", "--days", "1"], env=loop_env)
    assert preview.exit_code == 0, preview.output
    conflicts = json.loads(preview.output)["article_conflicts"]
    assert len(conflicts["duplicates"]) == 2 and len(conflicts["contradictions"]) == 1
