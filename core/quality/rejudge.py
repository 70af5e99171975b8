""""Resolved" judged again by what happened next: a conversation scored resolved whose
ticket is reopened, or whose customer comes back with a question, within the rubric's
``resolved.within_days`` of its end, was not resolved after all. Its score is updated
once (the verdict turns to missed, with what happened as evidence, and the score is
weighed again), audited, and the report counts and shows it.

Only a message with a topic counts as coming back: a "thanks" or "bye" after the
answer is the same contact closing, not a new one.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from switchboard.core.quality.files import account_file
from switchboard.core.quality.rubric import load_rubric
from switchboard.core.quality.scoring import weighted_mean
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import Account, Conversation, ConversationScore, Message

Reason = Literal["reopened", "repeat_contact"]
#: Intents that close or greet rather than ask (scoring's _NOT_A_TOPIC, less "talk to a person").
_CLOSING = frozenset({"thanks", "greeting", "goodbye"})

#: The customer's latest score, newest first: their conversations (ix_conversations_customer_id_id),
#: each one's scores (the unique conversation_id, last_message_id index).
_CUSTOMERS_LATEST = (
    select(ConversationScore).join(Conversation, Conversation.id == ConversationScore.conversation_id)
    .where(Conversation.customer_id == bindparam("customer"), ConversationScore.created_at >= bindparam("since"))
    .order_by(ConversationScore.id.desc()).limit(1)
)


def _weighed(criteria: list[dict[str, Any]]) -> float:
    """The score again from the stored verdicts and weights."""
    return weighted_mean([(float(c.get("weight") or 0.0), c["score"]) for c in criteria if c.get("score") is not None])


def _resolved_met(criteria: list[dict[str, Any]]) -> bool:
    return any(c["criterion"] == "resolved" and c["verdict"] == "met" for c in criteria)


def _rejudge(session: Session, account: Account, score: ConversationScore, reason: Reason,
             evidence: dict[str, Any], now: datetime, within_days: int) -> bool:
    ended = score.created_at if score.created_at.tzinfo else score.created_at.replace(tzinfo=UTC)
    if within_days <= 0 or now - ended > timedelta(days=within_days):
        return False
    if not _resolved_met(score.criteria):
        return False  # judged again once: a second reopen finds it missed already
    # Locked only now, when it is to change: two events at once (a reopen and the
    # customer's message) turn it round once, the second reading it missed.
    session.refresh(score, with_for_update=True)
    criteria = [dict(c) for c in score.criteria]
    resolved = next((c for c in criteria if c["criterion"] == "resolved"), None)
    if resolved is None or resolved["verdict"] != "met":
        return False
    before = score.score
    resolved.update(verdict="missed", score=0.0, rejudged=reason,
                    evidence=[*resolved.get("evidence", []), {"rejudged": reason, "at": now.isoformat(), **evidence}])
    score.criteria, score.score = criteria, _weighed(criteria)
    audit(session, account_id=account.id, actor="qa", action="quality.resolved_rejudged",
          subject_type="conversation", subject_id=score.conversation_id,
          detail={"reason": reason, "score_id": score.id, "from": before, "to": score.score,
                  "within_days": within_days, **{k: v for k, v in evidence.items() if k != "quote"}})
    return True


def on_reopened(session: Session, account: Account, settings: Settings, conversation: Conversation, *,
                at: datetime | None = None) -> ConversationScore | None:
    """The conversation's ticket was reopened: its latest score, re-judged when it said resolved."""
    score = session.scalar(select(ConversationScore).where(ConversationScore.conversation_id == conversation.id)
                           .order_by(ConversationScore.id.desc()).limit(1))
    if score is None:
        return None
    within = load_rubric(account_file(account, settings, "qa_rubric_file")).resolved_within_days
    changed = _rejudge(session, account, score, "reopened", {"ticket_id": conversation.zendesk_ticket_id},
                       at or datetime.now(UTC), within)
    return score if changed else None


def on_customer_message(session: Session, account: Account, settings: Settings, message: Message,
                        customer_id: int, intent: str | None) -> ConversationScore | None:
    """A customer's message with a topic: their latest score, re-judged when it said
    resolved and ended within the rubric's days (a message of that very ending does not count)."""
    if intent in _CLOSING:
        return None
    within = load_rubric(account_file(account, settings, "qa_rubric_file")).resolved_within_days
    now = datetime.now(UTC)
    score = session.scalar(_CUSTOMERS_LATEST, {"customer": customer_id, "since": now - timedelta(days=within)}) \
        if within else None
    if score is None or score.last_message_id >= message.id:
        return None
    evidence = {"conversation_id": message.conversation_id, "message_id": message.id, "author": "customer",
                "quote": message.body.strip()[:300]}
    return score if _rejudge(session, account, score, "repeat_contact", evidence, now, within) else None
