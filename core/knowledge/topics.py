"""Questions by meaning with the account's own index: its encoder embeds them as
questions, and two questions closer than :func:`join_cosine` ask the same thing. The
gaps (:mod:`switchboard.core.knowledge_loop.gaps`) group unanswered questions with it, a solved
ticket joins a pending draft with it (:mod:`switchboard.core.knowledge_loop.drafts`), and the
knowledge loop's measures (:mod:`switchboard.core.knowledge_loop.impact`) find a published
draft's topic in later questions with it: one cosine, fitted on the account's own
articles when the index is built (:mod:`.join_calibration`)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy.orm import Session

from switchboard.core.knowledge.join_calibration import shipped
from switchboard.core.knowledge.retrieval import Retriever
from switchboard.core.knowledge.service import KnowledgeBase, KnowledgeBaseEmpty
from switchboard.core.settings import Settings


def live_retriever(session: Session, account_id: int, settings: Settings) -> Retriever | None:
    """The account's published index, or None while it has no articles (every question
    is then a gap of its own topic, grouped on words)."""
    try:
        return KnowledgeBase.of(session, account_id, settings).retriever()
    except KnowledgeBaseEmpty:
        return None


def join_cosine(retriever: Retriever | None) -> float:
    """The index's own fitted cosine; the shipped one for its encoder when it has none
    (an index built before the fit, or on too few articles)."""
    if retriever is None:
        return shipped(None)
    fitted = (retriever.calibration.get("join") or {}).get("cosine")
    return float(fitted) if isinstance(fitted, int | float) else shipped(retriever.encoder_name)


def vectors(retriever: Retriever | None, texts: Sequence[str]) -> np.ndarray | None:
    """Each text embedded as a question by the index's encoder; None for a lexical index."""
    if retriever is None or not texts or retriever.encoder_name is None:
        return None
    rows = [retriever.query_vector(text) for text in texts]
    if any(row is None for row in rows):
        return None
    return np.stack([np.asarray(row, dtype=np.float32) for row in rows if row is not None])
