"""What each published knowledge draft changed (issue 38's "measured"): the questions
in its topic before and after it was published, by outcome, and the agent hours that
saved at the account's handle time.

A draft's topic is the questions that asked for it; a later customer question is in it
when the index's encoder puts it as close to one of them as the gaps join questions
(:mod:`..knowledge.topics`; the same words, for an index without an encoder). Each
question is counted once, by the bot's first reply to it: answered outright, by menu,
handed over to a person (also when the next thing the bot did was a handover: a menu
not picked, an answer that did not help, then AGENT), or asked to rephrase. Before is the :data:`WINDOW_DAYS` up to
the approval; after, the time since (at most as long): the counts say how often the
topic came up, the shares what the bot did with it.

Hours saved are the handovers (and requests to rephrase, which end with a person too)
avoided: the share of the topic's questions that needed a person before, applied to the
questions asked after, less those that still did, at SWITCHBOARD_AGENT_HANDLE_MINUTES a
conversation. An estimate, and labelled so; never below zero.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.core.accounts import setting
from switchboard.core.knowledge import topics
from switchboard.core.settings import Settings, handle_minutes
from switchboard.core.store.models import Account, KbDraft, Message

#: Days measured on each side of a draft's approval, at most.
WINDOW_DAYS = 28
#: Published drafts measured at most (the latest), and questions read for them.
MAX_DRAFTS = 20
MAX_QUESTIONS = 5000
OUTCOME = {"answer": "answered", "choices": "menu", "handoff": "handed_over", "clarify": "rephrase"}


@dataclass(frozen=True)
class Impact:
    """One published draft's topic before and after it was published."""

    draft_id: int
    title: str
    article_id: str
    kind: str
    published_at: datetime
    days_after: float
    before: dict[str, int]
    after: dict[str, int]
    handovers_avoided: float
    hours_saved: float
    handle_minutes: float

    def as_json(self) -> dict[str, Any]:
        return {"draft_id": self.draft_id, "title": self.title, "article_id": self.article_id, "kind": self.kind,
                "published_at": self.published_at.isoformat(), "days_before": WINDOW_DAYS,
                "days_after": round(self.days_after, 2),
                "before": self.before, "after": self.after, "handovers_avoided": round(self.handovers_avoided, 1),
                "hours_saved": round(self.hours_saved, 2), "handle_minutes": self.handle_minutes}


@dataclass(frozen=True)
class _Asked:
    at: datetime
    text: str
    outcome: str


def account_handle_minutes(account: Account, settings: Settings) -> float:
    """The account's agent_handle_minutes, else the deployment's (6 when unset)."""
    return setting(account, "agent_handle_minutes", settings, handle_minutes, inherit=True) \
        or settings.agent_handle_minutes


def measure(session: Session, account: Account, settings: Settings, *, until: datetime | None = None,
            since: datetime | None = None) -> list[Impact]:
    """Every draft published in ``[since, until)`` (the latest :data:`MAX_DRAFTS`), newest first."""
    until = until or datetime.now(UTC)
    query = select(KbDraft).where(KbDraft.account_id == account.id, KbDraft.status == "approved",
                                  KbDraft.decided_at.is_not(None), KbDraft.decided_at < until)
    if since is not None:
        query = query.where(KbDraft.decided_at >= since)
    drafts = [d for d in session.scalars(query.order_by(KbDraft.decided_at.desc()).limit(MAX_DRAFTS))
              if d.decided_at is not None]
    if not drafts:
        return []
    window = timedelta(days=WINDOW_DAYS)
    asked = _asked(session, account.id, min(d.decided_at for d in drafts if d.decided_at) - window, until)
    retriever = topics.live_retriever(session, account.id, settings)
    embedded = topics.vectors(retriever, [a.text for a in asked])
    minutes = account_handle_minutes(account, settings)
    found = []
    for draft in drafts:
        assert draft.decided_at is not None
        published = draft.decided_at
        side = min(until - published, window)
        member = _in_topic(asked, embedded, retriever, draft.questions)
        before = _counts(a for a, m in zip(asked, member, strict=True) if m and published - window <= a.at < published)
        after = _counts(a for a, m in zip(asked, member, strict=True) if m and published <= a.at < published + side)
        needed = (before["handed_over"] + before["rephrase"]) / before["questions"] if before["questions"] else 0.0
        avoided = max(0.0, needed * after["questions"] - after["handed_over"] - after["rephrase"])
        found.append(Impact(draft.id, draft.title, draft.article_id or "", draft.kind, published,
                            side.total_seconds() / 86400, before, after, avoided, avoided * minutes / 60, minutes))
    return found


def _asked(session: Session, account_id: int, start: datetime, end: datetime) -> list[_Asked]:
    """Customers' questions in ``[start, end)`` with what the bot did: its first reply
    to each, or handed over when the conversation's next bot reply was a handover (a
    menu not picked, an answer that did not help, then AGENT)."""
    replies = session.execute(select(Message.meta, Message.conversation_id).where(
        Message.account_id == account_id, Message.author == "bot", Message.created_at >= start,
        Message.created_at < end, Message.meta["action"].as_string().in_(tuple(OUTCOME)))
        .order_by(Message.id.desc()).limit(MAX_QUESTIONS)).all()
    first: dict[int, str] = {}
    previous: dict[int, int] = {}  # conversation -> the question its last bot reply answered
    for row in reversed(replies):
        meta: dict[str, Any] = row[0] or {}
        conversation: int = row[1]
        question, action = meta.get("in_reply_to"), OUTCOME[meta["action"]]
        if action == "handed_over" and conversation in previous:
            first[previous[conversation]] = action
        if isinstance(question, int) and question not in first:
            first[question] = action
            previous[conversation] = question
    if not first:
        return []
    rows = session.execute(select(Message.id, Message.body, Message.created_at).where(
        Message.account_id == account_id, Message.id.in_(sorted(first)), Message.author == "customer")).all()
    return [_Asked(at, body, first[message_id]) for message_id, body, at in sorted(rows)]


def _in_topic(asked: list[_Asked], embedded: np.ndarray | None, retriever: Any, questions: list[str]) -> list[bool]:
    theirs = topics.vectors(retriever, questions) if embedded is not None else None
    if embedded is None or theirs is None:
        wanted = {" ".join(q.lower().split()) for q in questions}
        return [" ".join(a.text.lower().split()) in wanted for a in asked]
    return list((embedded @ theirs.T).max(axis=1) >= topics.join_cosine(retriever))


def _counts(asked: Any) -> dict[str, int]:
    counts = {"questions": 0, "answered": 0, "menu": 0, "handed_over": 0, "rephrase": 0}
    for one in asked:
        counts["questions"] += 1
        counts[one.outcome] += 1
    return counts
