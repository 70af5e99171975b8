"""`switchboard kb …`, `switchboard intents …`, `switchboard chat` and the playground."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import responses
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select

from switchboard.app import create_app
from switchboard.cli import main
from switchboard.core.knowledge.service import KnowledgeBase
from switchboard.core.settings import load_settings
from switchboard.core.store.models import KbArticle
from switchboard.intake.db import get_db

SAMPLE_KB = Path(__file__).parents[2] / "switchboard" / "data" / "sample_kb.json"
HC_URL = "https://acme.zendesk.com/api/v2/help_center/incremental/articles.json"
HC_LIST_URL = "https://acme.zendesk.com/api/v2/help_center/articles.json"


def help_center_lists(*pages: list[int]) -> None:
    """Zendesk's List Articles, cursor-paginated: one page per list of ids."""
    for number, ids in enumerate(pages):
        cursor = {} if number == 0 else {"page[after]": f"cursor{number}"}
        has_more = number < len(pages) - 1
        responses.get(HC_LIST_URL, match=[responses.matchers.query_param_matcher({"page[size]": "100", **cursor})],
                      json={"articles": [{"id": i} for i in ids],
                            "meta": {"has_more": has_more, "after_cursor": f"cursor{number + 1}" if has_more else None},
                            "links": {"next": f"{HC_LIST_URL}?page[size]=100&page[after]=cursor{number + 1}"
                                      if has_more else None}})


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'sb.db'}", "SWITCHBOARD_DATA_DIR": str(tmp_path),
            "SWITCHBOARD_SANDBOX": "1", **extra}


def sample_articles() -> list[dict[str, object]]:
    return json.loads(SAMPLE_KB.read_text())["articles"]


def articles_in_db(tmp_path: Path) -> int:
    app = create_app(load_settings(cli_env(tmp_path)))
    with get_db(app).session() as session:
        count = session.scalar(select(func.count()).select_from(KbArticle)) or 0
    get_db(app).dispose()
    return count


