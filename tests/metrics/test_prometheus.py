"""/metrics counts what the workers did: Celery task retries and failures of any task
(through Celery's own signals), vendor errors and the waits a rate limit asked for,
driven through the real task, connector and outbox code with the vendors faked at the
HTTP layer (Twilio with ``responses``, Slack with a loopback Web API). A scrape reads
the inbox only where rows are still queued or parked."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import responses
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event

from switchboard.app import create_app
from switchboard.core.settings import load_settings
from switchboard.core.store import inbox
from switchboard.intake.db import get_db

from ..conftest import with_sample_kb
from ..connectors.conftest import FakeSlackApi
from ..handoff.test_handoff_to_zendesk import TWILIO_API, text


def scrape(app: Flask) -> dict[str, dict[tuple[str, ...], float]]:
    """Every sample of /metrics as {sample name: {("label=value", ...) sorted: value}}."""
    response = app.test_client().get("/metrics")
    assert response.status_code == 200
    samples: dict[str, dict[tuple[str, ...], float]] = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            labels = tuple(sorted(f"{name}={value}" for name, value in sample.labels.items()))
            samples.setdefault(sample.name, {})[labels] = sample.value
    return samples


@pytest.fixture
def live_app(env: dict[str, str]) -> Iterator[Flask]:
    """Sandbox off: the connectors really call the (faked) vendors."""
    app = create_app(load_settings({**env, "SWITCHBOARD_SANDBOX": "0"}), config={"TESTING": True})
    yield with_sample_kb(app)
    get_db(app).dispose()


def test_a_twilio_429_and_the_task_retry_it_causes_show_in_metrics(live_app: Flask) -> None:
    with responses.RequestsMock() as twilio:
        twilio.add(responses.POST, TWILIO_API, status=429, headers={"Retry-After": "7"},
                   json={"code": 20429, "message": "Too Many Requests"})
        twilio.add(responses.POST, TWILIO_API, status=201,
                   json={"sid": "SM" + "e" * 32, "status": "queued", "to": "+14155550100", "from": "+15005550006"})
        with live_app.app_context():
            with get_db(live_app).session() as session:
                received, _ = inbox.record(session, account_id=live_app.config["DEFAULT_ACCOUNT_ID"],
                                           vendor="twilio", kind="twilio.message", dedupe_key="SMprom",
                                           payload=text("how long does delivery take?"))
            task = live_app.extensions["celery"].tasks["switchboard.process_inbox_event"]
            assert task.apply(args=(received.id,)).get() == "done"  # 429, retried, then sent
        assert len(twilio.calls) == 2

    samples = scrape(live_app)
    assert samples["switchboard_task_retries_total"] == {("task=switchboard.process_inbox_event",): 1}
    assert samples.get("switchboard_task_failures_total", {}) == {}
    assert samples["switchboard_vendor_errors_total"] == {("kind=rate_limited", "vendor=twilio"): 1}
    assert samples["switchboard_vendor_rate_limit_wait_seconds_total"] == {("vendor=twilio",): 7.0}
    assert samples["switchboard_queue_depth"] == {(): 0}
    assert samples["switchboard_inbox_events"] == {("status=received",): 0, ("status=processing",): 0,
                                                   ("status=failed",): 0}


def test_a_task_that_runs_out_of_retries_is_a_failure_in_metrics(tmp_path: Path, env: dict[str, str]) -> None:
    """The weekly digest to a channel Slack does not know: a permanent vendor error,
    retried until the task gives up."""
    with FakeSlackApi() as slack_api:
        slack_api.reply("chat.postMessage", 200, {"ok": False, "error": "channel_not_found"})
        app = create_app(load_settings({**env, "SWITCHBOARD_SANDBOX": "0", "SLACK_BOT_TOKEN": "xoxb-metrics",
                                        "SWITCHBOARD_SLACK_DIGEST_CHANNEL": "C0NOWHERE",
                                        "SLACK_API_URL": slack_api.url}),
                         config={"TESTING": True})
        try:
            with app.app_context():
                task = app.extensions["celery"].tasks["switchboard.weekly_digest"]
                result = task.apply()
                assert result.failed()
            assert len(slack_api.requests) == 1  # the outbox never repeats a permanent failure
            samples = scrape(app)
        finally:
            get_db(app).dispose()
    assert samples["switchboard_task_failures_total"] == {("task=switchboard.weekly_digest",): 1}
    assert samples["switchboard_task_retries_total"] == {("task=switchboard.weekly_digest",): 5}  # max_retries
    assert samples["switchboard_vendor_errors_total"] == {("kind=error", "vendor=slack"): 1}


def test_a_scrape_reads_only_queued_or_parked_inbox_rows(live_app: Flask) -> None:
    statements: list[str] = []

    def remember(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(" ".join(statement.split()))

    engine = get_db(live_app).engine
    event.listen(engine, "before_cursor_execute", remember)
    try:
        scrape(live_app)
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    on_inbox = [s for s in statements if "inbox_events" in s]
    assert on_inbox and all("inbox_events.status IN" in s for s in on_inbox), on_inbox
    on_events = [s for s in statements if "metric_events" in s]
    assert on_events and all("metric_events.kind IN" in s for s in on_events), on_events
