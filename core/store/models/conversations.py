"""Conversations and their messages, the inbox and outbox every vendor delivery and call goes
through, the audit log, stored artifacts and the vault of redacted values."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from switchboard.core.store.models.base import Base, JSONType, UTCDateTime, utcnow


class Conversation(Base):
    __tablename__ = "conversations"
    # The customer's latest open conversation, and their conversations since a date, are
    # read per message: each is an index range read however many conversations they had.
    __table_args__ = (Index("ix_conversations_customer_id_id", "customer_id", "id"),
                      Index("ix_conversations_customer_id_started_at", "customer_id", "started_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open, human, closed
    channel: Mapped[str] = mapped_column(String(16))  # the channel last used
    zendesk_ticket_id: Mapped[int | None] = mapped_column(Integer, index=True)
    handoff_reason: Mapped[str | None] = mapped_column(String(64))
    handoff_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    csat_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    csat_score: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.id"
    )


class Message(Base):
    """One entry of the cross-channel timeline. ``body`` is stored redacted."""

    __tablename__ = "messages"
    # (conversation_id, id): a conversation's latest messages are one index range read,
    # so the bot's next turn costs the same in a conversation of 1 or 1,000 messages.
    __table_args__ = (UniqueConstraint("account_id", "external_id"),
                      Index("ix_messages_conversation_id_id", "conversation_id", "id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    direction: Mapped[str] = mapped_column(String(8))  # inbound, outbound
    channel: Mapped[str] = mapped_column(String(16))  # sms, whatsapp, zendesk, ...
    author: Mapped[str] = mapped_column(String(16))  # customer, bot, agent, system
    body: Mapped[str] = mapped_column(Text, default="")
    external_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str | None] = mapped_column(String(16))
    meta: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class InboxEvent(Base):
    """A verified webhook delivery, written before the vendor gets its 2xx.

    The unique key on (account, vendor, dedupe_key) is what turns a vendor's retries
    and duplicate deliveries into one event processed once.
    """

    __tablename__ = "inbox_events"
    __table_args__ = (
        UniqueConstraint("account_id", "vendor", "dedupe_key"),
        Index("ix_inbox_events_status_received_at", "status", "received_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    # No index of its own: the unique key, which starts with it, serves its lookups.
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    vendor: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(64))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default="received")  # received, done, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OutboxCall(Base):
    """An outbound vendor call, recorded before it is made (or instead, in sandbox).

    Recording the intent first, under a unique idempotency key, is how a retry after a
    crash knows the message was already sent.
    """

    __tablename__ = "outbox_calls"
    __table_args__ = (UniqueConstraint("account_id", "idempotency_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    vendor: Mapped[str] = mapped_column(String(16))
    operation: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, sending, sandboxed, sent, failed
    attempted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditEntry(Base):
    """Append-only: the migration adds triggers that refuse UPDATE and DELETE."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Artifact(Base):
    """A file derived from the database (the knowledge base's search index, a fitted
    intent model), kept in the database so every web and worker host uses the same one.

    Hosts keep a copy under SWITCHBOARD_DATA_DIR as a cache and look up the newest
    ``version`` (a cheap indexed read without the blob) before using their copy.
    """

    __tablename__ = "artifacts"
    __table_args__ = (UniqueConstraint("account_id", "kind", "version"),
                      Index("ix_artifacts_account_kind_id", "account_id", "kind", "id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    kind: Mapped[str] = mapped_column(String(32))  # kb_index, intent_model
    version: Mapped[str] = mapped_column(String(64))
    meta: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SyncState(Base):
    """Where an incremental sync (e.g. Help Center articles) left off, per account."""

    __tablename__ = "sync_state"
    __table_args__ = (UniqueConstraint("account_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    name: Mapped[str] = mapped_column(String(64))
    cursor: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- Privacy (issue 20): the vault of redacted values --------------------------------


class VaultEntry(Base):
    """One value redaction took out of a customer's message, encrypted (Fernet), and
    the token (``[PHONE_1]``) that stands for it in the timeline, prompts, logs and notes.

    Tokens are numbered per conversation and kind, and the same value gets the same
    token within a conversation, so the model's replies still make sense. The plaintext
    is never stored; erasure and retention delete the row.
    """

    __tablename__ = "vault_entries"
    __table_args__ = (UniqueConstraint("conversation_id", "token"),
                      Index("ix_vault_entries_account_created_at", "account_id", "created_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    kind: Mapped[str] = mapped_column(String(16))
    token: Mapped[str] = mapped_column(String(32))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
