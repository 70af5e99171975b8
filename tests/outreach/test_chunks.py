"""Long campaigns are sent in bounded chunks (Celery kills a task after 300 s): a run
stops at its time budget, the task re-enqueues itself while recipients are due, and
beat's tick never adds a second sender to a campaign whose sender is at work."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
from flask import Flask
from sqlalchemy import func, select

from switchboard.app import create_app
from switchboard.core.accounts import by_slug
from switchboard.core.outreach import campaigns, spec
from switchboard.core.settings import load_settings
from switchboard.core.store.models import OutreachRecipient
from switchboard.intake import db
from switchboard.intake.db import get_db

from ..conftest import REDIS_URL, base_env
from .conftest import APPROVER, OUTREACH_ENV, add_customer, calls, make_outreach_app

RATE = 20.0
BUDGET = 0.1
CUSTOMERS = 10
BODY = {"name": "Outage", "criteria": {"attributes": {"region": "north"}}, "template": "Hi {first_name}, sorry."}


def decided_campaign(app: Flask, decision: str = "approve", *, customers: int = CUSTOMERS) -> int:
    """A built campaign decided in the core: no sender is started, the test starts them."""
    with app.app_context():
        session = db.session()
        for n in range(customers):
            add_customer(session, f"+1415555{n:04d}", name=f"Customer {n}", region="north")
        account = by_slug(session, "default")
        assert account is not None
        campaign, _ = campaigns.create(session, account, app.config["SETTINGS"], spec.parse(BODY), trigger="api",
                                       created_by="test")
        assert campaigns.decide(session, account, campaign.id, decision, user=APPROVER) == decision.rstrip("e") + "ed"
        return campaign.id


def queued(app: Flask) -> int:
    with get_db(app).session() as session:
        return session.scalar(select(func.count()).where(OutreachRecipient.status == "queued")) or 0


def test_a_chunk_stops_at_its_budget_and_tick_leaves_an_active_sender_alone(env: dict[str, str]) -> None:
    app = make_outreach_app(env, SWITCHBOARD_OUTREACH_RATE=str(RATE))
    app.config["OUTREACH_SEND_BUDGET_SECONDS"] = BUDGET
    campaign_id = decided_campaign(app)
    from switchboard.tasks import enqueue_outreach_send, send_outreach_chunk

    with app.app_context():
        tally, more = send_outreach_chunk(campaign_id)

    # Claims stop once the budget is spent: the sends paced 1/RATE apart that fit in it,
    # plus the one whose claim came just before the deadline.
    assert more and 1 <= queued(app) <= BUDGET * RATE + 2, tally
    settings = app.config["SETTINGS"]
    with app.app_context():
        enqueued: list[int] = []
        assert campaigns.tick(db.session(), settings, enqueue=enqueued.append)["resumed"] == []
        assert enqueued == []  # its sender claimed within the lease: no second sender
        later = datetime.now(UTC) + timedelta(seconds=settings.outreach_lease_seconds + 1)
        assert campaigns.tick(db.session(), settings, enqueue=enqueued.append, now=later)["resumed"] == [campaign_id]

        enqueue_outreach_send(campaign_id)  # the embedded runner sends the rest, chunk after chunk

    assert queued(app) == CUSTOMERS
    sent_to = [c.payload["to"] for c in calls(app, "messages.create")]
    assert len(sent_to) == CUSTOMERS == len(set(sent_to))
    get_db(app).dispose()


def test_the_celery_task_re_enqueues_itself_only_while_due_work_is_left(tmp_path: Path) -> None:
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {**base_env(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}"), **OUTREACH_ENV,
           "SWITCHBOARD_REDIS_URL": REDIS_URL, "SWITCHBOARD_QUEUE": queue, "SWITCHBOARD_OUTREACH_RATE": str(RATE)}
    app = create_app(load_settings(env), config={"TESTING": True, "OUTREACH_SEND_BUDGET_SECONDS": BUDGET})
    broker = redis.Redis.from_url(REDIS_URL)
    from switchboard.tasks import outreach_send

    try:
        campaign_id = decided_campaign(app)
        with app.app_context():
            outreach_send.apply(args=(campaign_id,)).get()
        assert 1 <= queued(app) < CUSTOMERS
        [raw] = broker.lrange(queue, 0, -1)  # exactly one follow-up chunk, for this campaign
        message = json.loads(raw)
        assert message["headers"]["task"] == "switchboard.outreach_send"
        assert message["headers"]["argsrepr"] == f"({campaign_id},)"

        broker.delete(queue)
        with app.app_context():  # the last chunk: nothing left, nothing enqueued
            app.config["OUTREACH_SEND_BUDGET_SECONDS"] = 60
            outreach_send.apply(args=(campaign_id,)).get()
        assert queued(app) == CUSTOMERS and broker.llen(queue) == 0

        rejected = decided_campaign(app, "reject", customers=0)  # same customers, all pending
        with app.app_context():  # a rejected campaign's pending rows never start a sender loop
            outreach_send.apply(args=(rejected,)).get()
        assert broker.llen(queue) == 0
    finally:
        broker.delete(queue)
        get_db(app).dispose()

