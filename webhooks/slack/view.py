"""POST /slack/events: one URL for events, interactivity and commands, as Slack's app
manifest expects."""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, request
from flask.typing import ResponseReturnValue
from slack_bolt.adapter.flask import SlackRequestHandler

from switchboard.errors import NotConfigured

from .bolt_app import build

blueprint = Blueprint("slack", __name__)


@blueprint.post("/slack/events")
def events() -> ResponseReturnValue:
    handler: SlackRequestHandler | None = current_app.extensions.get("switchboard.slack")
    if handler is None:
        raise NotConfigured("Slack", "SLACK_SIGNING_SECRET")
    return handler.handle(request)


def init_app(app: Flask) -> None:
    settings = app.config["SETTINGS"]
    if settings.slack_signing_secret:
        app.extensions["switchboard.slack"] = SlackRequestHandler(build(settings))
    app.register_blueprint(blueprint)
