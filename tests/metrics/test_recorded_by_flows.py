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
from switchboard.db import get_db
from switchboard.models import ConversationOutcome, MetricEvent

from ..assist.test_sidebar_api import comment, handed_over_ticket, key_for, say, shop  # noqa: F401 (fixture)
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
    assert outcome.handoff_reason == "explicit_request" and outcome.automation == "ai_then_human"
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
    assert outcome.package_opened == 1 and outcome.agent_replies == 1
    assert outcome.resolution == "agent" and outcome.resolution_seconds is not None
    assert outcome.csat_score == 5
    recorded = kinds(shop)
    assert recorded.count("package.opened") == 1  # once per agent, however often the sidebar loads
    assert recorded.count("handoff") == 1 and "ticket.solved" in recorded and "csat" in recorded


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
