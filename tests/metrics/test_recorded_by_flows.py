"""Metric events are recorded by the real flows: signed webhooks in, the bot's reply,
the handoff, the sidebar fetch, an agent's reply, the solved ticket and the CSAT
answer, on SQLite and PostgreSQL; and /metrics and `switchboard report` serve them."""
from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from switchboard.cli import main
from switchboard.core.store.models import ConversationOutcome, MetricEvent
from switchboard.intake.db import get_db

from ..assist.test_sidebar_api import comment, handed_over_ticket, key_for, say
from ..signing import VendorClient, fixture
from .seed import DAY


def outcomes(app: Flask) -> list[ConversationOutcome]:
    with get_db(app).session() as session:
        return list(session.scalars(select(ConversationOutcome).order_by(ConversationOutcome.conversation_id)))


def kinds(app: Flask) -> list[str]:
    with get_db(app).session() as session:
        return list(session.scalars(select(MetricEvent.kind).order_by(MetricEvent.id)))


def test_a_question_the_bot_answers_is_contained(shop: Flask, vendor: VendorClient) -> None:  # noqa: F811
    say(vendor, "how long does delivery take?")
    [outcome] = outcomes(shop)
    assert kinds(shop) == ["message.inbound", "bot.reply"]
    assert outcome.resolution == "bot" and outcome.automation == "ai_only" and outcome.handoff_at is None
    assert outcome.channel == "sms" and outcome.tier == "standard" and outcome.bot_answers == 1
    assert outcome.first_response_seconds is not None and outcome.first_response_seconds < 60
    assert outcome.intent  # the enrichment's intent was kept for the intent filter


def test_handoff_sidebar_agent_reply_solve_and_csat(shop: Flask, vendor: VendorClient) -> None:  # noqa: F811
    ticket = handed_over_ticket(shop, vendor)  # answer, a question, then AGENT
    [outcome] = outcomes(shop)
    # Handed over after the bot answered, and no person has replied yet.
    assert outcome.handoff_reason == "explicit_request" and outcome.automation == "awaiting_human"
    assert outcome.resolution is None  # the bot's earlier answer no longer counts as contained
    headers = {"Authorization": f"Bearer {key_for(shop)}", "X-Zendesk-Agent": "ava"}
    assert vendor.client.get(f"/api/sidebar/tickets/{ticket}", headers=headers).status_code == 200
    assert vendor.client.get(f"/api/sidebar/tickets/{ticket}", headers=headers).status_code == 200
    assert vendor.zendesk(comment(ticket, "We have refunded the second charge.", staff=True)).status_code == 200
    solved = {**fixture("zendesk", "ticket_created.json"), "id": "evt-solved-metrics",
              "type": "zen:event-type:ticket.status_changed",
              "detail": {"id": str(ticket), "status": "SOLVED"}, "event": {"previous": "OPEN", "current": "SOLVED"}}
    assert vendor.zendesk(solved).status_code == 200
    say(vendor, "5")  # the CSAT answer
    [outcome] = outcomes(shop)
    assert outcome.package_opened == 1 and outcome.agent_replies == 1 and outcome.automation == "ai_then_human"
    assert outcome.resolution == "agent" and outcome.resolution_seconds is not None
    assert outcome.csat_score == 5
    recorded = kinds(shop)
    assert recorded.count("package.opened") == 1  # once per agent, however often the sidebar loads
    assert recorded.count("handoff") == 1 and "ticket.solved" in recorded and "csat" in recorded


def test_a_zendesk_ticket_reopened_after_solved_is_a_reopen(shop: Flask, vendor: VendorClient) -> None:  # noqa: F811
    ticket = handed_over_ticket(shop, vendor)
    base = {**fixture("zendesk", "ticket_created.json"), "type": "zen:event-type:ticket.status_changed"}
    solved = {**base, "id": "evt-solved-reopen", "detail": {"id": str(ticket), "status": "SOLVED"},
              "event": {"previous": "OPEN", "current": "SOLVED"}}
    reopened = {**base, "id": "evt-reopened", "detail": {"id": str(ticket), "status": "OPEN"},
                "event": {"previous": "SOLVED", "current": "OPEN"}}
    pending = {**base, "id": "evt-pending", "detail": {"id": str(ticket), "status": "PENDING"},
               "event": {"previous": "OPEN", "current": "PENDING"}}
    assert vendor.zendesk(pending).status_code == 200  # not from solved: not a reopen
    assert vendor.zendesk(solved).status_code == 200
    [outcome] = outcomes(shop)
    assert outcome.resolution == "agent" and not outcome.reopened
    # Zendesk's "time" is when it happened: keep the reopen inside the 7-day window.
    reopened["time"] = (outcome.resolved_at + __import__("datetime").timedelta(hours=2)).isoformat()
    assert vendor.zendesk(reopened).status_code == 200
    assert vendor.zendesk(reopened).status_code == 200  # a duplicate delivery: one event
    [outcome] = outcomes(shop)
    assert outcome.reopened == 1 and outcome.resolution == "agent"
    assert kinds(shop).count("ticket.reopened") == 1


