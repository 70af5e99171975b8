"""The tables every capability builds on.

Every row carries ``account_id``: one deployment serves several companies' helpdesks,
and scoping each query by account is what keeps one company's customers invisible to
another's requests.
"""
from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware UTC datetimes; SQLite forgets the zone, so it is put back on load."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database: use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Account(Base):
    """One company's helpdesk: its Zendesk subdomain, Twilio numbers, Slack workspace.

    Secrets of the default account come from the environment and are never copied
    here; further accounts keep theirs in ``secrets`` (set with `switchboard accounts`).
    """

    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    zendesk_subdomain: Mapped[str | None] = mapped_column(String(100), unique=True)
    twilio_account_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    twilio_phone_number: Mapped[str | None] = mapped_column(String(32), unique=True)
    twilio_whatsapp_number: Mapped[str | None] = mapped_column(String(48), unique=True)
    slack_team_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    secrets: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ApiKey(Base):
    """Keys are stored hashed: a database leak must not hand out working keys."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(32), default="standard")
    locale: Mapped[str | None] = mapped_column(String(16))
    timezone: Mapped[str | None] = mapped_column(String(64))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    identities: Mapped[list[Identity]] = relationship(back_populates="customer")


class IdentityKind(enum.StrEnum):
    PHONE = "phone"  # E.164
    WHATSAPP = "whatsapp"  # WhatsApp id (the E.164 digits Twilio sends as WaId)
    EMAIL = "email"
    ZENDESK_USER = "zendesk_user"


class Identity(Base):
    """A way to reach or recognise a customer; unique per account, so the same phone on
    SMS and WhatsApp resolves to one customer with one timeline."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("account_id", "kind", "value"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[IdentityKind] = mapped_column(Enum(IdentityKind, native_enum=False, length=16))
    value: Mapped[str] = mapped_column(String(320))
    customer: Mapped[Customer] = relationship(back_populates="identities")


class Conversation(Base):
    __tablename__ = "conversations"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
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
    __table_args__ = (UniqueConstraint("account_id", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
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
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
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


class KbArticle(Base):
    """A knowledge-base article of one account. ``content_hash`` lets a re-import or a
    Help Center sync tell a changed article from an unchanged one."""

    __tablename__ = "kb_articles"
    __table_args__ = (UniqueConstraint("account_id", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    external_id: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(32))  # file, help_center
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(1000))
    locale: Mapped[str] = mapped_column(String(16), default="en")
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    content_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SyncState(Base):
    """Where an incremental sync (e.g. Help Center articles) left off, per account."""

    __tablename__ = "sync_state"
    __table_args__ = (UniqueConstraint("account_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    name: Mapped[str] = mapped_column(String(64))
    cursor: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Suggestion(Base):
    """A reply suggested to an agent on a Zendesk ticket, grounded like a bot answer.
    What the agent did with it is in SuggestionFeedback and the audit log."""

    __tablename__ = "suggestions"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    zendesk_ticket_id: Mapped[int] = mapped_column(Integer, index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    query: Mapped[str] = mapped_column(Text)  # the (redacted) customer text it answers
    text: Mapped[str] = mapped_column(Text)
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    engine: Mapped[str] = mapped_column(String(16))
    model: Mapped[str | None] = mapped_column(String(100))
    prompt_version: Mapped[str | None] = mapped_column(String(32))
    rank: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="ready")  # ready, inserted, sent, rejected, stale
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SuggestionFeedback(Base):
    """An agent's verdict on a suggestion: thumbs, reason, insertion, and how far the
    reply they finally sent differs from it (0 = sent as suggested, 1 = rewritten)."""

    __tablename__ = "suggestion_feedback"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    suggestion_id: Mapped[int] = mapped_column(ForeignKey("suggestions.id"), index=True)
    agent: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # rating, inserted, sent
    rating: Mapped[str | None] = mapped_column(String(8))  # up, down
    reason: Mapped[str | None] = mapped_column(Text)
    sent_text: Mapped[str | None] = mapped_column(Text)
    edit_distance: Mapped[float | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- Outreach (issue 6): campaigns, segments, recipients, Slack decisions ------------


# --- Outcome metrics (issue 8): metric events and their roll-ups ---------------------


# --- Governed actions (issue 7): executions, verifications, approvals ----------------
