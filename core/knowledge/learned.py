"""An account's learned phrasings as retrieval uses them: how they vote for their
articles, and when one answers outright.

The phrasings themselves (evidence, corroboration, storage, removal) are
:mod:`.phrasings`; this is what a search does with the active ones.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from switchboard.core.knowledge.calibration import ANSWER_SCORE
from switchboard.core.knowledge.embeddings import nearest

if TYPE_CHECKING:
    from switchboard.core.knowledge.retrieval import Retriever


#: Learning answers outright what retrieval alone would not (a lift by the votes, or
#: the agreement rule) only when the phrasings nearest the question hold this share of
#: the vote for the article answered (abstaining voters counted): they are close, and
#: mostly of that article; unless the account's own phrasings show that lifts are right
#: without it (``Learned.lift_share``). Fitted on banking77 training questions outside
#: every reported half (770 customers' picks taught, 770 more asked): the 95 answers
#: learning added were 79 right and 16 wrong; at 0.25 / 0.3 / 0.35 / 0.4 of the vote,
#: 69 / 66 / 62 / 53 right and 15 / 11 / 6 / 5 wrong.
LEARNED_MAJORITY = 0.35


@dataclass(frozen=True, eq=False)
class Learned:
    """An account's learned phrasings (core/knowledge/phrasings.py): questions customers
    and agents confirmed an article answers. Row ``i`` of ``vectors`` (float32,
    L2-normalised, the index's encoder, embedded as a question) is ``texts[i]``, a way of
    asking for article ``article_ids[i]``. The phrasings nearest a question vote for
    their articles in the ranking (``Retriever._with_votes``)."""

    article_ids: tuple[str, ...]
    texts: tuple[str, ...]
    vectors: np.ndarray
    #: The cosine from which a question this close to a learned phrasing is answered
    #: from its article outright, when retrieval ranks that article first too, with the
    #: phrasings and without them; None while the account's own phrasings do not show
    #: that this is safe (see :meth:`of`).
    answer_at: float | None = None
    #: The share of the vote (:meth:`votes`) the answered article needs for learning to
    #: answer outright what retrieval alone would not: LEARNED_MAJORITY, or lower when
    #: the account's own phrasings, each asked of the others, show it is safe (:meth:`of`).
    lift_share: float = LEARNED_MAJORITY

    @classmethod
    def of(cls, article_ids: Sequence[str], texts: Sequence[str], vectors: np.ndarray, *,
           index: Retriever | None = None, known_tops: dict[str, tuple[str | None, float]] | None = None,
           lift_share: float | None = None) -> Learned:
        """The phrasings, with ``answer_at`` fitted on themselves: each phrasing is asked
        of the others (left out of its own) and the lowest cosine is kept at which, for
        at least LEARNED_SUPPORT of them, the rule is right LEARNED_PRECISION of the time.

        The rule is the live one: the nearest other phrasing names the article that
        ``index`` alone (without phrasings) ranks first, and that is the phrasing's own
        article. Phrasings are the questions retrieval was unsure of (a customer picked
        from a menu, an agent linked what the bot missed), so their nearest other
        phrasing alone names the right article barely half the time on StackFAQ and
        banking77; when it names retrieval's own first choice too, 93-100 % (tuning
        halves, bench/learning.py). A help center whose customers ask alike for
        different articles never reaches the precision and learns through the ranking
        only; wrong picks, which retrieval does not rank first, never do either.
        Without ``index`` the nearest phrasing must be right on its own (stricter).
        ``known_tops`` (text -> the article the index alone ranks first and its score)
        keeps the index's answers between calls: each phrasing is searched once per index.

        ``lift_share`` is fitted the same way, against ``index``: the phrasings retrieval
        alone was unsure of are asked of the others' votes, and the lowest share of the
        vote is kept at which the answers learning adds are right LEARNED_PRECISION of the
        time on LEARNED_SUPPORT of them; else LEARNED_MAJORITY stays. StackFAQ's tuning
        picks, asked so, were right 22 of 23 times whatever the share (their lifts on fresh
        questions added no wrong answer); banking77's 65 of 74, at every share. A
        ``lift_share`` given (fitted on nearly the same phrasings) is kept instead."""
        vectors = np.asarray(vectors, dtype=np.float32)
        ids, texts = tuple(article_ids), tuple(texts)
        pool = _spread(len(ids), _AGREEMENT_SAMPLE)
        asked = pool if index is None else pool[_spread(len(pool), _AGREEMENT_SEARCHES)]
        tops = known_tops if known_tops is not None else {}
        if index is not None and len(ids) > LEARNED_SUPPORT:
            for i in asked:
                if texts[i] not in tops:
                    hits = index.search(texts[i], k=1, vector=vectors[i])
                    tops[texts[i]] = (hits[0].passage.article_id, hits[0].score) if hits else (None, 0.0)
        learned = cls(ids, texts, vectors,
                      _agreement_cosine(ids, texts, vectors, pool, asked, tops if index is not None else None))
        if lift_share is not None:
            return replace(learned, lift_share=lift_share)
        if index is None or len(ids) <= LEARNED_SUPPORT:
            return learned
        return replace(learned, lift_share=_lift_share(learned, index, asked, tops))

    def without(self, row: int) -> Learned:
        """These phrasings but row ``row``, every vote counting (to ask it of the others)."""
        keep = np.arange(len(self.article_ids)) != row
        return Learned(tuple(a for n, a in enumerate(self.article_ids) if n != row),
                       tuple(t for n, t in enumerate(self.texts) if n != row), self.vectors[keep],
                       self.answer_at, lift_share=0.0)

    def votes(self, cosines: np.ndarray, article_number: dict[str, int], articles: int) -> np.ndarray:
        """Per article (``article_number``'s numbering, ``articles`` of them), the share of
        the vote of the phrasings nearest a question (``cosines``: its cosine to each
        phrasing); phrasings of articles not in the index vote for nothing."""
        voters, weights = nearest(cosines[None, :], LEARNED_VOTERS, LEARNED_SOFTNESS, abstain_at=LEARNED_ALIKE)
        votes = np.zeros(articles, dtype=np.float32)
        for row, weight in zip(voters[0].tolist(), weights[0].tolist(), strict=True):
            number = article_number.get(self.article_ids[row])
            if number is not None:
                votes[number] += weight
        return votes

    def agreeing(self, vector: np.ndarray, article_id: str, *, cosines: np.ndarray | None = None) -> float | None:
        """The cosine of ``vector`` to its nearest learned phrasing when that phrasing is
        of ``article_id`` and at least ``answer_at`` close; else None. ``cosines``: the
        vector's cosine to each phrasing, when the caller made them already."""
        if self.answer_at is None or not len(self.article_ids):
            return None
        cosines = self.vectors @ vector if cosines is None else cosines
        closest = int(np.argmax(cosines))
        cosine = float(cosines[closest])
        return cosine if cosine >= self.answer_at and self.article_ids[closest] == article_id else None


#: What the rule must get right, on the account's own phrasings, to answer outright
#: (1 - calibration.TARGET_WRONG), and on how many at the least.
LEARNED_PRECISION = 0.95
LEARNED_SUPPORT = 20
#: The cosines tried for ``Learned.answer_at``, lowest first (E5's questions about one
#: thing sit above 0.8; chosen on the tuning halves of StackFAQ and banking77).
_AGREEMENT_COSINES = tuple(round(0.80 + 0.01 * step, 2) for step in range(18))
#: A learned answer's score: sure enough to answer (selfservice.PARAPHRASE_MIN_SCORE).
LEARNED_SCORE = 0.95
#: The learned phrasings nearest a question vote for their articles, as the intent
#: model's nearest examples vote for intents (core/intents/neighbours.py: its K and
#: softness, not tuned again here) …
LEARNED_VOTERS = 5
LEARNED_SOFTNESS = 0.05
#: … and a whole vote counts in the ranking as much as the article's title being this
#: much closer to the question (0.5 of E5's ranking). Chosen on the tuning halves of
#: banking77 and StackFAQ only (customers' picks from one half of the tuning questions
#: taught, the other half asked; votes not yet damped by LEARNED_ALIKE): 0.25 / 0.35 /
#: 0.5 / 0.7 / 1.0 of the ranking taught banking77 +0.044 / +0.060 / +0.083 / +0.094 /
#: +0.062 answered right at 0.039 / 0.042 / 0.044 / 0.062 / 0.081 wrong (0.031 before);
#: StackFAQ +0.013 / +0.035 (0.25 / 0.5) at 0.006 (0.003 before).
LEARNED_VOTE = 0.125
#: Phrasings no nearer a question than this carry about half the vote, farther ones
#: less (E5: two customers' questions about one thing sit above it, about different
#: things of one shop at 0.80-0.85), so an account whose phrasings are all of one
#: article does not lift it for every question. It cost banking77's tuning half a
#: little of the lift (picks +0.083 -> +0.062 at 0.044 -> 0.039 wrong) and made wrong
#: picks change nothing at all there.
LEARNED_ALIKE = 0.85


#: At most this many phrasings are the neighbours searched (their similarity matrix is
#: this squared: 16 MB) …
_AGREEMENT_SAMPLE = 2000
#: … and at most this many are asked of the index (one search each, once per index and
#: process, at start-up by core/warmup.py: 0.1 s for 300 on StackFAQ's 125 articles;
#: at 10,000 articles a search of a question already embedded takes some 5 ms, so
#: about 1.5 s): evenly spread samples beyond.
_AGREEMENT_SEARCHES = 300


def _spread(count: int, limit: int) -> np.ndarray:
    return np.linspace(0, count - 1, min(count, limit)).astype(np.int64)


def _agreement_cosine(article_ids: tuple[str, ...], texts: tuple[str, ...], vectors: np.ndarray, pool: np.ndarray,
                      asked: np.ndarray, tops: dict[str, tuple[str | None, float]] | None) -> float | None:
    if len(article_ids) < LEARNED_SUPPORT + 1:
        return None
    similarity = vectors[asked] @ vectors[pool].T
    similarity[asked[:, None] == pool[None, :]] = -1.0  # a phrasing is not its own neighbour
    closest = pool[similarity.argmax(axis=1)]
    cosine = similarity.max(axis=1)
    labels = np.array(article_ids)
    named = labels[closest]
    if tops is None:
        fires, right = np.ones(len(asked), dtype=bool), named == labels[asked]
    else:
        top = np.array([tops[texts[i]][0] or "" for i in asked])
        fires, right = named == top, top == labels[asked]
    for threshold in _AGREEMENT_COSINES:
        fired = fires & (cosine >= threshold)
        if fired.sum() < LEARNED_SUPPORT:
            return None
        if right[fired].mean() >= LEARNED_PRECISION:
            return threshold
    return None


#: The shares of the vote tried for ``Learned.lift_share``, lowest first …
_LIFT_SHARES = (0.0, 0.1, 0.2, 0.3)
#: … on at most this many phrasings (each searched with the others' votes: with the
#: agreement rule's searches, 1.7 s for 1,000 phrasings at 10,000 articles, bench/
#: encoders.py --latency; core/knowledge/phrasings.py refits only when an account's
#: phrasings have changed by a quarter).
_LIFT_SEARCHES = 150


def _lift_share(learned: Learned, index: Retriever, asked: np.ndarray,
                tops: dict[str, tuple[str | None, float]]) -> float:
    """The lowest share of the vote at which the answers learning adds to the phrasings
    retrieval alone was unsure of, each asked of the others, are right
    LEARNED_PRECISION of the time (at least LEARNED_SUPPORT of them); else LEARNED_MAJORITY."""
    shares, right = [], []
    unsure = [i for i in asked.tolist() if tops[learned.texts[i]][1] < ANSWER_SCORE]  # else learning adds nothing
    for i in np.array(unsure, dtype=np.int64)[_spread(len(unsure), _LIFT_SEARCHES)].tolist():
        hits = index.search(learned.texts[i], k=1, vector=learned.vectors[i], learned=learned.without(i))
        if hits and hits[0].score >= ANSWER_SCORE:
            shares.append(hits[0].signals.get("learned_share", 0.0))
            right.append(hits[0].passage.article_id == learned.article_ids[i])
    share, correct = np.array(shares), np.array(right, dtype=bool)
    for floor in _LIFT_SHARES:
        lifted = share >= floor
        if lifted.sum() < LEARNED_SUPPORT:
            break
        if correct[lifted].mean() >= LEARNED_PRECISION:
            return floor
    return LEARNED_MAJORITY

