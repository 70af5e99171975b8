"""Articles for an editor to review (issue 38): duplicates, two articles that answer
the same questions, and contradictions, two articles that give different numbers for
the same thing.

Duplicates are found with the account's retrieval encoder, as customers' questions are
matched: each article stands for the questions that ask for it (its title, the question
or opening sentence its body starts from, as the calibration's pseudo-questions are
made, and the phrasings customers taught it), and two articles one of whose questions
is within :data:`DUPLICATE_COSINE` of one of the other's answer the same thing.
Contradictions are read on words: two sentences of different articles about the same
thing (:mod:`.edits`' measure) holding quantities of the same kind (an amount, a
percentage, days, hours…) with other values.

Both are listed, never changed: which article is right is an editor's call.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from switchboard.core.knowledge import phrasings, topics
from switchboard.core.knowledge.calibration import pseudo_questions
from switchboard.core.knowledge.embeddings import E5
from switchboard.core.knowledge.records import Article
from switchboard.core.knowledge.retrieval import Retriever
from switchboard.core.knowledge.service import KnowledgeBase
from switchboard.core.knowledge_loop import edits as kb_edits
from switchboard.core.settings import Settings
from switchboard.core.store import artifacts

#: Cosine between two articles' questions from which they are listed as duplicates. The
#: gaps' shipped join cosine (E5 0.89) is too low between whole articles of one help center: on
#: the sample one (21 articles) 11 pairs of different articles reach it ("How much does
#: delivery cost?" ~ "How long does delivery take?" 0.93, the highest), while a title
#: reworded ("How long will my delivery take to arrive?") reaches 0.97. Measured on that
#: one small set only; tests/knowledge_loop/test_duplicates.py holds it.
DUPLICATE_COSINE = {E5: 0.95}
DEFAULT_DUPLICATE_COSINE = 0.85
#: Articles compared at most (the first, by id): pairs grow with the square.
MAX_ARTICLES = 2000
#: Listed at most, of each kind.
MAX_LISTED = 50
_UNIT = {"%": "percent", "percent": "percent", "per cent": "percent"}
_QUANTITY = re.compile(
    r"(?P<currency>[$€£])\s?(?P<amount>\d+(?:[.,]\d+)?)"
    r"|(?P<value>\d+(?:[.,]\d+)?)\s?"
    r"(?P<unit>%|percent|per cent|(?:working |business )?(?:minute|hour|day|week|month|year)s?)\b",
    re.IGNORECASE)
#: The last index's duplicates per account: the encoder's work is redone only when the
#: knowledge base changes.
_cached: dict[int, tuple[str, list[Duplicate]]] = {}


@dataclass(frozen=True)
class Duplicate:
    """Two articles whose questions mean the same: the closest pair of them and its cosine."""

    article_id: str
    title: str
    other_id: str
    other_title: str
    score: float
    question: str
    other_question: str


@dataclass(frozen=True)
class Contradiction:
    """Two articles' sentences about the same thing with other values of one quantity."""

    article_id: str
    title: str
    other_id: str
    other_title: str
    sentence: str
    other_sentence: str
    quantity: str
    values: tuple[str, ...]
    other_values: tuple[str, ...]


def quantities(sentence: str) -> dict[str, frozenset[str]]:
    """The sentence's quantities by kind: {"currency:$": {"50"}, "day": {"30"}, ...}."""
    found: dict[str, set[str]] = defaultdict(set)
    for match in _QUANTITY.finditer(sentence):
        if match.group("currency"):
            found[f"amount {match.group('currency')}"].add(match.group("amount").replace(",", ""))
        else:
            unit = match.group("unit").lower()
            kind = _UNIT.get(unit) or unit.removeprefix("working ").removeprefix("business ").rstrip("s")
            found[kind].add(match.group("value").replace(",", ""))
    return {kind: frozenset(values) for kind, values in found.items()}


