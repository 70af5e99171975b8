"""Multi-workspace installs: "Add to Slack" → Slack's OAuth redirect → the bot token is
stored, and Bolt's authorize() finds it for that workspace (fake Slack Web API)."""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from flask import Flask

from switchboard import db
from switchboard.app import create_app
from switchboard.config import load_settings
from switchboard.connectors.slack import SlackConnector
from switchboard.core.accounts import by_slug, create_api_key
from switchboard.db import get_db
from switchboard.models import Account, SlackInstallation

from ..conftest import PUBLIC_URL, SLACK_SECRET, TWILIO_TOKEN, ZENDESK_SECRET
from ..connectors.conftest import FakeSlackApi
from ..signing import VendorClient
from .conftest import APPROVAL_CHANNEL, OUTREACH_ENV, add_customer, calls, campaign, click, post_campaign


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


INSTALLED = {"ok": True, "app_id": "A0NEW", "access_token": "xoxb-installed", "token_type": "bot",
             "scope": "chat:write,commands", "bot_user_id": "U0BOT", "team": {"id": "T0NEW", "name": "New Co"},
             "enterprise": None, "authed_user": {"id": "U0ADMIN"}}
MESSAGES_URL = re.compile(r"https://api\.twilio\.com/2010-04-01/Accounts/AC\w+/Messages\.json")


def install(app: Flask, fake: FakeSlackApi, answer: dict[str, Any]) -> str:
    """Add to Slack → Slack's redirect back, with oauth.v2.access answered by the fake."""
    client = app.test_client()
    state = parse_qs(urlsplit(client.get("/slack/install").headers["Location"]).query)["state"][0]
    fake.reply("oauth.v2.access", 200, answer)
    done = client.get(f"/slack/oauth_redirect?code=granted-code&state={state}")
    assert done.status_code == 200
    return done.get_data(as_text=True)


@pytest.fixture
def live_oauth_app(env: dict[str, str]) -> Iterator[tuple[Flask, FakeSlackApi]]:
    """No SLACK_BOT_TOKEN and no sandbox: only an OAuth install can give Slack a token."""
    with FakeSlackApi() as fake:
        app = create_app(load_settings({**env, **OUTREACH_ENV, "SWITCHBOARD_SANDBOX": "0",
                                        "SLACK_CLIENT_ID": "1111.2222", "SLACK_CLIENT_SECRET": "client-secret"}),
                         config={"TASKS_INLINE": True, "TESTING": True, "SLACK_API_URL": fake.url})
        yield app, fake
        get_db(app).dispose()


def test_an_installed_workspace_gets_its_approvals_with_the_installed_token(live_oauth_app) -> None:  # type: ignore[no-untyped-def]
    app, fake = live_oauth_app
    assert "for account 'default'" in install(app, fake, INSTALLED)
    with get_db(app).session() as session:
        account = by_slug(session, "default")
        assert account is not None and account.slack_team_id == "T0NEW"
        [row] = session.query(SlackInstallation).all()
        assert row.account_id == account.id
        add_customer(session, "+14155550101", name="Ada", region="north")
        key = create_api_key(session, account, "oauth-test")

    response = post_campaign(app.test_client(), key, {"name": "Delay", "criteria": {"attributes": {
        "region": "north"}}, "template": "Hi {first_name}, your parcel is late."})

    assert response.status_code == 201, response.get_json()
    [post] = [r for r in fake.requests if r.path == "/api/chat.postMessage"]
    assert post.headers["Authorization"] == "Bearer xoxb-installed"
    assert post.json["channel"] == APPROVAL_CHANNEL and "Approve" in json.dumps(post.json["blocks"])
    [call] = calls(app, "chat.postMessage")
    assert call.status == "sent"  # really sent, not recorded by the sandbox
    assert campaign(app, response.get_json()["id"]).slack_ts == "1700000000.000100"

    # The approver clicks in that workspace: Bolt finds the account by its team, the
    # message is sent through Twilio, and the decision reaches Slack with the same token.
    vendor = VendorClient(app.test_client(), twilio_token=TWILIO_TOKEN, zendesk_secret=ZENDESK_SECRET,
                          slack_secret=SLACK_SECRET, public_url=PUBLIC_URL)
    payload = click("outreach:approve", response.get_json()["id"])
    payload["team"]["id"] = payload["user"]["team_id"] = "T0NEW"
    with responses.RequestsMock() as twilio:
        twilio.post(MESSAGES_URL, status=201, json={"sid": "SM" + "a" * 32, "status": "queued"})
        assert vendor.slack_interaction(payload).status_code == 200
        assert len(twilio.calls) == 1
    after = [r for r in fake.requests if r.path in ("/api/chat.update", "/api/chat.postMessage")][1:]
    assert after and {r.headers["Authorization"] for r in after} == {"Bearer xoxb-installed"}
    assert any(r.path == "/api/chat.update" for r in after)


def test_further_workspaces_link_to_their_own_account_or_to_none(live_oauth_app) -> None:  # type: ignore[no-untyped-def]
    app, fake = live_oauth_app
    with get_db(app).session() as session:
        session.add(Account(slug="beta", name="Beta", slack_team_id="T0BETA", secrets={}))
        session.commit()
    install(app, fake, INSTALLED)  # the default account takes the first workspace
    page = install(app, fake, {**INSTALLED, "access_token": "xoxb-beta", "team": {"id": "T0BETA", "name": "Beta"}})
    assert "for account 'beta'" in page
    page = install(app, fake, {**INSTALLED, "access_token": "xoxb-stray", "team": {"id": "T0STRAY", "name": "Stray"}})
    assert "no account is linked to workspace T0STRAY" in page and "--slack-team-id T0STRAY" in page

    with app.app_context():
        session = db.session()
        default, beta = by_slug(session, "default"), by_slug(session, "beta")
        assert default is not None and beta is not None
        assert (default.slack_team_id, beta.slack_team_id) == ("T0NEW", "T0BETA")  # the stray took nothing
        assert SlackConnector(session, beta, app.config["SETTINGS"]).client.token == "xoxb-beta"
        assert SlackConnector(session, default, app.config["SETTINGS"]).client.token == "xoxb-installed"
        stray = session.query(SlackInstallation).filter_by(team_id="T0STRAY").one()
        assert stray.account_id is None


def test_a_configured_bot_token_still_beats_an_install(env: dict[str, str]) -> None:
    with FakeSlackApi() as fake:
        app = create_app(load_settings({**env, **OUTREACH_ENV, "SWITCHBOARD_SANDBOX": "0",
                                        "SLACK_BOT_TOKEN": "xoxb-configured", "SLACK_CLIENT_ID": "1111.2222",
                                        "SLACK_CLIENT_SECRET": "client-secret"}),
                         config={"TASKS_INLINE": True, "TESTING": True, "SLACK_API_URL": fake.url})
        try:
            install(app, fake, INSTALLED)
            with app.app_context():
                session = db.session()
                account = by_slug(session, "default")
                assert account is not None
                assert SlackConnector(session, account, app.config["SETTINGS"]).client.token == "xoxb-configured"
        finally:
            get_db(app).dispose()
