"""Finding the passages that answer a customer's question, and saying how sure we are.

Ranking is BM25 (the bm25s library) over stemmed title + passage text, plus BM25 over
article titles alone (help-center titles are phrased like the questions customers ask),
with queries analysed by :mod:`.query` (stopwords and filler, typo repair for misspelt
words, support synonyms). With an optional sentence encoder (:mod:`.embeddings`) the
cosine similarity of question and passage/title is added, which is what catches
paraphrases sharing no word with the article. ``bench/retrieval.py`` measures each part.

Every hit carries signals a drafting step can threshold on: ``coverage``, the share of
the question's topic words the passage contains; ``margin``, how clearly its article
beats the best other article; ``semantic``, the cosine, when embeddings are on; and
``score``, a 0..1 confidence fitted on those (:class:`.ranking.Confidence`). A question
the knowledge base does not answer ("can I bring my dog?") matches few of its words and
no article clearly, so it gets low coverage and a low score even when BM25 finds
*something*; a question with no indexed topic word gets no lexical hits at all.
"""
from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from switchboard.core.knowledge.analysis import ENGLISH, content_words, language_of, stems, terms, without_token_numbers
from switchboard.core.knowledge.calibration import ANSWER_SCORE, calibrate
from switchboard.core.knowledge.chunking import chunk_articles
from switchboard.core.knowledge.embeddings import (
    E5,
    MINILM,
    MULTILINGUAL,
    WORDLLAMA,
    SentenceEncoder,
    encoder_named,
    queries,
)
from switchboard.core.knowledge.errors import EmbeddingsUnavailableError, RetrieverIndexError
from switchboard.core.knowledge.join_calibration import fit_join
from switchboard.core.knowledge.learned import LEARNED_SCORE, LEARNED_VOTE, Learned
from switchboard.core.knowledge.lexical_index import LexicalIndex
from switchboard.core.knowledge.query import Concept, Lexicon, QueryAnalyzer
from switchboard.core.knowledge.ranking import (
    E5_CONFIDENCE,
    E5_SEMANTIC_TITLE_WEIGHT,
    E5_SEMANTIC_WEIGHT,
    FUSED_LEXICAL_CEILING,
    WORDLLAMA_CONFIDENCE,
    RankingSettings,
)
from switchboard.core.knowledge.records import Article, Hit, Passage
from switchboard.core.knowledge.synonyms import SUPPORT_SYNONYM_GROUPS

logger = logging.getLogger(__name__)

INDEX_FORMAT = 1
_MANIFEST = "manifest.json"
_PASSAGES = "passages.json"
_LEXICON = "lexicon.json"
_PASSAGE_INDEX = "passages.bm25s"
_TITLE_INDEX = "titles.bm25s"
_PASSAGE_VECTORS = "passage_vectors.npy"
_TITLE_VECTORS = "title_vectors.npy"


class _Embeddings:
    """Passage and title vectors plus the encoder for queries, loaded on first use so
    opening an index stays fast and a machine without the encoder can still search lexically."""

    def __init__(self, encoder_name: str, passages: np.ndarray, titles: np.ndarray,
                 encoder: SentenceEncoder | None) -> None:
        self.encoder_name = encoder_name
        self.passages = passages
        self.titles = titles
        self._encoder = encoder
        self._unavailable = False

    @property
    def multilingual(self) -> bool:
        return self.encoder_name in MULTILINGUAL

    def query_vector(self, query: str) -> np.ndarray | None:
        if self._unavailable:
            return None
        if self._encoder is None:
            try:
                self._encoder = encoder_named(self.encoder_name)
            except EmbeddingsUnavailableError as error:
                logger.warning("Searching lexically only: %s", error)
                self._unavailable = True
                return None
        return queries(self._encoder, [query])[0]


