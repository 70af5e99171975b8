"""`gunicorn -c python:switchboard.gunicorn_conf 'switchboard.wsgi:app'`, the command
README gives for the web processes: gevent workers with Redis workers (real gunicorn,
PostgreSQL, Redis and Celery worker), gthread in embedded mode."""
from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from sqlalchemy import select, text
from twilio.request_validator import RequestValidator

from switchboard.core.store.models import InboxEvent, Message, OutboxCall
from switchboard.intake.db import make_engine

from ..conftest import PUBLIC_URL, TWILIO_TOKEN
from ..selfservice.test_selfservice_over_twilio import inbound
from ..test_queue_with_celery import Worker, free_port, queued_env, wait_until

pytestmark = pytest.mark.slow  # starts gunicorn

__all__ = ["queued_env"]  # the fixture, imported to be used here
MESSAGES = "/webhooks/twilio/messages"


def settings_with(monkeypatch: pytest.MonkeyPatch, **env: str | None) -> object:
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    import switchboard.gunicorn_conf as conf

    return importlib.reload(conf)


def test_redis_workers_get_gevent_web_workers_and_embedded_mode_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    queued = settings_with(monkeypatch, SWITCHBOARD_REDIS_URL="redis://127.0.0.1:6379/0", WEB_CONCURRENCY="3")
    assert (queued.worker_class, queued.workers) == ("gevent", 3)  # type: ignore[attr-defined]
    embedded = settings_with(monkeypatch, SWITCHBOARD_REDIS_URL=None, WEB_CONCURRENCY=None)
    assert embedded.worker_class == "gthread"  # type: ignore[attr-defined]
    assert embedded.workers == len(os.sched_getaffinity(0))  # type: ignore[attr-defined]


class Gunicorn:
    """The README's web command, on a free loopback port."""

    def __init__(self, env: dict[str, str], cwd: Path, *extra: str, workers: int = 1) -> None:
        self.port = free_port()
        self.log = cwd / f"gunicorn-{self.port}.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:switchboard.gunicorn_conf", "-w", str(workers),
             "-b", f"127.0.0.1:{self.port}", *extra, "switchboard.wsgi:app"],
            env={**os.environ, **env}, cwd=cwd, stdout=self.log.open("w"), stderr=subprocess.STDOUT)

    def wait_answering(self) -> None:
        def answers() -> bool:
            assert self.process.poll() is None, self.output()
            try:
                return requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code == 200
            except requests.RequestException:  # refused, or accepted before a worker booted
                return False
        assert wait_until(answers, timeout=180), self.output()

    def post(self, form: dict[str, str]) -> requests.Response:
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC_URL + MESSAGES, form)
        return requests.post(f"http://127.0.0.1:{self.port}{MESSAGES}", data=urlencode(form), timeout=30,
                             headers={"Content-Type": "application/x-www-form-urlencoded",
                                      "X-Twilio-Signature": signature})

    def stop(self) -> None:
        """Graceful: gunicorn waits up to its graceful_timeout (30 s) for open streams."""
        self.process.terminate()
        try:
            self.process.wait(timeout=45)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def output(self) -> str:
        return self.log.read_text()


@pytest.fixture
def web(queued_env: dict[str, str], tmp_path: Path) -> Iterator[Gunicorn]:
    server = Gunicorn(queued_env, tmp_path)
    server.wait_answering()
    yield server
    server.stop()
    assert "Traceback" not in server.output(), server.output()[-3000:]


def test_a_delivery_waiting_for_the_database_does_not_hold_up_its_worker(web: Gunicorn,
                                                                         queued_env: dict[str, str]) -> None:
    """One gevent worker: while a delivery waits for PostgreSQL (the inbox is locked), the
    same process still answers. psycopg's own C wait would block the whole loop; under
    gevent it must wait cooperatively, and the delivery is answered only once stored."""
    assert "Using worker: gevent" in web.output()
    form = inbound("Where is my parcel?")
    engine = make_engine(queued_env["SWITCHBOARD_DATABASE_URL"])
    try:
        with engine.connect() as locker, ThreadPoolExecutor(1) as pool:
            locker.execute(text("LOCK TABLE inbox_events IN EXCLUSIVE MODE"))
            pending = pool.submit(web.post, form)
            time.sleep(1.0)
            assert not pending.done(), "the delivery was answered while the inbox could not be written"
            started = time.monotonic()
            assert requests.get(f"http://127.0.0.1:{web.port}/healthz", timeout=10).status_code == 200
            assert time.monotonic() - started < 2.0
            locker.rollback()
            assert pending.result(timeout=20).status_code == 200
        with engine.connect() as connection:
            keys = connection.scalars(select(InboxEvent.dedupe_key)).all()
        assert keys == [form["MessageSid"]]
    finally:
        engine.dispose()


