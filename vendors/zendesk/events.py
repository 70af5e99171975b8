"""What each kind of Zendesk ticket event does once processed: the stored payload, read
with the schema the webhook checked it with, handed to the core in its own terms.
Other Zendesk events (trigger webhooks of our manifests, user events) are kept in the
audit trail (``record_others`` in create_app)."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from switchboard.core import use_cases
from switchboard.core.helpdesk import handoff
from switchboard.core.settings import Settings
from switchboard.core.store.models import InboxEvent
from switchboard.core.use_cases import VendorHandler
from switchboard.intake.payloads import load
from switchboard.vendors.zendesk.schemas import TICKET_EVENT


def _ticket_event(event: InboxEvent) -> dict[str, Any]:
    return load(TICKET_EVENT, event.payload, context=event.kind)


def on_comment_added(session: Session, event: InboxEvent, settings: Settings) -> None:
    payload = _ticket_event(event)
    comment = payload["event"].get("comment") or {}
    author = comment.get("author") or {}
    use_cases.agent_comment(session, event, settings, handoff.AgentReply(
        ticket_id=payload["detail"]["id"], comment_id=str(comment.get("id") or event.dedupe_key),
        body=str(comment.get("body") or ""), public=bool(comment.get("is_public")),
        author_id=str(author["id"]) if author.get("id") is not None else None,
        author_is_staff=bool(author.get("is_staff")),
        author_name=str(author["name"])[:200] if isinstance(author.get("name"), str) else None))


def _when(stamp: str | None) -> datetime | None:
    try:
        at = datetime.fromisoformat(str(stamp or "").replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def on_status_changed(session: Session, event: InboxEvent, settings: Settings) -> None:
    payload = _ticket_event(event)
    change = payload["event"]
    use_cases.ticket_status_changed(
        session, event, settings, ticket_id=payload["detail"]["id"],
        current=str(change.get("current") or payload["detail"].get("status") or ""),
        previous=str(change.get("previous") or ""), at=_when(payload.get("time")))


def on_ticket_created(session: Session, event: InboxEvent, settings: Settings) -> None:
    ticket = _ticket_event(event)["detail"]
    text = f"{ticket.get('subject') or ''}\n{ticket.get('description') or ''}".strip()
    use_cases.ticket_created(session, event, settings, ticket_id=ticket["id"], text=text, ticket=ticket)


def on_tags_changed(session: Session, event: InboxEvent, settings: Settings) -> None:
    payload = _ticket_event(event)
    ticket = dict(payload["detail"])
    if isinstance(payload["event"].get("current"), list):
        ticket["tags"] = payload["event"]["current"]
    use_cases.ticket_tags_changed(session, event, settings, ticket=ticket)


#: Registered in create_app; the webhook checks these kinds' payloads at the door.
HANDLERS: dict[str, VendorHandler] = {
    "zendesk.ticket.comment_added": on_comment_added,
    "zendesk.ticket.status_changed": on_status_changed,
    "zendesk.ticket.created": on_ticket_created,
    "zendesk.ticket.tags_changed": on_tags_changed,
}
