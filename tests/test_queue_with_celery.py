"""The queued path with a real Redis, a real Celery worker (a separate process) and a
real PostgreSQL: an event accepted while Redis is down is processed after it returns."""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from switchboard.app import create_app
from switchboard.core.dispatch import MAX_BATCH
from switchboard.core.settings import load_settings
from switchboard.core.store.models import InboxEvent, Message
from switchboard.intake.db import get_db

from .conftest import PUBLIC_URL, REDIS_URL, SLACK_SECRET, TWILIO_TOKEN, ZENDESK_SECRET, base_env
from .signing import VendorClient, fixture

# Slow: starts Celery workers.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: How long a worker may take to say it is ready (a wait, not a timing).
READY_SECONDS = 180


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


class Worker:
    """`switchboard worker` (Celery worker with beat, prefork pool) in its own process."""

    def __init__(self, env: dict[str, str], cwd: Path, *, concurrency: int = 1, beat: bool = True) -> None:
        self.log = cwd / f"worker-{uuid.uuid4().hex[:6]}.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "switchboard.cli", "worker", "--concurrency", str(concurrency),
             "--beat" if beat else "--no-beat"],
            env={**os.environ, **env}, cwd=cwd, stdout=self.log.open("w"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        # Waits that follow (an event processed within 30 s) are about the work, not the
        # start: the worker loads its models before it forks, which has taken over 20 s
        # on two cores beside the rest of the suite.
        assert wait_until(lambda: " ready." in self.output() or self.process.poll() is not None,
                          timeout=READY_SECONDS), self.output()[-3000:]
        assert self.process.poll() is None, f"the worker exited:\n{self.output()[-3000:]}"

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)  # Celery (the command exec'd it) and its pool
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def output(self) -> str:
        return self.log.read_text()


@pytest.fixture
def queued_env(tmp_path: Path, pg_url: str) -> dict[str, str]:
    from .conftest import _truncate_postgres

    _truncate_postgres(pg_url)
    env = base_env(tmp_path, pg_url)
    env.update(SWITCHBOARD_REDIS_URL=REDIS_URL, SWITCHBOARD_QUEUE=f"test-{uuid.uuid4().hex[:8]}",
               SWITCHBOARD_SWEEP_AFTER_SECONDS="1", SWITCHBOARD_SWEEP_INTERVAL_SECONDS="1")
    return env


def make_app(env: dict[str, str]) -> Flask:
    return create_app(load_settings(env), config={"TESTING": True})


def vendor_for(app: Flask) -> VendorClient:
    return VendorClient(app.test_client(), twilio_token=TWILIO_TOKEN, zendesk_secret=ZENDESK_SECRET,
                        slack_secret=SLACK_SECRET, public_url=PUBLIC_URL)


def event_status(app: Flask) -> list[str]:
    with get_db(app).session() as session:
        return [e.status for e in session.scalars(select(InboxEvent).order_by(InboxEvent.id))]


def test_webhook_is_processed_by_a_real_worker_through_redis(queued_env: dict[str, str], tmp_path: Path) -> None:
    app = make_app(queued_env)
    worker = Worker(queued_env, tmp_path)
    try:
        response = vendor_for(app).twilio("/webhooks/twilio/messages", fixture("twilio", "inbound_sms.json"))
        assert response.status_code == 200
        assert wait_until(lambda: event_status(app) == ["done"]), worker.output()
        with get_db(app).session() as session:
            inbound = session.scalars(select(Message).where(Message.direction == "inbound")).one()
            assert inbound.external_id == "SM1f0e8ae6ade43cb3c0ce4525424e404f"
    finally:
        worker.stop()
        get_db(app).dispose()


