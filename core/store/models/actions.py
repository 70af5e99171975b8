"""Governed actions: executions, the verifications they rest on, approvals."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from switchboard.core.store.models.base import Base, JSONType, UTCDateTime, utcnow

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
