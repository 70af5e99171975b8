"""Outreach: campaigns, segments, recipients, and the Slack installations that approve them."""
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
