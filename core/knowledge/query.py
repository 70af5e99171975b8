"""From a customer's message to weighted search terms, using what the index knows.

Each topic word of the question becomes a :class:`Concept`: the stem the customer typed
plus variants the index does contain, namely a misspelling's nearest indexed word
("recieve" -> "receive") and support synonyms ("parcel" -> "package"). A concept is
matched once, by its best variant, so a synonym can stand in for a missing word but never
double-count a present one; and a concept the index cannot match at all still counts
against coverage, which is what makes an off-topic question look off-topic.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from rapidfuzz import process
from rapidfuzz.distance import OSA

from switchboard.core.knowledge.analysis import (
    ENGLISH,
    STOPWORDS,
    character_pairs,
    compound_words,
    split_compound,
    stem,
    stopwords,
)
from switchboard.core.knowledge.synonyms import SUPPORT_SYNONYM_GROUPS

_SHORTEST_FUZZY_WORD = 4  # below this, one edit turns a word into a different word


@lru_cache(maxsize=1)
def _english_words() -> frozenset[str]:
    """SymSpell's English frequency dictionary (82k words): the list a spelling corrector
    trusts as correctly spelt. Loaded on the first unknown query word (~0.1 s)."""
    source = resources.files("symspellpy") / "frequency_dictionary_en_82_765.txt"
    with source.open(encoding="utf-8") as lines:
        return frozenset(line.split(maxsplit=1)[0] for line in lines if line.strip())


def is_english_word(word: str) -> bool:
    """Whether ``word`` (lower case) is a correctly spelt English word."""
    return word in _english_words()


@dataclass(frozen=True)
class Concept:
    """One topic word of a query and the indexed stems that may stand for it."""

    word: str  # as the customer wrote it (normalised)
    variants: tuple[tuple[str, float], ...]  # (indexed stem, weight); empty when unknown
    idf: float  # how much this word matters for coverage; unknown words matter most

    @property
    def known(self) -> bool:
        return bool(self.variants)


class Lexicon:
    """The indexed vocabulary: stems with document frequencies, and the surface words
    behind them (most frequent first) for typo repair. Saved beside the index so a
    loaded retriever never re-reads the corpus."""

    def __init__(self, document_frequency: Mapping[str, int], surface_words: Sequence[str],
                 documents: int) -> None:
        self.document_frequency = dict(document_frequency)
        self.surface_words = list(surface_words)
        self.documents = documents
        self._fuzzy_choices = [word for word in self.surface_words if len(word) >= 3]

    @classmethod
    def from_documents(cls, documents: Iterable[Sequence[str]],
                       languages: Sequence[str] | None = None) -> Lexicon:
        """From each indexed document's content words (see ``analysis.content_words``),
        stemmed in each document's language (English when not given)."""
        stem_df: Counter[str] = Counter()
        word_df: Counter[str] = Counter()
        count = 0
        for number, document in enumerate(documents):
            count += 1
            unique = set(document)
            word_df.update(unique)
            language = languages[number] if languages is not None else ENGLISH
            stem_df.update({stem(word, language) for word in unique})
        surface = sorted(word_df, key=lambda word: (-word_df[word], word))
        return cls(stem_df, surface, count)

    def knows(self, term: str) -> bool:
        return term in self.document_frequency

    def idf(self, term: str | None) -> float:
        """BM25 (Lucene) idf; a word the index lacks gets the highest idf of all."""
        df = self.document_frequency.get(term, 0) if term else 0
        return math.log(1 + (self.documents - df + 0.5) / (df + 0.5))

    def nearest_word(self, word: str) -> str | None:
        """The most frequent indexed word within one edit (two for long words).

        Only for misspellings: a real English word the index lacks ("despise", "faulty")
        is left unknown, since "correcting" it to a look-alike ("despite", "faculty")
        would invent a match and hide that the knowledge base does not cover it."""
        if (len(word) < _SHORTEST_FUZZY_WORD or not word.isalpha() or not self._fuzzy_choices
                or is_english_word(word)):
            return None
        max_edits = 1 if len(word) < 8 else 2
        found = process.extractOne(word, self._fuzzy_choices, scorer=OSA.distance,
                                   score_cutoff=max_edits)
        return found[0] if found else None

    def to_json(self) -> dict[str, Any]:
        return {"documents": self.documents, "document_frequency": self.document_frequency,
                "surface_words": self.surface_words}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Lexicon:
        return cls(data["document_frequency"], data["surface_words"], data["documents"])


