"""Workers started with a backlog: each prefork child must open its own database
connections. A connection the parent made before forking, shared by two children, shows
up as NotImplementedError / OperationalError on the first tasks and an event stuck in
`processing` until its lease runs out — what every deploy (workers restarted while
messages wait) would meet."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from switchboard.core.store.models import InboxEvent, Message
from switchboard.intake.db import get_db

from ..conftest import REDIS_URL, base_env
from ..signing import fixture
from ..test_queue_with_celery import Worker, make_app, vendor_for, wait_until

# Slow: starts a Celery worker.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

BACKLOG = 60


def test_a_worker_started_with_a_backlog_processes_every_event_on_its_first_attempt(
        tmp_path: Path, pg_url: str) -> None:
    from ..conftest import _truncate_postgres

    _truncate_postgres(pg_url)
    env = base_env(tmp_path, pg_url)
    # No sweep during the test: every event must be taken from the queue by a child that
    # was forked from a parent which had already used the database.
    env.update(SWITCHBOARD_REDIS_URL=REDIS_URL, SWITCHBOARD_QUEUE=f"fork-{uuid.uuid4().hex[:8]}",
               SWITCHBOARD_SWEEP_AFTER_SECONDS="3600", SWITCHBOARD_SWEEP_INTERVAL_SECONDS="3600")
    app = make_app(env)
    vendor = vendor_for(app)
    for n in range(BACKLOG):  # accepted while no worker runs
        params = {**fixture("twilio", "inbound_sms.json"), "MessageSid": f"SM{n:032d}",
                  "From": f"+1415555{n:04d}", "Body": f"Hello, question number {n} about delivery times"}
        assert vendor.twilio("/webhooks/twilio/messages", params).status_code == 200
    worker = Worker(env, tmp_path, concurrency=3)
    try:
        def all_done() -> bool:
            with get_db(app).session() as session:
                return all(e.status == "done" for e in session.scalars(select(InboxEvent)))

        if not wait_until(all_done, timeout=90):
            with get_db(app).session() as session:
                left = [(e.id, e.status, e.attempts, e.error) for e in session.scalars(select(InboxEvent))
                        if e.status != "done"]
            pytest.fail(f"not processed: {left}\n{worker.output()[-3000:]}")
        with get_db(app).session() as session:
            events = session.scalars(select(InboxEvent)).all()
            assert len(events) == BACKLOG
            assert [e.attempts for e in events] == [1] * BACKLOG, worker.output()[-4000:]
            assert not [e for e in events if e.error]
            assert session.query(Message).filter(Message.direction == "inbound").count() == BACKLOG
        log = worker.output()
        for symptom in ("NotImplementedError", "OperationalError", "ProgrammingError", "Retry in"):
            assert symptom not in log, log[-4000:]
    finally:
        worker.stop()
        get_db(app).dispose()



def test_a_forked_child_opens_its_own_postgresql_connection(pg_url: str) -> None:
    """What gunicorn --preload and Celery's prefork do: fork after the parent used the
    database. The child must talk to PostgreSQL over a connection of its own (another
    server process), while the parent's connection stays usable."""
    import os

    from sqlalchemy import text

    from switchboard.intake.db import Database

    database = Database(pg_url)
    try:
        session = database.sessions()
        parent_backend = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        read, write = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the child
            try:
                backend = database.sessions().execute(text("SELECT pg_backend_pid()")).scalar_one()
                os.write(write, str(backend).encode())
            finally:
                os._exit(0)
        os.close(write)
        _, status = os.waitpid(child, 0)
        child_backend = int(os.read(read, 64) or b"0")
        assert os.WEXITSTATUS(status) == 0 and child_backend
        assert child_backend != parent_backend
        assert session.execute(text("SELECT pg_backend_pid()")).scalar_one() == parent_backend
    finally:
        database.dispose()
