"""Open web chat streams cannot take a web worker from webhooks (issue 42, item 6).

Through README's web command (real gunicorn, embedded mode: gthread workers, on
PostgreSQL): sixteen streams from one address are held open while a signed Twilio
webhook and the health check are answered, the seventeenth stream and a visitor's
fifth are refused with a 429 naming the limit; a worker lends streams its threads
but four, whoever asks. The counts themselves, and their release when a stream ends,
through the widget's API on the app (memory and Redis counts)."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask

from switchboard.app import create_app
from switchboard.core.settings import load_settings
from switchboard.intake.db import get_db

from ..conftest import REDIS_URL, base_env
from ..selfservice.test_selfservice_over_twilio import inbound
from ..switchboard.test_gunicorn_conf import Gunicorn
from .conftest import SLUG, Visitor


@pytest.fixture
def embedded_web(tmp_path: Path, pg_url: str) -> Iterator[Gunicorn]:
    from ..conftest import _truncate_postgres

    _truncate_postgres(pg_url)
    server = Gunicorn(base_env(tmp_path, pg_url), tmp_path, "--graceful-timeout", "3")
    server.wait_answering()
    yield server
    server.stop()
    assert "Traceback" not in server.output(), server.output()[-3000:]


def _visitor_token(base: str) -> str:
    started = requests.post(f"{base}/session", json={"token": None, "locale": "en"}, timeout=10)
    assert started.status_code == 200, started.text
    token: str = started.json()["token"]
    return token


def _stream(base: str, token: str) -> requests.Response:
    return requests.get(f"{base}/stream", params={"token": token, "after": "0"}, stream=True, timeout=30)


def test_sixteen_streams_leave_webhooks_and_health_answering_and_the_17th_is_refused(
        embedded_web: Gunicorn) -> None:
    base = f"http://127.0.0.1:{embedded_web.port}/chat/{SLUG}"
    assert "Using worker: gthread" in embedded_web.output()
    tokens = [_visitor_token(base) for _ in range(5)]
    streams: list[requests.Response] = []
    try:
        streams = [_stream(base, tokens[n % 4]) for n in range(16)]  # four visitors, four tabs each
        assert [s.status_code for s in streams] == [200] * 16
        for stream in streams:  # each is really open: its first event has arrived
            assert next(stream.iter_lines(decode_unicode=True)).startswith("retry:")

        assert requests.get(f"http://127.0.0.1:{embedded_web.port}/healthz", timeout=10).status_code == 200
        assert embedded_web.post(inbound("Where is my parcel?")).status_code == 200

        over_ip = _stream(base, tokens[4])  # a fifth visitor from the same address
        assert over_ip.status_code == 429, over_ip.text
        assert "16 live chat connections" in over_ip.json()["error"]
        assert "streams_per_ip" in over_ip.json()["error"]
        assert int(over_ip.headers["Retry-After"]) > 0
        over_visitor = _stream(base, tokens[0])  # a fifth tab of the first
        assert over_visitor.status_code == 429, over_visitor.text
        assert "streams_per_visitor" in over_visitor.json()["error"]
        assert "4 live connections" in over_visitor.json()["error"]
    finally:
        for stream in streams:
            stream.close()


def test_a_worker_lends_streams_its_threads_but_four(tmp_path: Path, pg_url: str) -> None:
    """Eight threads: four streams, then 503s (whatever the per-address limits allow,
    as many addresses could ask), and the webhook and health check still answered."""
    from ..conftest import _truncate_postgres

    _truncate_postgres(pg_url)
    web = Gunicorn(base_env(tmp_path, pg_url), tmp_path, "--threads", "8", "--graceful-timeout", "3")
    streams: list[requests.Response] = []
    try:
        web.wait_answering()
        base = f"http://127.0.0.1:{web.port}/chat/{SLUG}"
        tokens = [_visitor_token(base) for _ in range(2)]
        streams = [_stream(base, tokens[n % 2]) for n in range(6)]
        assert [s.status_code for s in streams] == [200] * 4 + [503] * 2
        assert "(4, streams_per_process)" in streams[-1].json()["error"]
        assert "Retry-After" in streams[-1].headers
        assert requests.get(f"http://127.0.0.1:{web.port}/healthz", timeout=10).status_code == 200
        assert web.post(inbound("Where is my parcel?")).status_code == 200
    finally:
        for stream in streams:
            stream.close()
        web.stop()
    assert "Traceback" not in web.output(), web.output()[-3000:]


def test_a_closed_stream_gives_its_place_back(shop: Flask) -> None:
    """The count is of streams open now: a tab closed is a stream the visitor may open again."""
    visitor = Visitor(shop.test_client())
    visitor.start()
    held = [visitor.client.get(f"/chat/{SLUG}/stream?token={visitor.token}", buffered=False) for _ in range(5)]
    assert [r.status_code for r in held] == [200] * 4 + [429]
    held[0].close()
    again = visitor.client.get(f"/chat/{SLUG}/stream?token={visitor.token}", buffered=False)
    assert again.status_code == 200
    for response in [*held[1:], again]:
        response.close()


@pytest.fixture
def shared_redis_apps(tmp_path: Path, pg_url: str) -> Iterator[tuple[Flask, Flask]]:
    """Two web processes of one deployment (same Redis, same queue name)."""
    env = {**base_env(tmp_path, pg_url), "SWITCHBOARD_REDIS_URL": REDIS_URL,
           "SWITCHBOARD_QUEUE": f"test-streams-{uuid.uuid4().hex[:8]}"}
    config = {"TESTING": True, "WEBCHAT_STREAM_LIMITS": {"streams_per_ip": 3}}
    first, second = (create_app(load_settings(env), config=config) for _ in range(2))
    yield first, second
    for app in (first, second):
        get_db(app).dispose()


def test_the_limits_are_counted_across_web_processes_through_redis(shared_redis_apps: tuple[Flask, Flask]) -> None:
    first, second = shared_redis_apps
    visitors = [Visitor(first.test_client()), Visitor(second.test_client())]
    for visitor in visitors:
        visitor.start()
    held = [visitors[0].client.get(f"/chat/{SLUG}/stream?token={visitors[0].token}", buffered=False)
            for _ in range(2)]
    held.append(visitors[1].client.get(f"/chat/{SLUG}/stream?token={visitors[1].token}", buffered=False))
    assert [r.status_code for r in held] == [200] * 3
    refused = visitors[1].client.get(f"/chat/{SLUG}/stream?token={visitors[1].token}", buffered=False)
    assert refused.status_code == 429  # the address's third was opened in the other process
    assert "3 live chat connections" in refused.get_json()["error"]
    held[0].close()  # closed in the first process: the second may open one again
    reopened = visitors[1].client.get(f"/chat/{SLUG}/stream?token={visitors[1].token}", buffered=False)
    assert reopened.status_code == 200
    for response in [*held[1:], reopened]:
        response.close()
