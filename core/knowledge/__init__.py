"""The knowledge base: loading help-center articles, cutting them into passages, and
retrieving the passages that answer a customer's question, with signals saying how sure
the match is. Framework-free: no Flask, no database, no vendor SDK."""
from __future__ import annotations

from switchboard.core.knowledge.chunking import chunk_article, chunk_articles
from switchboard.core.knowledge.errors import (
    EmbeddingsUnavailableError,
    KnowledgeBaseFormatError,
    RetrieverIndexError,
)
from switchboard.core.knowledge.loaders import article_from_help_center, load_articles
from switchboard.core.knowledge.ranking import Confidence, RankingSettings
from switchboard.core.knowledge.retrieval import Retriever

__all__ = [
    "Confidence",
    "EmbeddingsUnavailableError",
    "KnowledgeBaseFormatError",
    "RankingSettings",
    "Retriever",
    "RetrieverIndexError",
    "article_from_help_center",
    "chunk_article",
    "chunk_articles",
    "load_articles",
]
