"""The Flask application factory: a short list of subsystems, each owning its setup."""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from switchboard import bootstrap, tasks, wiring
from switchboard.apps import dashboard, webchat
from switchboard.apps.slack import interactions as slack_interactions
from switchboard.apps.slack import oauth as slack_oauth
from switchboard.apps.slack import receiver as slack_receiver
from switchboard.apps.webchat import events as webchat_events
from switchboard.apps.webchat import identity_api as webchat_identity
from switchboard.apps.zendesk import actions_api, call_api, reveal_api, sidebar_api
from switchboard.core.resources import package_path
from switchboard.core.settings import Settings, load_settings
from switchboard.core.use_cases import EventHandlers
from switchboard.intake import db
from switchboard.intake import errors as webhook_errors
from switchboard.vendors.twilio import events as twilio_events
from switchboard.vendors.webhooks import init_app as webhooks_init_app
from switchboard.vendors.zendesk import events as zendesk_events
from switchboard.web import api, health, home, outreach_api, playground, privacy_api, prometheus, screening
from switchboard.web.routing import DatabaseId, RoutedFlask

MAX_BODY_BYTES = 1024 * 1024  # vendors' payloads are kilobytes; 1 MiB is generous


def event_handlers() -> EventHandlers:
    """Which handler the worker runs for each kind of recorded event: each vendor's
    package owns its table. Zendesk and Slack send more kinds than we act on; those
    are kept in the audit trail, anything else is parked as unknown."""
    handlers = EventHandlers()
    handlers.register(twilio_events.HANDLERS)
    handlers.register(zendesk_events.HANDLERS, record_others="zendesk.")
    handlers.register(slack_interactions.HANDLERS, record_others="slack.")
    handlers.register(webchat_events.HANDLERS)
    return handlers


def create_app(settings: Settings | None = None, config: dict[str, Any] | None = None) -> Flask:
    app = RoutedFlask("switchboard", template_folder=str(package_path("templates")))
    app.config.update(SETTINGS=settings or load_settings(), MAX_CONTENT_LENGTH=MAX_BODY_BYTES)
    app.config.update(config or {})
    app.url_map.converters["int"] = DatabaseId
    proxies = app.config["SETTINGS"].trusted_proxies
    if proxies:  # see Settings.trusted_proxies: forwarded headers only from the proxies we were told of
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    logging.basicConfig(level=app.config.get("LOG_LEVEL", logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # zenpy logs every request body at DEBUG (requesters' phones and emails).
    for noisy in ("bm25s", "alembic", "zenpy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    wiring.install()  # the core's connections to Twilio, Zendesk, the model, Slack and HTTP systems
    app.extensions[tasks.EVENT_HANDLERS] = event_handlers()
    # The embedded database, the models' cache and the API key file live here: a new
    # SWITCHBOARD_DATA_DIR is made, not refused with SQLite's "unable to open database file".
    app.config["SETTINGS"].data_dir.mkdir(parents=True, exist_ok=True)
    screening.init_app(app)  # first: every parameter is screened before anything reads it
    db.init_app(app)
    bootstrap.init_app(app)
    tasks.init_app(app)
    webhook_errors.init_app(app)
    webhooks_init_app(app)
    slack_receiver.init_app(app)  # the Bolt app behind the webhooks' /slack/events
    api.init_app(app)
    home.init_app(app)
    outreach_api.init_app(app)
    slack_oauth.init_app(app)
    sidebar_api.init_app(app)
    call_api.init_app(app)
    reveal_api.init_app(app)
    privacy_api.init_app(app)
    actions_api.init_app(app)
    webchat.init_app(app)
    webchat_identity.init_app(app)  # identify/verify/preferences: after webchat, whose limiter it uses
    playground.init_app(app)
    health.init_app(app)
    dashboard.init_app(app)
    prometheus.init_app(app)
    return app