def test_concurrent_deliveries_through_gevent_workers_are_answered_once_each(queued_env: dict[str, str],
                                                                            tmp_path: Path) -> None:
    """Two gevent workers take 24 customers' messages at once, 8 of them delivered twice
    (Twilio retries): each is stored once, processed by a real Celery worker, and
    answered once."""
    forms = [inbound("What are your opening hours?", sender=f"+1415555{n:04d}") for n in range(24)]
    web = Gunicorn(queued_env, tmp_path, workers=2)
    worker = Worker(queued_env, tmp_path, concurrency=2)
    engine = make_engine(queued_env["SWITCHBOARD_DATABASE_URL"])
    try:
        web.wait_answering()
        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(lambda form: web.post(form).status_code, forms + forms[:8]))
        assert statuses == [200] * 32

        def all_done() -> bool:
            with engine.connect() as connection:
                done = connection.scalars(select(InboxEvent.status)).all()
            return len(done) == 24 and set(done) == {"done"}
        assert wait_until(all_done, timeout=120), worker.output()[-3000:]
        with engine.connect() as connection:
            inbound_sids = Counter(connection.scalars(
                select(Message.external_id).where(Message.direction == "inbound")).all())
            replies = connection.scalars(select(OutboxCall.payload).where(OutboxCall.vendor == "twilio")).all()
        assert inbound_sids == Counter({form["MessageSid"]: 1 for form in forms})
        assert Counter(reply["to"] for reply in replies) == Counter({form["From"]: 1 for form in forms})
    finally:
        web.stop()
        worker.stop()
        engine.dispose()
    assert "Using worker: gevent" in web.output()
    assert "Traceback" not in web.output(), web.output()[-3000:]


def test_preload_with_gevent_workers_is_refused_saying_what_to_do(queued_env: dict[str, str],
                                                                 tmp_path: Path) -> None:
    server = Gunicorn(queued_env, tmp_path, "--preload")
    assert server.process.wait(timeout=60) != 0
    assert "--preload cannot be used with gevent workers" in server.output()
    assert "-k gthread" in server.output()


