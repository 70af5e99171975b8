"""Agents' verdicts on reply suggestions, remembered as votes that re-rank later searches.

An agent who thumbs a suggestion down, or sends it almost word for word, is telling us
which knowledge-base article answers *that kind of ticket*. Retrieval cannot learn this
by itself: it only sees words, and a wrong article that shares more of them keeps
winning. So each verdict becomes a :class:`Vote` on (question, article), and
:meth:`FeedbackMemory.rerank` nudges the hits of a new question by the votes that
*similar* past questions gave the *same* articles.

Why these choices (``bench/feedback.py``: settings chosen on the feedback half of
StackFAQ only; on the other half P@1 rises from 0.825 to 0.914, while the same votes
shuffled across threads give 0.813):

- Similarity is TF-IDF cosine over the same stemmed topic words retrieval indexes
  (:func:`switchboard.core.knowledge.analysis.terms`), IDF taken over the remembered
  questions; only neighbours at or above ``similarity_threshold`` count, each weighted
  by its similarity. A vote about "delete my facebook account" says nothing about
  "reset my password", and a threshold keeps a crowd of loosely related questions from
  adding up to a verdict.
- The effect is bounded: an article moves by ``max_shift * E / (M + prior)`` in the
  retriever's own ranking units, where ``E`` is the similarity-weighted sum of vote
  values and ``M`` the same sum of their sizes. Agreeing votes approach ``max_shift``,
  mixed votes cancel, and a single vote, however similar, moves at most
  ``max_shift / (1 + prior)``. So feedback can swap near-ties (where retrieval is
  usually wrong) but never overturn an article that matches the question far better
  than the rest: one hurried thumbs-down cannot bury a perfect match.
- Re-ranking only reorders and re-scores the hits retrieval returned; it never adds an
  article, because every suggestion must stay grounded in a passage that matched.

Votes carry no timestamp, so old votes do not decay; the bound above is what keeps
stale feedback from dominating.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from rapidfuzz.distance import Levenshtein

from switchboard.core.errors import SwitchboardError
from switchboard.core.knowledge.analysis import terms
from switchboard.core.knowledge.ranking import RankingSettings
from switchboard.core.knowledge.records import Hit


class FeedbackError(SwitchboardError, ValueError):
    """Feedback that cannot be turned into a vote; the message says which value is wrong."""


class UnknownRating(FeedbackError):
    """A rating other than "up" or "down"."""


class InvalidVote(FeedbackError):
    """A vote value outside -1..1 or an edit distance outside 0..1."""


# --- turning what an agent did into a vote ---------------------------------------------

#: Edit distances at or below this count as "sent nearly unchanged" (about one word in
#: five changed: a greeting, a name, a sign-off), as good as a thumbs-up.
NEARLY_UNCHANGED = 0.2
#: From this edit distance on the reply was heavily rewritten: the article was on topic
#: (the agent kept working from it) but the text was not what they sent.
HEAVILY_EDITED = 0.6
HEAVY_EDIT_VALUE = 0.3
#: Inserted into the reply box, not yet sent: the agent chose this suggestion over the
#: others, but may still rewrite it.
INSERTED_VALUE = 0.5


def vote_value(*, rating: str | None, inserted: bool, edit_distance: float | None) -> float | None:
    """The vote one piece of agent feedback is worth, or None when it says nothing.

    ======================================  ==========================================
    what the agent did                      vote
    ======================================  ==========================================
    thumbs-up (``rating="up"``)             +1
    thumbs-down (``rating="down"``)         -1
    sent, edit distance <= 0.2              +1 (nearly unchanged: as good as a thumbs-up)
    sent, edit distance 0.2 .. 0.6          +1 falling linearly to +0.3
    sent, edit distance >= 0.6              +0.3 (heavily edited, but on topic)
    inserted, not (yet) sent                +0.5
    shown and ignored                       None (no signal)
    ======================================  ==========================================

    An explicit rating wins over everything else because the agent said it outright.
    ``edit_distance`` (0 = sent as suggested, 1 = rewritten; see :func:`edit_distance`)
    is given for a sent reply, which implies it was inserted. Ignoring a suggestion is
    not a down-vote: agents skip suggestions for many reasons, such as already knowing
    the answer.
    """
    if rating is not None:
        verdict = rating.strip().lower()
        if verdict == "up":
            return 1.0
        if verdict == "down":
            return -1.0
        raise UnknownRating(f"rating must be 'up', 'down' or None, got {rating!r}")
    if edit_distance is not None:
        if not 0.0 <= edit_distance <= 1.0 or math.isnan(edit_distance):
            raise InvalidVote(f"edit_distance must be between 0 and 1, got {edit_distance!r}")
        if edit_distance <= NEARLY_UNCHANGED:
            return 1.0
        if edit_distance >= HEAVILY_EDITED:
            return HEAVY_EDIT_VALUE
        share = (edit_distance - NEARLY_UNCHANGED) / (HEAVILY_EDITED - NEARLY_UNCHANGED)
        return 1.0 - share * (1.0 - HEAVY_EDIT_VALUE)
    if inserted:
        return INSERTED_VALUE
    return None


_WORD = re.compile(r"\w+(?:'\w+)*")


def edit_distance(suggested: str, sent: str) -> float:
    """How much of the suggestion the agent rewrote: normalised word-level Levenshtein
    distance, 0 = identical, 1 = nothing kept.

    Words, not characters, because agents edit by the word (a name, a date, a sentence
    added) and a character distance would call "refund" -> "refunds" a change worth the
    same as a new word. Case and punctuation are ignored: fixing a comma is not an edit
    to the answer. Normalised by the longer text, so a one-word change in a long reply
    is small and a two-word reply rewritten is large.
    """
    return float(Levenshtein.normalized_distance(_WORD.findall(suggested.casefold()),
                                                 _WORD.findall(sent.casefold())))


# --- remembering votes and re-ranking with them ----------------------------------------

@dataclass(frozen=True)
class Vote:
    """One verdict: for customer text ``query``, article ``article_id`` was good (+1),
    bad (-1) or partly good (a fraction; see :func:`vote_value`)."""

    query: str
    article_id: str
    value: float

    def __post_init__(self) -> None:
        if not -1.0 <= self.value <= 1.0 or math.isnan(self.value):
            raise InvalidVote(f"vote value must be between -1 and 1, got {self.value!r} "
                              f"(article {self.article_id!r})")


@dataclass(frozen=True)
class FeedbackSettings:
    """How strongly feedback moves a ranking. Chosen by ``bench/feedback.py --tune``,
    five-fold inside the StackFAQ feedback half (never the evaluation half): the most
    cautious setting within half a point of the best P@1 there. The top of that grid is
    flat, and a smaller bound and a stricter neighbour test risk less on a help desk
    whose topics overlap more than StackFAQ's threads do."""

    similarity_threshold: float = 0.4  # TF-IDF cosine a past question needs to count
    max_shift: float = 0.2  # largest move, in the retriever's ranking units
    prior: float = 1.0  # pseudo-weight of "no opinion": one vote moves at most half the bound

    def __post_init__(self) -> None:
        if not 0.0 < self.similarity_threshold <= 1.0:
            raise FeedbackError(f"similarity_threshold must be in (0, 1], got {self.similarity_threshold}")
        if self.max_shift < 0.0 or self.prior <= 0.0:
            raise FeedbackError(f"max_shift must be >= 0 and prior > 0, got {self.max_shift}, {self.prior}")


