"""GET /slack/install and /slack/oauth_redirect: "Add to Slack" for multi-workspace
deployments (SLACK_CLIENT_ID / SLACK_CLIENT_SECRET).

Installing is an operator's act for one account: /slack/install needs a dashboard
session (signed in with the account's API key), and the OAuth state carries that
account's id and a timestamp under one HMAC of the signing secret. No state store is
needed; a forged, stale or altered state (another account's id) is refused; and the
redirect links the installed workspace to exactly that account, never to another (see
``installations.link_account``). The account's Slack calls then use the installed token."""
from __future__ import annotations

import hashlib
import hmac
import re
import time
from typing import NamedTuple

from flask import Blueprint, Flask, abort, current_app, redirect, request
from flask.typing import ResponseReturnValue
from markupsafe import escape
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth import AuthorizeUrlGenerator
from slack_sdk.oauth.installation_store import Installation

from switchboard.apps.sign_in import signed_in_with_key
from switchboard.apps.slack import installations
from switchboard.apps.slack.client import api_url
from switchboard.core.settings import Settings
from switchboard.intake import db

blueprint = Blueprint("slack_oauth", __name__)
BOT_SCOPES = ["chat:write", "chat:write.public", "commands", "usergroups:read", "users:read", "app_mentions:read"]
STATE_TTL = 600
_DIGITS = re.compile(r"[0-9]{1,18}")


class _OAuthApp(NamedTuple):
    """The settings, and the three that OAuth needs, known to be set."""

    settings: Settings
    client_id: str
    client_secret: str
    signing_secret: str


def _oauth_app() -> _OAuthApp:
    settings: Settings = current_app.config["SETTINGS"]
    client_id, client_secret = settings.slack_client_id, settings.slack_client_secret
    signing_secret = settings.slack_signing_secret
    if not (client_id and client_secret and signing_secret):
        abort(404, "Slack OAuth is off: set SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_SIGNING_SECRET "
                   "(from api.slack.com/apps → Basic Information) to install into several workspaces.")
    return _OAuthApp(settings, client_id, client_secret, signing_secret)


def _redirect_uri(settings: Settings) -> str:
    return f"{settings.public_url or request.host_url.rstrip('/')}/slack/oauth_redirect"


def _sign(secret: str, account_id: int, stamp: str) -> str:
    """The account id is signed with the timestamp: a state cannot be replayed for
    another account by editing its id."""
    return hmac.new(secret.encode(), f"oauth:{account_id}:{stamp}".encode(), hashlib.sha256).hexdigest()


def make_state(secret: str, account_id: int, now: float | None = None) -> str:
    stamp = str(int(time.time() if now is None else now))
    return f"{account_id}.{stamp}.{_sign(secret, account_id, stamp)}"


def account_in_state(secret: str, state: str, now: float | None = None) -> int | None:
    """The account id a genuine, fresh state was issued for; None for anything else."""
    parts = state.split(".")
    if len(parts) != 3 or not (_DIGITS.fullmatch(parts[0]) and _DIGITS.fullmatch(parts[1])):
        return None
    account_id, stamp, signature = int(parts[0]), parts[1], parts[2]
    fresh = (time.time() if now is None else now) - int(stamp) < STATE_TTL
    # Bytes, so a non-ASCII signature is a mismatch rather than compare_digest's TypeError.
    genuine = hmac.compare_digest(signature.encode(), _sign(secret, account_id, stamp).encode())
    return account_id if genuine and fresh else None


SIGN_IN_FIRST = ("<p>Installing Slack links a workspace to one Switchboard account, so an operator of that account "
                 "must start it. Sign in at <a href=\"/dashboard/login\">/dashboard/login</a> with the account's API "
                 "key (`switchboard accounts key --account SLUG` prints one), then open "
                 "<a href=\"/slack/install\">/slack/install</a> again.</p>")


@blueprint.get("/slack/install")
def install() -> ResponseReturnValue:
    oauth = _oauth_app()
    account = signed_in_with_key()
    if account is None:
        return SIGN_IN_FIRST, 401
    url = AuthorizeUrlGenerator(client_id=oauth.client_id, scopes=BOT_SCOPES,
                                redirect_uri=_redirect_uri(oauth.settings)).generate(
        make_state(oauth.signing_secret, account.id))
    return redirect(url)


@blueprint.get("/slack/oauth_redirect")
def oauth_redirect() -> ResponseReturnValue:
    oauth = _oauth_app()
    settings = oauth.settings
    account_id = account_in_state(oauth.signing_secret, request.args.get("state", ""))
    if account_id is None:
        return "This install link is invalid or older than 10 minutes: start again from /slack/install.", 400
    if not request.args.get("code"):
        return f"Slack did not grant the install ({escape(request.args.get('error', 'no code'))}).", 400
    client = WebClient(base_url=api_url(settings), retry_handlers=[])
    try:
        answer = client.oauth_v2_access(client_id=oauth.client_id, client_secret=oauth.client_secret,
                                        code=request.args["code"], redirect_uri=_redirect_uri(settings))
    except SlackApiError as exc:
        return f"Slack refused the install ({exc.response.get('error')}): start again from /slack/install.", 400
    team = answer.get("team") or {}
    enterprise = answer.get("enterprise") or {}
    try:
        account = installations.install(db.session(), Installation(
            app_id=answer.get("app_id"), enterprise_id=enterprise.get("id"), team_id=team.get("id"),
            team_name=team.get("name"), bot_token=answer.get("access_token"), bot_id=answer.get("bot_id"),
            bot_user_id=answer.get("bot_user_id"), bot_scopes=answer.get("scope") or "",
            user_id=(answer.get("authed_user") or {}).get("id") or "", token_type=answer.get("token_type")),
            account_id)
    except installations.InstallRefused as exc:
        # 409: the install itself worked at Slack, but its link conflicts with ours.
        return str(escape(str(exc))), 409
    # The page is HTML and these names are the workspace's own: escaped.
    where = escape(team.get("name") or "your workspace")
    return f"Switchboard is installed in {where} for account '{escape(account.slug)}'. You can close this tab.", 200


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
