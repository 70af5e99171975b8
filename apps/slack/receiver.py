"""The Bolt app that receives Slack's requests.

Bolt verifies the v0 signature (5-minute window) on the raw body and answers
url_verification itself. Our listeners only record the request in the inbox and ack:
``process_before_response`` makes Bolt run them before answering, so the 200 Slack
gets means "stored", and the real work happens in a task, well inside Slack's 3 s.
Two answers cannot wait for a task: the Edit modals of outreach and knowledge drafts
(trigger_id lives 3 s)
and the ``/switchboard`` slash command, whose reply is the HTTP answer itself.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from slack_bolt import Ack, App, BoltContext, BoltResponse
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_bolt.authorization import AuthorizeResult
from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from switchboard.apps.slack import commands, kb_review
from switchboard.apps.slack.commands import COMMAND
from switchboard.apps.slack.installations import installed_bot_token
from switchboard.apps.slack.outreach import EDIT as OUTREACH_EDIT
from switchboard.apps.slack.outreach import open_edit_modal
from switchboard.core.accounts import DEFAULT_SLUG, secret
from switchboard.core.settings import Settings
from switchboard.core.store.models import Account
from switchboard.intake import db
from switchboard.intake.inbox import accept
from switchboard.vendors.slack.view import HANDLER

EVERYTHING = re.compile(".*")
#: Bolt logs whole request bodies (and the signature) at INFO, e.g. on a failed signature
#: check: customer text in the logs. Its loggers take this one's level: warnings only.
QUIET_BOLT_LOGGER = logging.getLogger("switchboard.slack.bolt")
QUIET_BOLT_LOGGER.setLevel(logging.WARNING)
SANDBOX_TOKEN = "xoxb-sandbox"


def account_for_team(team_id: str | None) -> Account | None:
    """The account linked to this workspace; a single-workspace install (the default
    account with no team id recorded) takes every workspace signed with our secret."""
    if team_id is not None and (not isinstance(team_id, str) or "\x00" in team_id):
        # Bolt passes the body's team_id through as it is: a list is no team, nor is text
        # holding a NUL (Slack's ids are letters and digits; PostgreSQL's text cannot hold one)
        return None
    session = db.session()
    if team_id:
        account = session.scalar(select(Account).where(Account.slack_team_id == team_id))
        if account is not None:
            return account
    default = session.scalar(select(Account).where(Account.slug == DEFAULT_SLUG))
    return default if default is not None and default.slack_team_id is None else None


def dedupe_key(body: dict[str, Any]) -> str:
    """Events carry event_id (kept across Slack's retries); interactions and commands
    carry a unique trigger_id; anything else is keyed by its content."""
    for field in ("event_id", "trigger_id"):
        if isinstance(body.get(field), str) and body[field]:
            return f"{field}:{body[field]}"
    return "sha256:" + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def kind_of(body: dict[str, Any]) -> str:
    if body.get("type") == "event_callback":
        event = body.get("event")
        return "slack.event." + str(event.get("type", "unknown") if isinstance(event, dict) else "unknown")
    if body.get("command"):
        return "slack.command"
    return "slack." + str(body.get("type", "unknown"))


def _installed(enterprise_id: str | None, team_id: str | None) -> str | None:
    """The bot token an OAuth install stored for this workspace (multi-workspace)."""
    if any(isinstance(key, str) and "\x00" in key for key in (enterprise_id, team_id)):
        return None  # no install has such an id, and PostgreSQL could not be asked
    return installed_bot_token(db.session(), enterprise_id, team_id)


def answer_error(error: Exception) -> BoltResponse | None:
    """A database error means nothing was stored: 503, so Slack retries. Malformed
    bodies never get here (the view's screen refuses them with a 400 naming the
    field), so anything else is our bug and stays a 500."""
    if isinstance(error, (OperationalError, InterfaceError)):
        return BoltResponse(status=503,
                            body={"error": "the database is unavailable; nothing was recorded, retry later"})
    return None


def build(settings: Settings) -> App:
    def authorize(enterprise_id: str | None, team_id: str | None, **_: Any) -> AuthorizeResult | None:
        account = account_for_team(team_id)
        if account is None:
            return None
        token = secret(account, "slack_bot_token", settings) or _installed(enterprise_id, team_id) or SANDBOX_TOKEN
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=token)

    bolt = App(
        signing_secret=settings.slack_signing_secret,
        authorize=authorize,  # type: ignore[arg-type]  # Bolt takes None for "not authorized"; its hint says otherwise
        process_before_response=True,
        token_verification_enabled=False,
        name="switchboard",
        logger=QUIET_BOLT_LOGGER,
    )
    bolt.error(answer_error)

    def store(body: dict[str, Any], context: BoltContext) -> Account | None:
        account = account_for_team(context.team_id)
        if account is not None:
            accept(account, vendor="slack", kind=kind_of(body), dedupe_key=dedupe_key(body), payload=body)
        return account

    def record(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        store(body, context)
        ack()

    def switchboard_command(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        # Slack shows the HTTP answer to a slash command: it is computed here (a few
        # indexed reads), after the request is stored like any other.

        account = store(body, context)
        try:
            reply = commands.answer(db.session(), account, body.get("text"))
        except Exception:  # the request is stored; the user is told to try again
            QUIET_BOLT_LOGGER.exception("could not answer /switchboard")
            ack(text="Switchboard could not answer just now; try again in a minute.", response_type="ephemeral")
            return
        ack(**reply.ack_kwargs())

    def editor(opens: Callable[[Session, Account, Settings, dict[str, Any]], bool], what: str) -> Callable[..., None]:
        def open_editor(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
            # Slack's trigger_id expires 3 s after the click: the modal is opened now, not
            # by the queued task; the click is still recorded (and audited) as usual.

            account = account_for_team(context.team_id)
            record(ack, body, context)
            if account is not None:
                try:
                    opens(db.session(), account, settings, body)
                except Exception:  # the click is stored; Slack only misses the modal (the user clicks again)
                    QUIET_BOLT_LOGGER.exception("could not open the %s edit modal", what)
        return open_editor

    bolt.event(EVERYTHING)(record)
    bolt.action(OUTREACH_EDIT)(editor(open_edit_modal, "outreach"))
    bolt.action(kb_review.EDIT)(editor(kb_review.open_edit_modal, "knowledge draft"))
    bolt.action(EVERYTHING)(record)
    bolt.view(EVERYTHING)(record)
    bolt.command(COMMAND)(switchboard_command)
    bolt.command(EVERYTHING)(record)
    bolt.shortcut(EVERYTHING)(record)
    return bolt


def init_app(app: Flask) -> None:
    """Install the Bolt app behind ``/slack/events`` (the webhooks' door), when Slack is
    configured; without it the door answers that SLACK_SIGNING_SECRET is missing."""
    settings = app.config["SETTINGS"]
    if settings.slack_signing_secret:
        app.extensions[HANDLER] = SlackRequestHandler(build(settings))
