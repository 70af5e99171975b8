"""The web chat channel (issue 21): the widget's public API (``api.py``), its live
stream (``stream.py``), its rate limits (``limits.py``) and how many
streams may be open (``stream_slots.py``), the handler table of the
messages it records (``events.py``), and the widget's files (``assets/``)."""
from __future__ import annotations

from flask import Flask

from switchboard.apps.webchat import api, limits, stream, stream_slots


def init_app(app: Flask) -> None:
    app.register_blueprint(api.blueprint)
    limiter = limits.init_app(app)
    limits.apply(app, limiter, "webchat.post_message", ("messages_per_visitor", limits.visitor_key),
                 ("messages_per_ip", limits.ip_key))
    limits.apply(app, limiter, "webchat.start_session", ("sessions_per_ip", limits.ip_key),
                 exempt_when=limits.resuming)
    stream.init_app(app)
    stream_slots.init_app(app)