@dataclass(frozen=True)
class QuerySettings:
    """How much a stand-in counts relative to the word the customer typed (1.0)."""

    fuzzy_weight: float = 0.9
    synonym_weight: float = 0.5
    fuzzy: bool = True
    synonyms: bool = True


class QueryAnalyzer:
    """Builds concepts for a query against one lexicon."""

    def __init__(self, lexicon: Lexicon, settings: QuerySettings | None = None,
                 synonym_groups: Iterable[Iterable[str]] = SUPPORT_SYNONYM_GROUPS) -> None:
        self.lexicon = lexicon
        self.settings = settings or QuerySettings()
        self._synonyms: dict[str, set[str]] = {}
        for group in synonym_groups:
            stems = {stem(word.lower()) for word in group}
            for member in stems:
                self._synonyms.setdefault(member, set()).update(stems - {member})

    def concepts(self, text: str, language: str = ENGLISH) -> list[Concept]:
        """The query's concepts, analysed in ``language``. Typo repair and the support
        synonyms are English only: without a dictionary of the language, "repairing" a
        word the index lacks could invent a match."""
        if language != ENGLISH:
            return self._foreign_concepts(text, language)
        seen: set[str] = set()
        concepts = []
        for word in self._topic_words(text):
            concept = self._concept(word)
            if concept is None:
                continue
            key = stem(concept.word)  # "refunds" and "refund" are one concept
            if key not in seen:
                seen.add(key)
                concepts.append(concept)
        return concepts

    def _foreign_concepts(self, text: str, language: str) -> list[Concept]:
        stop = stopwords(language)
        seen: set[str] = set()
        concepts = []
        for joined in (piece for word in compound_words(text, language)
                       for piece in character_pairs("".join(split_compound(word)))):
            if joined in stop or len(joined) < 2 or any(char.isdigit() for char in joined):
                continue
            main = stem(joined, language)
            if main in seen:
                continue
            seen.add(main)
            variants = ((main, 1.0),) if self.lexicon.knows(main) else ()
            concepts.append(Concept(word=joined, variants=variants, idf=self.lexicon.idf(main if variants else None)))
        return concepts

    def _topic_words(self, text: str) -> list[str]:
        topic: list[str] = []
        for word in compound_words(text):
            parts = split_compound(word)
            joined = "".join(parts)
            if len(parts) > 1 and not self.lexicon.knows(stem(joined)):
                candidates = parts
            else:
                candidates = [joined]
            topic.extend(w for w in candidates if w not in STOPWORDS and len(w) > 1)
        return topic

    def _concept(self, word: str) -> Concept | None:
        settings = self.settings
        main = stem(word)
        variants: dict[str, float] = {}
        if self.lexicon.knows(main):
            variants[main] = 1.0
        elif any(char.isdigit() for char in word):
            return None  # order numbers, dates, amounts: not topics, neither help nor hurt
        else:
            repaired = self._repair(word)
            if repaired is not None:
                variants[stem(repaired)] = settings.fuzzy_weight
        if settings.synonyms:
            for anchor in list(variants) or [main]:
                for synonym in sorted(self._synonyms.get(anchor, ())):
                    if self.lexicon.knows(synonym) and synonym not in variants:
                        variants[synonym] = settings.synonym_weight
        ordered = tuple(sorted(variants.items(), key=lambda item: -item[1]))
        return Concept(word=word, variants=ordered,
                       idf=self.lexicon.idf(ordered[0][0] if ordered else None))

    def _repair(self, word: str) -> str | None:
        if not self.settings.fuzzy:
            return None
        return self.lexicon.nearest_word(word)
