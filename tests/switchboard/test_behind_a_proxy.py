"""Behind a reverse proxy on the same host every request arrives from 127.0.0.1. What
only this machine may see (the playground, the key file's path on the sign-in page) and
what is counted per visitor's IP (the web chat's limits) must go by the address the
proxy reports, and only when the operator said how many proxies to trust
(SWITCHBOARD_TRUSTED_PROXIES): a client talking to us directly cannot claim an address
with X-Forwarded-For. And outside sandbox mode the playground is served only to an
operator who asked for it (SWITCHBOARD_PLAYGROUND=1)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from switchboard.app import create_app
from switchboard.core.settings import load_settings
from switchboard.intake.db import get_db

from ..conftest import base_env
from ..privacy.helpers import key_for

PUBLIC = "203.0.113.9"
OTHER = "198.51.100.7"


@pytest.fixture
def make_app(tmp_path: Path, database_url: str) -> Iterator[object]:
    apps: list[Flask] = []

    def make(**env: str | None) -> Flask:
        values = {**base_env(tmp_path, database_url), **env}
        app = create_app(load_settings({k: v for k, v in values.items() if v is not None}),
                         config={"TASKS_INLINE": True, "TESTING": True,
                                 "WEBCHAT_LIMITS": {"sessions_per_ip": "2/hour"}})
        apps.append(app)
        return app

    yield make
    for app in apps:
        get_db(app).dispose()


def via_proxy(client: FlaskClient, path: str, forwarded_for: str, **kwargs: object) -> object:
    """A request as the same-host proxy passes it on: from 127.0.0.1, naming the client."""
    return client.get(path, headers={"X-Forwarded-For": forwarded_for, "X-Forwarded-Proto": "https"},
                      environ_base={"REMOTE_ADDR": "127.0.0.1"}, **kwargs)


#: Zendesk and Slack live, Twilio without credentials (so sandboxed): not sandbox mode.
PARTLY_LIVE = {"SWITCHBOARD_SANDBOX": "0", "TWILIO_ACCOUNT_SID": None, "TWILIO_AUTH_TOKEN": None,
               "ZENDESK_EMAIL": "ops@acme.example", "ZENDESK_API_TOKEN": "zendesk-token",
               "SLACK_BOT_TOKEN": "xoxb-1"}


def test_outside_sandbox_mode_the_playground_is_off_unless_asked_for(make_app) -> None:  # type: ignore[no-untyped-def]
    """A deployment with a live Zendesk: the playground would hand its made-up customers
    to real agents, and behind a same-host proxy anyone could reach it."""
    client = make_app(**PARTLY_LIVE).test_client()
    for path in ("/playground", "/playground/conversation"):
        response = via_proxy(client, path, PUBLIC)
        assert response.status_code == 404, response.get_data(as_text=True)
        assert "SWITCHBOARD_PLAYGROUND=1" in response.json["error"]
    assert client.post("/playground/messages", json={"text": "hi"}).status_code == 404
    # Asked for, it is served to this machine, as before.
    opted_in = make_app(**PARTLY_LIVE, SWITCHBOARD_PLAYGROUND="1").test_client()
    assert opted_in.get("/playground").status_code == 200


def test_behind_a_trusted_proxy_the_playground_and_key_path_are_for_this_machine_only(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(SWITCHBOARD_TRUSTED_PROXIES="1")
    (app.config["SETTINGS"].data_dir / ".switchboard-api-key").write_text(key_for(app))
    client = app.test_client()
    refused = via_proxy(client, "/playground", PUBLIC)
    assert refused.status_code == 403 and "only served to this machine" in refused.json["error"]
    assert via_proxy(client, "/playground", "127.0.0.1").status_code == 200  # a browser on the host itself
    page = via_proxy(client, "/dashboard/login", PUBLIC).get_data(as_text=True)
    assert str(app.config["SETTINGS"].data_dir) not in page
    assert str(app.config["SETTINGS"].data_dir) in via_proxy(client, "/dashboard/login", "127.0.0.1").get_data(
        as_text=True)


def test_forwarded_headers_are_ignored_unless_proxies_are_trusted(make_app) -> None:  # type: ignore[no-untyped-def]
    """Default (0 proxies): a client reaching us directly cannot pass as this machine, or
    as another visitor, by sending X-Forwarded-For itself."""
    client = make_app(SWITCHBOARD_PLAYGROUND="1").test_client()
    spoofed = client.get("/playground", headers={"X-Forwarded-For": "127.0.0.1"},
                         environ_base={"REMOTE_ADDR": PUBLIC})
    assert spoofed.status_code == 403
    for forwarded in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):  # one IP, whatever it claims
        response = client.post("/chat/default/session", json={"token": None},
                               headers={"X-Forwarded-For": forwarded}, environ_base={"REMOTE_ADDR": PUBLIC})
    assert response.status_code == 429


def test_web_chat_limits_count_each_visitor_behind_a_trusted_proxy(make_app) -> None:  # type: ignore[no-untyped-def]
    """Through the proxy every visitor came from 127.0.0.1: one shared limit, so a few
    visitors used up everyone's new chats. With the proxy trusted each IP has its own."""
    client = make_app(SWITCHBOARD_TRUSTED_PROXIES="1").test_client()

    def start(ip: str) -> int:
        return int(client.post("/chat/default/session", json={"token": None}, headers={"X-Forwarded-For": ip},
                               environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code)

    assert [start(PUBLIC), start(PUBLIC), start(PUBLIC)] == [200, 200, 429]
    assert [start(OTHER), start(OTHER)] == [200, 200]  # another visitor is not held back by the first
    # Only the hop the proxy added is believed: a chain the client wrote ends in the proxy's view of it.
    assert start(f"127.0.0.1, {PUBLIC}") == 429


def test_trusted_proxies_must_be_a_small_whole_number() -> None:
    from switchboard.core.errors import ConfigError

    for bad in ("-1", "x", "99"):
        with pytest.raises(ConfigError, match="SWITCHBOARD_TRUSTED_PROXIES"):
            load_settings({"SWITCHBOARD_TRUSTED_PROXIES": bad})
    assert load_settings({}).trusted_proxies == 0
