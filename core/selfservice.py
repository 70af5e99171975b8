"""Deciding what the bot does with a customer's message: answer, ask, or hand over.

The rule that matters most: the bot only says what a knowledge-base passage supports.
When retrieval is unsure, the draft fails the grounding check, or the model is down,
the customer is passed to a person with the reason recorded; nothing is improvised.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .drafting import Draft, UngroundedDraft, compose_local, ground_or_refuse
from .enrichment import Enrichment
from .records import Hit

Action = Literal["answer", "clarify", "handoff", "help"]

#: Intents that always go to a person, and the handoff reason each records.
HANDOFF_INTENTS = {
    "human_agent": "explicit_request",
    "legal": "legal",
    "fraud": "fraud",
    "complaint": "complaint",
}
SMALL_TALK = {"greeting", "thanks"}
#: An intent hands the customer over only when the model is clearly sure; a borderline
#: guess goes through the knowledge base, whose own uncertainty also ends in a handoff.
HANDOFF_MIN_CONFIDENCE = 0.6
NEGATIVE_SENTIMENT = -0.6
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
    """What the policy needs of the conversation so far."""

    first_bot_message: bool
    clarified_already: bool
    company: str | None = None
    handoff_eta: str = "a few hours"


Drafter = Callable[[str, Sequence[Hit]], Draft]


def confident(hits: Sequence[Hit]) -> bool:
    return bool(hits) and hits[0].signals.get("coverage", 0.0) >= MIN_COVERAGE and hits[0].score >= MIN_SCORE


def decide(
    question: str,
    enrichment: Enrichment,
    turn: Turn,
    *,
    search: Callable[[str], list[Hit]],
    llm_drafter: Drafter | None = None,
    topic_words: Callable[[str], list[str]],
) -> Decision:
    """The bot's next move for one (already redacted) customer message."""
    reason = _handoff_reason(enrichment, question)
    if reason:
        return _handoff(turn, reason)
    if enrichment.in_scope and enrichment.intent in SMALL_TALK:
        return Decision("clarify", _with_disclosure(turn, WELCOME), notes={"intent": enrichment.intent or ""})
    if len(topic_words(question)) < MIN_QUESTION_WORDS:
        return _clarify_or_handoff(turn, "too_vague")
    hits = search(question)
    if not confident(hits):
        return _clarify_or_handoff(turn, "low_confidence", hits)
    draft, failure = _draft(question, drafting_hits(hits), llm_drafter)
    if draft is None:
        return _handoff(turn, failure or "low_confidence", hits)
    return Decision("answer", _with_disclosure(turn, draft.text), draft=draft, hits=tuple(hits))


#: One-word requests for a person, which the disclosure itself invites.
PERSON_WORDS = {"agent", "human", "person", "representative", "operator", "someone"}


def drafting_hits(hits: Sequence[Hit]) -> list[Hit]:
    """The top hit and those close to it: what a reply may be built from."""
    floor = hits[0].score * DRAFT_SCORE_SHARE
    return [hit for i, hit in enumerate(hits) if i == 0 or hit.score >= floor]


def _handoff_reason(enrichment: Enrichment, question: str) -> str | None:
    if question.strip(" .!?").lower() in PERSON_WORDS:
        return "explicit_request"
    if (enrichment.in_scope and enrichment.intent in HANDOFF_INTENTS
            and enrichment.intent_confidence >= HANDOFF_MIN_CONFIDENCE):
        return HANDOFF_INTENTS[enrichment.intent]
    if enrichment.sentiment <= NEGATIVE_SENTIMENT:
        return "negative_sentiment"
    return None


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


def _clarify_or_handoff(turn: Turn, reason: str, hits: Sequence[Hit] = ()) -> Decision:
    """Ask once; if the customer already answered a clarifying question, hand over."""
    if not turn.clarified_already:
        return Decision("clarify", _with_disclosure(turn, CLARIFY), reason=reason, hits=tuple(hits))
    return _handoff(turn, reason, hits)


def _handoff(turn: Turn, reason: str, hits: Sequence[Hit] = ()) -> Decision:
    notice = HANDOFF_NOTICE.format(eta=turn.handoff_eta)
    return Decision("handoff", _with_disclosure(turn, notice), reason=reason, hits=tuple(hits))


def _with_disclosure(turn: Turn, text: str) -> str:
    if not turn.first_bot_message:
        return text
    company = f"{turn.company}'s" if turn.company else "a"
    return DISCLOSURE.format(company=company) + "\n\n" + text
