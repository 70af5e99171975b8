"""The shipped intent examples' sentence vectors: shipped with the package, made by the
encoder that reads messages, never used for a text they were not made from."""
from __future__ import annotations

import logging
import shutil
import tomllib
from collections.abc import Sequence
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pytest

from switchboard.core.intents.model import IntentModel, default_training_csv, read_training_csv
from switchboard.core.intents.vectors import (
    csv_sha256,
    intent_encoder,
    shipped_vectors,
    shipped_vectors_file,
    write_shipped_vectors,
)
from switchboard.core.knowledge.embeddings import E5, encoder_named

ROOT = Path(__file__).resolve().parents[2]


class Counting:
    """The real encoder, counting the texts it is asked to embed."""

    def __init__(self, name: str = E5) -> None:
        self.name = name
        self._encoder = encoder_named(E5)
        self.embedded: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        raise AssertionError("intent examples and messages are embedded as queries")

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        return self._encoder.encode_queries(texts)


def test_the_shipped_file_was_made_from_the_shipped_csv() -> None:
    """Fails after an edit of intents_default.csv until `python bench/intent_vectors.py` is run."""
    path = shipped_vectors_file(E5, default_training_csv())
    assert path is not None and path.is_file()
    with np.load(path, allow_pickle=False) as stored:
        assert str(stored["csv_sha256"]) == csv_sha256(default_training_csv())
        assert str(stored["encoder"]) == E5
        assert list(map(str, stored["texts"])) == read_training_csv(default_training_csv())[0]
        assert stored["vectors"].shape == (len(stored["texts"]), 384)


def test_the_shipped_vectors_are_the_ones_the_encoder_makes_now() -> None:
    texts = read_training_csv(default_training_csv())[0]
    vectors = shipped_vectors(encoder_named(E5))
    sample = [texts[i] for i in (0, 100, 300, len(texts) - 1)]
    now = encoder_named(E5).encode_queries(sample)
    cosines = [float(vectors[text] @ vector) / float(np.linalg.norm(vectors[text])) for text, vector in zip(
        sample, now, strict=True)]
    assert min(cosines) > 0.999, cosines


def test_the_package_data_ships_the_vector_file() -> None:
    """The editable install finds any file in the source tree; a wheel only what the globs name."""
    path = shipped_vectors_file(E5, default_training_csv())
    assert path is not None
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["switchboard"]
    assert any(fnmatch(f"data/{path.name}", pattern) for pattern in globs), globs


def test_fitting_on_the_shipped_examples_embeds_none_of_them() -> None:
    encoder = Counting()
    texts, labels = read_training_csv(default_training_csv())
    IntentModel.fit(texts, labels, encoder=encoder, known_vectors=shipped_vectors(encoder))
    assert len(encoder.embedded) <= 1  # the probe that checks the file's model, when not cached already


def test_an_edited_csv_re_embeds_its_changed_rows_only(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    csv = tmp_path / "intents_default.csv"
    shutil.copy(default_training_csv(), csv)
    shutil.copy(shipped_vectors_file(E5, default_training_csv()), shipped_vectors_file(E5, csv))
    csv.write_text(csv.read_text().replace("Where is my order?,order_status", "Wo ist meine Bestellung?,order_status"))
    encoder = Counting()
    with caplog.at_level(logging.WARNING):
        known = shipped_vectors(encoder, csv)
    assert "made from another version of intents_default.csv" in caplog.text
    assert "bench/intent_vectors.py" in caplog.text
    texts, labels = read_training_csv(csv)
    assert "Wo ist meine Bestellung?" not in known and "Where is my order?" in known
    encoder.embedded.clear()
    IntentModel.fit(texts, labels, encoder=encoder, known_vectors=known)
    assert encoder.embedded == ["Wo ist meine Bestellung?"]


@pytest.mark.parametrize("change", ["another model's name", "the same name, other weights"])
def test_a_file_made_by_another_model_is_not_used(change: str, tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    csv = tmp_path / "intents_default.csv"
    csv.write_text("text,category\nwhere is my order,order_status\nhello,greeting\n")
    path = shipped_vectors_file(E5, csv)
    assert path is not None
    write_shipped_vectors(Counting(), csv, path)
    assert set(shipped_vectors(Counting(), csv)) == {"where is my order", "hello"}
    with np.load(path) as stored:
        parts = dict(stored)
    if change == "another model's name":
        parts["encoder"] = np.array("multilingual-e5-small-q8")
    else:
        parts["vectors"] = np.roll(parts["vectors"], 1, axis=1)
    np.savez(path, **parts)
    with caplog.at_level(logging.WARNING):
        assert shipped_vectors(Counting(), csv) == {}
    assert "was not made by the sentence encoder" in caplog.text


def test_which_settings_read_intents_with_an_encoder() -> None:
    assert intent_encoder("e5") is encoder_named(E5)
    assert intent_encoder("none") is None and intent_encoder(None) is None
    assert intent_encoder("wordllama") is None  # English-only: not made the intent model's
