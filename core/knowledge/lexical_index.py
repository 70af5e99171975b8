"""A bm25s index read one term at a time.

bm25s precomputes every term's BM25 contribution per document (a sparse column). Reading
those columns directly, instead of asking bm25s for summed scores, lets the retriever
weight each query term separately (a synonym counts half) and see which documents
contain which term (coverage), with no second inverted index to build or save.
"""
from __future__ import annotations

from pathlib import Path

import bm25s
import numpy as np

_NO_DOCUMENTS = np.zeros(0, dtype=np.int32)
_NO_SCORES = np.zeros(0, dtype=np.float32)


class LexicalIndex:
    """BM25 (Lucene variant) over pre-analysed documents."""

    def __init__(self, index: bm25s.BM25 | None) -> None:
        self._index = index  # None when no document had a single term

    @classmethod
    def build(cls, documents: list[list[str]], *, k1: float, b: float) -> LexicalIndex:
        if not any(documents):
            return cls(None)
        index = bm25s.BM25(k1=k1, b=b, method="lucene")
        index.index(documents, show_progress=False)
        return cls(index)

    def column(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(document numbers, BM25 contributions) of the documents containing ``term``."""
        if self._index is None:
            return _NO_DOCUMENTS, _NO_SCORES
        token = self._index.vocab_dict.get(term)
        indptr = self._index.scores["indptr"]
        if token is None or token >= len(indptr) - 1:  # unknown, or bm25s's empty-query slot
            return _NO_DOCUMENTS, _NO_SCORES
        start, end = indptr[token], indptr[token + 1]
        return self._index.scores["indices"][start:end], self._index.scores["data"][start:end]

    def save(self, directory: Path) -> None:
        if self._index is not None:
            self._index.save(str(directory), show_progress=False)

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        """Memory-maps the saved arrays (read-only): every process of a host that loads
        this version shares the same file pages instead of holding a copy each."""
        if not directory.exists():
            return cls(None)
        return cls(bm25s.BM25.load(str(directory), mmap=True, show_progress=False))

    def arrays(self) -> list[np.ndarray]:
        """The score matrix's arrays (for checks that they are shared, not copied)."""
        if self._index is None:
            return []
        return [self._index.scores[name] for name in ("data", "indices", "indptr")]
