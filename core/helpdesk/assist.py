"""Agent assist: grounded reply suggestions for a Zendesk ticket, and what agents did
with them.

Suggestions are held to the bot's standard (every sentence supported by a cited
passage), then dressed in the account's style card. They are prepared when the ticket
changes, so the sidebar opens with them ready, and every one is in the audit log with
its sources, engine and the redactions applied to the text it answers.
"""
from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Result, select, update
from sqlalchemy.orm import Session

from switchboard.core.answers.drafting import Draft, UngroundedDraft, compose_local, ground_or_refuse, lead_of
from switchboard.core.bot.decisions import MIN_COVERAGE
from switchboard.core.bot.menus import choice_hits
from switchboard.core.knowledge import phrasings
from switchboard.core.knowledge.feedback import FeedbackMemory, Vote, edit_distance, vote_value
from switchboard.core.knowledge.ranking import RankingSettings
from switchboard.core.knowledge.records import Hit
from switchboard.core.knowledge.service import KnowledgeBase, KnowledgeBaseEmpty
from switchboard.core.pii.redaction import redact, truncate_for_model
from switchboard.core.resources import data_file
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import Account, Suggestion, SuggestionFeedback
from switchboard.core.understanding.small_talk import request_part

DEFAULT_STYLE = data_file("style_card.yaml")
MAX_SUGGESTIONS = 3
AGENT_REPLY_CHARS = 700

#: Next-best actions offered per intent (the governed-actions capability executes them).
ACTIONS = {
    "order_status": [("order_status", "Look up the order",
                      "Check the order's status and tracking in your order system.")],
    "delivery_delay": [("order_status", "Look up the order", "Check the courier's latest scan before replying."),
                       ("reschedule", "Offer a new delivery slot", "Reschedule the delivery with the customer.")],
    "refund_status": [("refund", "Check or issue the refund",
                       "Refunds above your limit need a supervisor's approval.")],
    "return_item": [("return", "Start a return", "Create the return label and send it to the customer.")],
    "change_address": [("address_change", "Update the address", "Possible until the order is dispatched.")],
    "cancel_order": [("cancel_order", "Cancel the order",
                      "Within 1 hour of ordering the payment is refunded in full.")],
    "fraud": [("escalate_risk", "Escalate to the risk team",
               "Do not discuss account details until identity is verified.")],
}


class StyleError(ValueError):
    """The style card is not valid YAML of the documented shape."""


@dataclass(frozen=True)
class StyleCard:
    greeting: str
    sign_off: str
    avoid: dict[str, str]

    def apply(self, body: str, *, customer: str | None, agent: str | None) -> str:
        for word, instead in self.avoid.items():
            body = re.sub(rf"\b{re.escape(word)}\b\s?", instead + (" " if instead else ""), body, flags=re.IGNORECASE)
        first = (customer or "").split(" ")[0] or "there"
        parts = [self.greeting.format(name=first), body.strip(), self.sign_off.format(agent=agent or "the team")]
        return "\n\n".join(part for part in parts if part)


