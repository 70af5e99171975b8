"""Faults in one process: a database that goes away and comes back, vendors that fail
(5xx, 429 with Retry-After, timeouts), a model that is down, and 50 copies of one
delivery arriving at once."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
import responses
from celery.signals import task_retry
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator
from urllib3.exceptions import MaxRetryError, NewConnectionError

from switchboard.app import create_app
from switchboard.core.settings import load_settings
from switchboard.core.store.models import Conversation, InboxEvent, Message, OutboxCall
from switchboard.intake.db import get_db
from switchboard.tasks import process_inbox_event

from ..conftest import PUBLIC_URL, TWILIO_TOKEN, base_env, with_sample_kb
from ..handoff.test_handoff_to_zendesk import TICKET_ID, TWILIO_API, ZENDESK, text
from ..selfservice.test_selfservice_over_twilio import inbound
from ..signing import fixture
from .conftest import PrivatePostgres, free_port, stored, vendor_for

MESSAGES = "/webhooks/twilio/messages"


# --- the database goes away ---------------------------------------------------------------

@pytest.mark.slow
def test_a_restarted_postgresql_is_recovered_from_and_what_could_not_be_stored_gets_a_5xx(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    from switchboard.intake.db import make_engine, upgrade

    engine = make_engine(private_postgres.url)
    upgrade(engine)  # `switchboard db upgrade`
    engine.dispose()
    app = create_app(load_settings(base_env(tmp_path, private_postgres.url)), config={"TASKS_INLINE": True})
    try:
        signed = vendor_for(app)
        assert signed.twilio(MESSAGES, inbound("how long does delivery take?")).status_code == 200

        private_postgres.stop()
        while_down = inbound("is my parcel lost?")
        refused = signed.twilio(MESSAGES, while_down)
        assert refused.status_code == 503  # not stored: Twilio must retry
        assert "retry" in refused.get_json()["error"]
        assert app.test_client().get("/readyz").status_code == 503

        private_postgres.start()  # no restart of the app, no manual step
        assert app.test_client().get("/readyz").status_code == 200
        assert signed.twilio(MESSAGES, while_down).status_code == 200  # Twilio's retry
        with get_db(app).session() as session:
            assert session.scalars(select(InboxEvent.status)).all() == ["done", "done"]
            assert session.scalar(select(func.count()).select_from(Message)
                                  .where(Message.direction == "inbound")) == 2
    finally:
        get_db(app).dispose()


# --- 50 identical deliveries at once -------------------------------------------------------

def test_fifty_concurrent_identical_deliveries_produce_exactly_one_effect(app: Flask) -> None:
    params = inbound("how long does delivery take?")
    body = urlencode(params)
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC_URL + MESSAGES, params)
    start = threading.Barrier(50)

    def deliver(_: int) -> int:
        client = app.test_client()
        start.wait()
        return client.post(MESSAGES, data=body, content_type="application/x-www-form-urlencoded",
                           headers={"X-Twilio-Signature": signature}).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(deliver, range(50)))
    assert statuses == [200] * 50
    with get_db(app).session() as session:
        [event] = session.scalars(select(InboxEvent)).all()
        assert (event.status, event.duplicates) == ("done", 49)
        assert session.scalar(select(func.count()).select_from(Message).where(Message.direction == "inbound")) == 1
        sends = session.scalars(select(OutboxCall).where(OutboxCall.vendor == "twilio")).all()
        assert len(sends) == 1 and sends[0].idempotency_key.startswith("reply:")


# --- vendors failing ---------------------------------------------------------------------

@pytest.fixture
def live_twilio_app(env: dict[str, str]) -> Iterator[Flask]:
    app = create_app(load_settings({**env, "SWITCHBOARD_SANDBOX": "0"}), config={"TESTING": True})
    yield with_sample_kb(app)
    get_db(app).dispose()


def test_twilio_5xx_429_and_timeouts_are_retried_with_backoff_and_the_reply_is_sent_once(
    live_twilio_app: Flask
) -> None:
    """The Celery task itself (applied eagerly), the connector and the outbox together:
    each failure leaves the event to retry, with the vendor's Retry-After or an
    exponential countdown, and the one success is never repeated. The timeouts are the
    kind that certainly never reached Twilio (connect timeout, refused connection); a
    read timeout, which may have, is reconciled instead (tests/connectors)."""
    countdowns: list[float] = []

    def on_retry(request, reason, **_):  # type: ignore[no-untyped-def]
        countdowns.append(float(reason.when))

    task_retry.connect(on_retry)
    try:
        with responses.RequestsMock() as mock:
            mock.add(responses.POST, TWILIO_API, status=503, json={"code": 20500, "message": "Internal error"})
            mock.add(responses.POST, TWILIO_API, status=429, headers={"Retry-After": "7"},
                     json={"code": 20429, "message": "Too Many Requests"})
            mock.add(responses.POST, TWILIO_API, body=requests.ConnectTimeout("connect timed out"))
            mock.add(responses.POST, TWILIO_API, body=requests.ConnectionError(MaxRetryError(
                None, TWILIO_API, NewConnectionError(None, "connection refused"))))  # type: ignore[arg-type]
            mock.add(responses.POST, TWILIO_API, status=201,
                     json={"sid": "SM" + "d" * 32, "status": "queued", "to": "+14155550100", "from": "+15005550006"})
            with live_twilio_app.app_context():
                from switchboard.core.store import inbox

                with get_db(live_twilio_app).session() as session:
                    event, _ = inbox.record(session, account_id=live_twilio_app.config["DEFAULT_ACCOUNT_ID"],
                                            vendor="twilio", kind="twilio.message", dedupe_key="SMretry",
                                            payload=text("how long does delivery take?"))
                result = process_inbox_event.apply(args=(event.id,))
                assert result.get() == "done"
            assert len(mock.calls) == 5
    finally:
        task_retry.disconnect(on_retry)
    assert countdowns == [5.0, 7.0, 20.0, 40.0]  # backoff, Retry-After, backoff, backoff
    with get_db(live_twilio_app).session() as session:
        [call] = session.scalars(select(OutboxCall).where(OutboxCall.vendor == "twilio")).all()
        assert (call.status, call.response["sid"]) == ("sent", "SM" + "d" * 32)
        outbound = session.scalars(select(Message).where(Message.direction == "outbound")).all()
        assert len(outbound) == 1
    # ... and the operator sees it all on /metrics: 503, timeout and reset as "unavailable",
    # the 429 and the 7 s it asked for, and the task's four retries.
    metrics = scrape(live_twilio_app)
    assert metrics[("switchboard_vendor_errors_total", (("kind", "unavailable"), ("vendor", "twilio")))] == 3
    assert metrics[("switchboard_vendor_errors_total", (("kind", "rate_limited"), ("vendor", "twilio")))] == 1
    assert metrics[("switchboard_vendor_rate_limit_wait_seconds_total", (("vendor", "twilio"),))] == 7
    assert task_retries(metrics) == 4


def scrape(app: Flask) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """GET /metrics, parsed by prometheus_client's own parser: {(sample, labels): value}."""
    response = app.test_client().get("/metrics")
    assert response.status_code == 200
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for sample in family.samples}