class Retriever:
    """A searchable, saveable index over knowledge-base passages."""

    def __init__(self, passages: Sequence[Passage], *, passage_index: LexicalIndex,
                 title_index: LexicalIndex, lexicon: Lexicon, settings: RankingSettings,
                 synonym_groups: Sequence[Sequence[str]],
                 embeddings: _Embeddings | None = None) -> None:
        self.passages = list(passages)
        self.settings = settings
        self._passage_index = passage_index
        self._title_index = title_index
        self._lexicon = lexicon
        self._synonym_groups = [list(group) for group in synonym_groups]
        self._analyzer = QueryAnalyzer(lexicon, settings.query, self._synonym_groups)
        self._embeddings = embeddings
        article_numbers: dict[str, int] = {}
        self._passage_article = np.array(
            [article_numbers.setdefault(p.article_id, len(article_numbers)) for p in self.passages],
            dtype=np.int64,
        )
        self._article_count = len(article_numbers)
        self._passage_language = np.array([language_of(p.locale) for p in self.passages])
        # Asked twice a message: reading 150,000 passages' languages took 19 ms a time.
        self._languages = frozenset(self._passage_language.tolist())
        self._article_number = article_numbers
        #: What the index's own calibration expects on this knowledge base
        #: (:mod:`.calibration`): shares answered outright and by menu, and how it was fitted.
        self.calibration: dict[str, Any] = {}

    # --- building, saving, loading -------------------------------------------------------

    @classmethod
    def build(cls, passages: Sequence[Passage], *, encoder: SentenceEncoder | None = None,
              settings: RankingSettings | None = None,
              synonym_groups: Iterable[Iterable[str]] = SUPPORT_SYNONYM_GROUPS) -> Retriever:
        """Index ``passages`` (title + text of each, and each article's title); with an
        ``encoder``, also embed them for semantic matching."""
        settings = settings or RankingSettings()
        passages = list(passages)
        _check_unique_ids(passages)
        texts = [f"{passage.title}\n{passage.text}" for passage in passages]
        # Each passage is analysed in its article's language (English for "en" and for
        # articles with no locale: an English knowledge base indexes exactly as before).
        languages = [language_of(passage.locale) for passage in passages]
        documents = [content_words(text, language) for text, language in zip(texts, languages, strict=True)]
        titles: dict[str, str] = {}
        title_languages: dict[str, str] = {}
        for passage, language in zip(passages, languages, strict=True):
            titles.setdefault(passage.article_id, passage.title)
            title_languages.setdefault(passage.article_id, language)
        embeddings = None
        if encoder is not None:
            embeddings = _Embeddings(encoder.name, encoder.encode(texts),
                                     encoder.encode(list(titles.values())), encoder)
        return cls(
            passages,
            passage_index=LexicalIndex.build([stems(words, language) for words, language
                                              in zip(documents, languages, strict=True)],
                                             k1=settings.k1, b=settings.b),
            title_index=LexicalIndex.build([terms(title, title_languages[article])
                                            for article, title in titles.items()],
                                           k1=settings.k1, b=settings.b),
            lexicon=Lexicon.from_documents(documents, languages),
            settings=settings,
            synonym_groups=[list(group) for group in synonym_groups],
            embeddings=embeddings,
        )

    def save(self, directory: Path) -> None:
        """Write the index to ``directory``, replacing any index there by two renames: a
        process loading it concurrently finds the old index, the new one or (for an
        instant) none, never half of one."""
        directory = Path(directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
        try:
            manifest = {
                "format": INDEX_FORMAT,
                "passages": len(self.passages),
                "articles": self._article_count,
                "encoder": self._embeddings.encoder_name if self._embeddings else None,
                "settings": self.settings.to_json(),
                "synonym_groups": self._synonym_groups,
                "calibration": self.calibration,
            }
            _write_json(staging / _MANIFEST, manifest)
            _write_json(staging / _PASSAGES, [asdict(passage) for passage in self.passages])
            _write_json(staging / _LEXICON, self._lexicon.to_json())
            self._passage_index.save(staging / _PASSAGE_INDEX)
            self._title_index.save(staging / _TITLE_INDEX)
            if self._embeddings is not None:
                np.save(staging / _PASSAGE_VECTORS, self._embeddings.passages)
                np.save(staging / _TITLE_VECTORS, self._embeddings.titles)
            _replace_directory(directory, staging)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path, *, encoder: SentenceEncoder | None = None) -> Retriever:
        """Open a saved index: reads arrays and JSON, never re-analyses the corpus. An index
        built with embeddings loads its encoder on the first search unless one is given."""
        directory = Path(directory)
        if not (directory / _MANIFEST).exists():
            raise RetrieverIndexError(
                f"{directory} holds no retrieval index (no {_MANIFEST}). Build one with "
                "Retriever.build(passages).save(directory)."
            )
        try:
            manifest = json.loads((directory / _MANIFEST).read_text(encoding="utf-8"))
            if manifest.get("format") != INDEX_FORMAT:
                raise RetrieverIndexError(
                    f"{directory} holds an index in format {manifest.get('format')}, but this "
                    f"version of Switchboard reads format {INDEX_FORMAT}. Rebuild the index from "
                    "the knowledge base and save it again."
                )
            passages = [Passage(**row) for row in _read_json(directory / _PASSAGES)]
            embeddings = None
            if manifest["encoder"]:
                if encoder is not None and encoder.name != manifest["encoder"]:
                    raise RetrieverIndexError(
                        f"{directory} was embedded with '{manifest['encoder']}' but the encoder "
                        f"given is '{encoder.name}'. Pass the same encoder, or rebuild the index."
                    )
                embeddings = _Embeddings(manifest["encoder"],
                                         np.load(directory / _PASSAGE_VECTORS, mmap_mode="r"),
                                         np.load(directory / _TITLE_VECTORS, mmap_mode="r"), encoder)
            loaded = cls(
                passages,
                passage_index=LexicalIndex.load(directory / _PASSAGE_INDEX),
                title_index=LexicalIndex.load(directory / _TITLE_INDEX),
                lexicon=Lexicon.from_json(_read_json(directory / _LEXICON)),
                settings=RankingSettings.from_json(manifest["settings"]),
                synonym_groups=manifest["synonym_groups"],
                embeddings=embeddings,
            )
            loaded.calibration = manifest.get("calibration") or {}
            return loaded
        except RetrieverIndexError:
            raise
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise RetrieverIndexError(
                f"{directory} holds a damaged retrieval index ({error}). Rebuild it from the "
                "knowledge base and save it again."
            ) from error

    def __len__(self) -> int:
        return len(self.passages)

    def passages_of(self, article_id: str) -> list[Passage]:
        """The indexed passages of one article (none if it is not indexed)."""
        return [p for p in self.passages if p.article_id == article_id]

    def languages(self) -> frozenset[str]:
        """The languages the indexed articles are written in ("es", not "es-ES")."""
        return self._languages

    def index_arrays(self) -> dict[str, np.ndarray]:
        """The loaded index's large numeric arrays by name. After :meth:`load` each is a
        read-only memory map of its saved file, so the processes of a host share them."""
        arrays = {f"passages.bm25s.{n}": a for n, a in zip(("data", "indices", "indptr"),
                                                           self._passage_index.arrays(), strict=False)}
        arrays |= {f"titles.bm25s.{n}": a for n, a in zip(("data", "indices", "indptr"),
                                                         self._title_index.arrays(), strict=False)}
        if self._embeddings is not None:
            arrays |= {"passage_vectors": self._embeddings.passages, "title_vectors": self._embeddings.titles}
        return arrays

    @property
    def semantic(self) -> bool:
        """Whether this index carries sentence embeddings."""
        return self._embeddings is not None

    def known_vectors(self) -> dict[str, np.ndarray]:
        """Each embedded text (a passage with its title, an article's title) and its
        vector, for a rebuild to reuse: an import that changed ten articles of ten
        thousand embeds ten (a passage costs about a millisecond a token)."""
        if self._embeddings is None:
            return {}
        known = {f"{p.title}\n{p.text}": vector for p, vector in zip(self.passages, self._embeddings.passages,
                                                                     strict=True)}
        titles: dict[str, str] = {}
        for passage in self.passages:
            titles.setdefault(passage.article_id, passage.title)
        known.update(zip(titles.values(), self._embeddings.titles, strict=True))
        return known

    @property
    def encoder_name(self) -> str | None:
        """The sentence encoder the index was embedded with (None: lexical only)."""
        return self._embeddings.encoder_name if self._embeddings is not None else None

    @property
    def multilingual(self) -> bool:
        """Whether a question in one language is compared by meaning with articles in
        another (the encoder shares one vector space across languages)."""
        return self._embeddings is not None and self._embeddings.multilingual

    def query_vector(self, query: str) -> np.ndarray | None:
        """The question's vector in this index's space (None without embeddings): made
        once per message and passed to :meth:`search` and to learning."""
        if self._embeddings is None:
            return None
        return self._embeddings.query_vector(without_token_numbers(query))

    # --- searching -------------------------------------------------------------------------

    def search(self, query: str, k: int = 5, *, per_article: int = 1, language: str | None = None,
               excluding: str | None = None, learned: Learned | None = None,
               vector: np.ndarray | None = None) -> list[Hit]:
        """The ``k`` best passages for ``query``, at most ``per_article`` from one article
        (one by default, so five hits are five different articles to choose from).

        With ``language``, the query is analysed in it and only articles written in it
        are searched: an answer comes from an article the customer can read. English-only
        encoders (WordLlama, MiniLM) compare meanings in English only, so another language
        is then searched lexically; a multilingual encoder compares in every language.
        ``excluding`` leaves one article out (calibration asks what the best *other*
        article would look like); ``learned`` adds the account's learned phrasings;
        ``vector`` is the question's vector when the caller already made it."""
        if per_article < 1:
            raise ValueError(f"per_article must be at least 1, got {per_article}")
        if k <= 0 or not self.passages:
            return []
        query = without_token_numbers(query)
        concepts = self._analyzer.concepts(query, language or ENGLISH)
        lexical, credits = self._lexical_scores(concepts)
        ceiling = sum(concept.idf for concept in concepts) * (1.0 + self.settings.title_weight)
        relative = lexical / ceiling if ceiling else lexical
        semantic = plain = None  # with the learned phrasings' votes, and the index's own
        learned_cosines = votes = None  # the question's cosine to each learned phrasing; their votes
        if language in (None, ENGLISH) or self.multilingual:
            if vector is None and self._embeddings is not None:
                vector = self._embeddings.query_vector(query)
            semantic = plain = self._semantic_scores(vector)
            if plain is not None and vector is not None and learned is not None and len(learned.article_ids):
                learned_cosines = learned.vectors @ vector
                votes = learned.votes(learned_cosines, self._article_number, self._article_count)
                semantic = self._with_votes(plain, votes)
        if semantic is None:
            ranking, eligible = relative, lexical > 0
        else:
            passage_cosine, weighted, _ = semantic
            ranking = _fused(weighted, relative)
            eligible = (lexical > 0) | (passage_cosine >= self.settings.min_semantic)
        if language is not None:
            eligible = eligible & (self._passage_language == language)
        if excluding in self._article_number:
            eligible = eligible & (self._passage_article != self._article_number[excluding])
        chosen, margins = self._top(ranking, eligible, k, per_article)
        hits = [self._hit(number, margin, concepts, credits, lexical, relative, semantic)
                for number, margin in zip(chosen, margins, strict=True)]
        if (hits and plain is not None and learned is not None and learned_cosines is not None
                and votes is not None and vector is not None):
            unlearned = self._unlearned_top(plain, relative, eligible, concepts, credits, lexical)
            if unlearned is not None:
                hits[0] = self._learned_top(hits[0], unlearned, learned, votes, learned_cosines, vector)
        return hits

    def _learned_top(self, top: Hit, unlearned: Hit, learned: Learned, votes: np.ndarray,
                     learned_cosines: np.ndarray, vector: np.ndarray) -> Hit:
        """The first hit of a search with learned phrasings, scored by what they may add
        to ``unlearned``, the index's own first hit: ``votes``, their share per article."""
        share = float(votes[self._article_number[top.passage.article_id]])
        signals = {**top.signals, "learned_share": share}
        same = unlearned.passage.article_id == top.passage.article_id
        if share < learned.lift_share:
            # The phrasings nearest the question are far, or mostly of other articles,
            # and the account's own phrasings do not show that is safe: they may reorder
            # the menu, never make it surer than retrieval alone was of its own first
            # choice (see learned.LEARNED_MAJORITY).
            score = unlearned.score if same else min(top.score, unlearned.score)
        elif same:
            # Phrasings that leave the first article first do not make it less sure:
            # their votes for the runner-up narrow the lead of an answer retrieval alone
            # would give, and it was calibrated without them.
            score = max(top.score, unlearned.score)
            cosine = learned.agreeing(vector, top.passage.article_id, cosines=learned_cosines)
            if cosine is not None:
                # Customers asked this of this article, alike enough, and retrieval agrees
                # without their phrasings too (as Learned.of fitted answer_at).
                return Hit(passage=top.passage, score=max(score, LEARNED_SCORE), signals={**signals, "learned": cosine})
        else:
            score = top.score
        if score < ANSWER_SCORE and unlearned.score < ANSWER_SCORE:
            # Votes that make no answer leave the menu retrieval alone would offer
            # (reordered, never lost): the article they put first may score below the
            # menu's floor, since its own match to the question is weaker.
            score = max(score, unlearned.score)
        if score != top.score:
            signals["unlearned_score"] = unlearned.score
        return Hit(passage=top.passage, score=score, signals=signals)

    def _lexical_scores(self, concepts: list[Concept]) -> tuple[np.ndarray, np.ndarray]:
        """BM25 per passage (title field included) and, per concept, the credit each
        passage earns for it: the weight of the best variant it contains (1 for the word
        typed, less for a repaired typo or a synonym), 0 if none. A concept scores once,
        by its best variant, so synonyms never double-count."""
        passages = len(self.passages)
        passage_score = np.zeros(passages, dtype=np.float32)
        title_score = np.zeros(self._article_count, dtype=np.float32)
        credits = np.zeros((len(concepts), passages), dtype=np.float32)
        for row, concept in enumerate(concepts):
            best_passage = np.zeros(passages, dtype=np.float32)
            best_title = np.zeros(self._article_count, dtype=np.float32)
            for term, weight in concept.variants:  # a column lists each document once
                documents, contributions = self._passage_index.column(term)
                best_passage[documents] = np.maximum(best_passage[documents], weight * contributions)
                credits[row, documents] = np.maximum(credits[row, documents], weight)
                articles, title_contributions = self._title_index.column(term)
                best_title[articles] = np.maximum(best_title[articles], weight * title_contributions)
            passage_score += best_passage
            title_score += best_title
        total = passage_score + self.settings.title_weight * title_score[self._passage_article]
        return total, credits

    def _unlearned_top(self, plain: tuple[np.ndarray, np.ndarray, np.ndarray], relative: np.ndarray,
                       eligible: np.ndarray, concepts: list[Concept], credits: np.ndarray,
                       lexical: np.ndarray) -> Hit | None:
        """The hit the index alone, without learned phrasings (``plain``: its semantic
        scores), ranks first, scored as it would be."""
        if not eligible.any():
            return None
        chosen, margins = self._top(_fused(plain[1], relative), eligible, 1, 1)
        return self._hit(chosen[0], margins[0], concepts, credits, lexical, relative, plain)

    def _semantic_scores(self, vector: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(cosine to each passage, weighted semantic part of the ranking, cosine to each
        passage's article title), if embedded and the question's vector could be made."""
        if self._embeddings is None or vector is None:
            return None
        passage_cosine = self._embeddings.passages @ vector
        title_cosine = self._embeddings.titles @ vector
        weighted = (self.settings.semantic_weight * passage_cosine
                    + self.settings.semantic_title_weight * title_cosine[self._passage_article])
        return passage_cosine, weighted, title_cosine[self._passage_article]

    def _with_votes(self, plain: tuple[np.ndarray, np.ndarray, np.ndarray],
                    votes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``plain`` semantic scores with the learned phrasings nearest the question voting
        for their articles in the ranking. Votes, not each phrasing's own cosine: a
        customer's question sits closer to any other customer's question (0.85-0.9 by E5)
        than to a title, so a phrasing counted as a title lifted every article that had
        one, whatever was asked, and rearranged answers retrieval had right (banking77's
        tuning half: 45 of 385 answered right before learning went to a menu)."""
        passage_cosine, weighted, article_cosine = plain
        weighted = weighted + LEARNED_VOTE * self.settings.semantic_title_weight * votes[self._passage_article]
        return passage_cosine, weighted, article_cosine

    def _top(self, ranking: np.ndarray, eligible: np.ndarray, k: int,
             per_article: int) -> tuple[list[int], list[float]]:
        """The best passages (ties to the earlier passage) and each one's margin. Only a
        window of top candidates is sorted; it widens in the rare case that too few
        distinct articles are in it."""
        candidates = np.flatnonzero(eligible)
        scores = ranking[candidates]
        window = min(candidates.size, max(64, 8 * k * per_article))
        while True:
            if window < candidates.size:
                top = np.sort(np.argpartition(-scores, window - 1)[:window])
            else:
                top = np.arange(candidates.size)
            order = candidates[top[np.argsort(-scores[top], kind="stable")]]
            chosen, leaders = self._pick(order.tolist(), ranking, k, per_article)
            if (len(chosen) == k and len(leaders) == 2) or window >= candidates.size:
                return chosen, self._margins(chosen, leaders, ranking)
            window = min(candidates.size, window * 4)

    def _pick(self, order: list[int], ranking: np.ndarray, k: int,
              per_article: int) -> tuple[list[int], dict[int, float]]:
        chosen: list[int] = []
        taken: dict[int, int] = {}
        leaders: dict[int, float] = {}  # the two best articles and their best scores
        for number in order:
            article = int(self._passage_article[number])
            if len(leaders) < 2 and article not in leaders:
                leaders[article] = float(ranking[number])
            if len(chosen) < k and taken.get(article, 0) < per_article:
                taken[article] = taken.get(article, 0) + 1
                chosen.append(number)
            if len(chosen) == k and len(leaders) == 2:
                break
        return chosen, leaders

    def _margins(self, chosen: list[int], leaders: dict[int, float],
                 ranking: np.ndarray) -> list[float]:
        """How far each hit's ranking score is above the best passage of any *other*
        article (negative below it). A clear winner is likelier right than one of several
        near-equal candidates, whatever the absolute scores."""
        margins = []
        for number in chosen:
            article = int(self._passage_article[number])
            rival = max((score for other, score in leaders.items() if other != article), default=None)
            # No other article to beat (the only one in the customer's language) says
            # nothing of how clearly this one fits: by meaning every article is near
            # any question, so its whole score would pass for a lead.
            margins.append(0.0 if rival is None and self.semantic else float(ranking[number]) - (rival or 0.0))
        return margins

    def _hit(self, number: int, margin: float, concepts: list[Concept], credits: np.ndarray,
             lexical: np.ndarray, relative: np.ndarray,
             semantic: tuple[np.ndarray, np.ndarray, np.ndarray] | None) -> Hit:
        signals = {
            "bm25": float(lexical[number]),
            "relative_score": float(relative[number]),
            "margin": margin,
            **_coverage(concepts, credits[:, number]),
        }
        if semantic is None:
            confidence = self.settings.lexical_confidence
        else:
            signals["semantic"] = float(semantic[0][number])
            signals["title_semantic"] = float(semantic[2][number])
            confidence = self.settings.hybrid_confidence
        if self.calibration.get("fitted"):
            signals["calibrated"] = 1.0
            signals["menu_floor"] = float(self.calibration.get("menu_floor", 0.0))
        return Hit(passage=self.passages[number], score=confidence(signals), signals=signals)


def _coverage(concepts: list[Concept], credit: np.ndarray) -> dict[str, float]:
    """Share of the question's topic words the passage contains, plain and idf-weighted
    (so matching "refund" counts for more than matching "order")."""
    if not concepts:
        return {"coverage": 0.0, "weighted_coverage": 0.0}
    idf = np.array([concept.idf for concept in concepts], dtype=np.float64)
    credit = credit.astype(np.float64)
    return {
        "coverage": float(np.mean(credit > 0)),
        "weighted_coverage": float((idf * credit).sum() / idf.sum()),
    }


def _check_unique_ids(passages: Sequence[Passage]) -> None:
    seen: set[str] = set()
    for passage in passages:
        if passage.id in seen:
            raise ValueError(
                f"passage id '{passage.id}' occurs twice; chunk each article once and give "
                "articles unique ids before building the index."
            )
        seen.add(passage.id)


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _replace_directory(directory: Path, staging: Path) -> None:
    previous = directory.with_name(f".{directory.name}.previous")
    shutil.rmtree(previous, ignore_errors=True)
    if directory.exists():
        directory.rename(previous)
    staging.rename(directory)
    shutil.rmtree(previous, ignore_errors=True)


def _fused(semantic: np.ndarray, relative: np.ndarray) -> np.ndarray:
    """The ranking of an index with embeddings: the weighted cosines plus the lexical
    score relative to the question's ceiling, counted up to that ceiling. Past it BM25
    only says how often, or in how short a text, the question's words recur: with one or
    two topic words that outweighed the meaning ("Where is my order?" went to "How do I
    cancel my order?", whose short title repeats "order", over "Where is my order?
    Tracking your parcel", 0.93 against 0.88 by title cosine)."""
    return semantic + np.minimum(relative, FUSED_LEXICAL_CEILING)


def build_retriever(passages: Sequence[Passage], embeddings: str | None) -> Retriever:
    """The index over ``passages``: fused with sentence embeddings by name (``e5``, the
    default install's; ``wordllama``; ``minilm``, the optional extra) or lexical only
    (``none``), each with the confidence shipped for it (see :func:`build_index` for one
    fitted on the knowledge base itself)."""
    return Retriever.build(passages, **_encoder_and_settings(embeddings))


def build_index(articles: Sequence[Article], embeddings: str | None, *, previous: Retriever | None = None) -> Retriever:
    """A knowledge base's index, with its confidence fitted on its own articles
    (:mod:`.calibration`); the shipped confidence when there are too few to fit on; and
    the cosine from which two questions ask the same thing (:mod:`.join_calibration`).
    The ``previous`` index's vectors are reused for the texts that did not change."""
    chosen = _encoder_and_settings(embeddings)
    encoder = chosen["encoder"]
    if encoder is not None:
        chosen["encoder"] = encoder = _Remembering(encoder)
        if previous is not None and previous.encoder_name == encoder.name:
            encoder.remember(previous.known_vectors())
    retriever = Retriever.build(chunk_articles(articles), **chosen)
    fitted = calibrate(articles, lambda passages: Retriever.build(passages, **chosen), semantic=encoder is not None)
    # The cosine from which two questions ask the same thing, on these articles' own questions.
    join = fit_join(articles, retriever.query_vector, retriever.encoder_name)
    if fitted is None:
        retriever.calibration = {"fitted": False, "reason": "too few articles to fit a confidence on", "join": join}
        return retriever
    confidence, report = fitted
    retriever.settings = (replace(retriever.settings, hybrid_confidence=confidence) if encoder is not None
                          else replace(retriever.settings, lexical_confidence=confidence))
    retriever.calibration = {**report, "join": join}
    return retriever


class _Remembering:
    """An encoder that embeds each text once: the calibration copy of an index shares
    all but its held-out articles' passages with the index itself."""

    def __init__(self, encoder: SentenceEncoder) -> None:
        self.name = encoder.name
        self._encoder = encoder
        self._seen: dict[str, np.ndarray] = {}

    def remember(self, known: dict[str, np.ndarray]) -> None:
        self._seen.update(known)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        missing = [text for text in dict.fromkeys(texts) if text not in self._seen]
        if missing:
            self._seen.update(zip(missing, self._encoder.encode(missing), strict=True))
        if not texts:
            return self._encoder.encode([])
        return np.stack([self._seen[text] for text in texts])

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return queries(self._encoder, texts)


def _encoder_and_settings(embeddings: str | None) -> dict[str, Any]:

    default = RankingSettings()
    if embeddings in (None, "none"):
        return {"encoder": None, "settings": default}
    if embeddings == "e5":
        return {"encoder": encoder_named(E5), "settings": replace(
            default, hybrid_confidence=E5_CONFIDENCE, semantic_weight=E5_SEMANTIC_WEIGHT,
            semantic_title_weight=E5_SEMANTIC_TITLE_WEIGHT)}
    if embeddings == "wordllama":
        return {"encoder": encoder_named(WORDLLAMA),
                "settings": replace(default, hybrid_confidence=WORDLLAMA_CONFIDENCE)}
    if embeddings == "minilm":
        return {"encoder": encoder_named(MINILM), "settings": default}
    raise ValueError(f"unknown embeddings {embeddings!r}: use e5, wordllama, minilm or none")
