"""An agent's reply reaches a web visitor who has left the page, the way they chose.

The reply is always on the timeline, for the widget to show when they come back
(``core.channels.webchat.deliver_agent_reply_to_web``). When no browser of the customer has been
seen within ``webchat.PRESENT_WITHIN`` and a visitor chose to be told:

- ``sms``: the reply also goes by SMS to their verified phone, through the messenger
  port (idempotency key per Zendesk comment, so a retried delivery texts once);
- ``email``: Zendesk's own convention does it. The ticket's requester is given the
  verified email (``Helpdesk.add_user_email``), and Zendesk's "notify requester"
  trigger emails them the agent's public comments. This reply's email may already
  have been decided by Zendesk when the comment was made, which is why the email is
  given to the requester as soon as the visitor chooses email (and at the handoff,
  whose requester carries the customer's emails).

What happened is kept on the reply's message (``meta["notified"]``).
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.core import ports
from switchboard.core.channels.webchat import is_present, visitors_of
from switchboard.core.customers.address_verification import verified_identity
from switchboard.core.customers.identity import zendesk_user_id
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import Account, Conversation, Customer, Identity, Message


def ensure_requester_email(session: Session, account: Account, settings: Settings, customer: Customer) -> str:
    """Give the customer's Zendesk user their verified email: "added", "no_requester"
    (no ticket yet: the handoff will create the user with it) or "no_verified_email"."""
    email = verified_identity(session, customer, "email")
    if email is None:
        return "no_verified_email"
    user_id = zendesk_user_id(customer)
    if user_id is None:
        return "no_requester"
    ports.current().helpdesk(session, account, settings).add_user_email(
        user_id, email=email.value, idempotency_key=f"requester-email:{user_id}:{email.id}")
    return "added"


def notify_if_away(session: Session, account: Account, conversation: Conversation, customer: Customer,
                   comment_id: Any, body: str, settings: Settings, *, now: datetime | None = None) -> dict[str, Any]:
    """Tell a visitor who left about the agent's reply ``comment_id`` (already on the
    timeline) as they chose; returns what happened, also kept on the reply's message."""
    now = now or datetime.now(UTC)
    visitors = visitors_of(session, customer.id)
    chosen = next((v for v in visitors if v.notify in ("sms", "email")), None)
    if not visitors:
        outcome: dict[str, Any] = {"by": "none", "why": "no_visitor"}
    elif is_present(visitors[0], now):
        outcome = {"by": "widget", "why": "present"}
    elif chosen is None:
        outcome = {"by": "none", "why": "no_choice"}
    elif chosen.notify == "sms":
        outcome = _by_sms(session, account, customer, comment_id, body, settings)
    else:
        outcome = _by_email(session, account, customer, settings)
    message = _reply_message(session, conversation, comment_id)
    if message is not None:
        message.meta = {**(message.meta or {}), "notified": outcome}
    if outcome["by"] in ("sms", "email"):
        audit(session, account_id=account.id, actor="bot", action="webchat.away_notified",
              subject_type="conversation", subject_id=conversation.id,
              detail={"by": outcome["by"], "comment_id": str(comment_id)})
    return outcome


def _by_sms(session: Session, account: Account, customer: Customer, comment_id: Any, body: str,
            settings: Settings) -> dict[str, Any]:
    phone: Identity | None = verified_identity(session, customer, "phone")
    if phone is None:
        return {"by": "none", "why": "no_verified_phone"}
    if customer.opted_out_at is not None:
        return {"by": "none", "why": "opted_out"}
    try:
        result = ports.current().messenger(session, account, settings).send_message(
            to=phone.value, channel="sms", body=body, idempotency_key=f"agent-reply-sms:{comment_id}")
    except ports.RecipientOptedOut:
        customer.opted_out_at = customer.opted_out_at or datetime.now(UTC)
        return {"by": "none", "why": "opted_out"}
    except ports.VendorUnavailable:
        raise  # the delivery is retried: the widget's copy and this text are each recorded once
    except ports.VendorError as exc:
        return {"by": "none", "why": "sms_failed", "error": str(exc)[:200]}
    return {"by": "sms", "sid": result.response.get("sid"), "outbox_id": result.call.id}


def _by_email(session: Session, account: Account, customer: Customer, settings: Settings) -> dict[str, Any]:
    try:
        requester = ensure_requester_email(session, account, settings, customer)
    except ports.VendorUnavailable:
        raise
    except ports.VendorError as exc:
        return {"by": "none", "why": "email_failed", "error": str(exc)[:200]}
    if requester == "no_verified_email":
        return {"by": "none", "why": "no_verified_email"}
    return {"by": "email", "via": "zendesk_notification", "requester_email": requester}


def _reply_message(session: Session, conversation: Conversation, comment_id: Any) -> Message | None:
    latest = session.scalars(select(Message).where(Message.conversation_id == conversation.id,
                                                   Message.author == "agent")
                             .order_by(Message.id.desc()).limit(5))
    return next((m for m in latest if str((m.meta or {}).get("zendesk_comment_id")) == str(comment_id)), None)
