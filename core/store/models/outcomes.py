"""Outcome metrics and their roll-ups, and conversations scored against the QA rubric."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from switchboard.core.store.models.base import Base, JSONType, UTCDateTime, utcnow

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
    automation: Mapped[str] = mapped_column(String(16), default="ai_only")  # core.outcomes.metrics.AUTOMATION_LEVELS
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


class ConversationScore(Base):
    """A conversation scored against the account's QA rubric when it ended (solved, the
    customer's close, idle): per criterion its verdict, evidence and score in ``criteria``.
    One row per ending: scored again only once it has new messages and ends again."""

    __tablename__ = "conversation_scores"
    __table_args__ = (UniqueConstraint("conversation_id", "last_message_id"),
                      Index("ix_conversation_scores_account_id_created_at", "account_id", "created_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    last_message_id: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_by: Mapped[str] = mapped_column(String(20))  # solved, customer_closed, idle
    automation: Mapped[str] = mapped_column(String(12))  # bot, handed_over
    channel: Mapped[str | None] = mapped_column(String(16))
    intent: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(16))
    agent: Mapped[str | None] = mapped_column(String(200))  # zendesk:<id>, or its name when recorded
    score: Mapped[float] = mapped_column()
    rubric: Mapped[str] = mapped_column(String(64))  # the rubric's name and version
    criteria: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    disposition: Mapped[str | None] = mapped_column(String(64))  # the wrap-up's code, or an agent's correction
    #: How sure the wrap-up's choice was (0 to 1; 1.0 once an agent chose it), shown in the sidebar.
    disposition_confidence: Mapped[float | None] = mapped_column()
    corrected_by: Mapped[str | None] = mapped_column(String(200))
