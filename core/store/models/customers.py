"""Accounts (one per company served), their API keys, and the customers and identities they know."""
from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Enum,
    ForeignKey,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from switchboard.core.store.models.base import Base, JSONType, UTCDateTime, utcnow


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
