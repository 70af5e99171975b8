"""Questions by meaning with the account's own index: its encoder embeds them as
questions, and two questions closer than :func:`join_cosine` ask the same thing. The
gaps (:mod:`switchboard.core.gaps`) group unanswered questions with it, and the
knowledge loop's measures (:mod:`switchboard.core.kb_impact`) find a published
draft's topic in later questions with it."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy.orm import Session

from switchboard.core.knowledge.embeddings import E5
from switchboard.core.knowledge.retrieval import Retriever
from switchboard.core.knowledge.service import KnowledgeBase, KnowledgeBaseEmpty
from switchboard.core.settings import Settings

#: Cosine to a group's centre from which a question joins it. E5's cosines sit high and
#: close: on StackFAQ's tuning paraphrases (40 threads, 3 each) 87 % of pairs of one
#: thread reach 0.90 and 1.2 % of pairs of different threads do (at 0.86: 99 % and 20 %,
#: which chained all 40 tickets of bench/knowledge_loop.py into one draft). The
#: English-only encoders spread wider.
JOIN_COSINE = {E5: 0.89}
DEFAULT_JOIN_COSINE = 0.72


def live_retriever(session: Session, account_id: int, settings: Settings) -> Retriever | None:
    """The account's published index, or None while it has no articles (every question
    is then a gap of its own topic, grouped on words)."""
    try:
        return KnowledgeBase.of(session, account_id, settings).retriever()
    except KnowledgeBaseEmpty:
        return None


def join_cosine(retriever: Retriever | None) -> float:
    name = retriever.encoder_name if retriever is not None else None
    return JOIN_COSINE.get(name or "", DEFAULT_JOIN_COSINE)


def vectors(retriever: Retriever | None, texts: Sequence[str]) -> np.ndarray | None:
    """Each text embedded as a question by the index's encoder; None for a lexical index."""
    if retriever is None or not texts or retriever.encoder_name is None:
        return None
    rows = [retriever.query_vector(text) for text in texts]
    if any(row is None for row in rows):
        return None
    return np.stack([np.asarray(row, dtype=np.float32) for row in rows if row is not None])
