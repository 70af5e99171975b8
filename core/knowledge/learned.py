"""What an account's learned phrasings (:mod:`.phrasings`) tell retrieval, and when they
are trusted to answer outright.

Two rules, each fitted on the account's own phrasings (every phrasing asked of the
others, left out of its own), so a help center whose customers confuse its articles, or
an adversary's picks naming wrong articles, never earns either:

- *nearest*: the question is at least ``answer_at`` close to one phrasing of the article
  retrieval ranks first. It fires on repeats and near-repeats of a learned question.
- *prototype*: the mean of an article's phrasings (its prototype) is the question's
  nearest, by at least ``prototype_margin`` over the next article's. One phrasing is a
  noisy witness of how customers ask; the mean of several is far less noisy, and the
  margin says how clearly the question sides with one article's askers. Every phrasing
  votes, not only the nearest.

Either answers only when retrieval ranks the same article first (the caller checks).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: What a rule must get right, on the account's own phrasings, to answer outright
#: (1 - calibration.TARGET_WRONG), and on how many phrasings at the least.
LEARNED_PRECISION = 0.95
LEARNED_SUPPORT = 20
#: The cosines tried for ``Learned.answer_at``, lowest first (E5's questions about one
#: thing sit above 0.9; chosen on the tuning halves of StackFAQ and CLINC150).
_AGREEMENT_COSINES = tuple(round(0.90 + 0.005 * step, 3) for step in range(15))
#: The margins tried for ``Learned.prototype_margin``, lowest first: how much nearer the
#: question's nearest prototype is than the next one (0 to 0.2 in cosine).
_PROTOTYPE_MARGINS = tuple(round(0.005 * step, 3) for step in range(41))
#: A learned answer's score: sure enough to answer (selfservice.PARAPHRASE_MIN_SCORE).
LEARNED_SCORE = 0.95
#: At most this many phrasings are asked of each other (their similarity matrix is this
#: squared: 16 MB); beyond it an evenly spread sample is.
_AGREEMENT_SAMPLE = 2000


@dataclass(frozen=True, eq=False)
class Learned:
    """An account's learned phrasings (core/knowledge/phrasings.py): questions customers
    and agents confirmed an article answers. Row ``i`` of ``vectors`` (float32,
    L2-normalised, the index's encoder, embedded as a question) is ``texts[i]``, a way of
    asking for article ``article_ids[i]``. A question close to one of them counts as
    close to that article's title."""

    article_ids: tuple[str, ...]
    texts: tuple[str, ...]
    vectors: np.ndarray
    #: The cosine from which a question this close to a learned phrasing is answered
    #: from its article outright, when retrieval ranks that article first too; None
    #: while the account's own phrasings do not show that this is safe (see :meth:`of`).
    answer_at: float | None = None
    #: Each article's prototype (the normalised mean of its phrasings), row by row of
    #: ``prototype_articles``; and the lead over the next prototype from which the
    #: nearest one answers (None: the phrasings do not show that this is safe).
    prototype_articles: tuple[str, ...] = ()
    prototypes: np.ndarray | None = None
    prototype_margin: float | None = None

    @classmethod
    def of(cls, article_ids: Sequence[str], texts: Sequence[str], vectors: np.ndarray) -> Learned:
        """The phrasings, with both rules fitted on themselves: for ``answer_at``, the
        lowest cosine at which the nearest other phrasing names the same article for at
        least LEARNED_PRECISION of at least LEARNED_SUPPORT phrasings; for
        ``prototype_margin``, the lowest lead at which the nearest prototype (made
        without the phrasing asked) does. A help center whose articles customers confuse
        reaches neither, and learns only through the ranking."""
        vectors = np.asarray(vectors, dtype=np.float32)
        ids = tuple(article_ids)
        articles, sums = _sums(ids, vectors)
        prototypes = _unit(sums)
        prototypes.setflags(write=False)
        return cls(ids, tuple(texts), vectors, _agreement_cosine(ids, vectors), articles, prototypes,
                   _prototype_margin(ids, vectors))

    def agreeing(self, vector: np.ndarray, article_id: str, *, cosines: np.ndarray | None = None) -> float | None:
        """How close ``vector`` is to what customers asked of ``article_id`` when a rule
        trusts it to answer (its cosine to the nearest phrasing or to the article's
        prototype); else None. ``cosines``: the vector's cosine to each phrasing, when
        the caller made them already."""
        if not len(self.article_ids):
            return None
        if self.answer_at is not None:
            cosines = self.vectors @ vector if cosines is None else cosines
            nearest = int(np.argmax(cosines))
            cosine = float(cosines[nearest])
            if cosine >= self.answer_at and self.article_ids[nearest] == article_id:
                return cosine
        return self._prototype_agreeing(vector, article_id)

    def _prototype_agreeing(self, vector: np.ndarray, article_id: str) -> float | None:
        if self.prototype_margin is None or self.prototypes is None or len(self.prototype_articles) < 2:
            return None
        cosines = self.prototypes @ vector
        first, second = np.argsort(-cosines)[:2]
        if self.prototype_articles[first] != article_id or cosines[first] - cosines[second] < self.prototype_margin:
            return None
        return float(cosines[first])


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return (rows / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def _sums(article_ids: tuple[str, ...], vectors: np.ndarray) -> tuple[tuple[str, ...], np.ndarray]:
    """Each article (first-seen order) and the sum of its phrasings' vectors."""
    articles = tuple(dict.fromkeys(article_ids))
    number = {article: row for row, article in enumerate(articles)}
    sums = np.zeros((len(articles), vectors.shape[1] if vectors.ndim == 2 else 0), dtype=np.float64)
    if len(article_ids):
        np.add.at(sums, np.array([number[a] for a in article_ids]), vectors.astype(np.float64))
    return articles, sums


def _sampled(article_ids: tuple[str, ...], vectors: np.ndarray) -> tuple[tuple[str, ...], np.ndarray]:
    if len(article_ids) <= _AGREEMENT_SAMPLE:
        return article_ids, vectors
    kept = np.linspace(0, len(article_ids) - 1, _AGREEMENT_SAMPLE).astype(np.int64)
    return tuple(article_ids[i] for i in kept), vectors[kept]


def _lowest_precise(thresholds: Sequence[float], score: np.ndarray, same: np.ndarray) -> float | None:
    """The lowest threshold at which the phrasings scoring at least it are right at
    LEARNED_PRECISION, while at least LEARNED_SUPPORT of them do."""
    for threshold in thresholds:
        fired = score >= threshold
        if fired.sum() < LEARNED_SUPPORT:
            return None
        if same[fired].mean() >= LEARNED_PRECISION:
            return threshold
    return None


def _agreement_cosine(article_ids: tuple[str, ...], vectors: np.ndarray) -> float | None:
    if len(article_ids) < LEARNED_SUPPORT + 1:
        return None
    article_ids, vectors = _sampled(article_ids, vectors)
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -1.0)
    nearest = similarity.argmax(axis=1)
    cosine = similarity[np.arange(len(nearest)), nearest]
    labels = np.array(article_ids)
    return _lowest_precise(_AGREEMENT_COSINES, cosine, labels[nearest] == labels)


def _prototype_margin(article_ids: tuple[str, ...], vectors: np.ndarray) -> float | None:
    """Each phrasing asked of the prototypes made without it: its own article's from the
    article's other phrasings (none when it is the only one), every other as it is."""
    if len(article_ids) < LEARNED_SUPPORT + 1:
        return None
    article_ids, vectors = _sampled(article_ids, vectors)
    articles, sums = _sums(article_ids, vectors)
    if len(articles) < 2:
        return None
    number = {article: row for row, article in enumerate(articles)}
    own = np.array([number[a] for a in article_ids])
    counts = np.bincount(own, minlength=len(articles))
    dots = vectors.astype(np.float64) @ sums.T  # each phrasing against each article's sum
    norms = np.linalg.norm(sums, axis=1)
    cosines = dots / np.where(norms > 0, norms, 1.0)
    rows = np.arange(len(own))
    squares = (vectors.astype(np.float64) ** 2).sum(axis=1)
    left = dots[rows, own] - squares  # the phrasing's dot with its article's other phrasings
    left_norm = np.sqrt(np.maximum(norms[own] ** 2 - 2 * dots[rows, own] + squares, 0.0))
    cosines[rows, own] = np.where((counts[own] > 1) & (left_norm > 0), left / np.where(left_norm > 0, left_norm, 1.0),
                                  -np.inf)
    order = np.argsort(-cosines, axis=1)[:, :2]
    lead = cosines[rows, order[:, 0]] - cosines[rows, order[:, 1]]
    return _lowest_precise(_PROTOTYPE_MARGINS, lead, order[:, 0] == own)
