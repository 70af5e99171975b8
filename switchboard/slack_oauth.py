"""GET /slack/install and /slack/oauth_redirect: "Add to Slack" for multi-workspace
deployments (SLACK_CLIENT_ID / SLACK_CLIENT_SECRET). The state is an HMAC of a
timestamp under the signing secret, so no state store is needed and a forged or stale
redirect is refused. The installed workspace is linked to its account (see
``installations.account_for_install``), whose Slack calls then use the installed token."""
from __future__ import annotations

import hashlib
import hmac
import time

from flask import Blueprint, Flask, abort, current_app, redirect, request
from flask.typing import ResponseReturnValue
from markupsafe import escape
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth import AuthorizeUrlGenerator
from slack_sdk.oauth.installation_store import Installation

from switchboard import db
from switchboard.apps.slack import installations
from switchboard.connectors.slack import BASE_URL_CONFIG

blueprint = Blueprint("slack_oauth", __name__)
BOT_SCOPES = ["chat:write", "chat:write.public", "commands", "usergroups:read", "users:read", "app_mentions:read"]
STATE_TTL = 600


def _settings():  # type: ignore[no-untyped-def]
    settings = current_app.config["SETTINGS"]
    if not (settings.slack_client_id and settings.slack_client_secret and settings.slack_signing_secret):
        abort(404, "Slack OAuth is off: set SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_SIGNING_SECRET "
                   "(from api.slack.com/apps → Basic Information) to install into several workspaces.")
    return settings


def _redirect_uri(settings) -> str:  # type: ignore[no-untyped-def]
    return f"{settings.public_url or request.host_url.rstrip('/')}/slack/oauth_redirect"


def _sign(secret: str, stamp: str) -> str:
    return hmac.new(secret.encode(), f"oauth:{stamp}".encode(), hashlib.sha256).hexdigest()


@blueprint.get("/slack/install")
def install() -> ResponseReturnValue:
    settings = _settings()
    stamp = str(int(time.time()))
    state = f"{stamp}.{_sign(settings.slack_signing_secret, stamp)}"
    url = AuthorizeUrlGenerator(client_id=settings.slack_client_id, scopes=BOT_SCOPES,
                                redirect_uri=_redirect_uri(settings)).generate(state)
    return redirect(url)


@blueprint.get("/slack/oauth_redirect")
def oauth_redirect() -> ResponseReturnValue:
    settings = _settings()
    stamp, _, signature = request.args.get("state", "").partition(".")
    fresh = stamp.isdigit() and time.time() - int(stamp) < STATE_TTL
    if not (fresh and hmac.compare_digest(signature, _sign(settings.slack_signing_secret, stamp))):
        return "This install link is invalid or older than 10 minutes: start again from /slack/install.", 400
    if not request.args.get("code"):
        return f"Slack did not grant the install ({request.args.get('error', 'no code')}).", 400
    client = WebClient(base_url=current_app.config.get(BASE_URL_CONFIG) or WebClient.BASE_URL, retry_handlers=[])
    try:
        answer = client.oauth_v2_access(client_id=settings.slack_client_id, client_secret=settings.slack_client_secret,
                                        code=request.args["code"], redirect_uri=_redirect_uri(settings))
    except SlackApiError as exc:
        return f"Slack refused the install ({exc.response.get('error')}): start again from /slack/install.", 400
    team = answer.get("team") or {}
    enterprise = answer.get("enterprise") or {}
    account = installations.install(db.session(), Installation(
        app_id=answer.get("app_id"), enterprise_id=enterprise.get("id"), team_id=team.get("id"),
        team_name=team.get("name"), bot_token=answer.get("access_token"), bot_id=answer.get("bot_id"),
        bot_user_id=answer.get("bot_user_id"), bot_scopes=answer.get("scope") or "",
        user_id=(answer.get("authed_user") or {}).get("id") or "", token_type=answer.get("token_type")))
    # The page is HTML and these names are the workspace's own: escaped.
    where, team_id = escape(team.get("name") or "your workspace"), escape(team.get("id") or "")
    if account is None:
        return (f"Switchboard is installed in {where}, but no account is linked to workspace {team_id}: ask your "
                f"Switchboard operator to run `switchboard accounts add SLUG --name NAME --slack-team-id {team_id}`."
                ), 200
    return f"Switchboard is installed in {where} for account '{escape(account.slug)}'. You can close this tab.", 200


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
