"""Conversations and their cross-channel message timeline."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.models import Conversation, Customer, Message

#: Twilio status callbacks arrive out of order; a message's status only moves forward.
STATUS_ORDER = {
    "accepted": 0, "scheduled": 0, "queued": 1, "sending": 2, "sent": 3,
    "delivered": 4, "undelivered": 4, "failed": 4, "read": 5, "canceled": 4,
}


#: Channels a written reply cannot travel on, and the one it takes instead: a caller
#: is written to by SMS at the number they called from (an agent's reply, a recap).
REPLY_CHANNELS = {"voice": "sms"}


def reply_channel(channel: str) -> str:
    """The channel a written message reaches a customer last seen on ``channel``."""
    return REPLY_CHANNELS.get(channel, channel)


def current_conversation(session: Session, customer: Customer, channel: str) -> Conversation:
    """The customer's open conversation (any channel), or a new one."""
    conversation = session.scalar(
        select(Conversation)
        .where(Conversation.customer_id == customer.id, Conversation.status != "closed")
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    if conversation is None:
        conversation = Conversation(
            account_id=customer.account_id, customer_id=customer.id, channel=channel,
            status="open",
        )
        session.add(conversation)
        session.flush()
    return conversation


def append(
    session: Session,
    conversation: Conversation,
    *,
    direction: str,
    channel: str,
    author: str,
    body: str,
    external_id: str | None = None,
    status: str | None = None,
    meta: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> Message:
    """Add a message; with an ``external_id`` already on the timeline, return that one
    instead, so a retried event never duplicates an entry."""
    if external_id is not None:
        existing = session.scalar(select(Message).where(
            Message.account_id == conversation.account_id, Message.external_id == external_id))
        if existing is not None:
            return existing
    at = at or datetime.now(UTC)
    message = Message(
        account_id=conversation.account_id, conversation_id=conversation.id,
        direction=direction, channel=channel, author=author, body=body,
        external_id=external_id, status=status, meta=meta or {}, created_at=at,
    )
    session.add(message)
    conversation.last_message_at = at
    if direction == "inbound":
        conversation.channel = channel
    session.flush()
    return message


def advance_status(message: Message, status: str) -> bool:
    """Move ``message`` to ``status`` unless that would move it backwards."""
    new_rank = STATUS_ORDER.get(status)
    if new_rank is None:
        return False
    old_rank = STATUS_ORDER.get(message.status or "", -1)
    if new_rank < old_rank or (new_rank == old_rank and message.status == status):
        return False
    message.status = status
    return True


def conversations(session: Session, account_id: int, *, limit: int = 100) -> Sequence[Conversation]:
    return session.scalars(
        select(Conversation)
        .where(Conversation.account_id == account_id)
        .order_by(Conversation.last_message_at.desc())
        .limit(limit)
    ).all()
