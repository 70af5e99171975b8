"""Inbound webhooks, one package per vendor: verify, record, enqueue, answer fast."""
from __future__ import annotations

from flask import Flask

from switchboard.vendors import slack, twilio, zendesk


def init_app(app: Flask) -> None:
    app.register_blueprint(twilio.blueprint)
    app.register_blueprint(zendesk.blueprint)
    slack.init_app(app)