def test_kb_import_then_reimport_updates_without_duplicating(tmp_path: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(main, ["kb", "import", str(SAMPLE_KB)], env=cli_env(tmp_path))
    assert first.exit_code == 0, first.output
    total = len(sample_articles())
    assert f"{total} added, 0 updated, 0 unchanged" in first.output
    changed = sample_articles()
    changed[0]["body"] += " Orders placed on public holidays ship the next working day."
    edited = tmp_path / "kb.json"
    edited.write_text(json.dumps(changed))
    second = runner.invoke(main, ["kb", "import", str(edited)], env=cli_env(tmp_path))
    assert second.exit_code == 0, second.output
    assert f"0 added, 1 updated, {total - 1} unchanged" in second.output
    assert articles_in_db(tmp_path) == total
    found = runner.invoke(main, ["kb", "search", "do you deliver on public holidays"], env=cli_env(tmp_path))
    assert found.output.splitlines()[0].count("delivery-times") == 1


def test_kb_import_says_what_the_articles_languages_mean_for_customers(tmp_path: Path) -> None:
    """A Romanian article: Romanian customers are recognised (detection learns it from the
    articles) but get English texts until the company writes its own; a locale no
    detector knows is named so the admin can fix it. English and Spanish need no word."""
    articles = [{"id": "ro-1", "title": "Cum returnez un produs?", "locale": "ro",
                 "body": "Poți returna orice produs în 30 de zile de la primire."},
                {"id": "xx-1", "title": "Shipping times for orders", "locale": "xx",
                 "body": "Orders ship within two working days."},
                {"id": "es-1", "title": "¿Cuánto cuesta el envío?", "locale": "es",
                 "body": "El envío estándar cuesta 4,95 €."}]
    path = tmp_path / "kb.json"
    path.write_text(json.dumps(articles))
    result = CliRunner().invoke(main, ["kb", "import", str(path)], env=cli_env(tmp_path))
    assert result.exit_code == 0, result.output
    assert "Articles in ro: customers who write in it are recognised" in result.output
    assert "`switchboard texts set welcome \"…\" --language ro`" in result.output
    assert "Articles in xx: not a language Switchboard can recognise" in result.output
    assert "Articles in es" not in result.output and "Articles in en" not in result.output


def test_kb_import_names_the_bad_record(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "title": "A", "body": "fine"}\n{"id": "b", "title": "B"}\n')
    result = CliRunner().invoke(main, ["kb", "import", str(bad)], env=cli_env(tmp_path))
    assert result.exit_code != 0
    assert "bad.jsonl" in result.output and "line 2" in result.output and "body" in result.output


def test_kb_import_of_an_faq_spreadsheet_updates_the_same_articles_when_it_is_sorted(tmp_path: Path) -> None:
    """A small shop's FAQ is a spreadsheet: imported as it is saved, searched, then
    sorted and one answer edited: the same articles are updated, none added twice."""
    sheet = tmp_path / "faq.csv"
    rows = [("How long do refunds take?", "Refunds reach your card within 5 working days."),
            ("Do you ship abroad?", "We ship to 40 countries; duties are paid by the recipient."),
            ("Can I change my delivery address?", "Yes, until the order is dispatched, from your account page.")]
    sheet.write_text("Question,Answer\n" + "".join(f'"{q}","{a}"\n' for q, a in rows), encoding="utf-8")
    runner = CliRunner()
    first = runner.invoke(main, ["kb", "import", str(sheet)], env=cli_env(tmp_path))
    assert first.exit_code == 0, first.output
    assert "3 added, 0 updated, 0 unchanged" in first.output
    found = runner.invoke(main, ["kb", "search", "when will I get my money back", "-k", "1"], env=cli_env(tmp_path))
    assert found.exit_code == 0 and "How long do refunds take?" in found.output
    edited = [rows[2], rows[0], (rows[1][0], "We ship to 45 countries; duties are paid by the recipient.")]
    sheet.write_text("Question,Answer\n" + "".join(f'"{q}","{a}"\n' for q, a in edited), encoding="utf-8")
    second = runner.invoke(main, ["kb", "import", str(sheet)], env=cli_env(tmp_path))
    assert "0 added, 1 updated, 2 unchanged" in second.output and articles_in_db(tmp_path) == 3


def test_the_index_survives_a_restart(tmp_path: Path) -> None:
    assert CliRunner().invoke(main, ["kb", "import", str(SAMPLE_KB)], env=cli_env(tmp_path)).exit_code == 0
    app = create_app(load_settings(cli_env(tmp_path)))  # a new process would see only the files
    with get_db(app).session() as session:
        knowledge = KnowledgeBase(session, app.config["DEFAULT_ACCOUNT_ID"], tmp_path)
        assert knowledge.has_index()
        hits = knowledge.search("my parcel shows delivered but nothing arrived")
    get_db(app).dispose()
    assert hits[0].passage.article_id == "missing-parcel"


def _hc_article(article_id: int, title: str, body: str, *, draft: bool = False,
                segment: int | None = None) -> dict[str, object]:
    return {"id": article_id, "title": title, "body": f"<p>{body}</p>", "locale": "en-us", "draft": draft,
            "html_url": f"https://acme.zendesk.com/hc/en-us/articles/{article_id}", "label_names": ["billing"],
            "user_segment_id": segment}


AGENTS_ONLY = 360000123  # a Help Center's "Agents and managers" user segment


def test_kb_import_of_a_help_center_export_leaves_out_drafts_and_restricted_articles(tmp_path: Path) -> None:
    """An export made with an agent's token holds drafts and internal articles: the bot
    must never text a customer those, and the admin is told which were left out."""
    export = tmp_path / "help_center.json"
    public = [_hc_article(1, "Refund times", "Refunds take 5 working days."),
              _hc_article(2, "Gift cards", "Gift cards never expire.")]
    export.write_text(json.dumps({"articles": [
        *public,
        _hc_article(3, "Refund override for agents", "Use override code OVR-7731 to refund beyond 90 days.",
                    segment=AGENTS_ONLY),
        _hc_article(4, "Spring sale (not yet live)", "Everything is 40% off until April.", draft=True)]}))
    first = CliRunner().invoke(main, ["kb", "import", str(export)], env=cli_env(tmp_path))
    assert first.exit_code == 0, first.output
    assert "Left out 2 articles customers cannot see" in first.output
    assert "not signed in to your Help Center" in first.output
    assert "3  Refund override for agents  (restricted to a user segment)" in first.output
    assert "4  Spring sale (not yet live)  (a draft)" in first.output
    assert "2 added" in first.output and articles_in_db(tmp_path) == 2

    # Later the gift card article is restricted too: the next import takes it out.
    export.write_text(json.dumps({"articles": [public[0], {**public[1], "user_segment_id": AGENTS_ONLY}]}))
    second = CliRunner().invoke(main, ["kb", "import", str(export)], env=cli_env(tmp_path))
    assert second.exit_code == 0, second.output
    assert "1 removed (customers cannot see them)" in second.output and articles_in_db(tmp_path) == 1
    app = create_app(load_settings(cli_env(tmp_path)))
    with get_db(app).session() as session:
        hits = KnowledgeBase(session, app.config["DEFAULT_ACCOUNT_ID"], tmp_path).search("do gift cards expire")
    get_db(app).dispose()
    assert {hit.passage.article_id for hit in hits} == {"1"}

    # And when nothing customers can see is left, no index answers from what was taken out.
    export.write_text(json.dumps({"articles": [{**public[0], "draft": True}]}))
    third = CliRunner().invoke(main, ["kb", "import", str(export)], env=cli_env(tmp_path))
    assert third.exit_code == 0, third.output
    assert "the bot hands every question to a person" in third.output and articles_in_db(tmp_path) == 0
    app = create_app(load_settings(cli_env(tmp_path)))
    with get_db(app).session() as session:
        assert not KnowledgeBase(session, app.config["DEFAULT_ACCOUNT_ID"], tmp_path).has_index()
    get_db(app).dispose()


@responses.activate
def test_kb_sync_pulls_help_center_articles_incrementally(tmp_path: Path) -> None:
    env = cli_env(tmp_path, ZENDESK_SUBDOMAIN="acme", ZENDESK_EMAIL="admin@acme.test", ZENDESK_API_TOKEN="tok")
    responses.get(HC_URL, match=[responses.matchers.query_param_matcher({"start_time": "0"})], json={
        "articles": [_hc_article(1, "Refund times", "Refunds take 5 working days."),
                     _hc_article(2, "Gift cards", "Gift cards never expire.")],
        "next_page": f"{HC_URL}?start_time=1700000000", "end_time": 1700000000, "count": 2})
    responses.get(HC_URL, match=[responses.matchers.query_param_matcher({"start_time": "1700000000"})], json={
        "articles": [], "next_page": None, "end_time": 1700000000, "end_of_stream": True, "count": 0})
    help_center_lists([1, 2])
    first = CliRunner().invoke(main, ["kb", "sync"], env=env)
    assert first.exit_code == 0, first.output
    assert "2 added" in first.output
    assert responses.calls[0].request.headers["Authorization"].startswith("Basic ")

    responses.reset()
    responses.get(HC_URL, match=[responses.matchers.query_param_matcher({"start_time": "1700000000"})], json={
        "articles": [_hc_article(2, "Gift cards", "Gift cards expire after 5 years."),
                     _hc_article(1, "Refund times", "Refunds take 5 working days.", draft=True),
                     _hc_article(3, "Refund override for agents", "Use override code OVR-7731.",
                                 segment=AGENTS_ONLY)],
        "next_page": None, "end_time": 1700000500, "end_of_stream": True, "count": 3})
    help_center_lists([1, 2, 3])
    second = CliRunner().invoke(main, ["kb", "sync"], env=env)
    assert second.exit_code == 0, second.output
    assert len(responses.calls) == 2  # only what changed since the last sync was asked for, and the ids listed
    assert "0 added, 1 updated, 0 unchanged, 1 removed (archived, unpublished, or restricted" in second.output
    # the unpublished (draft) article left the knowledge base; the internal one never entered it
    assert articles_in_db(tmp_path) == 1

    # --full asks the export from its start again: an article unchanged since is read anew.
    responses.reset()
    responses.get(HC_URL, match=[responses.matchers.query_param_matcher({"start_time": "0"})], json={
        "articles": [_hc_article(2, "Gift cards", "Gift cards expire after 5 years.")],
        "next_page": None, "end_time": 1700000600, "end_of_stream": True, "count": 1})
    help_center_lists([2])
    full = CliRunner().invoke(main, ["kb", "sync", "--full"], env=env)
    assert full.exit_code == 0, full.output
    assert "0 added, 0 updated, 1 unchanged" in full.output and articles_in_db(tmp_path) == 1


@responses.activate
def test_kb_sync_takes_out_an_article_archived_in_the_help_center(tmp_path: Path) -> None:
    """Zendesk's incremental export never returns an archived article, so without the
    listing an archived refund policy would be answered from for ever."""
    env = cli_env(tmp_path, ZENDESK_SUBDOMAIN="acme", ZENDESK_EMAIL="admin@acme.test", ZENDESK_API_TOKEN="tok")
    articles = [_hc_article(1, "Refund times", "Refunds take 5 working days."),
                _hc_article(2, "Old refund policy", "Refunds take 60 days and cost a 10% fee."),
                _hc_article(3, "Gift cards", "Gift cards never expire.")]
    responses.get(HC_URL, match=[responses.matchers.query_param_matcher({"start_time": "0"})], json={
        "articles": articles, "next_page": None, "end_time": 1700000000, "end_of_stream": True, "count": 3})
    help_center_lists([1, 2], [3])
    file_article = tmp_path / "own.json"  # imported from a file: no sync may take it out
    file_article.write_text(json.dumps([{"id": "own", "title": "Store hours", "body": "Open 9 to 5."}]))
    assert CliRunner().invoke(main, ["kb", "import", str(file_article)], env=env).exit_code == 0
    first = CliRunner().invoke(main, ["kb", "sync"], env=env)
    assert first.exit_code == 0 and "3 added" in first.output and "0 removed" in first.output, first.output

    responses.reset()  # article 2 archived since: the export has nothing new, the listing lacks it
    responses.get(HC_URL, match=[responses.matchers.query_param_matcher({"start_time": "1700000000"})], json={
        "articles": [], "next_page": None, "end_time": 1700000000, "end_of_stream": True, "count": 0})
    help_center_lists([1], [3])
    second = CliRunner().invoke(main, ["kb", "sync"], env=env)
    assert second.exit_code == 0 and "1 removed (archived" in second.output, second.output
    assert articles_in_db(tmp_path) == 3
    app = create_app(load_settings(env))
    with get_db(app).session() as session:
        hits = KnowledgeBase(session, app.config["DEFAULT_ACCOUNT_ID"], tmp_path).search("how long do refunds take")
    get_db(app).dispose()
    assert "2" not in {hit.passage.article_id for hit in hits}


@responses.activate
def test_kb_sync_stores_nothing_when_the_help_center_cannot_be_listed(tmp_path: Path) -> None:
    env = cli_env(tmp_path, ZENDESK_SUBDOMAIN="acme", ZENDESK_EMAIL="admin@acme.test", ZENDESK_API_TOKEN="tok")
    responses.get(HC_URL, match=[responses.matchers.query_param_matcher({"start_time": "0"})], json={
        "articles": [_hc_article(1, "Refund times", "Refunds take 5 working days.")], "next_page": None,
        "end_time": 1700000000, "end_of_stream": True, "count": 1})
    responses.get(HC_LIST_URL, status=503, json={"error": "ServiceUnavailable"})
    failed = CliRunner().invoke(main, ["kb", "sync"], env=env)
    assert failed.exit_code == 1 and "Zendesk" in failed.output, failed.output
    assert articles_in_db(tmp_path) == 0


@responses.activate
def test_kb_sync_under_zendesks_rate_limit_says_when_to_retry_and_keeps_its_place(tmp_path: Path) -> None:
    env = cli_env(tmp_path, ZENDESK_SUBDOMAIN="acme", ZENDESK_EMAIL="admin@acme.test", ZENDESK_API_TOKEN="tok")
    responses.get(HC_URL, status=429, headers={"Retry-After": "42"}, json={"error": "APIRateLimitExceeded"})
    limited = CliRunner().invoke(main, ["kb", "sync"], env=env)
    assert limited.exit_code == 1 and "again in 42 s" in limited.output, limited.output
    assert articles_in_db(tmp_path) == 0

    responses.reset()  # the next run starts from the beginning again: nothing was skipped
    responses.get(HC_URL, match=[responses.matchers.query_param_matcher({"start_time": "0"})], json={
        "articles": [_hc_article(1, "Refund times", "Refunds take 5 working days.")],
        "next_page": None, "end_time": 1700000000, "end_of_stream": True, "count": 1})
    help_center_lists([1])
    again = CliRunner().invoke(main, ["kb", "sync"], env=env)
    assert again.exit_code == 0 and "1 added" in again.output, again.output


def test_kb_sync_without_credentials_says_what_to_set(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["kb", "sync"], env=cli_env(tmp_path))
    assert result.exit_code != 0 and "ZENDESK_API_TOKEN" in result.output


def test_intents_fit_then_predict_as_json_lines(tmp_path: Path) -> None:
    rows = ["text,category"]
    for i in range(12):
        rows += [f"where is my parcel number {i}", f"my package {i} has not arrived yet"]
        rows[-2:] = [f"{rows[-2]},order_status", f"{rows[-1]},order_status"]
        rows += [f"I want my money back for order {i},refund", f"please refund purchase {i},refund"]
        rows += [f"what is the weather like on day {i},oos", f"tell me a joke number {i},oos"]
    training = tmp_path / "intents.csv"
    training.write_text("\n".join(rows) + "\n")
    runner = CliRunner()
    # --replace: only these two intents, so every probe below has one right answer.
    fitted = runner.invoke(main, ["intents", "fit", "--replace", str(training)], env=cli_env(tmp_path))
    assert fitted.exit_code == 0, fitted.output
    assert "\n2 intents;" in fitted.output
    predicted = runner.invoke(main, ["intents", "predict"], env=cli_env(tmp_path),
                              input="where is my parcel?\nrefund my purchase please\nwhat is the weather like today\n")
    lines = [json.loads(line) for line in predicted.output.splitlines()]
    assert [line["intent"] for line in lines] == ["order_status", "refund", "out_of_scope"]
    assert all(set(line) == {"text", "intent", "confidence", "in_scope", "familiar"} for line in lines[:2])
    assert [line["familiar"] for line in lines[:2]] == [True, True]  # like the intents' own examples
    weather = lines[2]  # flagged, with the in-scope intent it came closest to and how close
    assert set(weather) == {"text", "intent", "confidence", "in_scope", "familiar", "best_intent",
                            "best_confidence"}
    assert weather["best_intent"] in ("order_status", "refund") and not weather["in_scope"]
    assert weather["best_confidence"] == weather["confidence"]


def test_intents_fit_reports_the_bad_row(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("text,category\nhello,greeting\n,refund\n")
    result = CliRunner().invoke(main, ["intents", "fit", str(bad)], env=cli_env(tmp_path))
    assert result.exit_code != 0 and "line 3" in result.output


def test_intents_fit_reports_an_unclosed_quote_on_its_own_line(tmp_path: Path) -> None:
    """Not "line 3: the category is empty": the quote on line 2 swallowed the rest."""
    bad = tmp_path / "bad.csv"
    bad.write_text('text,category\n"where is my order,order_status\nhello,greeting\n')
    result = CliRunner().invoke(main, ["intents", "fit", str(bad)], env=cli_env(tmp_path))
    assert result.exit_code == 1
    assert f"{bad}, line 2: a quote opens a field here and is never closed" in result.output
    assert "category is empty" not in result.output and len(result.output.splitlines()) == 1


def test_intents_fit_names_a_row_by_the_line_it_starts_on(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text('text,category\nhello,greeting\n"my parcel\nhas not arrived",\nthanks,greeting\n')
    result = CliRunner().invoke(main, ["intents", "fit", str(bad)], env=cli_env(tmp_path))
    assert result.exit_code == 1 and "line 3: the category is empty" in result.output


def test_intents_fit_reports_text_after_a_closing_quote(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text('text,category\nhello,greeting\n"my parcel" is late,order_status\n')
    result = CliRunner().invoke(main, ["intents", "fit", str(bad)], env=cli_env(tmp_path))
    assert result.exit_code == 1 and "line 3: is not valid CSV" in result.output
    assert 'write a quote inside a field as two ("")' in result.output


def test_chat_plays_the_customer_in_the_terminal(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["chat"], env=cli_env(tmp_path), input="how long does delivery take?\n\n")
    assert result.exit_code == 0, result.output
    assert "2 to 4 working days" in result.output
    assert "https://help.acme.example/articles/delivery-times" in result.output


def test_chat_is_another_customer_than_the_playground_and_says_when_a_person_has_it(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    app = create_app(load_settings(env), config={"TASKS_INLINE": True})
    try:
        from switchboard.cli.serve import ensure_sample_kb

        ensure_sample_kb(app)
        app.test_client().post("/playground/messages", json={"text": "which payment methods do you take?"})
    finally:
        get_db(app).dispose()
    result = CliRunner().invoke(main, ["chat"], env=env, input="AGENT\nhello?\n\n")
    assert result.exit_code == 0, result.output
    assert "payment" not in result.output.lower()  # nothing of the playground's conversation
    assert result.output.count("a person has this conversation now (explicit_request)") == 1, result.output


def test_playground_answers_with_sources(app: Flask) -> None:
    from switchboard.cli.serve import ensure_sample_kb

    ensure_sample_kb(app)
    client = app.test_client()
    assert b"Switchboard playground" in client.get("/playground").data
    view = client.post("/playground/messages", json={"text": "which payment methods do you take?"}).get_json()
    bot = view["messages"][-1]
    assert bot["author"] == "bot" and bot["action"] == "answer"
    assert bot["sources"][0]["citation"] == "https://help.acme.example/articles/payment-methods"
    assert client.post("/playground/messages", json={"text": ""}).status_code == 400
    handed = client.post("/playground/messages", json={"text": "AGENT"}).get_json()["conversation"]
    assert handed["status"] == "human" and handed["zendesk_ticket_id"]
    assert "which payment methods do you take?" in handed["handoff_package"]
    assert "https://help.acme.example/articles/payment-methods" in handed["handoff_package"]


def test_stop_and_start_show_twilios_answers_in_the_playground(app: Flask) -> None:
    """Twilio answers STOP and START itself, so the service sends nothing; the playground,
    standing in for Twilio, shows those answers and that the number is opted out."""
    client = app.test_client()
    client.post("/playground/messages", json={"text": "hi"})
    stopped = client.post("/playground/messages", json={"text": "STOP"}).get_json()
    assert stopped["conversation"]["opted_out"] is True
    assert stopped["messages"][-1]["author"] == "carrier"
    assert "successfully been unsubscribed" in stopped["messages"][-1]["body"]
    silent = client.post("/playground/messages", json={"text": "hello?"}).get_json()
    assert silent["messages"][-1]["author"] == "customer"  # nothing answers an opted-out number
    started = client.post("/playground/messages", json={"text": "START"}).get_json()
    assert started["conversation"]["opted_out"] is False
    assert "re-subscribed" in started["messages"][-1]["body"]
    assert [m["author"] for m in started["messages"]].count("carrier") == 2


def test_playground_is_refused_to_other_machines(app: Flask) -> None:
    response = app.test_client().get("/playground", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == 403


def test_playground_is_off_when_twilio_is_live(env: dict[str, str]) -> None:
    live = create_app(load_settings({**env, "SWITCHBOARD_SANDBOX": "0"}), config={"TASKS_INLINE": True})
    try:
        assert live.test_client().get("/playground").status_code == 404
        assert live.test_client().post("/playground/messages", json={"text": "hi"}).status_code == 404
    finally:
        get_db(live).dispose()


def test_a_newcomer_checks_an_order_in_the_playground_with_nothing_configured(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded default with no Twilio, Zendesk or order-system credentials: the order
    lookup is sandboxed like the rest, and the one-time code texted to the customer shows
    in the playground though it is never kept on the conversation's timeline."""
    import re

    from switchboard.cli.serve import ensure_sample_kb

    for name in ("SHOP_API_TOKEN", "SWITCHBOARD_SANDBOX", "SWITCHBOARD_REDIS_URL", "TWILIO_ACCOUNT_SID",
                 "TWILIO_AUTH_TOKEN", "OPENAI_API_KEY", "OPENAI_BASE_URL", "SWITCHBOARD_COMPANY_NAME"):
        monkeypatch.delenv(name, raising=False)
    app = create_app(load_settings({"SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'sb.db'}",
                                    "SWITCHBOARD_DATA_DIR": str(tmp_path)}), config={"TASKS_INLINE": True})
    try:
        ensure_sample_kb(app)
        client = app.test_client()
        asked = client.post("/playground/messages", json={"text": "where is my order A1001?"}).get_json()
        [text] = [m for m in asked["messages"] if m["author"] == "text"]
        code = re.search(r"\b(\d{6})\b", text["body"])
        assert code and "verification code" in text["body"], text
        assert not any(code.group(1) in m["body"] for m in asked["messages"] if m["author"] != "text")
        answered = client.post("/playground/messages", json={"text": code.group(1)}).get_json()
        reply = answered["messages"][-1]
        assert reply["author"] == "bot" and "A1001" in reply["body"], answered["messages"]
        assert "went wrong" not in reply["body"]
        # What the service did (the order lookup) is shown as such, not as a bubble the customer got.
        internal = [m for m in answered["messages"] if m["direction"] == "internal"]
        assert internal and {m["author"] for m in internal} == {"system"}, answered["messages"]
        assert "Not sent to the customer" in client.get("/playground").get_data(as_text=True)
        # A second customer in the same playground does not see the first one's code; with no
        # SWITCHBOARD_COMPANY_NAME nobody is told about a "Default account".
        other = client.post("/playground/messages", json={"text": "HELP", "phone": "+15550100002"}).get_json()
        assert not [m for m in other["messages"] if m["author"] == "text"]
        assert other["messages"][-1]["body"].startswith("Customer support: ask your question here")
        assert not any("Default account" in m["body"] for m in asked["messages"] + other["messages"])
    finally:
        get_db(app).dispose()


def test_audit_export_of_a_ticket_holds_its_handoff_and_refuses_a_word(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    app = create_app(load_settings(env), config={"TASKS_INLINE": True})
    try:
        from switchboard.cli.serve import ensure_sample_kb

        ensure_sample_kb(app)
        client = app.test_client()
        client.post("/playground/messages", json={"text": "how long does delivery take?"})
        ticket = client.post("/playground/messages", json={"text": "AGENT"}).get_json()["conversation"][
            "zendesk_ticket_id"]
    finally:
        get_db(app).dispose()
    result = CliRunner().invoke(main, ["audit", "export", "--ticket", str(ticket)], env=env)
    assert result.exit_code == 0, result.output
    actions = [json.loads(line)["action"] for line in result.stdout.splitlines()]
    assert "handoff.created" in actions and "selfservice.answer" in actions, actions
    other = CliRunner().invoke(main, ["audit", "export", "--ticket", str(ticket + 1)], env=env)
    assert other.exit_code == 0 and other.stdout == ""
    word = CliRunner().invoke(main, ["audit", "export", "--ticket", "abc"], env=env)
    assert word.exit_code != 0 and "--ticket 'abc'" in word.output


def test_kb_import_lists_languages_only_when_an_article_is_not_english(tmp_path: Path) -> None:
    """"en-us" is English: an export of regional English locales lists nothing."""
    articles = [{**article, "locale": "en-us"} for article in sample_articles()]
    path = tmp_path / "en-us.json"
    path.write_text(json.dumps({"articles": articles}))
    result = CliRunner().invoke(main, ["kb", "import", str(path)], env=cli_env(tmp_path))
    assert result.exit_code == 0, result.output
    assert "Articles by language" not in result.output