def test_metrics_endpoint_parses_and_counts_a_webhook_request(shop: Flask, vendor: VendorClient) -> None:  # noqa: F811
    say(vendor, "how long does delivery take?")
    vendor.client.post("/webhooks/twilio/messages", data="Body=x", content_type="application/x-www-form-urlencoded",
                       headers={"X-Twilio-Signature": "forged"})
    response = vendor.client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    families = {f.name: f for f in text_string_to_metric_families(response.get_data(as_text=True))}
    requests = {(s.labels["endpoint"], s.labels["status"]): s.value
                for s in families["switchboard_webhook_requests"].samples if s.name.endswith("_total")}
    assert requests[("/webhooks/twilio/messages", "200")] == 1
    assert sum(v for (endpoint, status), v in requests.items() if status != "200") == 1  # the forged one
    latency = [s for s in families["switchboard_webhook_request_duration_seconds"].samples
               if s.name.endswith("_count")]
    assert latency and latency[0].value == 2
    assert [s.value for s in families["switchboard_queue_depth"].samples] == [0]
    outbox = {(s.labels["vendor"], s.labels["status"]): s.value for s in families["switchboard_outbox_calls"].samples}
    assert outbox[("twilio", "sandboxed")] == 1


def test_report_prints_the_figures_as_json_and_csv(shop: Flask, vendor: VendorClient, env: dict[str, str],  # noqa: F811
                                                   monkeypatch) -> None:  # type: ignore[no-untyped-def]
    say(vendor, "how long does delivery take?")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    today = __import__("datetime").datetime.now(__import__("datetime").UTC).date().isoformat()
    runner = CliRunner()
    result = runner.invoke(main, ["report", "--from", today, "--to", today, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["totals"]["conversations"] == 1 and data["totals"]["containment_rate"] == 1.0
    result = runner.invoke(main, ["report", "--from", today, "--to", today, "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert rows[0]["segment_type"] == "total" and rows[0]["conversations"] == "1"
    assert {(r["segment_type"], r["segment"]) for r in rows} >= {("automation", "ai_only"), ("channel", "sms"),
                                                                   ("day", today)}
    result = runner.invoke(main, ["report", "--from", today, "--to", DAY.isoformat()])
    assert result.exit_code != 0 and "swap --from and --to" in result.output


def _report(env: dict[str, str], *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["report", *args], env=env)


def test_the_csv_report_carries_every_figure_of_the_json_one(shop: Flask, vendor: VendorClient,  # noqa: F811
                                                             env: dict[str, str]) -> None:
    handed_over_ticket(shop, vendor)  # an answer, a question, then AGENT: one escalation reason
    today = __import__("datetime").datetime.now(__import__("datetime").UTC).date().isoformat()
    as_json = _report(env, "--from", today, "--to", today, "--format", "json")
    as_csv = _report(env, "--from", today, "--to", today, "--format", "csv")
    assert as_json.exit_code == 0 and as_csv.exit_code == 0, as_json.output + as_csv.output
    data = json.loads(as_json.output)
    rows = list(csv.DictReader(io.StringIO(as_csv.output)))
    by_type = {}
    for row in rows:
        by_type.setdefault(row["segment_type"], []).append(row)
    [total] = by_type["total"]
    assert {k: total[k] for k in data["totals"]} == {k: "" if v is None else str(v)
                                                      for k, v in data["totals"].items()}
    [reason] = by_type["escalation_reason"]
    assert (reason["segment"], reason["reason_count"], reason["reason_share"]) == ("explicit_request", "1", "1.0")
    [suggestions] = by_type["suggestions"]
    assert {k: suggestions[f"suggestions_{k}"] for k in data["suggestions"]} == {
        k: "" if v is None else str(v) for k, v in data["suggestions"].items()}
    [outreach] = by_type["outreach"]
    assert {k: outreach[f"outreach_{k}"] for k in data["outreach"]} == {
        k: "" if v is None else str(v) for k, v in data["outreach"].items()}
    assert [r["segment"] for r in by_type["day"]] == [today]


def test_far_future_and_invalid_dates_are_a_400_and_a_usage_error(shop: Flask, vendor: VendorClient,  # noqa: F811
                                                                  env: dict[str, str]) -> None:
    client = vendor.client
    assert client.post("/dashboard/login", data={"key": key_for(shop)}).status_code == 302
    for query in ("to=9999-12-31", "from=0001-01-01&to=2026-01-01", "from=2020-01-01&to=2026-01-01",
                  "to=2026-13-45"):
        response = client.get(f"/dashboard?{query}")
        assert response.status_code == 400, query
        assert "2000-01-01" in response.get_data(as_text=True) and "2099-12-31" in response.get_data(as_text=True)
    assert client.get("/dashboard?to=2000-01-05").status_code == 200  # the default 30 days are clamped
    result = _report(env, "--from", "2026-01-01", "--to", "9999-12-31")
    assert result.exit_code == 2 and "between 2000-01-01 and 2099-12-31" in result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