def task_retries(metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> float:
    return sum(value for (name, _), value in metrics.items() if name == "switchboard_task_retries_total")


def test_zendesk_5xx_and_429_are_retried_with_backoff_and_shown_in_metrics(
    env: dict[str, str]
) -> None:
    """The enrichment written back to a new ticket (PUT /tickets/{id}.json through zenpy,
    faked at the HTTP layer): a 500 is retried by the task after the backoff; a 429 after
    its Retry-After (zenpy is given no budget to sleep through it); 503s, which zenpy's
    own adapter retries three times at once, then by the task after a longer backoff;
    then the update goes through once, and /metrics shows each kind."""
    app = create_app(load_settings({**env, "SWITCHBOARD_SANDBOX": "0", "ZENDESK_EMAIL": "bot@acme.test",
                                    "ZENDESK_API_TOKEN": "zd-token"}), config={"TESTING": True})
    countdowns: list[float] = []

    def on_retry(request, reason, **_):  # type: ignore[no-untyped-def]
        countdowns.append(float(reason.when))

    update_url = f"{ZENDESK}/tickets/{TICKET_ID}.json"
    task_retry.connect(on_retry)
    try:
        with responses.RequestsMock() as mock:
            mock.add(responses.PUT, update_url, status=500, json={"error": "InternalError"})
            mock.add(responses.PUT, update_url, status=429, headers={"Retry-After": "11"},
                     json={"error": "TooManyRequests"})
            for _ in range(4):  # the first try and zenpy's adapter's three retries
                mock.add(responses.PUT, update_url, status=503, json={"error": "ServiceUnavailable"})
            mock.add(responses.PUT, update_url, status=200,
                     json={"ticket": {"id": TICKET_ID}, "audit": {"id": 77, "ticket_id": TICKET_ID}})
            with app.app_context():
                from switchboard.core.store import inbox

                with get_db(app).session() as session:
                    event, _ = inbox.record(session, account_id=app.config["DEFAULT_ACCOUNT_ID"], vendor="zendesk",
                                            kind="zendesk.ticket.created", dedupe_key="event:zd-retry",
                                            payload=fixture("zendesk", "ticket_created.json"))
                assert process_inbox_event.apply(args=(event.id,)).get() == "done"
            assert [c.request.method for c in mock.calls] == ["PUT"] * 7
        assert countdowns == [5.0, 11.0, 20.0]  # backoff, Zendesk's Retry-After, backoff
        with get_db(app).session() as session:
            [call] = session.scalars(select(OutboxCall).where(OutboxCall.vendor == "zendesk")).all()
            assert (call.operation, call.status) == ("tickets.update", "sent")
        metrics = scrape(app)
        assert metrics[("switchboard_vendor_errors_total", (("kind", "unavailable"), ("vendor", "zendesk")))] == 2
        assert metrics[("switchboard_vendor_errors_total", (("kind", "rate_limited"), ("vendor", "zendesk")))] == 1
        assert metrics[("switchboard_vendor_rate_limit_wait_seconds_total", (("vendor", "zendesk"),))] == 11
        assert task_retries(metrics) == 3
    finally:
        task_retry.disconnect(on_retry)
        get_db(app).dispose()


# --- the model is down --------------------------------------------------------------------

@pytest.mark.parametrize("outage", ["connection refused", "HTTP 500"])
def test_a_model_outage_hands_the_conversation_to_a_person_with_the_reason(env: dict[str, str],
                                                                           outage: str) -> None:
    from ..fakes.openai_server import FakeOpenAI

    with FakeOpenAI() as fake:
        fake.fail(500).fail(500)
        base_url = fake.base_url if outage == "HTTP 500" else f"http://127.0.0.1:{free_port()}/v1"
        app = with_sample_kb(create_app(load_settings({**env, "OPENAI_BASE_URL": base_url}),
                                        config={"TASKS_INLINE": True, "TESTING": True}))
        try:
            assert vendor_for(app).twilio(MESSAGES, inbound("how long does delivery take?")).status_code == 200
            with get_db(app).session() as session:
                conversation = session.scalars(select(Conversation)).one()
                assert (conversation.status, conversation.handoff_reason) == ("human", "model_unavailable")
                [reply] = session.scalars(select(Message).where(Message.direction == "outbound")).all()
                assert "passing you to a member of our team" in reply.body
                assert stored(app)["inbox_events"] == 1
        finally:
            get_db(app).dispose()