def test_events_published_together_are_each_processed_once_and_a_failing_one_does_not_stop_the_rest(
    queued_env: dict[str, str], tmp_path: Path
) -> None:
    """One queue message carrying several events, as the dispatcher sends under load:
    the worker processes them in order; an event no handler knows is parked as failed
    without holding up the others, and a second copy of the message changes nothing."""
    from switchboard.core.store import inbox
    from switchboard.tasks import publish_events

    app = make_app(queued_env)
    sample = fixture("twilio", "inbound_sms.json")
    with app.app_context(), get_db(app).session() as session:
        account_id = app.config["DEFAULT_ACCOUNT_ID"]
        ids = [inbox.record(session, account_id=account_id, vendor="twilio", kind="twilio.message",
                            dedupe_key=f"SMbatch{n}", payload={**sample, "MessageSid": f"SMbatch{n}",
                                                               "From": f"+1415555{n:04d}"})[0].id
               for n in range(3)]
        ids.insert(1, inbox.record(session, account_id=account_id, vendor="twilio", kind="twilio.unheard_of",
                                   dedupe_key="odd", payload={})[0].id)
        publish_events(ids)
        publish_events(ids)  # a redelivered copy
    worker = Worker(queued_env, tmp_path, beat=False)
    try:
        assert wait_until(lambda: event_status(app) == ["done", "done", "done", "failed"]), worker.output()
        assert wait_until(lambda: worker.output().count("{'done': 3, 'failed': 1}") == 2), worker.output()
        assert "process_inbox_event[" not in worker.output()  # nothing to retry: the odd one is parked
        with get_db(app).session() as session:
            inbound = session.scalars(select(Message.external_id).where(Message.direction == "inbound")
                                      .order_by(Message.id)).all()
            assert inbound == ["SMbatch0", "SMbatch1", "SMbatch2"]
            assert len(session.scalars(select(Message).where(Message.direction == "outbound",
                                                             Message.author == "bot")).all()) == 3
    finally:
        worker.stop()
        get_db(app).dispose()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[str, Callable[[], None]]]:
    """A Redis of our own that the test can start late, as if it had been down."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed: .ci/run installs and starts it"
    port = free_port()
    processes: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        processes.append(subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL))
        assert wait_until(lambda: _redis_up(port), timeout=10)

    yield f"redis://127.0.0.1:{port}/0", start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def _redis_up(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def test_event_accepted_while_redis_is_down_is_processed_after_it_returns(
    queued_env: dict[str, str], tmp_path: Path, private_redis: tuple[str, Callable[[], None]]
) -> None:
    redis_url, start_redis = private_redis
    env = {**queued_env, "SWITCHBOARD_REDIS_URL": redis_url}
    app = make_app(env)
    try:
        response = vendor_for(app).twilio("/webhooks/twilio/messages", fixture("twilio", "inbound_sms.json"))
        assert response.status_code == 200  # stored, so Twilio must not retry
        assert event_status(app) == ["received"]
        readiness = app.test_client().get("/readyz")
        assert readiness.status_code == 503
        assert readiness.get_json()["checks"]["redis"].startswith("unreachable")

        start_redis()
        worker = Worker(env, tmp_path)
        try:
            assert wait_until(lambda: event_status(app) == ["done"], timeout=45), worker.output()
        finally:
            worker.stop()
        with get_db(app).session() as session:
            assert len(session.scalars(select(Message).where(Message.direction == "inbound")).all()) == 1
    finally:
        get_db(app).dispose()


def _uss_mb(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_full_info().uss / 2**20


def test_pool_children_share_the_models_the_worker_loaded_before_forking(
        queued_env: dict[str, str], tmp_path: Path) -> None:
    """Issue 18: each pool child used to load its own language detector, sentence
    encoder and knowledge index (about 420 MB of its own at 10,000 articles). Loaded in
    the Celery main process before the fork, they are shared: a child that has answered
    messages has them resident, yet holds few pages of its own. A knowledge base
    published after the fork is still what every child answers from."""
    import psutil

    from switchboard.core.accounts import ensure_default_account
    from switchboard.core.knowledge.records import Article
    from switchboard.core.knowledge.service import KnowledgeBase

    app = make_app(queued_env)
    settings = app.config["SETTINGS"]
    articles = [Article(id=f"a{n}", title=title, body=body) for n, (title, body) in enumerate([
        ("Where is my order?", "Track your parcel with the link in your shipping email."),
        ("Refunds", "Refunds reach your card within 5 business days of the return."),
        ("Reset your password", "Use 'Forgot password' on the sign-in page."),
    ])]
    with get_db(app).session() as session:
        account_id = ensure_default_account(session, settings).id
        KnowledgeBase.of(session, account_id, settings).import_articles(articles)
    worker = Worker(queued_env, tmp_path, concurrency=2, beat=False)
    client, sent = vendor_for(app), 0

    def tasks_per_child() -> dict[str, int]:
        found = re.findall(r"ForkPoolWorker-(\d+)\].*succeeded", worker.output())
        return {child: found.count(child) for child in set(found)}

    def ask_until_both_children_answer(question: str, since: dict[str, int]) -> list[str]:
        nonlocal sent
        asked = sent
        while sent - asked < 120:
            # A burst longer than one publish carries (the dispatcher's batch), so the
            # second child takes a message while the first is busy with its own.
            for _ in range(MAX_BATCH + 4):
                sent += 1
                params = {**fixture("twilio", "inbound_sms.json"), "MessageSid": f"SM{uuid.uuid4().hex}",
                          "From": f"+1415555{sent:04d}", "Body": question}
                assert client.twilio("/webhooks/twilio/messages", params).status_code == 200
            assert wait_until(lambda expected=sent: event_status(app).count("done") == expected,
                              timeout=90), worker.output()
            now = tasks_per_child()
            if len(now) == 2 and all(now[child] > since.get(child, 0) for child in now):
                break
        with get_db(app).session() as session:
            return list(session.scalars(select(Message.body).where(
                Message.direction == "outbound", Message.author == "bot").order_by(Message.id).offset(asked)))

    try:
        ask_until_both_children_answer("when do i get my money back?", {})
        assert len(tasks_per_child()) == 2, worker.output()
        celery_main = psutil.Process(worker.process.pid)  # `switchboard worker` became Celery (exec)
        pool = celery_main.children()
        assert len(pool) == 2
        for child in pool:
            resident = child.memory_info().rss / 2**20
            own = _uss_mb(child.pid)
            # The detector alone is ~240 MB; it and the rest are resident in the child but
            # shared with the main process, so the child's own pages stay far below that.
            assert resident > 300, (resident, own)
            assert own < 150, (resident, own)
        assert "loaded before forking the pool" in worker.output()

        with get_db(app).session() as session:  # a new version, published after the fork
            KnowledgeBase.of(session, account_id, settings).import_articles([*articles, Article(
                id="llama", title="Can I ride a llama at the farm?",
                body="Llama rides are offered on Saturdays between 10:00 and 12:00.")])
        before = tasks_per_child()
        replies = ask_until_both_children_answer("can i ride a llama at the farm?", before)
        assert all(count > before[child] for child, count in tasks_per_child().items()), worker.output()
        assert replies and all("ride a llama at the farm" in reply for reply in replies), replies
    finally:
        worker.stop()
        get_db(app).dispose()


def _waiting_on_a_lock(app: Flask) -> bool:
    """Whether some other session of the database waits for a lock (the worker's claim)."""
    from sqlalchemy import text

    with get_db(app).engine.connect() as connection:
        return bool(connection.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )).scalar())


