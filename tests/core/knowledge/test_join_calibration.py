"""The join cosine fitted on a help center's own articles: the cosine only one pair in
200 of questions about different articles reaches, never below the shipped one, and the
shipped one when there is too little to fit on."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from switchboard.core.knowledge.embeddings import E5
from switchboard.core.knowledge.join_calibration import MIN_ARTICLES, fit_join, shipped
from switchboard.core.knowledge.records import Article

TOPICS = ["parcels", "refunds", "vouchers", "passwords", "invoices", "warranty", "returns", "payments",
          "delivery", "accounts", "discounts", "exchanges"]


def articles(count: int) -> list[Article]:
    return [Article(id=topic, title=f"Questions about {topic} answered",
                    body=f"Everything about {topic} explained in plain words. More text follows here.")
            for topic in TOPICS[:count]]


def embedder(shared: float) -> Callable[[str], np.ndarray]:
    """Each article's questions on its own axis plus a ``shared`` component all have:
    two questions of different articles are ``shared**2 / (shared**2 + 1)`` apart."""
    axis = {topic: number for number, topic in enumerate(TOPICS)}

    def embed(text: str) -> np.ndarray:
        topic = next(t for t in TOPICS if t in text)
        vector = np.zeros(len(TOPICS) + 1, dtype=np.float32)
        vector[axis[topic]], vector[-1] = 1.0, shared
        return vector / np.linalg.norm(vector)

    return embed


@pytest.mark.parametrize(("shared", "expected"), [(4.0, round(16 / 17, 3)), (1.0, shipped(E5))])
def test_the_cosine_is_where_different_articles_questions_stop(shared: float, expected: float) -> None:
    join = fit_join(articles(len(TOPICS)), embedder(shared), E5)
    # Close articles (0.941 apart) lift it above the shipped 0.89; far ones (0.5) leave the floor.
    assert join["fitted"] is True and join["cosine"] == expected
    assert join["different_articles_quantile"] == round(shared**2 / (shared**2 + 1), 3)
    assert join["same_article_pairs_joined"] == 1.0  # one article's title and opening share its axis


def test_too_few_articles_or_no_encoder_keep_the_shipped_cosine() -> None:
    few = fit_join(articles(MIN_ARTICLES - 1), embedder(4.0), E5)
    assert few["fitted"] is False and few["cosine"] == shipped(E5)
    lexical = fit_join(articles(len(TOPICS)), lambda text: None, None)
    assert lexical["fitted"] is False and lexical["cosine"] == shipped(None)
