"""Multi-workspace installs: an operator signed in to the dashboard opens "Add to Slack"
→ Slack's OAuth redirect → the bot token is stored and the workspace linked to exactly
that operator's account, and Bolt's authorize() finds it for that workspace (fake Slack
Web API). Without a session, with an altered state, or against another account's link,
nothing is stored."""
from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient

from switchboard.app import create_app
from switchboard.apps.slack.client import SlackConnector
from switchboard.apps.slack.oauth import make_state
from switchboard.core.accounts import by_slug, create_api_key
from switchboard.core.settings import load_settings
from switchboard.core.store.models import Account, SlackInstallation
from switchboard.intake import db
from switchboard.intake.db import get_db

from ..conftest import PUBLIC_URL, SLACK_SECRET, TWILIO_TOKEN, ZENDESK_SECRET
from ..connectors.conftest import FakeSlackApi
from ..signing import VendorClient
from .conftest import APPROVAL_CHANNEL, OUTREACH_ENV, add_customer, calls, campaign, click, post_campaign


@pytest.fixture
def oauth_app(env: dict[str, str]) -> Iterator[tuple[Flask, FakeSlackApi]]:
    with FakeSlackApi() as fake:
        app = create_app(load_settings({**env, **OUTREACH_ENV, "SLACK_CLIENT_ID": "1111.2222",
                                        "SLACK_CLIENT_SECRET": "client-secret", "SLACK_API_URL": fake.url}),
                         config={"TASKS_INLINE": True, "TESTING": True})
        yield app, fake
        get_db(app).dispose()


def signed_in(app: Flask, slug: str = "default") -> FlaskClient:
    """A browser signed in to the dashboard with a key of the account, as an operator is."""
    with get_db(app).session() as session:
        account = by_slug(session, slug)
        assert account is not None
        key = create_api_key(session, account, "slack-install")
    client = app.test_client()
    assert client.post("/dashboard/login", data={"key": key}).status_code == 302
    return client


def state_of(start_url: str) -> str:
    return parse_qs(urlsplit(start_url).query)["state"][0]


def stored(app: Flask) -> list[tuple[str | None, int | None]]:
    with get_db(app).session() as session:
        return [(row.team_id, row.account_id) for row in session.query(SlackInstallation).all()]


def team_of(app: Flask, slug: str) -> str | None:
    with get_db(app).session() as session:
        account = by_slug(session, slug)
        assert account is not None
        return account.slack_team_id


def add_account(app: Flask, slug: str, team_id: str | None = None) -> int:
    with get_db(app).session() as session:
        account = Account(slug=slug, name=slug.title(), slack_team_id=team_id, secrets={})
        session.add(account)
        session.commit()
        return account.id


def test_install_stores_the_workspace_bot_token_and_authorize_uses_it(oauth_app) -> None:  # type: ignore[no-untyped-def]
    app, fake = oauth_app
    client = signed_in(app)
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
    assert "for account 'default'" in done.get_data(as_text=True)
    [request] = fake.requests
    assert request.path == "/api/oauth.v2.access" and b"granted-code" in request.body
    with get_db(app).session() as session:
        [row] = session.query(SlackInstallation).all()
        assert (row.team_id, row.bot_token, row.bot_user_id) == ("T0NEW", "xoxb-installed", "U0BOT")
        assert "access_token" not in row.data and "bot_token" not in row.data
    with app.app_context():
        from switchboard.apps.slack.receiver import _installed

        assert _installed(None, "T0NEW") == "xoxb-installed"
        assert _installed(None, "T0OTHER") is None


def test_forged_or_stale_state_installs_nothing(oauth_app) -> None:  # type: ignore[no-untyped-def]
    app, fake = oauth_app
    client = app.test_client()
    stale = make_state(SLACK_SECRET, 1, now=time.time() - 601)
    stamp = str(int(time.time()))  # the old, account-less state: a signed timestamp only
    unbound = f"{stamp}.{hmac.new(SLACK_SECRET.encode(), f'oauth:{stamp}'.encode(), hashlib.sha256).hexdigest()}"
    for state in ("1700000000.deadbeef", f"1.{stamp}.deadbeef", stale, unbound, f"1.{stamp}.é", "1.2.3.4", ""):
        answer = client.get(f"/slack/oauth_redirect?code=x&state={state}")
        assert answer.status_code == 400 and "start again from /slack/install" in answer.get_data(as_text=True)
    assert fake.requests == []
    assert stored(app) == [] and team_of(app, "default") is None


