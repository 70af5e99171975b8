"""Knowledge gaps, ranked: what customers asked that ended without an answer, grouped
by meaning, with how often, whether it is growing, and the articles it came closest to.

The weekly digest lists unanswered questions grouped on shared words; this is the
start of the improvement loop (issue 38), where a group must be the unit a person
writes one article for. "Where's my voucher?" and "do you sell gift cards" share no
word, so groups are made with the account's own retrieval encoder, the one that will
have to find the article once it exists. Everything here is read from the timeline,
which holds redacted text only: no customer's value is ever in a gap.

A question counts as unanswered when the bot asked to clarify because retrieval failed,
handed over for a knowledge reason (low confidence, out of scope, an ungrounded draft),
or answered (or offered a menu) and the customer's next message said it did not help or
asked for a person; and when an agent turned down the suggestion made for it.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.core.knowledge.analysis import content_words, stem
from switchboard.core.knowledge.records import article_of
from switchboard.core.knowledge.retrieval import Retriever
from switchboard.core.knowledge.topics import join_cosine, vectors
from switchboard.core.knowledge_loop.digest import GAP_HANDOFF_REASONS, clip, only_setback
from switchboard.core.pii.vault import TOKEN as VAULT_TOKEN
from switchboard.core.store.models import Message, Suggestion, SuggestionFeedback
from switchboard.core.understanding.menu_picks import pick_choice
from switchboard.core.understanding.setbacks import asks_for_person, did_not_help

#: Articles listed as closest to a gap.
CLOSEST = 3
#: How many of a gap's questions are kept (redacted) for the proof and the drafts.
KEPT_QUESTIONS = 50
QUESTION_CHARS = 300


@dataclass(frozen=True)
class Unanswered:
    """One customer question that ended without an answer (``text`` as stored: redacted)."""

    message_id: int
    conversation_id: int | None
    text: str
    at: datetime
    why: str  # clarify, handoff:<reason>, did_not_help, asked_for_person, thumbs_down


@dataclass(frozen=True)
class Closest:
    article_id: str
    title: str
    score: float


@dataclass(frozen=True)
class Gap:
    """A topic customers asked about and the knowledge base did not answer."""

    example: str
    volume: int
    previous: int
    questions: tuple[str, ...]
    conversation_ids: tuple[int, ...]
    why: dict[str, int]
    closest: tuple[Closest, ...] = ()
    centre: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def trend(self) -> str:
        """Against the period of the same length before: new, rising, falling or steady."""
        if self.previous == 0:
            return "new"
        if self.volume > self.previous:
            return "rising"
        return "falling" if self.volume < self.previous else "steady"

    def as_json(self) -> dict[str, Any]:
        return {"example": self.example, "volume": self.volume, "previous": self.previous, "trend": self.trend,
                "why": dict(self.why), "questions": list(self.questions),
                "conversations": list(self.conversation_ids),
                "closest": [{"article_id": c.article_id, "title": c.title, "score": round(c.score, 4)}
                            for c in self.closest]}


# -- what ended without an answer -----------------------------------------------------


def unanswered(session: Session, account_id: int, start: datetime, end: datetime, *,
               conversation_id: int | None = None) -> list[Unanswered]:
    """The account's unanswered questions asked in ``[start, end)`` (of one conversation,
    with ``conversation_id``), oldest first, each once."""
    found: dict[int, Unanswered] = {}
    query = select(Message.id, Message.conversation_id, Message.meta).where(
        Message.account_id == account_id, Message.author == "bot",
        Message.created_at >= start, Message.created_at < end,
        Message.meta["action"].as_string().in_(("clarify", "handoff", "answer", "choices")))
    if conversation_id is not None:
        query = query.where(Message.conversation_id == conversation_id)
    replies: Sequence[tuple[int, int, dict[str, Any]]] = [
        (int(row[0]), int(row[1]), dict(row[2] or {})) for row in session.execute(query.order_by(Message.id))]
    asked: dict[int, str] = {}
    answered: dict[int, tuple[int, int, list[str]]] = {}  # bot reply id -> (conversation, question, menu)
    for reply_id, in_conversation, meta in replies:
        question = meta.get("in_reply_to")
        if not isinstance(question, int):
            continue
        action, reason = meta.get("action"), meta.get("reason")
        if action == "clarify" and reason:
            asked.setdefault(question, "clarify")
        elif action == "handoff" and reason in GAP_HANDOFF_REASONS:
            asked.setdefault(question, f"handoff:{reason}")
        elif action in ("answer", "choices"):
            menu = [str(c.get("title") or "") for c in meta.get("choices") or [] if isinstance(c, dict)]
            answered[reply_id] = (in_conversation, question, menu if action == "choices" else [])
    for question, why in _disowned(session, answered).items():
        asked.setdefault(question, why)
    for message in _customer_messages(session, account_id, sorted(asked)):
        if _is_question(message.body):
            found[message.id] = Unanswered(message.id, message.conversation_id, message.body, message.created_at,
                                           asked[message.id])
    for item in _turned_down(session, account_id, start, end):
        if conversation_id is None or item.conversation_id == conversation_id:
            found.setdefault(-item.message_id, item)
    return sorted(found.values(), key=lambda u: (u.at, u.message_id))


@dataclass(frozen=True)
class Answered:
    """A customer's question the bot answered from ``article_id`` and the customer did
    not disown (``text`` as stored: redacted)."""

    message_id: int
    text: str
    article_id: str


def answered(session: Session, account_id: int, start: datetime, end: datetime, *,
             limit: int = 2000) -> list[Answered]:
    """Questions asked in ``[start, end)`` that the bot answered outright from an article
    and whose next message did not say it did not help nor ask for a person, newest
    first, at most ``limit`` answers read. What the live articles already answer for
    real customers: a draft that would take one of them is marked (:mod:`.proof`)."""
    query = select(Message.id, Message.conversation_id, Message.meta).where(
        Message.account_id == account_id, Message.author == "bot", Message.created_at >= start,
        Message.created_at < end, Message.meta["action"].as_string() == "answer")
    rows: Sequence[tuple[int, int, dict[str, Any]]] = [
        (int(row[0]), int(row[1]), dict(row[2] or {}))
        for row in session.execute(query.order_by(Message.id.desc()).limit(limit))]
    cited: dict[int, str] = {}
    replies: dict[int, tuple[int, int, list[str]]] = {}
    for reply_id, conversation_id, meta in rows:
        question, sources = meta.get("in_reply_to"), meta.get("sources") or []
        if not isinstance(question, int) or not sources or not isinstance(sources[0], dict):
            continue
        cited[question] = article_of(str(sources[0].get("passage", "")))
        replies[reply_id] = (conversation_id, question, [])
    disowned = _disowned(session, replies)
    kept = [q for q in cited if q not in disowned and cited[q]]
    found = [Answered(m.id, m.body, cited[m.id]) for m in _customer_messages(session, account_id, sorted(kept))
             if _is_question(m.body)]
    return sorted(found, key=lambda a: -a.message_id)


def _disowned(session: Session, answered: dict[int, tuple[int, int, list[str]]]) -> dict[int, str]:
    """Questions whose answer the customer's very next message disowned, and menus the
    customer left without picking from (nothing more, or a message that picks nothing)."""
    disowned: dict[int, str] = {}
    by_conversation: dict[int, list[int]] = defaultdict(list)
    for reply_id, (conversation_id, _, _) in answered.items():
        by_conversation[conversation_id].append(reply_id)
    for conversation_id, reply_ids in by_conversation.items():
        rows = session.execute(select(Message.id, Message.author, Message.body).where(
            Message.conversation_id == conversation_id, Message.id > min(reply_ids)).order_by(Message.id)).all()
        for reply_id in reply_ids:
            following = next((body for mid, author, body in rows if mid > reply_id and author == "customer"), None)
            _, question, menu = answered[reply_id]
            if following is None:
                if menu:
                    disowned[question] = "menu_not_picked"
                continue
            if did_not_help(following):
                disowned[question] = "did_not_help"
            elif asks_for_person(following):
                disowned[question] = "asked_for_person"
            elif menu and pick_choice(following, menu) is None:
                disowned[question] = "menu_not_picked"
    return disowned


def _customer_messages(session: Session, account_id: int, ids: Sequence[int]) -> Iterable[Message]:
    for offset in range(0, len(ids), 500):  # under every driver's parameter limit
        yield from session.scalars(select(Message).where(
            Message.account_id == account_id, Message.author == "customer",
            Message.id.in_(ids[offset:offset + 500])).order_by(Message.id))


def _turned_down(session: Session, account_id: int, start: datetime, end: datetime) -> list[Unanswered]:
    """Suggestions an agent gave a thumbs-down: the question they answered (redacted)."""
    rows = session.execute(
        select(Suggestion.id, Suggestion.conversation_id, Suggestion.query, SuggestionFeedback.created_at)
        .join(SuggestionFeedback, SuggestionFeedback.suggestion_id == Suggestion.id)
        .where(Suggestion.account_id == account_id, SuggestionFeedback.rating == "down",
               SuggestionFeedback.created_at >= start, SuggestionFeedback.created_at < end))
    seen: set[int] = set()
    items = []
    for suggestion_id, conversation_id, query, at in rows:
        if suggestion_id not in seen and _is_question(query or ""):
            seen.add(suggestion_id)
            items.append(Unanswered(suggestion_id, conversation_id, query, at, "thumbs_down"))
    return items


def _is_question(text: str) -> bool:
    """A message that asks something: not "AGENT", not "that didn't help", not only tokens.
    A setback with a question beyond it ("I already tried that, my card is still
    declined") asks."""
    words = VAULT_TOKEN.sub(" ", text).strip()
    return bool(content_words(words)) and not asks_for_person(words) and not only_setback(words)


# -- grouped by meaning -----------------------------------------------------------------


def group(texts: Sequence[str], embedded: np.ndarray | None, threshold: float) -> list[list[int]]:
    """Indices of ``texts`` grouped: by cosine to each group's centre when embedded, else
    on the two content words the most questions share (as the digest does). Then groups
    whose centres are that close are merged: in one pass, a topic's first question stays
    alone when its second is worded further from it than the account's join cosine,
    though the third is close to both ("Do you sell gift cards?", "Can I buy a gift card
    for my sister?", "is there a gift card I can purchase")."""
    if embedded is None:
        return _group_on_words(texts)
    groups: list[list[int]] = []
    centres: list[np.ndarray] = []
    for index, vector in enumerate(embedded):
        if centres:
            cosines = np.stack(centres) @ vector
            best = int(np.argmax(cosines))
            if cosines[best] >= threshold:
                groups[best].append(index)
                centre = embedded[groups[best]].mean(axis=0)
                centres[best] = centre / (np.linalg.norm(centre) or 1.0)
                continue
        groups.append([index])
        centres.append(vector)
    return _merged(groups, embedded, threshold)


def _merged(groups: list[list[int]], embedded: np.ndarray, threshold: float) -> list[list[int]]:
    """The groups with the closest two centres merged, again, while they reach ``threshold``
    (each group keeps its first question's place in the list). The centres' cosines are
    computed once; a merge recomputes only the merged group's row, so a month of gaps
    (hundreds of groups, one merge after another) is not a matrix product per merge."""
    groups = [list(g) for g in groups]
    if len(groups) < 2:
        return groups
    centres = np.stack([_centre(embedded[g]) for g in groups])
    cosines = centres @ centres.T
    np.fill_diagonal(cosines, -1.0)
    while len(groups) > 1:
        first, second = np.unravel_index(int(np.argmax(cosines)), cosines.shape)
        if cosines[first, second] < threshold:
            break
        keep, gone = sorted((int(first), int(second)))
        groups[keep] = sorted(groups[keep] + groups.pop(gone))
        centres = np.delete(centres, gone, axis=0)
        cosines = np.delete(np.delete(cosines, gone, axis=0), gone, axis=1)
        centres[keep] = _centre(embedded[groups[keep]])
        cosines[keep] = cosines[:, keep] = centres @ centres[keep]
        cosines[keep, keep] = -1.0
    return groups


def _centre(vectors: np.ndarray) -> np.ndarray:
    mean = vectors.mean(axis=0)
    return mean / max(float(np.linalg.norm(mean)), 1e-12)


def _group_on_words(texts: Sequence[str]) -> list[list[int]]:
    topics = [{stem(w) for w in content_words(VAULT_TOKEN.sub(" ", t))} for t in texts]
    spread = Counter(word for topic in topics for word in topic)
    members: dict[tuple[str, ...], list[int]] = {}
    for index, topic in enumerate(topics):
        if topic:
            key = tuple(sorted(sorted(topic, key=lambda w: (-spread[w], w))[:2]))
            members.setdefault(key, []).append(index)
    return list(members.values())


def centre(embedded: np.ndarray | None, members: Sequence[int]) -> np.ndarray | None:
    if embedded is None:
        return None
    mean = embedded[list(members)].mean(axis=0)
    return (mean / (np.linalg.norm(mean) or 1.0)).astype(np.float32)


def rank_gaps(session: Session, account_id: int, retriever: Retriever | None, *, start: datetime,
              end: datetime) -> list[Gap]:
    """The period's gaps, most asked first (the growing first among equals)."""
    current = unanswered(session, account_id, start, end)
    if not current:
        return []
    texts = [u.text for u in current]
    embedded = vectors(retriever, texts)
    threshold = join_cosine(retriever)
    members = group(texts, embedded, threshold)
    centres = [centre(embedded, m) for m in members]
    previous = _previous_counts(session, account_id, retriever, start - (end - start), start, centres, threshold)
    gaps = []
    for number, indices in enumerate(members):
        asked = [current[i] for i in indices]
        example = _representative([a.text for a in asked])
        gaps.append(Gap(
            example=example, volume=len(asked), previous=previous[number],
            questions=tuple(clip(a.text, QUESTION_CHARS) for a in asked[:KEPT_QUESTIONS]),
            conversation_ids=tuple(dict.fromkeys(a.conversation_id for a in asked if a.conversation_id)),
            why=dict(Counter(a.why for a in asked)), closest=closest(retriever, example),
            centre=centres[number]))
    return sorted(gaps, key=lambda g: (-g.volume, -(g.volume - g.previous)))


def _previous_counts(session: Session, account_id: int, retriever: Retriever | None, start: datetime,
                     end: datetime, centres: Sequence[np.ndarray | None], threshold: float) -> list[int]:
    """How many of the earlier period's unanswered questions fall in each current gap."""
    counts = [0] * len(centres)
    earlier = unanswered(session, account_id, start, end)
    embedded = vectors(retriever, [u.text for u in earlier])
    if embedded is None or not centres or any(c is None for c in centres):
        return counts
    matrix = np.stack([c for c in centres if c is not None])
    for vector in embedded:
        cosines = matrix @ vector
        best = int(np.argmax(cosines))
        if cosines[best] >= threshold:
            counts[best] += 1
    return counts


def closest(retriever: Retriever | None, question: str) -> tuple[Closest, ...]:
    """The articles retrieval ranked first for the question, one passage each."""
    if retriever is None:
        return ()
    hits = retriever.search(question, k=CLOSEST)
    return tuple(Closest(h.passage.article_id, h.passage.title, float(h.score)) for h in hits)


def _representative(questions: Sequence[str]) -> str:
    """The wording customers used most, the earliest among equals."""
    tidy = [" ".join(q.split()) for q in questions]
    counts = Counter(q.lower() for q in tidy)
    return clip(max(tidy, key=lambda q: counts[q.lower()]), QUESTION_CHARS)
