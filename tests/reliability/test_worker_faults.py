"""Faults across processes: a real Celery worker (`switchboard worker`) on a private
Redis, killed with SIGKILL in the middle of a task, and Redis stopped while webhooks
keep arriving. Nothing accepted is lost and nothing is done twice."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest
from flask import Flask
from sqlalchemy import select, update

from switchboard.app import create_app
from switchboard.config import load_settings
from switchboard.core.inbox import CLAIM_LEASE
from switchboard.core.outbox import ATTEMPT_LEASE
from switchboard.db import get_db
from switchboard.models import InboxEvent, Message, OutboxCall
from switchboard.tasks import sweep_inbox

from ..conftest import _truncate_postgres, base_env
from ..fakes.openai_server import CannedResponse, FakeOpenAI, ReceivedRequest
from ..selfservice.test_selfservice_over_twilio import inbound
from .conftest import PrivateRedis, kill_group, vendor_for, wait_until
from .test_faults import with_kb

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
MESSAGES = "/webhooks/twilio/messages"


class HangingOpenAI(FakeOpenAI):
    """A model server whose first request hangs until released: the task that made it
    is, for as long as the test likes, in the middle of its work."""

    def __init__(self) -> None:
        super().__init__()
        self.first_request = threading.Event()
        self.release = threading.Event()
        self._hung = False

    def _answer(self, request: ReceivedRequest) -> CannedResponse:
        if not self._hung:
            self._hung = True
            self.first_request.set()
            self.release.wait(60)
        return super()._answer(request)


class Worker:
    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.log = cwd / f"worker-{uuid.uuid4().hex[:6]}.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "switchboard.cli", "worker", "--concurrency", "1", "--no-beat"],
            env={**os.environ, **env}, cwd=cwd, stdout=self.log.open("w"), stderr=subprocess.STDOUT,
            start_new_session=True)

    def pool_children(self) -> list[psutil.Process]:
        """The prefork pool's processes: the leaves under `switchboard worker`."""
        return [p for p in psutil.Process(self.process.pid).children(recursive=True) if not p.children()
                and "celery" in " ".join(p.cmdline())]

    def stop(self) -> None:
        kill_group(self.process, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            kill_group(self.process, signal.SIGKILL)
            self.process.wait()

    def output(self) -> str:
        return self.log.read_text()


@pytest.fixture
def queued(tmp_path: Path, pg_url: str, private_redis: PrivateRedis) -> Iterator[tuple[dict[str, str], PrivateRedis]]:
    _truncate_postgres(pg_url)
    private_redis.start()
    env = {**base_env(tmp_path, pg_url), "SWITCHBOARD_REDIS_URL": private_redis.url,
           "SWITCHBOARD_QUEUE": f"rel-{uuid.uuid4().hex[:8]}", "SWITCHBOARD_SWEEP_AFTER_SECONDS": "1",
           "SWITCHBOARD_SWEEP_INTERVAL_SECONDS": "1"}
    yield env, private_redis


def statuses(app: Flask) -> list[str]:
    with get_db(app).session() as session:
        return list(session.scalars(select(InboxEvent.status).order_by(InboxEvent.id)))


def test_a_worker_killed_mid_task_completes_the_task_once_with_one_reply(
    queued: tuple[dict[str, str], PrivateRedis], tmp_path: Path
) -> None:
    env, _ = queued
    with HangingOpenAI() as model:
        for _ in range(3):
            model.reply("Delivery takes 2 to 4 working days [1].")
        env = {**env, "OPENAI_BASE_URL": model.base_url}
        app = with_kb(create_app(load_settings(env), config={"TESTING": True}))
        worker = Worker(env, tmp_path)
        try:
            assert vendor_for(app).twilio(MESSAGES, inbound("how long does delivery take?")).status_code == 200
            assert model.first_request.wait(60), worker.output()
            [child] = worker.pool_children()
            child.send_signal(signal.SIGKILL)  # mid-task: the model call is in flight
            child.wait(10)
            model.release.set()
            assert wait_until(lambda: "WorkerLostError" in worker.output() or "lost" in worker.output().lower(),
                              timeout=30), worker.output()
            assert statuses(app) == ["processing"]  # held by the dead worker's claim
            # The claim and the model call's attempt are leases: let them run out (what
            # CLAIM_LEASE/ATTEMPT_LEASE of waiting would do), then the sweep redelivers.
            past = datetime.now(UTC) - max(CLAIM_LEASE, ATTEMPT_LEASE) - timedelta(seconds=1)
            with get_db(app).session() as session:
                session.execute(update(InboxEvent).values(claimed_at=past))
                session.execute(update(OutboxCall).where(OutboxCall.status == "sending").values(attempted_at=past))
                session.commit()
            with app.app_context():
                assert sweep_inbox.run() == 1
            assert wait_until(lambda: statuses(app) == ["done"], timeout=60), worker.output()
            with get_db(app).session() as session:
                assert len(session.scalars(select(Message).where(Message.direction == "inbound")).all()) == 1
                replies = session.scalars(select(OutboxCall).where(OutboxCall.vendor == "twilio")).all()
                assert len(replies) == 1 and replies[0].idempotency_key.startswith("reply:")
                assert len(session.scalars(select(Message).where(Message.direction == "outbound")).all()) == 1
                assert session.scalars(select(InboxEvent.attempts)).one() == 2
        finally:
            model.release.set()
            worker.stop()
            get_db(app).dispose()


def test_webhooks_arriving_while_redis_is_stopped_are_kept_and_processed_once_after_it_returns(
    queued: tuple[dict[str, str], PrivateRedis], tmp_path: Path
) -> None:
    env, redis = queued
    app = create_app(load_settings(env), config={"TESTING": True})
    worker = Worker({**env}, tmp_path)
    signed = vendor_for(app)
    try:
        assert signed.twilio(MESSAGES, inbound("first, redis up")).status_code == 200
        assert wait_until(lambda: statuses(app) == ["done"], timeout=60), worker.output()
        redis.stop()
        during = [inbound(f"message {n} while redis is down", sender=f"+1415555020{n}") for n in range(5)]
        assert [signed.twilio(MESSAGES, p).status_code for p in during] == [200] * 5  # stored: no vendor retry
        assert statuses(app).count("received") == 5
        redis.start()  # same port; the worker reconnects by itself
        with app.app_context():
            sweep_inbox.run()  # beat's job in production
        assert wait_until(lambda: statuses(app) == ["done"] * 6, timeout=90), worker.output()
        with get_db(app).session() as session:
            assert len(session.scalars(select(Message).where(Message.direction == "inbound")).all()) == 6
            assert len(session.scalars(select(OutboxCall).where(OutboxCall.vendor == "twilio")).all()) == 6
    finally:
        worker.stop()
        get_db(app).dispose()
