"""Recorded Slack clicks and modal submissions, routed by Bolt in the worker.

The receiving Bolt app (``receiver.py``) only verifies, records and acks: Slack gets
its answer within 3 s, and the work waits in the inbox. When the worker processes the
recorded request, it replays the body through a second Bolt app whose listeners do the
work. Bolt's own matching (``action_id`` / ``callback_id`` patterns, first match wins)
decides who handles it, so there is one router, Bolt's, for both sides. The listener
receives what the inbox handler had: the session, the recorded event and the settings,
passed in Bolt's context.

A click nobody owns is audited, not lost; a listener's error propagates, so the inbox
retries the event as it would any other handler's.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext, BoltRequest
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.error import BoltUnhandledRequestError
from sqlalchemy.orm import Session

from switchboard.apps.slack import action_approvals, kb_review, outreach
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import InboxEvent

log = logging.getLogger("switchboard.slack.interactions")
log.setLevel(logging.WARNING)  # Bolt logs whole bodies at INFO

#: (session, event, settings, the action or view that matched) -> None
Handler = Callable[[Session, InboxEvent, Settings, dict[str, Any]], None]


def _prefix(prefix: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(prefix))


def _no_token(**kwargs: Any) -> AuthorizeResult:
    # Listeners reach Slack through our client and its outbox, never Bolt's WebClient.
    return AuthorizeResult(enterprise_id=kwargs.get("enterprise_id"), team_id=kwargs.get("team_id"))


def _raise(error: Exception) -> None:
    raise error


def _on_action(handler: Handler) -> Callable[..., None]:
    def listener(ack: Ack, action: dict[str, Any], context: BoltContext) -> None:
        ack()
        handler(context["session"], context["inbox_event"], context["settings"], action)
    return listener


def _on_view(handler: Handler) -> Callable[..., None]:
    def listener(ack: Ack, view: dict[str, Any], context: BoltContext) -> None:
        ack()
        handler(context["session"], context["inbox_event"], context["settings"], view)
    return listener


def build() -> App:
    """The worker's Bolt app: one listener per owner of a button or a modal."""
    bolt = App(
        name="switchboard-worker",
        signing_secret="recorded",  # the request was verified when it was received
        request_verification_enabled=False,
        token_verification_enabled=False,
        ssl_check_enabled=False,
        url_verification_enabled=False,
        ignoring_self_events_enabled=False,
        authorize=_no_token,
        process_before_response=True,
        raise_error_for_unhandled_request=True,
        logger=log,
    )
    bolt.error(_raise)
    bolt.action(_prefix(outreach.PREFIX))(_on_action(outreach.on_click))
    bolt.view(_prefix(outreach.EDIT_VIEW))(_on_view(outreach.on_edit_submitted))
    bolt.action(_prefix(action_approvals.PREFIX))(_on_action(action_approvals.on_click))
    bolt.action(_prefix(kb_review.PREFIX))(_on_action(kb_review.on_click))
    bolt.view(_prefix(kb_review.EDIT_VIEW))(_on_view(kb_review.on_edit_submitted))
    return bolt


_APP: App | None = None


def _app() -> App:
    global _APP
    if _APP is None:
        _APP = build()
    return _APP


def handle_recorded(session: Session, event: InboxEvent, settings: Settings) -> None:
    """The inbox handler of ``slack.block_actions`` and ``slack.view_submission``."""
    request = BoltRequest(body=dict(event.payload), mode="socket_mode",
                          context={"session": session, "inbox_event": event, "settings": settings})
    try:
        _app().dispatch(request)
    except BoltUnhandledRequestError:
        payload = event.payload
        key = ((payload.get("actions") or [{}])[0].get("action_id") if event.kind == "slack.block_actions"
               else (payload.get("view") or {}).get("callback_id"))
        audit(session, account_id=event.account_id, actor="slack", action="slack.interaction_unhandled",
              subject_type="inbox_event", subject_id=event.id, detail={"kind": event.kind, "id": str(key or "")})


#: The Slack app's inbox handlers, registered in create_app.
HANDLERS = {
    "slack.block_actions": handle_recorded,
    "slack.view_submission": handle_recorded,
}
