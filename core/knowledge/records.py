"""Plain records passed between the knowledge base, retrieval and drafting.

They are frozen dataclasses rather than ORM rows so the ranking and drafting code can be
tested and benchmarked without a database, and so nothing downstream can mutate what
retrieval returned (a citation must point at exactly the text the reply was built from).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Article:
    """One knowledge-base article as imported (JSON/JSONL record, Markdown/HTML file or
    Help Center article). ``id`` is the source's own id, stable across re-imports."""

    id: str
    title: str
    body: str
    url: str | None = None
    locale: str = "en"
    tags: tuple[str, ...] = ()

    @property
    def citation(self) -> str:
        """What a customer is shown as the source: the link, or the title without one."""
        return self.url or self.title


@dataclass(frozen=True)
class Passage:
    """A chunk of an article: the unit that is ranked, quoted and cited."""

    id: str  # "<article id>#<chunk number>"
    article_id: str
    title: str
    text: str
    url: str | None = None
    locale: str = "en"

    @property
    def citation(self) -> str:
        return self.url or self.title


def article_of(passage_id: str) -> str:
    """The article a passage id ("<article id>#<chunk number>") belongs to; an id
    without a chunk number is the article's own."""
    return passage_id.rpartition("#")[0] or passage_id


@dataclass(frozen=True)
class Hit:
    """A passage returned for a query, with the score that ranked it."""

    passage: Passage
    score: float
    signals: dict[str, float] = field(default_factory=dict)
