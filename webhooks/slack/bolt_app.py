"""The Bolt app that receives Slack's requests.

Bolt verifies the v0 signature (5-minute window) on the raw body and answers
url_verification itself. Our listeners only record the request in the inbox and ack:
``process_before_response`` makes Bolt run them before answering, so the 200 Slack
gets means "stored", and the real work happens in a task, well inside Slack's 3 s.
"""
from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_bolt.authorization import AuthorizeResult
from sqlalchemy import select

from switchboard import db
from switchboard.config import Settings
from switchboard.core.accounts import DEFAULT_SLUG, secret
from switchboard.models import Account

from ..intake import accept

EVERYTHING = re.compile(".*")
SANDBOX_TOKEN = "xoxb-sandbox"


def account_for_team(team_id: str | None) -> Account | None:
    """The account linked to this workspace; a single-workspace install (the default
    account with no team id recorded) takes every workspace signed with our secret."""
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
        return "slack.event." + str(body.get("event", {}).get("type", "unknown"))
    if body.get("command"):
        return "slack.command"
    return "slack." + str(body.get("type", "unknown"))


def build(settings: Settings) -> App:
    def authorize(enterprise_id: str | None, team_id: str | None, **_: Any) -> AuthorizeResult | None:
        account = account_for_team(team_id)
        if account is None:
            return None
        token = secret(account, "slack_bot_token", settings) or SANDBOX_TOKEN
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=token)

    bolt = App(
        signing_secret=settings.slack_signing_secret,
        authorize=authorize,
        process_before_response=True,
        token_verification_enabled=False,
        name="switchboard",
    )

    def record(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        account = account_for_team(context.team_id)
        if account is not None:
            accept(account, vendor="slack", kind=kind_of(body), dedupe_key=dedupe_key(body), payload=body)
        ack()

    bolt.event(EVERYTHING)(record)
    bolt.action(EVERYTHING)(record)
    bolt.view(EVERYTHING)(record)
    bolt.command(EVERYTHING)(record)
    bolt.shortcut(EVERYTHING)(record)
    return bolt
