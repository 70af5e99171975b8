"""The knowledge base's articles, agents' suggestions and their feedback, and the phrasings
learned from use."""
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
from sqlalchemy.orm import Mapped, mapped_column

from switchboard.core.store.models.base import Base, JSONType, UTCDateTime, utcnow


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


class KbDraft(Base):
    """An article drafted from agents' answers to a knowledge gap (core/knowledge_loop/drafts.py),
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
    #: "new" (an article of its own) or "edit" (a new version of ``target_article_id``,
    #: whose body when drafted is ``base_body``: what the reviewer's diff is against).
    kind: Mapped[str] = mapped_column(String(8), default="new", server_default="new")
    target_article_id: Mapped[str | None] = mapped_column(String(200))
    base_body: Mapped[str | None] = mapped_column(Text)
    #: Every version as it was: number, title, body, who made it, when and how
    #: (drafted, merged, edited); ``approved_version`` is the one published.
    versions: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list, server_default="[]")
    approved_version: Mapped[int | None] = mapped_column(Integer)
    slack_channel: Mapped[str | None] = mapped_column(String(64))
    slack_ts: Mapped[str | None] = mapped_column(String(32))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