def test_sigterm_to_switchboard_worker_lets_celery_finish_its_task_and_leaves_no_process(
    queued_env: dict[str, str], tmp_path: Path
) -> None:
    """What a process manager (systemd, Kubernetes, supervisord) does on a deploy: SIGTERM
    to the process it started, `switchboard worker`, and nothing else. Celery must get it
    (warm shutdown: the task in hand is finished, not lost or left to the visibility
    timeout) and exit, with no Celery process left running on its own. The task is held
    mid-flight by a lock on the inbox table that the test releases after the signal."""
    import psutil
    from sqlalchemy import text

    from switchboard.core.store import inbox
    from switchboard.tasks import publish_events

    app = make_app(queued_env)
    with app.app_context(), get_db(app).session() as session:
        event = inbox.record(session, account_id=app.config["DEFAULT_ACCOUNT_ID"], vendor="twilio",
                             kind="twilio.message", dedupe_key="SMsigterm",
                             payload={**fixture("twilio", "inbound_sms.json"), "MessageSid": "SMsigterm"})[0]
    log = tmp_path / "worker.log"
    command = subprocess.Popen([sys.executable, "-m", "switchboard.cli", "worker", "--concurrency", "1", "--no-beat"],
                               env={**os.environ, **queued_env}, cwd=tmp_path, stdout=log.open("w"),
                               stderr=subprocess.STDOUT)
    started: list[psutil.Process] = []
    holder = get_db(app).engine.connect()
    try:
        assert wait_until(lambda: " ready." in log.read_text(), timeout=180), log.read_text()
        started = [psutil.Process(command.pid), *psutil.Process(command.pid).children(recursive=True)]
        lock = holder.begin()
        holder.execute(text("LOCK TABLE inbox_events IN ACCESS EXCLUSIVE MODE"))
        with app.app_context():
            publish_events([event.id])
        assert wait_until(lambda: _waiting_on_a_lock(app), timeout=30), log.read_text()

        command.send_signal(signal.SIGTERM)  # to the command's process only, as a process manager does
        time.sleep(2)
        assert command.poll() is None, "the worker exited with a task in hand:\n" + log.read_text()
        lock.rollback()  # the task goes on

        assert command.wait(timeout=30) == 0, log.read_text()
        assert event_status(app) == ["done"], log.read_text()
        assert "Warm shutdown" in log.read_text() or "warm shutdown" in log.read_text().lower(), log.read_text()
        assert wait_until(lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in started),
                          timeout=10), [p.cmdline() for p in started if p.is_running()]
    finally:
        holder.close()
        for process in started:  # only what this test started, by its id
            if process.is_running():
                process.kill()
        if command.poll() is None:
            command.kill()
            command.wait()
        get_db(app).dispose()
