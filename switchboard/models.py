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
    LargeBinary,
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
    VISITOR = "visitor"  # a web chat visitor id ("v_" + 22 url-safe characters)


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


class WebVisitor(Base):
    """A browser that opened the web chat widget (issue 21), known by the id its signed
    visitor token carries. Each visitor is a customer of its own until a verified phone
    or email links it to another one; ``notify`` is how an agent's reply reaches them
    when they have left the page ("none", "sms" or "email")."""

    __tablename__ = "web_visitors"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Moved forward at most every 30 s while the visitor has a request or stream open.
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    notify: Mapped[str] = mapped_column(String(8), default="none", server_default="none")


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
    # The verdicts recorded since a process last read them: one index range read.
    __table_args__ = (Index("ix_suggestion_feedback_account_id_id", "account_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    suggestion_id: Mapped[int] = mapped_column(ForeignKey("suggestions.id"), index=True)
    agent: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # rating, inserted, sent
    rating: Mapped[str | None] = mapped_column(String(8))  # up, down
    reason: Mapped[str | None] = mapped_column(Text)
    sent_text: Mapped[str | None] = mapped_column(Text)
    edit_distance: Mapped[float | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- Learned phrasings: how customers ask for an article, learned from use ------------


class LearnedPhrasing(Base):
    """A customer's way of asking for a knowledge-base article, learned from use
    (core/knowledge/phrasings.py): a menu pick, an agent's vouch. ``text`` is the
    redacted question; ``key`` its normalised form, hashed for the unique key (one row
    per account, article and wording). Only ``status == "active"`` rows reach retrieval,
    with ``vector`` (float32 bytes) embedded by ``encoder``; "removed" is an admin's
    verdict that no later evidence overturns."""

    __tablename__ = "kb_phrasings"
    __table_args__ = (UniqueConstraint("account_id", "article_id", "key_hash"),
                      Index("ix_kb_phrasings_account_id_status", "account_id", "status"))
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    article_id: Mapped[str] = mapped_column(String(200))  # KbArticle.external_id, as passages name it
    key_hash: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, active, removed
    customers: Mapped[int] = mapped_column(Integer, default=0)  # distinct customers whose picks stand
    agents: Mapped[int] = mapped_column(Integer, default=0)  # distinct agents whose vouches stand
    encoder: Mapped[str | None] = mapped_column(String(64))
    vector: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    removed_by: Mapped[str | None] = mapped_column(String(200))


class PhrasingEvidence(Base):
    """One reason to believe a phrasing asks for its article: a customer's menu pick
    (``customer_id``) or an agent's vouch (``agent``). ``dedupe_key`` makes a retried
    event count once; a withdrawn piece ("that didn't help", a thumbs-down) stays on
    record and counts for nothing."""

    __tablename__ = "kb_phrasing_evidence"
    __table_args__ = (UniqueConstraint("phrasing_id", "dedupe_key"),
                      Index("ix_kb_phrasing_evidence_account_id_suggestion_id", "account_id", "suggestion_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    phrasing_id: Mapped[int] = mapped_column(ForeignKey("kb_phrasings.id"))
    kind: Mapped[str] = mapped_column(String(16))  # pick, agent
    source: Mapped[str] = mapped_column(String(16))  # menu, thumbs_up, inserted, linked_reply
    dedupe_key: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    suggestion_id: Mapped[int | None] = mapped_column(ForeignKey("suggestions.id"))
    agent: Mapped[str | None] = mapped_column(String(200))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_because: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PhrasingStamp(Base):
    """Changes whenever an account's active phrasings do (a fresh random value, written
    in the same transaction): every process compares it, one primary-key read, with the
    stamp of the phrasings it holds, and reloads them only when it differs."""

    __tablename__ = "kb_phrasing_stamps"
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    stamp: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- Outreach (issue 6): campaigns, segments, recipients, Slack decisions ------------


class OutreachCampaign(Base):
    """A proactive message to a set of customers, sent only after a supervisor approved
    it in Slack. ``dedupe_key`` (an API Idempotency-Key, a Zendesk ticket) makes a
    repeated trigger start one campaign, not two."""

    __tablename__ = "outreach_campaigns"
    __table_args__ = (
        UniqueConstraint("account_id", "dedupe_key"),
        Index("ix_outreach_campaigns_status_start_at", "status", "start_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    trigger: Mapped[str] = mapped_column(String(16))  # api, zendesk, schedule
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    # scheduled, building, pending_approval, approved, rejected, expired, sending, sent, done
    status: Mapped[str] = mapped_column(String(24), default="building")
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_by: Mapped[str] = mapped_column(String(200))
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    slack_channel: Mapped[str | None] = mapped_column(String(64))
    slack_ts: Mapped[str | None] = mapped_column(String(32))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OutreachSegment(Base):
    """Customers of one campaign who get the same draft (e.g. one tier or locale).
    ``edited_text``, when a supervisor changed the draft in Slack, is what is sent."""

    __tablename__ = "outreach_segments"
    __table_args__ = (UniqueConstraint("campaign_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("outreach_campaigns.id"), index=True)
    key: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer, default=0)
    draft: Mapped[str] = mapped_column(Text)
    engine: Mapped[str] = mapped_column(String(16), default="template")  # template, llm
    edited_text: Mapped[str | None] = mapped_column(Text)
    content_sid: Mapped[str | None] = mapped_column(String(34))
    content_variables: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)


class OutreachRecipient(Base):
    """The send intent for one customer of one campaign, written before approval.

    The unique (campaign, customer) pair and the outbox idempotency key derived from it
    are what make a retried task, a killed worker or a second Approve click send to
    each customer at most once.
    """

    __tablename__ = "outreach_recipients"
    __table_args__ = (
        UniqueConstraint("campaign_id", "customer_id"),
        Index("ix_outreach_recipients_campaign_id_status", "campaign_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("outreach_campaigns.id"))
    segment_id: Mapped[int] = mapped_column(ForeignKey("outreach_segments.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    phone: Mapped[str] = mapped_column(String(32))
    # pending, deferred, sending, queued, sent, delivered, undelivered, failed, read, skipped
    status: Mapped[str] = mapped_column(String(16), default="pending")
    channel: Mapped[str | None] = mapped_column(String(16))
    send_after: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    message_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    reason: Mapped[str | None] = mapped_column(String(200))  # why skipped, deferred or failed
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SlackInstallation(Base):
    """A workspace that installed the Slack app through OAuth (multi-workspace
    deployments); the newest row per team is the one in use."""

    __tablename__ = "slack_installations"
    __table_args__ = (Index("ix_slack_installations_team_id_installed_at", "team_id", "installed_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    team_id: Mapped[str | None] = mapped_column(String(32))
    bot_token: Mapped[str | None] = mapped_column(String(200))
    bot_user_id: Mapped[str | None] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- Outcome metrics (issue 8): metric events and their roll-ups ---------------------


class MetricEvent(Base):
    """Something measurable that happened (a reply, a handoff, a solved ticket, an
    outreach delivery, a vendor error), appended as it happens.

    ``dedupe_key`` makes a retried task record an event once; ``label`` is the one
    dimension worth grouping on (handoff reason, vendor); ``value`` a number (seconds,
    tokens, a score).
    """

    __tablename__ = "metric_events"
    __table_args__ = (
        UniqueConstraint("account_id", "dedupe_key"),
        Index("ix_metric_events_kind_occurred_at", "kind", "occurred_at"),
        # A customer's latest delivery of a kind: read on each new conversation and STOP.
        Index("ix_metric_events_customer_id_kind_occurred_at", "customer_id", "kind", "occurred_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(48))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    channel: Mapped[str | None] = mapped_column(String(16))
    label: Mapped[str | None] = mapped_column(String(64))
    value: Mapped[float | None] = mapped_column()
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    attrs: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class ConversationOutcome(Base):
    """One row per conversation, kept up to date by each metric event about it, so the
    dashboard's figures are single-table aggregates even over 100,000 conversations.

    ``day`` (UTC, YYYY-MM-DD) is the conversation's start date: grouping and range
    filters on it are plain string comparisons on every database. Flags are 0/1
    integers so they can be summed everywhere.
    """

    __tablename__ = "conversation_outcomes"
    __table_args__ = (Index("ix_conversation_outcomes_account_day", "account_id", "day"),
                      # The customer's latest resolution, read on each new conversation.
                      Index("ix_conversation_outcomes_customer_id_resolved_at", "customer_id", "resolved_at"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    day: Mapped[str] = mapped_column(String(10))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    channel: Mapped[str] = mapped_column(String(16))
    tier: Mapped[str] = mapped_column(String(32))
    intent: Mapped[str | None] = mapped_column(String(64))
    automation: Mapped[str] = mapped_column(String(16), default="ai_only")  # core.metrics.AUTOMATION_LEVELS
    bot_answers: Mapped[int] = mapped_column(Integer, default=0)
    bot_replies: Mapped[int] = mapped_column(Integer, default=0)
    agent_replies: Mapped[int] = mapped_column(Integer, default=0)
    first_response_seconds: Mapped[float | None] = mapped_column()
    ai_seconds: Mapped[float] = mapped_column(default=0.0)
    agent_seconds: Mapped[float] = mapped_column(default=0.0)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime())
    handoff_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    handoff_reason: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution: Mapped[str | None] = mapped_column(String(8))  # bot, agent
    resolution_seconds: Mapped[float | None] = mapped_column()
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    csat_score: Mapped[int | None] = mapped_column(Integer)
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    package_opened: Mapped[int] = mapped_column(Integer, default=0)
    suggestion_used: Mapped[int] = mapped_column(Integer, default=0)


# --- Governed actions (issue 7): executions, verifications, approvals ----------------


class ActionExecution(Base):
    """One request to run a governed action, from request to outcome.

    The unique (account, idempotency_key) is what makes a retried task, a duplicated
    webhook or a double-clicked button run the action once: the second request finds
    this row instead of creating another. ``params`` are the validated inputs; facts the
    policy decided on (order amount, purchase date) come from the company's systems and
    are kept in ``facts``, never from what a customer or a model wrote.
    """

    __tablename__ = "action_executions"
    __table_args__ = (
        UniqueConstraint("account_id", "idempotency_key"),
        Index("ix_action_executions_customer_action", "customer_id", "action", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    action: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))  # bot, llm, agent, supervisor
    actor: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    zendesk_ticket_id: Mapped[int | None] = mapped_column(Integer, index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    facts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    amount_cents: Mapped[int | None] = mapped_column(Integer)
    # requested, awaiting_verification, awaiting_confirmation, awaiting_approval,
    # running, succeeded, failed, refused, rejected, expired
    status: Mapped[str] = mapped_column(String(24), default="requested")
    reasons: Mapped[list[str]] = mapped_column(JSONType, default=list)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)
    approval_channel: Mapped[str | None] = mapped_column(String(32))
    approval_ts: Mapped[str | None] = mapped_column(String(32))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CustomerVerification(Base):
    """A one-time code sent to the phone on file. Only a salted hash of the code is
    kept, so a database leak does not hand out working codes."""

    __tablename__ = "customer_verifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    execution_id: Mapped[int | None] = mapped_column(ForeignKey("action_executions.id"))
    code_hash: Mapped[str] = mapped_column(String(64))
    salt: Mapped[str] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, verified, failed, expired
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


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


class KbDraft(Base):
    """An article drafted from agents' answers to a knowledge gap (core/kb_drafts.py),
    waiting for a person: nothing reaches the knowledge base or the Help Center until an
    approver accepts it. ``body`` is redacted; ``sources`` names the tickets and comments."""

    __tablename__ = "kb_drafts"
    __table_args__ = (Index("ix_kb_drafts_account_id_status", "account_id", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, approved, rejected
    version: Mapped[int] = mapped_column(Integer, default=1)
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    questions: Mapped[list[str]] = mapped_column(JSONType, default=list)  # redacted, as customers asked
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    proof: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    article_id: Mapped[str | None] = mapped_column(String(200))  # KbArticle.external_id once published
    slack_channel: Mapped[str | None] = mapped_column(String(64))
    slack_ts: Mapped[str | None] = mapped_column(String(32))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