@functools.cache
def style_card(path: Path | None = None) -> StyleCard:
    path = path or DEFAULT_STYLE
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise StyleError(f"{path}: cannot read the style card: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("avoid", {}), dict):
        raise StyleError(f"{path}: expected keys greeting, sign_off and a mapping 'avoid'")
    return StyleCard(str(raw.get("greeting", "")), str(raw.get("sign_off", "")),
                     {str(k): str(v or "") for k, v in (raw.get("avoid") or {}).items()})


#: A process reads an account's whole feedback again at most this often (so the votes of
#: a suggestion deleted since stay in its memory no longer than that); in between it
#: reads only the verdicts recorded since the last call, so preparing suggestions costs
#: the same after 10 or 100,000 verdicts.
FEEDBACK_RELOAD_SECONDS = 600.0
#: Verdict ids this far below the newest one seen are read again: ids are taken at
#: insert, so a verdict whose transaction commits after a later one's is still found.
FEEDBACK_LOOKBACK_IDS = 200


@dataclass
class _AccountVotes:
    """One account's votes as this process knows them, and how far it has read."""

    loaded_at: float
    high_water: int = 0  # the newest verdict read, and its suggestion (to notice it gone)
    high_water_suggestion: int = 0
    seen: set[int] = field(default_factory=set)  # verdict ids within the lookback
    events: dict[int, dict[str, Any]] = field(default_factory=dict)  # per suggestion: its telling events
    votes: dict[int, list[Vote]] = field(default_factory=dict)  # per suggestion: its votes now
    memory: FeedbackMemory = field(default_factory=FeedbackMemory)


_votes: dict[tuple[str, int], _AccountVotes] = {}
_votes_lock = threading.RLock()


def _suggestion_votes(seen: Mapping[str, Any]) -> list[Vote]:
    """The votes a suggestion's events are worth: the most telling event counts (a
    thumbs rating, else how much of it was sent, else that it was inserted)."""
    value = vote_value(rating=seen.get("rating"), inserted="inserted" in seen or "sent" in seen,
                       edit_distance=seen.get("sent"))
    if not value:
        return []
    return [Vote(seen["query"], source["article_id"], value) for source in seen["sources"] if source.get("article_id")]


def feedback_memory(session: Session, account_id: int,
                    ranking: RankingSettings | None = None) -> FeedbackMemory:
    """Every verdict agents gave on this account's suggestions, as one vote per
    suggestion for the articles it cited, on the question it answered.

    Kept per process and brought up to date from the verdicts recorded since (one
    indexed range read); reloaded in full every FEEDBACK_RELOAD_SECONDS, or when the
    newest verdict it read is gone (the table was emptied or restored). The same object
    is returned each call: where other threads may update it, use it under
    ``_votes_lock``, as :func:`feedback_rerank` does."""
    key = (str(session.get_bind().engine.url), account_id)
    with _votes_lock:
        known = _votes.get(key)
        if known is None or time.monotonic() - known.loaded_at > FEEDBACK_RELOAD_SECONDS \
                or not _read_new_verdicts(session, account_id, known):
            known = _votes[key] = _AccountVotes(loaded_at=time.monotonic())
            _read_new_verdicts(session, account_id, known)
        known.memory.use_ranking(ranking)
        return known.memory


def feedback_rerank(session: Session, account_id: int, ranking: RankingSettings | None, query: str,
                    hits: Sequence[Hit]) -> list[Hit]:
    """``hits`` re-ranked by the account's votes. The memory is shared by the process's
    threads, so it is read under the lock that guards its updates."""
    with _votes_lock:
        return feedback_memory(session, account_id, ranking).rerank(query, hits)


def _read_new_verdicts(session: Session, account_id: int, known: _AccountVotes) -> bool:
    """Fold the verdicts recorded since ``known`` was last brought up to date into it;
    False (nothing changed) when the newest verdict it had read is no longer there."""
    since = max(0, known.high_water - FEEDBACK_LOOKBACK_IDS)
    # Spelled out: a list[dict[str, Any]] column sends select() to its untyped overload.
    result: Result[int, int, str, list[dict[str, Any]], str, str | None, float | None] = session.execute(
        select(SuggestionFeedback.id, Suggestion.id, Suggestion.query, Suggestion.sources, SuggestionFeedback.kind,
               SuggestionFeedback.rating, SuggestionFeedback.edit_distance)
        .join(Suggestion, SuggestionFeedback.suggestion_id == Suggestion.id)
        .where(SuggestionFeedback.account_id == account_id, SuggestionFeedback.id > since)
        .order_by(SuggestionFeedback.id))
    rows = result.all()
    if known.high_water and (known.high_water, known.high_water_suggestion) not in {(r[0], r[1]) for r in rows}:
        return False
    touched: set[int] = set()
    for feedback_id, suggestion_id, query, sources, kind, rating, distance in rows:
        if feedback_id in known.seen:
            continue
        known.seen.add(feedback_id)
        if feedback_id > known.high_water:
            known.high_water, known.high_water_suggestion = feedback_id, suggestion_id
        seen = known.events.setdefault(suggestion_id, {"query": query, "sources": sources})
        seen[kind] = rating if kind == "rating" else (distance if kind == "sent" else True)
        touched.add(suggestion_id)
    for suggestion_id in sorted(touched):
        for vote in known.votes.pop(suggestion_id, []):
            known.memory.retract(vote)
        known.votes[suggestion_id] = _suggestion_votes(known.events[suggestion_id])
        for vote in known.votes[suggestion_id]:
            known.memory.add(vote)
    floor = known.high_water - FEEDBACK_LOOKBACK_IDS
    known.seen = {i for i in known.seen if i > floor}
    return True


def prepare_suggestions(session: Session, account: Account, settings: Settings, *, ticket_id: int, question: str,
                        conversation_id: int | None = None, customer_name: str | None = None,
                        agent_name: str | None = None, redactions: dict[str, int] | None = None) -> list[Suggestion]:
    """Replace the ticket's suggestions with fresh ones for ``question`` (raw text is
    redacted here). Returns them best first; empty when the knowledge base has
    nothing that answers the question: an honest empty list, never a guess."""
    redacted = redact(question)
    applied = dict(redactions or {})  # done earlier, on the customer's original words
    for kind, count in redacted.kinds.items():
        applied[kind] = applied.get(kind, 0) + count
    query = suggestion_query(redacted.text)
    ready = session.scalars(select(Suggestion).where(
        Suggestion.account_id == account.id, Suggestion.zendesk_ticket_id == ticket_id,
        Suggestion.status == "ready").order_by(Suggestion.rank, Suggestion.id)).all()
    if ready and all(s.query == query for s in ready):
        # The same question again (a redelivered event, or a ticket.created for a ticket
        # the handoff already prepared): the suggestions an agent may be looking at stand.
        return list(ready)
    session.execute(update(Suggestion).where(Suggestion.account_id == account.id,
                                             Suggestion.zendesk_ticket_id == ticket_id,
                                             Suggestion.status == "ready").values(status="stale"))
    ranking = None
    try:
        retriever = KnowledgeBase.of(session, account.id, settings).retriever()
        hits, ranking = retriever.search(query, k=8), retriever.settings
    except KnowledgeBaseEmpty:
        hits = []
    hits = feedback_rerank(session, account.id, ranking, query, hits)
    drafts = _drafts(query, hits) if on_topic(hits) else []
    style = style_card(settings.style_file)
    made = []
    for rank, draft in enumerate(drafts):
        suggestion = Suggestion(
            account_id=account.id, zendesk_ticket_id=ticket_id, conversation_id=conversation_id,
            query=query, text=style.apply(_without_citation(draft.text), customer=customer_name,
                                                  agent=agent_name),
            sources=[{"article_id": p.article_id, "passage": p.id, "title": p.title, "url": p.url}
                     for p in draft.citations],
            engine=draft.engine, model=draft.model, prompt_version=draft.prompt_version, rank=rank,
            status="ready", created_at=datetime.now(UTC))
        session.add(suggestion)
        session.flush()
        audit(session, account_id=account.id, actor="assist", action="assist.suggested", subject_type="ticket",
              subject_id=ticket_id, detail={"suggestion_id": suggestion.id, "engine": draft.engine,
                                            "model": draft.model, "prompt_version": draft.prompt_version,
                                            "sources": suggestion.sources, "redactions": applied})
        made.append(suggestion)
    if not made:
        # No question text: the audit log is append-only, so erasure could not take the customer's words back.
        audit(session, account_id=account.id, actor="assist", action="assist.no_suggestion", subject_type="ticket",
              subject_id=ticket_id, detail={"query_chars": len(query),
                                            "redactions": applied})
    return made


def suggestion_query(redacted_text: str) -> str:
    """What retrieval, reranking and drafting read of a ticket's (redacted) question.

    As much as the bot's models read of a message: a pasted 100,000 characters would
    cost seconds and say nothing more. Without an email's "Hi team," and "Kind regards,
    Anna Smith": their words, which no article covers, kept most emailed tickets below
    the topic gate (:func:`on_topic`)."""
    return request_part(truncate_for_model(redacted_text))


def on_topic(hits: Sequence[Hit]) -> bool:
    """The gate for agents: the top hit shares MIN_COVERAGE of the question's topic words,
    or fits it by meaning well enough that the bot would offer it in a menu. Unlike the
    bot, an agent reads every suggestion before sending, so two grounded candidates for
    an ambiguous question ("when do I get my refund?": card or gift card?) help more
    than none. Grounding stays as strict as for the bot.

    Words alone, as before the sentence encoder, left every ticket written in another
    language than the articles, or in other words ("how do I send it back?" for "How
    do I return an item?"), without a suggestion."""
    return bool(hits) and (hits[0].signals.get("coverage", 0.0) >= MIN_COVERAGE or by_meaning(hits[0]))


def by_meaning(hit: Hit) -> bool:
    """Whether retrieval's fitted confidence in ``hit`` reaches the menu floor: the bot
    would offer its article to choose from (the bot's own rule, ``choice_hits``)."""
    return bool(hit.signals.get("calibrated")) and bool(choice_hits([hit]))


#: Candidates for agents: hits on topic whose lexical evidence is within this share of
#: the best one's. Retrieval's own score is margin-based, so a near-tie runner-up
#: scores close to zero even when it is just as plausible; feedback then orders them.
CANDIDATE_SHARE = 0.75


def candidate_hits(hits: Sequence[Hit]) -> list[Hit]:
    """Hits sharing the question's words about as well as the best one does, and those
    that fit it by meaning (:func:`by_meaning`), in ``hits``' order."""
    best = max((hit.signals.get("relative_score", 0.0) for hit in hits), default=0.0)
    return [hit for hit in hits if by_meaning(hit) or (
        hit.signals.get("coverage", 0.0) >= MIN_COVERAGE
        and hit.signals.get("relative_score", 0.0) >= CANDIDATE_SHARE * best)]


def _drafts(question: str, hits: Sequence[Hit]) -> list[Draft]:
    """One grounded draft per article among the confident hits, best first."""
    drafts: list[Draft] = []
    for hit in candidate_hits(hits)[:MAX_SUGGESTIONS]:
        # No sentence shares a word with the question (asked in another language, or in
        # other words): the article's opening, as the bot quotes an article picked off a menu.
        draft = compose_local(question, [hit], max_chars=AGENT_REPLY_CHARS) or lead_of(hit.passage)
        try:
            drafts.append(ground_or_refuse(draft, [hit.passage]))
        except UngroundedDraft:
            continue
    return drafts


def _without_citation(text: str) -> str:
    """The sidebar shows sources as links beside the suggestion; the agent decides
    whether to paste one, so the customer-facing "More: …" line is left out."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("More: ")).strip()


def actions_for(intent: str | None) -> list[dict[str, str]]:
    return [{"id": action_id, "label": label, "description": description}
            for action_id, label, description in ACTIONS.get(intent or "", [])]


class UnknownSuggestion(LookupError):
    pass


def _suggestion(session: Session, account_id: int, suggestion_id: int) -> Suggestion:
    suggestion = session.get(Suggestion, suggestion_id)
    if suggestion is None or suggestion.account_id != account_id:
        raise UnknownSuggestion(f"no suggestion {suggestion_id} in this account")
    return suggestion


def record_rating(session: Session, account_id: int, suggestion_id: int, *, agent: str, rating: str,
                  reason: str | None, settings: Settings,
                  agent_detail: Mapping[str, Any] | None = None) -> SuggestionFeedback:
    """A thumbs up or down. Up vouches for the suggestion's articles as answers to its
    question (a learned phrasing, :mod:`..knowledge.phrasings`); down withdraws what it
    and the customer's picks of those articles in the conversation had taught."""
    suggestion = _suggestion(session, account_id, suggestion_id)
    if rating == "down" and suggestion.status == "ready":
        suggestion.status = "rejected"
    feedback = SuggestionFeedback(account_id=account_id, suggestion_id=suggestion.id, agent=agent, kind="rating",
                                  rating=rating, reason=(reason or None) and reason[:1000])
    session.add(feedback)
    if rating == "up":
        phrasings.vouch_for_suggestion(session, account_id, suggestion_id=suggestion.id, question=suggestion.query,
                                       sources=suggestion.sources, conversation_id=suggestion.conversation_id,
                                       agent=agent, source="thumbs_up", settings=settings)
    elif rating == "down":
        phrasings.suggestion_rejected(session, account_id, suggestion_id=suggestion.id, sources=suggestion.sources,
                                      conversation_id=suggestion.conversation_id, agent=agent)
    audit(session, account_id=account_id, actor=agent, action=f"assist.rated_{rating}", subject_type="ticket",
          subject_id=suggestion.zendesk_ticket_id, detail={"suggestion_id": suggestion.id, "reason": reason,
                                                           "sources": suggestion.sources,
                                                           **_agent_detail(agent_detail)})
    return feedback


def record_inserted(session: Session, account_id: int, suggestion_id: int, *, agent: str, settings: Settings,
                    agent_detail: Mapping[str, Any] | None = None) -> SuggestionFeedback:
    """The agent put the suggestion in their reply: a vouch for its articles as answers
    to its question, unless they had thumbed it down."""
    suggestion = _suggestion(session, account_id, suggestion_id)
    suggestion.status = "inserted"
    feedback = SuggestionFeedback(account_id=account_id, suggestion_id=suggestion.id, agent=agent, kind="inserted")
    session.add(feedback)
    phrasings.vouch_for_suggestion(session, account_id, suggestion_id=suggestion.id, question=suggestion.query,
                                   sources=suggestion.sources, conversation_id=suggestion.conversation_id,
                                   agent=agent, source="inserted", settings=settings)
    audit(session, account_id=account_id, actor=agent, action="assist.inserted", subject_type="ticket",
          subject_id=suggestion.zendesk_ticket_id, detail={"suggestion_id": suggestion.id,
                                                           **_agent_detail(agent_detail)})
    return feedback


def _agent_detail(agent: Mapping[str, Any] | None) -> dict[str, Any]:
    """The agent's name and email as the sidebar received them, beside the actor's id."""
    return {"agent": dict(agent)} if agent else {}


def record_sent_reply(session: Session, account_id: int, ticket_id: int, *, agent: str, sent: str) -> Any:
    """An agent's public reply on a ticket where a suggestion was inserted: how far did
    they edit it? The diff is kept in the audit log, the distance feeds ranking."""
    inserted = select(SuggestionFeedback.suggestion_id).where(SuggestionFeedback.kind == "inserted")
    already_sent = select(SuggestionFeedback.suggestion_id).where(SuggestionFeedback.kind == "sent")
    suggestion = session.scalar(select(Suggestion).where(
        Suggestion.account_id == account_id, Suggestion.zendesk_ticket_id == ticket_id,
        Suggestion.id.in_(inserted), Suggestion.id.not_in(already_sent)).order_by(Suggestion.id.desc()).limit(1))
    if suggestion is None:
        return None
    distance = edit_distance(suggestion.text, sent)
    suggestion.status = "sent"
    feedback = SuggestionFeedback(account_id=account_id, suggestion_id=suggestion.id, agent=agent, kind="sent",
                                  sent_text=sent, edit_distance=distance)
    session.add(feedback)
    audit(session, account_id=account_id, actor=agent, action="assist.sent", subject_type="ticket",
          subject_id=ticket_id, detail={"suggestion_id": suggestion.id, "edit_distance": round(distance, 3),
                                        "suggested": suggestion.text, "sent": sent})
    return feedback
