"""Multi-workspace installs: "Add to Slack" → Slack's OAuth redirect → the bot token is
stored, and Bolt's authorize() finds it for that workspace (fake Slack Web API)."""
from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask

from switchboard.app import create_app
from switchboard.config import load_settings
from switchboard.db import get_db
from switchboard.models import SlackInstallation

from ..connectors.conftest import FakeSlackApi
from .conftest import OUTREACH_ENV


@pytest.fixture
def oauth_app(env: dict[str, str]) -> Iterator[tuple[Flask, FakeSlackApi]]:
    with FakeSlackApi() as fake:
        app = create_app(load_settings({**env, **OUTREACH_ENV, "SLACK_CLIENT_ID": "1111.2222",
                                        "SLACK_CLIENT_SECRET": "client-secret"}),
                         config={"TASKS_INLINE": True, "TESTING": True, "SLACK_API_URL": fake.url})
        yield app, fake
        get_db(app).dispose()


def test_install_stores_the_workspace_bot_token_and_authorize_uses_it(oauth_app) -> None:  # type: ignore[no-untyped-def]
    app, fake = oauth_app
    client = app.test_client()
    start = client.get("/slack/install")
    assert start.status_code == 302
    authorize = urlsplit(start.headers["Location"])
    query = parse_qs(authorize.query)
    assert authorize.netloc == "slack.com" and query["client_id"] == ["1111.2222"]
    assert query["redirect_uri"] == ["https://switchboard.example.com/slack/oauth_redirect"]
    fake.reply("oauth.v2.access", 200, {"ok": True, "app_id": "A0NEW", "access_token": "xoxb-installed",
                                        "token_type": "bot", "scope": "chat:write,commands", "bot_user_id": "U0BOT",
                                        "team": {"id": "T0NEW", "name": "New Co"}, "enterprise": None,
                                        "authed_user": {"id": "U0ADMIN"}})

    done = client.get(f"/slack/oauth_redirect?code=granted-code&state={query['state'][0]}")

    assert done.status_code == 200 and "New Co" in done.get_data(as_text=True)
    [request] = fake.requests
    assert request.path == "/api/oauth.v2.access" and b"granted-code" in request.body
    with get_db(app).session() as session:
        [row] = session.query(SlackInstallation).all()
        assert (row.team_id, row.bot_token, row.bot_user_id) == ("T0NEW", "xoxb-installed", "U0BOT")
        assert "access_token" not in row.data and "bot_token" not in row.data
    with app.app_context():
        from switchboard.webhooks.slack.bolt_app import _installed

        assert _installed(None, "T0NEW") == "xoxb-installed"
        assert _installed(None, "T0OTHER") is None


def test_forged_or_stale_state_installs_nothing(oauth_app) -> None:  # type: ignore[no-untyped-def]
    app, fake = oauth_app
    client = app.test_client()
    assert client.get("/slack/oauth_redirect?code=x&state=1700000000.deadbeef").status_code == 400
    assert fake.requests == []
    with get_db(app).session() as session:
        assert session.query(SlackInstallation).count() == 0


def test_install_is_off_without_client_credentials(app: Flask) -> None:
    response = app.test_client().get("/slack/install")
    assert response.status_code == 404 and "SLACK_CLIENT_ID" in response.get_data(as_text=True)
