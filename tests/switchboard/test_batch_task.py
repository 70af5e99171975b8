"""The batch task the dispatcher's messages run: an event that fails in a batch goes
on alone with the single-event task's backoff (a real Redis holds that message), and
the others of the batch are processed regardless."""
from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis
import responses
from flask import Flask
from sqlalchemy import create_engine, select
from sqlalchemy import text as sql

from switchboard.app import create_app
from switchboard.core.settings import load_settings
from switchboard.core.store import inbox
from switchboard.core.store.models import InboxEvent, OutboxCall
from switchboard.intake.db import get_db

from ..conftest import REDIS_URL, with_sample_kb
from ..handoff.test_handoff_to_zendesk import TWILIO_API, text


@pytest.fixture
def queued_app(env: dict[str, str]) -> Iterator[tuple[Flask, str]]:
    """Sandbox off (the connectors call the faked Twilio), a queue of its own."""
    queue = f"batch-{uuid.uuid4().hex[:8]}"
    app = create_app(load_settings({**env, "SWITCHBOARD_SANDBOX": "0", "SWITCHBOARD_REDIS_URL": REDIS_URL,
                                    "SWITCHBOARD_QUEUE": queue}), config={"TESTING": True})
    yield with_sample_kb(app), queue
    redis.Redis.from_url(REDIS_URL).delete(queue)
    get_db(app).dispose()


def test_a_failing_event_is_queued_alone_with_backoff_and_the_rest_of_its_batch_is_processed(
    queued_app: tuple[Flask, str],
) -> None:
    app, queue = queued_app
    with responses.RequestsMock() as twilio:
        twilio.add(responses.POST, TWILIO_API, status=503, json={"code": 20500, "message": "Internal error"})
        twilio.add(responses.POST, TWILIO_API, status=201,
                   json={"sid": "SM" + "b" * 32, "status": "queued", "to": "+14155550100", "from": "+15005550006"})
        with app.app_context():
            with get_db(app).session() as session:
                ids = [inbox.record(session, account_id=app.config["DEFAULT_ACCOUNT_ID"], vendor="twilio",
                                    kind="twilio.message", dedupe_key=f"SMbatch{n}",
                                    payload=text(question))[0].id
                       for n, question in enumerate(("how long does delivery take?", "where is my parcel?"))]
            before = datetime.now(UTC)
            task = app.extensions["celery"].tasks["switchboard.process_inbox_events"]
            assert task.apply(args=(ids,)).get() == {"retrying": 1, "done": 1}
        assert len(twilio.calls) == 2

    with get_db(app).session() as session:
        statuses = dict(session.execute(select(InboxEvent.id, InboxEvent.status)).all())
        assert statuses == {ids[0]: "received", ids[1]: "done"}  # the first waits for its own retry
        sent = session.scalars(select(OutboxCall.status).where(OutboxCall.vendor == "twilio")
                               .order_by(OutboxCall.id)).all()
        assert sent == ["pending", "sent"]  # the first reply is sent by the retry
    [raw] = redis.Redis.from_url(REDIS_URL).lrange(queue, 0, -1)
    message = json.loads(raw)
    assert message["headers"]["task"] == "switchboard.process_inbox_event"
    args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    assert args == [ids[0]]
    eta = datetime.fromisoformat(message["headers"]["eta"])
    assert 4 <= (eta - before).total_seconds() <= 30  # the first backoff step (5 s), not at once


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite has no server to drop it
def test_a_connection_dropped_just_before_a_batch_fails_one_event_which_goes_on_alone(
    queued_app: tuple[Flask, str],
) -> None:
    """A database restart within a second of the pool's last use is not pinged for
    (switchboard.intake.db): the batch's first statement fails, and the batch goes on."""
    app, queue = queued_app
    with app.app_context():
        with get_db(app).session() as session:
            ids = [inbox.record(session, account_id=app.config["DEFAULT_ACCOUNT_ID"], vendor="twilio",
                                kind="twilio.message", dedupe_key=f"SMdrop{n}", payload=text(question))[0].id
                   for n, question in enumerate(("how long does delivery take?", "where is my parcel?"))]
        engine = get_db(app).engine
        engine.dispose()  # the pool now lends one connection, the one dropped below
        with engine.connect() as connection:
            pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        admin = create_engine(get_db(app).url)
        with admin.connect() as connection:
            connection.execute(sql("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.dispose()
        task = app.extensions["celery"].tasks["switchboard.process_inbox_events"]
        with responses.RequestsMock() as twilio:
            twilio.add(responses.POST, TWILIO_API, status=201, json={
                "sid": "SM" + "c" * 32, "status": "queued", "to": "+14155550100", "from": "+15005550006"})
            assert task.apply(args=(ids,)).get() == {"retrying": 1, "done": 1}
    with get_db(app).session() as session:
        statuses = dict(session.execute(select(InboxEvent.id, InboxEvent.status)).all())
    assert statuses == {ids[0]: "received", ids[1]: "done"}
    [raw] = redis.Redis.from_url(REDIS_URL).lrange(queue, 0, -1)
    assert json.loads(base64.b64decode(json.loads(raw)["body"]))[0] == [ids[0]]  # its own retry, queued
