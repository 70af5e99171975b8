"""Inbound webhooks, one package per vendor: verify, record, enqueue, answer fast."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from . import slack, twilio, zendesk

    app.register_blueprint(twilio.blueprint)
    app.register_blueprint(zendesk.blueprint)
    slack.init_app(app)
