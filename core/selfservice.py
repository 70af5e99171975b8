"""Deciding what the bot does with a customer's message: answer, ask, or hand over.

The rule that matters most: the bot only says what a knowledge-base passage supports.
When retrieval is unsure, the draft fails the grounding check, or the model is down,
the customer is passed to a person with the reason recorded; nothing is improvised.
When to hand over is the escalation policy's decision (core/policy.py, a file humans
edit), not this module's.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .drafting import Draft, UngroundedDraft, compose_local, ground_or_refuse
from .enrichment import Enrichment
from .policy import EscalationPolicy, Signals, Trigger
from .records import Hit

Action = Literal["answer", "clarify", "handoff", "help"]

SMALL_TALK = {"greeting", "thanks"}
#: A top hit must contain at least this share of the question's topic words …
MIN_COVERAGE = 0.5
#: … and retrieval's fitted confidence must reach this. Coverage alone lets through a
#: passage that shares the words but answers another question ("where is my package"
#: → the returns article); the score, fitted on held-out StackFAQ, separates right
#: from wrong better (AUC 0.90 vs 0.80, bench/retrieval.py --calibrate).
MIN_SCORE = 0.3
#: Hits scoring below this share of the top hit's score are likely other articles;
#: drafting from them would cite the wrong source.
DRAFT_SCORE_SHARE = 0.25
#: A question with fewer topic words than this is too vague to search on.
MIN_QUESTION_WORDS = 2

DISCLOSURE = ("You're chatting with {company} virtual assistant. "
              "Reply AGENT at any time to reach a person.")
CLARIFY = ("Could you tell me a little more about what you need? For example what you "
           "ordered, or what you were trying to do.")
HANDOFF_NOTICE = ("I'm passing you to a member of our team; they'll reply here, usually "
                  "within {eta}. You won't need to repeat yourself.")
WELCOME = "How can I help you today?"

#: Handoffs the system itself causes (not the policy), and what the agent is told.
SYSTEM_REASONS = {
    "low_confidence": "No knowledge-base passage answered the question well enough to reply.",
    "ungrounded_draft": "The drafted answer was not supported by the knowledge base, so it was not sent.",
    "model_unavailable": "The language model was unavailable, so no answer was drafted.",
}


@dataclass(frozen=True)
class Decision:
    action: Action
    reply: str
    reason: str | None = None
    draft: Draft | None = None
    hits: tuple[Hit, ...] = ()
    notes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Turn:
    """What the escalation policy needs of the conversation so far (earlier messages
    only: the current one is the question being decided)."""

    first_bot_message: bool
    failed_answers: int = 0
    company: str | None = None
    sentiment_history: tuple[float, ...] = ()
    customer_tier: str = "standard"
    customer_value: float | None = None
    contacts_recent: int = 1
    bot_turns: int = 0
    minutes_with_bot: float = 0.0


Drafter = Callable[[str, Sequence[Hit]], Draft]


def confident(hits: Sequence[Hit]) -> bool:
    return (bool(hits) and hits[0].signals.get("coverage", 0.0) >= MIN_COVERAGE
            and hits[0].score >= MIN_SCORE)


def drafting_hits(hits: Sequence[Hit]) -> list[Hit]:
    """The top hit and those close to it: what a reply may be built from."""
    floor = hits[0].score * DRAFT_SCORE_SHARE
    return [hit for i, hit in enumerate(hits) if i == 0 or hit.score >= floor]


def decide(
    question: str,
    enrichment: Enrichment,
    turn: Turn,
    *,
    policy: EscalationPolicy,
    search: Callable[[str], list[Hit]],
    llm_drafter: Drafter | None = None,
    topic_words: Callable[[str], list[str]],
) -> Decision:
    """The bot's next move for one (already redacted) customer message.

    The escalation policy is asked twice: before searching (a request for a person,
    fraud, anger… need no search) and, when the knowledge base is unsure, again with
    that fact (low confidence after a failed answer, out of scope, repeated failures).
    """

    def escalation(retrieval_confident: bool) -> Trigger | None:
        return policy.evaluate(_signals(question, enrichment, turn, retrieval_confident))

    trigger = escalation(retrieval_confident=True)
    if trigger:
        return _handoff(turn, policy, trigger)
    if enrichment.in_scope and enrichment.intent in SMALL_TALK:
        return Decision("clarify", _with_disclosure(turn, WELCOME), notes={"intent": enrichment.intent or ""})
    hits = search(question) if len(topic_words(question)) >= MIN_QUESTION_WORDS else []
    if not confident(hits):
        trigger = escalation(retrieval_confident=False)
        if trigger:
            return _handoff(turn, policy, trigger, hits)
        reason = "low_confidence" if hits else "too_vague"
        return Decision("clarify", _with_disclosure(turn, CLARIFY), reason=reason, hits=tuple(hits))
    draft, failure = _draft(question, drafting_hits(hits), llm_drafter)
    if draft is None:
        why = failure or "low_confidence"
        return _handoff(turn, policy, Trigger(why, SYSTEM_REASONS.get(why, "")), hits)
    return Decision("answer", _with_disclosure(turn, draft.text), draft=draft, hits=tuple(hits))


def _signals(question: str, enrichment: Enrichment, turn: Turn, retrieval_confident: bool) -> Signals:
    return Signals(
        text=question, intent=enrichment.intent, intent_confidence=enrichment.intent_confidence,
        in_scope=enrichment.in_scope, sentiment=enrichment.sentiment, sentiment_history=turn.sentiment_history,
        retrieval_confident=retrieval_confident, failed_answers=turn.failed_answers,
        customer_tier=turn.customer_tier, customer_value=turn.customer_value,
        contacts_recent=turn.contacts_recent, bot_turns=turn.bot_turns, minutes_with_bot=turn.minutes_with_bot,
    )


def _draft(question: str, hits: Sequence[Hit], llm_drafter: Drafter | None) -> tuple[Draft | None, str | None]:
    """A grounded draft, or (None, why not). The LLM drafts when configured; a model
    outage is a reason to hand over, never a reason to improvise."""
    passages = [hit.passage for hit in hits]
    if llm_drafter is not None:
        from switchboard.connectors.base import VendorError, VendorUnavailable

        try:
            draft = llm_drafter(question, hits)
            if draft.abstained:
                return None, "low_confidence"
            return ground_or_refuse(draft, passages), None
        except UngroundedDraft:
            return None, "ungrounded_draft"
        except (VendorUnavailable, VendorError):
            return None, "model_unavailable"
    draft = compose_local(question, hits)
    if draft is None:
        return None, "low_confidence"
    try:
        return ground_or_refuse(draft, passages), None
    except UngroundedDraft:
        return None, "ungrounded_draft"


def _handoff(turn: Turn, policy: EscalationPolicy, trigger: Trigger, hits: Sequence[Hit] = ()) -> Decision:
    notice = HANDOFF_NOTICE.format(eta=policy.handoff_eta)
    return Decision("handoff", _with_disclosure(turn, notice), reason=trigger.name, hits=tuple(hits),
                    notes={"detail": trigger.detail})


def _with_disclosure(turn: Turn, text: str) -> str:
    if not turn.first_bot_message:
        return text
    company = f"{turn.company}'s" if turn.company else "a"
    return DISCLOSURE.format(company=company) + "\n\n" + text