def contradictions(articles: Sequence[Article]) -> list[Contradiction]:
    """Pairs of sentences of different articles about the same thing (content words in
    common, as :func:`kb_edits.overlap` measures) whose quantities of one kind differ."""
    held: list[tuple[Article, str, dict[str, frozenset[str]]]] = []
    for article in articles[:MAX_ARTICLES]:
        for sentence in kb_edits.sentences(article.body):
            found = quantities(sentence)
            if found:
                held.append((article, sentence, found))
    by_word: dict[str, set[int]] = defaultdict(set)
    for n, (_, sentence, _) in enumerate(held):
        for word in kb_edits.words(sentence):
            by_word[word].add(n)
    pairs = {(a, b) for ids in by_word.values() if len(ids) < 200 for a, b in combinations(sorted(ids), 2)}
    listed: list[Contradiction] = []
    for a, b in sorted(pairs):
        (left, one, mine), (right, two, theirs) = held[a], held[b]
        if left.id == right.id or kb_edits.overlap(one, two) < kb_edits.SAME:
            continue
        for kind in sorted(mine.keys() & theirs.keys()):
            if mine[kind] != theirs[kind]:
                listed.append(Contradiction(left.id, left.title, right.id, right.title, one, two, kind,
                                            tuple(sorted(mine[kind])), tuple(sorted(theirs[kind]))))
                break
    return listed[:MAX_LISTED]


def questions_of(session: Session, account_id: int, articles: Sequence[Article]) -> dict[str, list[str]]:
    """What each article stands for: its title, its body's question or opening, and its
    learned phrasings."""
    asked: dict[str, list[str]] = defaultdict(list)
    for question in pseudo_questions(articles[:MAX_ARTICLES]) if len(articles) <= MAX_ARTICLES else []:
        asked[question.article_id].append(question.text)
    for article in articles[:MAX_ARTICLES]:
        if article.title.strip() and article.title.strip() not in asked[article.id]:
            asked[article.id].insert(0, article.title.strip())
    for phrasing in phrasings.list_phrasings(session, account_id, status="active"):
        if phrasing.article_id in asked:
            asked[phrasing.article_id].append(phrasing.text)
    return asked


def duplicates(session: Session, account_id: int, articles: Sequence[Article],
               retriever: Retriever | None) -> list[Duplicate]:
    """Pairs of articles one of whose questions the encoder puts as close to one of the
    other's as two wordings of one question; none without an encoder."""
    asked = questions_of(session, account_id, articles)
    flat = [(article_id, text) for article_id, texts in asked.items() for text in texts]
    embedded = topics.vectors(retriever, [text for _, text in flat])
    if embedded is None:
        return []
    threshold = DUPLICATE_COSINE.get(retriever.encoder_name or "", DEFAULT_DUPLICATE_COSINE) if retriever else 1.0
    owner = np.array([article_id for article_id, _ in flat])
    cosines = embedded @ embedded.T
    cosines[owner[:, None] == owner[None, :]] = -1.0  # an article's own questions
    titles = {a.id: a.title for a in articles}
    best: dict[tuple[str, str], Duplicate] = {}
    for i, j in zip(*np.nonzero(np.triu(cosines >= threshold)), strict=True):
        first, second = sorted((str(owner[i]), str(owner[j])))
        score = float(cosines[i, j])
        if (first, second) not in best or score > best[(first, second)].score:
            one, two = (flat[i][1], flat[j][1]) if owner[i] == first else (flat[j][1], flat[i][1])
            best[(first, second)] = Duplicate(first, titles.get(first, first), second, titles.get(second, second),
                                              round(score, 4), one, two)
    return sorted(best.values(), key=lambda d: -d.score)[:MAX_LISTED]


def review(session: Session, account_id: int, settings: Settings) -> dict[str, Any]:
    """Duplicates and contradictions of the account's articles, as JSON."""
    articles = KnowledgeBase.of(session, account_id, settings).articles()
    published = artifacts.latest(session, account_id, artifacts.KB_INDEX)
    version = f"{published.version if published else '-'}:{len(articles)}"
    cached = _cached.get(account_id)
    if cached is None or cached[0] != version:
        found = duplicates(session, account_id, articles, topics.live_retriever(session, account_id, settings))
        _cached[account_id] = cached = (version, found)
    return {"articles": len(articles), "duplicates": [asdict(d) for d in cached[1]],
            "contradictions": [asdict(c) for c in contradictions(articles)]}
