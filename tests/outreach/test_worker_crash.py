"""A worker SIGKILLed in the middle of a campaign: a fresh worker (real Celery, real
Redis, real PostgreSQL) finishes it, every customer gets exactly one message, and
the configured rate holds across both workers: every send took a slot of the shared
limiter, and no two slots are closer than 1/rate."""
from __future__ import annotations

import itertools
import math
import os
import signal
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from switchboard.app import create_app
from switchboard.core.accounts import by_slug, create_api_key
from switchboard.core.outreach.ratelimit import RedisRateLimiter, grants_key, pace_key
from switchboard.core.settings import load_settings
from switchboard.core.store.models import AuditEntry, Message, OutboxCall, OutreachRecipient
from switchboard.intake.db import get_db

from ..conftest import REDIS_URL, base_env
from ..test_queue_with_celery import Worker, vendor_for, wait_until
from .conftest import OUTREACH_ENV, add_customer, click, post_campaign

# Slow: starts Celery workers and kills one.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
CUSTOMERS = 24
RATE = 5.0
#: A Redis database of its own: the limiter's key is per account id, and every test
#: schema's default account is id 1, so a test elsewhere sending at another rate on the
#: shared database would take slots between ours and blur the exact spacing checked here.
CRASH_REDIS_URL = urlsplit(REDIS_URL)._replace(path="/13").geturl()


def sends(app) -> list[OutboxCall]:  # type: ignore[no-untyped-def]
    with get_db(app).session() as session:
        return list(session.scalars(select(OutboxCall).where(OutboxCall.operation == "messages.create")
                                    .order_by(OutboxCall.created_at)))


def test_killed_worker_mid_send_sends_each_message_once_within_the_rate(tmp_path: Path, pg_url: str) -> None:
    from ..conftest import _truncate_postgres

    _truncate_postgres(pg_url)
    env = {**base_env(tmp_path, pg_url), **OUTREACH_ENV, "SWITCHBOARD_REDIS_URL": CRASH_REDIS_URL,
           "SWITCHBOARD_QUEUE": f"test-{uuid.uuid4().hex[:8]}", "SWITCHBOARD_SWEEP_AFTER_SECONDS": "1",
           "SWITCHBOARD_SWEEP_INTERVAL_SECONDS": "1", "SWITCHBOARD_OUTREACH_RATE": str(RATE),
           "SWITCHBOARD_OUTREACH_LEASE_SECONDS": "2"}
    app = create_app(load_settings(env), config={"TESTING": True})
    with get_db(app).session() as session:
        for n in range(CUSTOMERS):
            add_customer(session, f"+1415555{n:04d}", name=f"Customer {n}", region="north")
        account = by_slug(session, "default")
        assert account is not None
        key = create_api_key(session, account)
        limiter_key = f"account:{account.id}"
    limiter = RedisRateLimiter(CRASH_REDIS_URL)
    limiter.client.delete(pace_key(limiter_key), grants_key(limiter_key))  # this test's slots only
    campaign_id = post_campaign(app.test_client(), key, {"name": "Delay", "criteria": {"attributes": {
        "region": "north"}}, "template": "Hi {first_name}, your parcel is late."}).get_json()["id"]
    first = Worker(env, tmp_path)
    second = None
    try:
        for _ in range(2):  # a double click on Approve: two deliveries, both handled by the real worker
            assert vendor_for(app).slack_interaction(click("outreach:approve", campaign_id)).status_code == 200
        assert wait_until(lambda: len(sends(app)) >= 6, timeout=60), first.output()
        os.killpg(first.process.pid, signal.SIGKILL)
        first.process.wait()
        killed_at = len(sends(app))
        assert killed_at < CUSTOMERS, "the worker finished before it could be killed"

        second = Worker(env, tmp_path)

        def finished() -> bool:
            with get_db(app).session() as session:
                return session.scalar(select(func.count()).where(OutreachRecipient.status == "queued")) == CUSTOMERS
        assert wait_until(finished, timeout=90), second.output()
    finally:
        if second is not None:
            second.stop()
        if first.process.poll() is None:
            first.stop()

    recorded = sends(app)
    assert len(recorded) == CUSTOMERS
    assert len({c.payload["to"] for c in recorded}) == CUSTOMERS
    assert {c.status for c in recorded} == {"sandboxed"}
    with get_db(app).session() as session:
        outbound = session.scalars(select(Message).where(Message.direction == "outbound")).all()
        assert len(outbound) == CUSTOMERS and len({m.external_id for m in outbound}) == CUSTOMERS
        decisions = sorted(session.scalars(select(AuditEntry.action).where(AuditEntry.action.in_(
            ("outreach.approved", "outreach.decision_ignored")))))
        assert decisions == ["outreach.approved", "outreach.decision_ignored"]  # the second click decided nothing
    # The limiter's guarantee, exactly: consecutive granted slots (stamped in µs by
    # Redis's clock, across both workers) are at least one interval apart.
    granted = sorted(round(g * 1_000_000) for g in limiter.grants(limiter_key))
    interval = math.ceil(1_000_000 / RATE)
    gaps = [b - a for a, b in itertools.pairwise(granted)]
    assert min(gaps) >= interval, (len(granted), gaps)
    # And every send went through it: the k-th send was recorded no earlier than the
    # k-th slot. Both stamps come from this host's clock (Redis TIME and Python's
    # datetime.now, the outbox row being written after the slot is granted); 1 ms
    # covers the microsecond rounding on both sides, far below the 200 ms interval.
    assert len(granted) >= CUSTOMERS  # the killed worker may have taken a slot it never used
    sent = sorted(round(c.created_at.timestamp() * 1_000_000) for c in recorded)
    pairs = list(zip(sent, granted[:len(sent)], strict=True))
    assert all(s >= g - 1_000 for s, g in pairs), [s - g for s, g in pairs]
    get_db(app).dispose()