def test_install_is_off_without_client_credentials(app: Flask) -> None:
    response = app.test_client().get("/slack/install")
    assert response.status_code == 404 and "SLACK_CLIENT_ID" in response.get_data(as_text=True)


INSTALLED = {"ok": True, "app_id": "A0NEW", "access_token": "xoxb-installed", "token_type": "bot",
             "scope": "chat:write,commands", "bot_user_id": "U0BOT", "team": {"id": "T0NEW", "name": "New Co"},
             "enterprise": None, "authed_user": {"id": "U0ADMIN"}}
MESSAGES_URL = re.compile(r"https://api\.twilio\.com/2010-04-01/Accounts/AC\w+/Messages\.json")


def install(app: Flask, fake: FakeSlackApi, answer: dict[str, Any], slug: str = "default",
            status: int = 200) -> str:
    """Sign in as the account's operator → Add to Slack → Slack's redirect back, with
    oauth.v2.access answered by the fake."""
    client = signed_in(app, slug)
    state = state_of(client.get("/slack/install").headers["Location"])
    fake.reply("oauth.v2.access", 200, answer)
    done = client.get(f"/slack/oauth_redirect?code=granted-code&state={state}")
    assert done.status_code == status, done.get_data(as_text=True)
    return html.unescape(done.get_data(as_text=True))  # the text as the browser shows it


@pytest.fixture
def live_oauth_app(env: dict[str, str]) -> Iterator[tuple[Flask, FakeSlackApi]]:
    """No SLACK_BOT_TOKEN and no sandbox: only an OAuth install can give Slack a token."""
    with FakeSlackApi() as fake:
        app = create_app(load_settings({**env, **OUTREACH_ENV, "SWITCHBOARD_SANDBOX": "0",
                                        "SLACK_CLIENT_ID": "1111.2222", "SLACK_CLIENT_SECRET": "client-secret",
                                        "SLACK_API_URL": fake.url}),
                         config={"TASKS_INLINE": True, "TESTING": True})
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


def test_each_workspace_links_to_the_account_that_installed_it(live_oauth_app) -> None:  # type: ignore[no-untyped-def]
    app, fake = live_oauth_app
    add_account(app, "beta", "T0BETA")
    add_account(app, "gamma")
    install(app, fake, INSTALLED)
    page = install(app, fake, {**INSTALLED, "access_token": "xoxb-beta", "team": {"id": "T0BETA", "name": "Beta"}},
                   slug="beta")
    assert "for account 'beta'" in page
    # The default account already has its workspace: a second one is refused, not stored.
    stray = {**INSTALLED, "access_token": "xoxb-stray", "team": {"id": "T0STRAY", "name": "Stray"}}
    page = install(app, fake, stray, status=409)
    assert "Account 'default' is already linked to workspace T0NEW" in page and "nothing was stored" in page
    assert "switchboard accounts add SLUG" in page
    assert [team for team, _ in stored(app)].count("T0STRAY") == 0
    assert "for account 'gamma'" in install(app, fake, stray, slug="gamma")  # the way the message shows

    with app.app_context():
        session = db.session()
        default, beta, gamma = by_slug(session, "default"), by_slug(session, "beta"), by_slug(session, "gamma")
        assert default is not None and beta is not None and gamma is not None
        assert (default.slack_team_id, beta.slack_team_id, gamma.slack_team_id) == ("T0NEW", "T0BETA", "T0STRAY")
        assert SlackConnector(session, beta, app.config["SETTINGS"]).client.token == "xoxb-beta"
        assert SlackConnector(session, default, app.config["SETTINGS"]).client.token == "xoxb-installed"
        assert SlackConnector(session, gamma, app.config["SETTINGS"]).client.token == "xoxb-stray"
    assert sorted(stored(app)) == sorted([("T0NEW", default.id), ("T0BETA", beta.id), ("T0STRAY", gamma.id)])


def test_a_reinstall_of_the_same_workspace_refreshes_its_token(live_oauth_app) -> None:  # type: ignore[no-untyped-def]
    app, fake = live_oauth_app
    install(app, fake, INSTALLED)
    assert "for account 'default'" in install(app, fake, {**INSTALLED, "access_token": "xoxb-refreshed"})
    with app.app_context():
        session = db.session()
        account = by_slug(session, "default")
        assert account is not None and account.slack_team_id == "T0NEW"
        assert SlackConnector(session, account, app.config["SETTINGS"]).client.token == "xoxb-refreshed"


