"""The numbers that turn term matches into a ranking and a confidence.

Kept in one place, saved with each index and chosen on the *tuning* half of the StackFAQ
paraphrases only (``bench/retrieval.py --tune``, ``--calibrate``), so the reported
figures on the other half are not flattered by the choice.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from switchboard.core.knowledge.query import QuerySettings


@dataclass(frozen=True)
class Confidence:
    """Logistic map from a hit's signals to ``Hit.score`` in 0..1: roughly the chance that
    the hit's article answers the question. Fitted with "answerable" = the right article
    came first, "unanswerable" = the question asked with its article removed from the
    index, or an off-topic question: exactly the decision a drafting step has to make.
    Two articles that match equally well score low, since either may be the wrong one."""

    bias: float
    weighted_coverage: float
    coverage: float
    relative_score: float
    margin: float
    semantic: float = 0.0
    title_semantic: float = 0.0

    def __call__(self, signals: dict[str, float]) -> float:
        z = (self.bias
             + self.weighted_coverage * signals["weighted_coverage"]
             + self.coverage * signals["coverage"]
             + self.relative_score * signals["relative_score"]
             + self.margin * signals["margin"]
             + self.semantic * signals.get("semantic", 0.0)
             + self.title_semantic * signals.get("title_semantic", 0.0))
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


# Fitted by ``bench/retrieval.py --calibrate`` on the StackFAQ tuning half plus CLINC150
# out-of-scope questions, asked of the full 125-article collection and of random
# 20-article KBs (about half the examples unanswerable). Margin carries most of the
# separation; coverage adds a little lexically and nothing once the cosine is known.
LEXICAL_CONFIDENCE = Confidence(bias=-2.8, weighted_coverage=0.0, coverage=1.09,
                                relative_score=0.0, margin=31.696)
HYBRID_CONFIDENCE = Confidence(bias=-10.867, weighted_coverage=0.0, coverage=0.0,
                               relative_score=0.0, margin=3.037, semantic=16.295)
#: The same fit for the default install's WordLlama static embeddings (their cosines sit
#: in another range than MiniLM's): `bench/retrieval.py --embeddings wordllama --calibrate`.
WORDLLAMA_CONFIDENCE = Confidence(bias=-5.433, weighted_coverage=0.0, coverage=0.0,
                                  relative_score=0.0, margin=4.945, semantic=6.454)


#: The default install's multilingual-e5-small, for an index too small to fit its own
#: (core/knowledge/calibration.py): the same pseudo-question fit, pooled over the
#: articles of StackFAQ, banking77, CLINC150 and XQuAD de (883 questions; `python
#: bench/answers.py --fit-shipped` with those sets), no customer question used.
E5_CONFIDENCE = Confidence(bias=-24.011, weighted_coverage=0.0, coverage=0.0, relative_score=0.0,
                           margin=5.579, semantic=26.013, title_semantic=0.0)
#: E5's cosines sit in a narrow band (0.7-0.9 for any two texts), so its part of the
#: ranking is weighted up against the lexical part's 0..1: chosen on the tuning halves
#: of StackFAQ and banking77 (precision@1 0.899 -> 0.902 and 0.710 -> 0.743 at 8 / 4).
E5_SEMANTIC_WEIGHT = 8.0
E5_SEMANTIC_TITLE_WEIGHT = 4.0
#: With embeddings, the lexical part of the ranking counts up to the score of every topic
#: word of the question present once in a passage and its title of usual length (1.0 of
#: the relative score); above it only repetition. Precision@1 unchanged on the tuning
#: halves of StackFAQ, banking77, XQuAD de and CLINC150's training rows not in articles;
#: first hits and answers on the held-out halves of the first three too (paired runs).
FUSED_LEXICAL_CEILING = 1.0


@dataclass(frozen=True)
class RankingSettings:
    """How passages are scored; saved with the index so a reload ranks identically."""

    k1: float = 1.5
    b: float = 0.75
    title_weight: float = 1.5  # article-title BM25, added to the passage's own BM25
    semantic_weight: float = 2.0  # cosine(question, passage), when embeddings are on
    semantic_title_weight: float = 1.0  # cosine(question, article title)
    min_semantic: float = 0.3  # below this a passage without shared words is not a hit
    query: QuerySettings = field(default_factory=QuerySettings)
    lexical_confidence: Confidence = LEXICAL_CONFIDENCE
    hybrid_confidence: Confidence = HYBRID_CONFIDENCE

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RankingSettings:
        data = dict(data)
        return cls(
            query=QuerySettings(**data.pop("query")),
            lexical_confidence=Confidence(**data.pop("lexical_confidence")),
            hybrid_confidence=Confidence(**data.pop("hybrid_confidence")),
            **data,
        )
