"""Who handles a Slack button click or modal submission, once it has been recorded.

Several capabilities put buttons in Slack (outreach approval, governed-action
approval, ...). Each registers the prefix of the ``action_id`` (for ``block_actions``)
or ``callback_id`` (for ``view_submission``) it owns; the inbox handler hands the
recorded payload to the owner. A click nobody owns is audited, not lost.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from switchboard.config import Settings
from switchboard.models import InboxEvent

from .audit import audit

#: (session, event, settings, the action or view dict that matched) -> None
InteractionHandler = Callable[[Session, InboxEvent, Settings, dict[str, Any]], None]

_ACTIONS: dict[str, InteractionHandler] = {}
_VIEWS: dict[str, InteractionHandler] = {}


def on_action(prefix: str) -> Callable[[InteractionHandler], InteractionHandler]:
    """Register the handler of block_actions whose action_id starts with ``prefix``."""
    def register(handler: InteractionHandler) -> InteractionHandler:
        _ACTIONS[prefix] = handler
        return handler
    return register


def on_view(prefix: str) -> Callable[[InteractionHandler], InteractionHandler]:
    """Register the handler of view_submission whose callback_id starts with ``prefix``."""
    def register(handler: InteractionHandler) -> InteractionHandler:
        _VIEWS[prefix] = handler
        return handler
    return register


def _owner(table: dict[str, InteractionHandler], key: str) -> InteractionHandler | None:
    # The longest registered prefix wins, so "outreach:edit" can refine "outreach:".
    for prefix in sorted(table, key=len, reverse=True):
        if key.startswith(prefix):
            return table[prefix]
    return None


def _unowned(session: Session, event: InboxEvent, key: str) -> None:
    audit(session, account_id=event.account_id, actor="slack", action="slack.interaction_unhandled",
          subject_type="inbox_event", subject_id=event.id, detail={"kind": event.kind, "id": key})


def block_actions(session: Session, event: InboxEvent, settings: Settings) -> None:
    for action in event.payload.get("actions") or []:
        key = str(action.get("action_id") or "")
        handler = _owner(_ACTIONS, key)
        if handler is None:
            _unowned(session, event, key)
        else:
            handler(session, event, settings, action)


def view_submission(session: Session, event: InboxEvent, settings: Settings) -> None:
    view = event.payload.get("view") or {}
    key = str(view.get("callback_id") or "")
    handler = _owner(_VIEWS, key)
    if handler is None:
        _unowned(session, event, key)
    else:
        handler(session, event, settings, view)
