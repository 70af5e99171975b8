"""Conversations and their cross-channel message timeline."""
from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session

from switchboard.core.store import unit_of_work
from switchboard.core.store.models import Conversation, ConversationOutcome, Customer, Message
from switchboard.core.store.rows import insert_new, insert_or_fetch, write_now

#: Twilio status callbacks arrive out of order; a message's status only moves forward.
STATUS_ORDER = {
    "accepted": 0, "scheduled": 0, "queued": 1, "sending": 2, "sent": 3,
    "delivered": 4, "undelivered": 4, "failed": 4, "read": 5, "canceled": 4,
}


#: How many of a conversation's latest messages decide the bot's next turn (the
#: sentiment trend, the question a follow-up refers to, the recent acknowledgement) and
#: fill the handoff package's timeline. A bound, not a sample: a message in a
#: conversation of 1,000 messages costs what one in a conversation of 20 does.
TURN_WINDOW = 20
#: Counts a policy compares with a threshold (bot replies, failed answers, recent
#: conversations) are counted up to this many: no shipped threshold is near it, and a
#: count that stops there costs the same however long the history is.
COUNT_CAP = 100


def recent(session: Session, conversation_id: int, *, before_id: int | None = None,
           limit: int = TURN_WINDOW, author: str | None = None) -> list[Message]:
    """The conversation's latest ``limit`` messages (before ``before_id``, by
    ``author``), oldest first: one index range read (ix_messages_conversation_id_id),
    whatever the length of the conversation."""
    query = _recent(before_id is not None, author is not None, limit)
    rows = session.scalars(query, {"conversation": conversation_id, "before": before_id, "by": author}).all()
    return list(reversed(rows))


@functools.cache
def _recent(before: bool, by_author: bool, limit: int) -> Select[Message]:
    """The statement of :func:`recent`, built once per shape: on the path of every
    message, building a statement and its cache key cost more than running it."""
    query = select(Message).where(Message.conversation_id == bindparam("conversation"))
    if before:
        query = query.where(Message.id < bindparam("before"))
    if by_author:
        query = query.where(Message.author == bindparam("by"))
    return query.order_by(Message.id.desc()).limit(limit)


#: A customer's other conversations that join what an agent sees of this one (the
#: handoff package, the sidebar): after a web visitor proved a phone by code, their web
#: chat and their SMS conversation belong to one customer but stay two conversations.
#: Those active within RELATED_WINDOW of this one, at most RELATED_CONVERSATIONS of them.
RELATED_WINDOW = timedelta(days=30)
RELATED_CONVERSATIONS = 5


def related_conversations(session: Session, conversation: Conversation) -> list[Conversation]:
    """The customer's other recent conversations, newest first: one bounded index read
    (ix_conversations_customer_id_id) however many conversations they had."""
    rows = session.scalars(select(Conversation).where(
        Conversation.customer_id == conversation.customer_id, Conversation.id != conversation.id)
        .order_by(Conversation.id.desc()).limit(RELATED_CONVERSATIONS)).all()
    since = (conversation.last_message_at or datetime.now(UTC)) - RELATED_WINDOW
    return [other for other in rows if other.last_message_at >= since]


def with_related(session: Session, conversation: Conversation, messages: Sequence[Message], *,
                 limit: int = TURN_WINDOW, keep: int | None = None) -> list[Message]:
    """``messages`` (this conversation's) joined by the latest ``limit`` messages of
    each related conversation: one timeline across channels, oldest first, its latest
    ``keep`` entries (all with None). Without related conversations: ``messages``."""
    others = related_conversations(session, conversation)
    if not others:
        return list(messages)
    joined = list(messages)
    for other in others:
        joined += recent(session, other.id, limit=limit)
    joined.sort(key=lambda m: (m.created_at, m.id))
    return joined if keep is None else joined[-keep:]


def count_capped(session: Session, query: Select[Any], cap: int = COUNT_CAP) -> int:
    """How many rows ``query`` selects, counting no further than ``cap``."""
    return int(session.scalar(capped_count(query, cap)) or 0)


def capped_count(query: Select[Any], cap: int = COUNT_CAP) -> Select[Any]:
    """The statement :func:`count_capped` runs, for a caller that builds it once."""
    return select(func.count()).select_from(query.limit(cap).subquery())


#: Channels a written reply cannot travel on, and the one it takes instead: a caller
#: is written to by SMS at the number they called from (an agent's reply, a recap).
REPLY_CHANNELS = {"voice": "sms"}


def reply_channel(channel: str) -> str:
    """The channel a written message reaches a customer last seen on ``channel``."""
    return REPLY_CHANNELS.get(channel, channel)


def current_conversation(session: Session, customer: Customer, channel: str) -> Conversation:
    """The customer's open conversation (any channel), or a new one.

    Its outcome row (``metrics``) is read in the same statement: every customer
    message folds into it, and this way the fold finds it in the session."""
    if unit_of_work.created(session, customer):
        # A customer this event created has no conversation in the database: at most
        # one the event opened itself, which the session holds.
        conversation = next((row for row in session.identity_map.values() if isinstance(row, Conversation)
                             and row.customer_id == customer.id and row.status != "closed"), None)
    else:
        found = session.execute(_OPEN_CONVERSATION, {"customer": customer.id}).first()
        conversation = found[0] if found is not None else None
    if conversation is None:
        conversation = insert_new(session, Conversation(
            account_id=customer.account_id, customer_id=customer.id, channel=channel, status="open"))
    return conversation


_OPEN_CONVERSATION = (
    select(Conversation, ConversationOutcome)
    .outerjoin(ConversationOutcome, ConversationOutcome.conversation_id == Conversation.id)
    .where(Conversation.customer_id == bindparam("customer"), Conversation.status != "closed")
    .order_by(Conversation.id.desc())
    .limit(1)
)


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
    instead, so a retried event never duplicates an entry.

    With an ``external_id`` the unique (account, external_id) decides in the insert
    itself (ON CONFLICT DO NOTHING), so a new message, the common case, costs one
    statement rather than a lookup and an insert; the lookup runs only on a retry."""
    at = at or datetime.now(UTC)
    message = Message(
        account_id=conversation.account_id, conversation_id=conversation.id,
        direction=direction, channel=channel, author=author, body=body,
        external_id=external_id, status=status, meta=meta or {}, created_at=at,
    )
    if external_id is None:
        session.add(message)
    else:
        message, new = insert_or_fetch(session, message,
                                       lambda: by_external_id(session, conversation.account_id, external_id))
        if not new:
            return message
    # The conversation's last message, and the channel a customer last wrote on.
    write_now(session, conversation, last_message_at=at, **({"channel": channel} if direction == "inbound" else {}))
    if external_id is None:
        session.flush()  # the message's id, which the caller's next rows refer to
    return message


def by_external_id(session: Session, account_id: int, external_id: str) -> Message | None:
    """The account's message with this vendor id (a MessageSid, a call's id), if stored."""
    return session.scalar(_BY_EXTERNAL_ID, {"account": account_id, "external_id": external_id})


_BY_EXTERNAL_ID = select(Message).where(
    Message.account_id == bindparam("account"), Message.external_id == bindparam("external_id"))


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
