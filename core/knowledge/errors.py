"""Errors the knowledge base raises on purpose.

They subclass ``SwitchboardError`` so the CLI and web layers can show the message as it
is: each one says which file, record and field is wrong and what to do about it, because
the person importing a help center is rarely the person who wrote this code.
"""
from __future__ import annotations

from pathlib import Path

from switchboard.core.errors import SwitchboardError


class KnowledgeBaseFormatError(SwitchboardError, ValueError):
    """An article source is not in a shape Switchboard can import."""

    def __init__(self, source: Path | str, where: str | None, problem: str) -> None:
        self.source = str(source)
        self.where = where
        self.problem = problem
        location = f"{self.source}, {where}" if where else self.source
        super().__init__(f"{location}: {problem}")


class RetrieverIndexError(SwitchboardError):
    """A saved retrieval index is missing, damaged or from an incompatible version."""


class EmbeddingsUnavailableError(SwitchboardError):
    """Semantic search was asked for but its optional packages are not installed."""
