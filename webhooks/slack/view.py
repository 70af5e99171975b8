"""POST /slack/events: one URL for events, interactivity and commands, as Slack's app
manifest expects."""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, request
from flask.typing import ResponseReturnValue
from slack_bolt.adapter.flask import SlackRequestHandler

from switchboard.errors import BadSignature, MalformedPayload, NotConfigured

from .bolt_app import build

blueprint = Blueprint("slack", __name__)


@blueprint.post("/slack/events")
def events() -> ResponseReturnValue:
    handler: SlackRequestHandler | None = current_app.extensions.get("switchboard.slack")
    if handler is None:
        raise NotConfigured("Slack", "SLACK_SIGNING_SECRET")
    _screen()
    try:
        return handler.handle(request)
    except (AttributeError, TypeError, LookupError, ValueError) as exc:  # Bolt reading a body of the wrong shape
        raise MalformedPayload(f"the body is not shaped like a Slack request ({type(exc).__name__})") from None


def _screen() -> None:
    """Refuse what Bolt would answer with a 500 (a timestamp that is not a number) or a
    misleading 401 (a body that is not UTF-8, decoded lossily before its signature check)."""
    try:
        request.get_data().decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedPayload("the body is not valid UTF-8") from None
    stamp = request.headers.get("X-Slack-Request-Timestamp", "")
    if stamp and not (stamp.isascii() and stamp.isdigit()):
        raise BadSignature(f"X-Slack-Request-Timestamp {stamp[:20]!r} is not a Unix time: only Slack may call this URL")


def init_app(app: Flask) -> None:
    settings = app.config["SETTINGS"]
    if settings.slack_signing_secret:
        app.extensions["switchboard.slack"] = SlackRequestHandler(build(settings))
    app.register_blueprint(blueprint)
