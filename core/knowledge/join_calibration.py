"""The cosine from which two customers' questions ask the same thing, fitted on the
knowledge base it serves, when its index is built.

The knowledge loop groups questions by meaning three times: unanswered questions into
gaps (:mod:`switchboard.core.knowledge_loop.gaps`), a solved ticket into a pending draft of the same
gap (:mod:`switchboard.core.knowledge_loop.drafts`), and later questions into a published draft's
topic (:mod:`switchboard.core.knowledge_loop.impact`). One constant per encoder served all three,
and it does not carry from one help center to the next: multilingual-e5 puts different
questions of one site above 0.89 when the site's topics are close (on StackFAQ one
draft merged four topics' answers; bench/knowledge_loop.py), and far below it when
they are not.

So each index measures how close its own articles' questions come to one another: the
calibration's pseudo-questions (:func:`.calibration.pseudo_questions`: each sampled
article's title and a question or opening sentence of its body), embedded as customers'
questions are, and every pair of them about *different* articles. Two questions join
only above the cosine that no more than DIFFERENT_PAIRS_JOINED of those pairs reach: two
customers asking about different things of this help center are then joined about as
rarely as two of its different articles' questions would be. The fit never sees a
customer's question or an agent's answer (on the bench, not the hidden articles
either): it is made of the live articles alone, saved with the index (its
``calibration["join"]``) and refitted at every import.

The shipped cosine stays the floor: a help center whose articles are far apart says
little about how close its customers' unrelated questions come, and below it E5 chains
unrelated questions together (at 0.86 all 40 tickets of the bench became one draft).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from switchboard.core.knowledge.calibration import PseudoQuestion, pseudo_questions
from switchboard.core.knowledge.embeddings import E5
from switchboard.core.knowledge.records import Article

#: The shipped join cosine: the floor of every fit, and the value while an index has
#: none (built before the fit existed, lexical, or too few articles). E5's cosines sit
#: high and close: on StackFAQ's tuning paraphrases (40 threads, 3 each) 87 % of pairs of
#: one thread reach 0.90 and 1.2 % of pairs of different threads do (at 0.86: 99 % and
#: 20 %). The English-only encoders spread wider.
SHIPPED_JOIN_COSINE = {E5: 0.89}
DEFAULT_JOIN_COSINE = 0.72
#: The share of pairs of questions about different articles allowed to reach the join
#: cosine: one pair in 200, so that a question compared with ten questions of pending
#: drafts (five drafts of two) joins a wrong one about 5 % of the time at most (the
#: wrong-answer share the confidence fit allows, calibration.TARGET_WRONG).
DIFFERENT_PAIRS_JOINED = 0.005
#: Fewer articles than this with a pseudo-question fit nothing (too few pairs to read a
#: 0.995 quantile from): the shipped cosine stays.
MIN_ARTICLES = 8


def shipped(encoder_name: str | None) -> float:
    return SHIPPED_JOIN_COSINE.get(encoder_name or "", DEFAULT_JOIN_COSINE)


def fit_join(articles: Sequence[Article], embed: Callable[[str], np.ndarray | None],
             encoder_name: str | None, *, seed: int = 0) -> dict[str, Any]:
    """The join cosine of ``articles``' index and how it was found (see the module
    docstring). ``embed`` embeds a text as a question, as the index embeds a customer's."""
    floor = shipped(encoder_name)
    questions = pseudo_questions(articles, seed=seed)
    if encoder_name is None or len({q.article_id for q in questions}) < MIN_ARTICLES:
        return {"fitted": False, "cosine": floor, "reason": "lexical index or too few articles: the shipped cosine"}
    rows = [embed(q.text) for q in questions]
    if any(row is None for row in rows):
        return {"fitted": False, "cosine": floor, "reason": "the encoder could not embed: the shipped cosine"}
    different, same = pair_cosines(questions, np.stack([np.asarray(r, dtype=np.float32) for r in rows
                                                        if r is not None]))
    quantile = float(np.quantile(different, 1.0 - DIFFERENT_PAIRS_JOINED))
    cosine = round(max(floor, quantile), 3)
    return {"fitted": True, "cosine": cosine, "different_articles_quantile": round(quantile, 3),
            "different_pairs_joined": DIFFERENT_PAIRS_JOINED, "floor": floor, "questions": len(questions),
            "different_pairs": int(different.size),
            # How many of one article's own questions (title and body sentence) it joins: for a reader.
            "same_article_pairs_joined": round(float((same >= cosine).mean()), 3) if same.size else None}


def pair_cosines(questions: Sequence[PseudoQuestion], vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cosines of every pair of questions about different articles, and about one."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms > 0, norms, 1.0)
    upper = np.triu_indices(len(questions), 1)
    cosines = (unit @ unit.T)[upper]
    ids = np.array([q.article_id for q in questions])
    same = (ids[:, None] == ids[None, :])[upper]
    return cosines[~same], cosines[same]