def test_web_chat_streams_share_one_gevent_worker_with_webhooks(queued_env: dict[str, str],
                                                                 tmp_path: Path) -> None:
    """One gevent worker holds 16 open web chat streams (four visitors' four tabs, the
    most one address may hold) and still takes webhooks; a visitor's question is
    answered by the Celery worker and the answer arrives on the visitor's stream."""
    web = Gunicorn(queued_env, tmp_path, "--graceful-timeout", "3")  # streams left open are cut at the stop
    worker = Worker(queued_env, tmp_path)
    base = f"http://127.0.0.1:{web.port}/chat/default"
    streams: list[requests.Response] = []
    try:
        web.wait_answering()
        tokens = []
        for _ in range(4):
            started = requests.post(f"{base}/session", json={"token": None, "locale": "en"}, timeout=10)
            assert started.status_code == 200, started.text
            tokens.append(started.json()["token"])
        token = tokens[-1]
        streams = [requests.get(f"{base}/stream", params={"token": tokens[n % 4], "after": "0"}, stream=True,
                                timeout=60) for n in range(16)]
        assert [s.status_code for s in streams] == [200] * 16
        assert web.post(inbound("Where is my parcel?")).status_code == 200  # a webhook meanwhile
        asked = requests.post(f"{base}/messages", json={"text": "What are your opening hours?", "client_id": "c1"},
                              headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert asked.status_code == 202, asked.text
        authors = []
        for line in streams[-1].iter_lines(decode_unicode=True):
            if line.startswith("data:"):
                authors.append(json.loads(line[len("data:"):])["author"])
                if authors[-1] == "bot":
                    break
        assert authors[0] == "customer" and authors[-1] == "bot", authors
    finally:
        for stream in streams:
            stream.close()
        web.stop()
        worker.stop()
    assert "Using worker: gevent" in web.output()
    assert "Traceback" not in web.output(), web.output()[-3000:]


def _webhook_requests_total(port: int) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    scraped = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert scraped.status_code == 200, scraped.text
    return sum(sample.value for family in text_string_to_metric_families(scraped.text)
               if family.name == "switchboard_webhook_requests"
               for sample in family.samples if sample.name.endswith("_total"))


#: How long both of gunicorn's workers have to start taking webhooks.
BOTH_WORKERS_SERVE_SECONDS = 120


def test_metrics_under_two_workers_count_every_workers_requests(queued_env: dict[str, str], tmp_path: Path) -> None:
    """README's web command with two workers: /metrics, whichever worker answers it,
    counts the webhooks both served (Prometheus's multiprocess mode, set up by the
    gunicorn settings themselves in a per-run directory under the data directory), a
    previous run's leftovers are not added in, the counts of a worker that died are kept,
    and gunicorn's control socket is not written to the home directory."""
    data_dir = Path(queued_env["SWITCHBOARD_DATA_DIR"])
    stale = data_dir / "prometheus" / "4194305"  # above Linux's largest pid: a run long gone
    stale.mkdir(parents=True)
    (stale / "counter_1.db").write_bytes(b"\0" * 64)
    home = tmp_path / "home"
    home.mkdir()
    env = {**queued_env, "HOME": str(home), "XDG_RUNTIME_DIR": ""}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    web = Gunicorn(env, tmp_path, workers=2)
    try:
        web.wait_answering()
        run_dir = data_dir / "prometheus" / str(web.process.pid)

        def writers() -> set[str]:
            return {path.stem.rsplit("_", 1)[1] for path in run_dir.glob("counter_*.db")}

        sent = 0
        # Until both workers have served some. gunicorn answers as soon as one worker has
        # loaded the app; the other may still be loading it while the first takes every
        # connection (one CI run: 400 requests, all to the first worker). A time limit,
        # not a count: a worker that never serves still fails the test.
        deadline = time.monotonic() + BOTH_WORKERS_SERVE_SECONDS
        with ThreadPoolExecutor(8) as pool:
            while len(writers()) < 2 and time.monotonic() < deadline:
                forms = [inbound("What are your opening hours?", sender=f"+1415556{sent + n:04d}") for n in range(40)]
                assert set(pool.map(lambda form: web.post(form).status_code, forms)) == {200}
                sent += len(forms)
        assert len(writers()) == 2, (sorted(run_dir.iterdir()) if run_dir.exists() else "no run directory",
                                     web.output()[-2000:])
        assert not stale.exists()
        for _ in range(6):  # each scrape is answered by one worker or the other
            assert _webhook_requests_total(web.port) == sent

        import psutil

        victim = psutil.Process(web.process.pid).children()[0]
        victim.terminate()  # gunicorn starts another; what the first counted stays counted
        victim.wait(timeout=30)
        assert wait_until(lambda: len(psutil.Process(web.process.pid).children()) == 2, timeout=60)
        web.wait_answering()
        for _ in range(4):
            assert _webhook_requests_total(web.port) == sent
    finally:
        web.stop()
    assert not (home / ".gunicorn").exists(), sorted((home / ".gunicorn").iterdir())
    assert "Traceback" not in web.output(), web.output()[-3000:]


def test_the_access_log_does_not_carry_a_visitor_token(queued_env: dict[str, str], tmp_path: Path) -> None:
    """With gunicorn's access log on, the web chat stream's URL (its visitor token in the
    query string: a browser's EventSource sends no headers) is logged redacted."""
    web = Gunicorn(queued_env, tmp_path, "--access-logfile", "-")
    try:
        web.wait_answering()
        base = f"http://127.0.0.1:{web.port}/chat/default"
        token = requests.post(f"{base}/session", json={"token": None}, timeout=10).json()["token"]
        # A stream request that ends at once (a bad position), so its line is logged now:
        # an open stream is logged only when it ends.
        refused = requests.get(f"{base}/stream", params={"token": token, "after": "x"}, timeout=30)
        assert refused.status_code == 400, refused.text
        assert wait_until(lambda: "/chat/default/stream?" in web.output(), timeout=10), web.output()[-3000:]
    finally:
        web.stop()
    assert "/chat/default/stream?token=[redacted]&after=x" in web.output(), web.output()[-3000:]
    assert token not in web.output() and token.split(".")[0] not in web.output()