@dataclass
class _Question:
    """A remembered question (all votes cast for the same topic words share one) and the
    sum of vote values and of their sizes per article."""

    counts: Counter[str]
    votes: dict[str, list[float]]  # article id -> [sum of values, sum of |values|]


class FeedbackMemory:
    """Votes on (question, article), searchable by question similarity."""

    def __init__(self, votes: Iterable[Vote] = (), *, settings: FeedbackSettings | None = None,
                 ranking: RankingSettings | None = None) -> None:
        """``ranking`` must be the settings the hits were ranked with (the defaults unless
        the index was re-calibrated): its confidence models say how much a change of
        margin changes ``Hit.score``."""
        self.settings = settings or FeedbackSettings()
        self._ranking = ranking or RankingSettings()
        self._questions: dict[tuple[tuple[str, int], ...], _Question] = {}
        self._postings: dict[str, list[_Question]] = {}
        self._stats: dict[str, list[int]] = {}
        self._count = 0
        self._norms: dict[int, float] | None = None  # per question, for the current IDF
        for vote in votes:
            self.add(vote)

    def __len__(self) -> int:
        return self._count

    def add(self, vote: Vote) -> None:
        """Remember ``vote``. A question with no topic words (e.g. "hi??") is counted in
        :meth:`article_stats` but can never be similar to anything."""
        self._count += 1
        stats = self._stats.setdefault(vote.article_id, [0, 0])
        if vote.value > 0:
            stats[0] += 1
        elif vote.value < 0:
            stats[1] += 1
        counts = Counter(terms(vote.query))
        if not counts or vote.value == 0:
            return
        key = tuple(sorted(counts.items()))
        question = self._questions.get(key)
        if question is None:
            question = self._questions[key] = _Question(counts, {})
            for term in counts:
                self._postings.setdefault(term, []).append(question)
            self._norms = None  # document frequencies changed
        sums = question.votes.setdefault(vote.article_id, [0.0, 0.0])
        sums[0] += vote.value
        sums[1] += abs(vote.value)

    def retract(self, vote: Vote) -> None:
        """Forget ``vote``, which :meth:`add` remembered: a suggestion's verdict changed
        (inserted, then sent), so its old vote gives way to the new one without
        rebuilding the memory from every verdict ever given."""
        self._count -= 1
        stats = self._stats[vote.article_id]
        if vote.value > 0:
            stats[0] -= 1
        elif vote.value < 0:
            stats[1] -= 1
        counts = Counter(terms(vote.query))
        if not counts or vote.value == 0:
            return
        sums = self._questions[tuple(sorted(counts.items()))].votes[vote.article_id]
        sums[0] -= vote.value
        sums[1] -= abs(vote.value)

    def use_ranking(self, ranking: RankingSettings | None) -> None:
        """Re-rank hits ranked with ``ranking`` from now on: a memory kept across calls
        serves indexes calibrated differently without a copy of its votes."""
        self._ranking = ranking or RankingSettings()

    def article_stats(self) -> dict[str, tuple[int, int]]:
        """(up-votes, down-votes) per article, for the digest of the most down-voted
        articles. Partial positives (an edited reply sent) count as up-votes."""
        return {article: (ups, downs) for article, (ups, downs) in self._stats.items()}

    def shifts(self, query: str, article_ids: Iterable[str]) -> dict[str, float]:
        """How far feedback moves each article for ``query``, in ranking units, within
        +-``max_shift``; 0 for an article no similar question voted on."""
        wanted = set(article_ids)
        evidence = dict.fromkeys(wanted, 0.0)
        mass = dict.fromkeys(wanted, 0.0)
        for question, similarity in self._neighbours(query):
            for article, (value, size) in question.votes.items():
                if article in wanted:
                    evidence[article] += similarity * value
                    mass[article] += similarity * size
        bound, prior = self.settings.max_shift, self.settings.prior
        return {article: bound * evidence[article] / (mass[article] + prior) for article in wanted}

    def rerank(self, query: str, hits: Sequence[Hit], *, k: int | None = None) -> list[Hit]:
        """``hits`` (one search's results, best first) re-sorted after feedback, at most
        ``k`` of them. Never adds a hit. Each hit gets ``signals["feedback"]`` (its
        shift); where its margin over the best other article changed, ``margin`` and
        ``score`` are updated through the confidence model and the retriever's values
        kept as ``retrieval_margin`` and ``retrieval_score``. With no similar votes the
        order and scores are exactly retrieval's.

        The ranking key is rebuilt from the margins retrieval reports (each hit's
        distance to the top article, the top's to the runner-up), so it is the
        retriever's own score, lexical or hybrid, up to a constant. Hits without a
        margin (not from :class:`~switchboard.core.knowledge.retrieval.Retriever`) are
        ranked on ``score`` plus the shift instead, clipped to 0..1.
        """
        if k is not None and k < 0:
            raise ValueError(f"k must be None or at least 0, got {k}")
        hits = list(hits)
        if not hits:
            return []
        shifts = self.shifts(query, (hit.passage.article_id for hit in hits))
        moved = [shifts[hit.passage.article_id] for hit in hits]
        if all("margin" in hit.signals for hit in hits):
            reranked = self._rerank_by_margin(hits, moved)
        else:
            reranked = [(hit.score + shift, _rescored(hit, min(1.0, max(0.0, hit.score + shift)), shift))
                        for hit, shift in zip(hits, moved, strict=True)]
        order = sorted(range(len(hits)), key=lambda i: -reranked[i][0])  # stable: ties keep retrieval's order
        return [reranked[i][1] for i in order][:k]

    # --- internals -------------------------------------------------------------------

    def _unit(self, hit: Hit) -> float:
        """Ranking units of this hit's retrieval per lexical ranking unit."""
        if "semantic" not in hit.signals:
            return 1.0
        return self._ranking.lexical_confidence.margin / self._ranking.hybrid_confidence.margin

    def _rerank_by_margin(self, hits: list[Hit], moved: list[float]) -> list[tuple[float, Hit]]:
        margins = [hit.signals["margin"] for hit in hits]
        top = max(range(len(hits)), key=lambda i: margins[i])  # the top article's best passage
        top_article, lead = hits[top].passage.article_id, margins[top]
        # Retrieval's score minus the top article's: the top article's passages are
        # measured against the runner-up, every other against the top.
        base = [margin - lead if hit.passage.article_id == top_article else margin
                for hit, margin in zip(hits, margins, strict=True)]
        # A shift is set in lexical ranking units; a hybrid ranking's margins sit on another
        # scale, so its shifts are rescaled to move the confidence (the logit) as far.
        moved = [shift * self._unit(hit) for hit, shift in zip(hits, moved, strict=True)]
        keys = [b + shift for b, shift in zip(base, moved, strict=True)]
        articles = [hit.passage.article_id for hit in hits]
        # When the list holds one article only, the runner-up retrieval saw is not in it;
        # it stands where retrieval put it, with no feedback of its own.
        runner_up = -lead if len(set(articles)) == 1 else -math.inf
        weight_of = {True: self._ranking.hybrid_confidence.margin,
                     False: self._ranking.lexical_confidence.margin}
        result = []
        for i, hit in enumerate(hits):
            rival = max((keys[j] for j in range(len(hits)) if articles[j] != articles[i]),
                        default=runner_up)
            margin = keys[i] - rival
            if math.isclose(margin, margins[i], abs_tol=1e-12):
                result.append((keys[i], _rescored(hit, hit.score, moved[i])))
                continue
            weight = weight_of["semantic" in hit.signals]
            score = _sigmoid(_logit(hit.score) + weight * (margin - margins[i]))
            result.append((keys[i], _rescored(hit, score, moved[i], margin=margin)))
        return result

    def _neighbours(self, query: str) -> list[tuple[_Question, float]]:
        """Remembered questions whose TF-IDF cosine with ``query`` reaches the threshold."""
        counts = Counter(terms(query))
        if not counts or not self._questions:
            return []
        idf = self._idf
        vector = {term: count * idf(term) for term, count in counts.items()}
        norm = math.sqrt(sum(weight * weight for weight in vector.values()))
        dots: dict[int, float] = {}
        by_id: dict[int, _Question] = {}
        for term, weight in vector.items():
            for question in self._postings.get(term, ()):
                key = id(question)
                by_id[key] = question
                dots[key] = dots.get(key, 0.0) + weight * question.counts[term] * idf(term)
        norms = self._question_norms()
        threshold = self.settings.similarity_threshold
        found = []
        for key, dot in dots.items():
            similarity = dot / (norm * norms[key])
            if similarity >= threshold - 1e-12:
                found.append((by_id[key], min(1.0, similarity)))
        return found

    def _idf(self, term: str) -> float:
        """Smoothed IDF over remembered questions: a word most questions share ("account")
        says less about which article is meant than a rare one ("strikethrough")."""
        total = len(self._questions)
        return math.log((1 + total) / (1 + len(self._postings.get(term, ())))) + 1.0

    def _question_norms(self) -> dict[int, float]:
        if self._norms is None:
            self._norms = {
                id(question): math.sqrt(sum((count * self._idf(term)) ** 2
                                            for term, count in question.counts.items()))
                for question in self._questions.values()
            }
        return self._norms


def _rescored(hit: Hit, score: float, shift: float, *, margin: float | None = None) -> Hit:
    signals = {**hit.signals, "feedback": shift}
    if score != hit.score:
        signals.setdefault("retrieval_score", hit.score)
    if margin is not None:
        signals.setdefault("retrieval_margin", hit.signals["margin"])
        signals["margin"] = margin
    return replace(hit, score=score, signals=signals)


def _logit(probability: float) -> float:
    probability = min(1.0 - 1e-15, max(1e-15, probability))
    return math.log(probability / (1.0 - probability))


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))