def test_install_without_a_dashboard_session_is_refused_and_stores_nothing(live_oauth_app) -> None:  # type: ignore[no-untyped-def]
    app, fake = live_oauth_app
    stranger = app.test_client()
    refused = stranger.get("/slack/install")
    page = refused.get_data(as_text=True)
    assert refused.status_code == 401 and "Location" not in refused.headers
    assert "/dashboard/login" in page and "API key" in page and "/slack/install" in page
    # A stale or wrong cookie is no session either.
    stranger.set_cookie("switchboard_dashboard", "forged")
    assert stranger.get("/slack/install").status_code == 401
    assert fake.requests == [] and stored(app) == [] and team_of(app, "default") is None


def test_an_agents_sidebar_session_cannot_start_an_install(live_oauth_app) -> None:  # type: ignore[no-untyped-def]
    """The sidebar opens the dashboard for any Zendesk agent: reading figures, yes;
    linking a Slack workspace to the account, no (that takes the account's key)."""
    app, fake = live_oauth_app
    with get_db(app).session() as session:
        account = by_slug(session, "default")
        assert account is not None
        key = create_api_key(session, account, "sidebar")
    agent = app.test_client()
    code = agent.post("/api/sidebar/dashboard-session", headers={"Authorization": f"Bearer {key}"}).json["code"]
    assert agent.post("/dashboard/login", data={"code": code}).status_code == 302
    assert agent.get("/dashboard/").status_code == 200  # signed in to the figures
    assert agent.get("/slack/install").status_code == 401
    assert fake.requests == [] and stored(app) == [] and team_of(app, "default") is None


def test_a_state_signed_for_one_account_cannot_be_replayed_for_another(live_oauth_app) -> None:  # type: ignore[no-untyped-def]
    app, fake = live_oauth_app
    other = add_account(app, "beta")
    client = signed_in(app, "default")
    state = state_of(client.get("/slack/install").headers["Location"])
    account_id, stamp, signature = state.split(".")
    assert int(account_id) != other
    fake.reply("oauth.v2.access", 200, INSTALLED)

    tampered = client.get(f"/slack/oauth_redirect?code=granted-code&state={other}.{stamp}.{signature}")

    assert tampered.status_code == 400 and fake.requests == []
    assert stored(app) == [] and team_of(app, "beta") is None
    # The untouched state still installs, and for the account it was signed for.
    done = client.get(f"/slack/oauth_redirect?code=granted-code&state={state}")
    assert done.status_code == 200 and "for account 'default'" in done.get_data(as_text=True)
    assert (team_of(app, "default"), team_of(app, "beta")) == ("T0NEW", None)


def test_a_workspace_linked_to_another_account_is_refused_and_nothing_linked(live_oauth_app) -> None:  # type: ignore[no-untyped-def]
    app, fake = live_oauth_app
    owner = add_account(app, "beta", "T0NEW")

    page = install(app, fake, {**INSTALLED, "access_token": "xoxb-intruder"}, status=409)

    assert "Workspace T0NEW is already linked to another Switchboard account" in page
    assert "nothing was stored" in page and "beta" not in page  # another tenant's name is not shown
    assert stored(app) == [] and team_of(app, "default") is None and team_of(app, "beta") == "T0NEW"
    with app.app_context():
        from switchboard.apps.slack.receiver import _installed

        assert _installed(None, "T0NEW") is None  # Bolt finds no token from the refused install
    # The owner's own operator can install it.
    assert "for account 'beta'" in install(app, fake, INSTALLED, slug="beta")
    assert stored(app) == [("T0NEW", owner)]


def test_a_configured_bot_token_still_beats_an_install(env: dict[str, str]) -> None:
    with FakeSlackApi() as fake:
        app = create_app(load_settings({**env, **OUTREACH_ENV, "SWITCHBOARD_SANDBOX": "0",
                                        "SLACK_BOT_TOKEN": "xoxb-configured", "SLACK_CLIENT_ID": "1111.2222",
                                        "SLACK_CLIENT_SECRET": "client-secret", "SLACK_API_URL": fake.url}),
                         config={"TASKS_INLINE": True, "TESTING": True})
        try:
            install(app, fake, INSTALLED)
            with app.app_context():
                session = db.session()
                account = by_slug(session, "default")
                assert account is not None
                assert SlackConnector(session, account, app.config["SETTINGS"]).client.token == "xoxb-configured"
        finally:
            get_db(app).dispose()
