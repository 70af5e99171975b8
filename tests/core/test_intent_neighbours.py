"""The nearest examples' votes beside the intent model's SVM (core/intents/neighbours.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import skops.io as skops_io

from switchboard.core.intents.model import OUT_OF_SCOPE, IntentModel, read_training_csv
from switchboard.core.intents.neighbours import K, Neighbours
from switchboard.core.intents.store import default_intent_model
from tests.core.test_intents import DATA, HashedWords


def _unit(rows: list[list[float]]) -> np.ndarray:
    vectors = np.array(rows, dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_the_nearest_examples_vote_for_their_intents_and_the_nearest_weigh_most() -> None:
    examples = _unit([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0.9, 0.1], [0, 0, 1]])
    neighbours = Neighbours.of(examples, ["card", "card", "refund", "refund", OUT_OF_SCOPE],
                               ["card", OUT_OF_SCOPE, "refund"])
    votes = neighbours.votes(_unit([[1, 0.05, 0], [0.1, 1, 0], [0, 0, 1]]))
    np.testing.assert_allclose(votes.sum(axis=1), 1.0)
    assert votes.argmax(axis=1).tolist() == [0, 2, 1]  # columns in the model's order, out of scope too
    assert votes[0, 0] > 0.99  # far examples barely count against near ones
    # an intent the model has no column for does not vote; no examples, no votes
    assert Neighbours.of(examples, ["card", "card", "other", "other", "other"], ["card"]).votes(examples).tolist() \
        == [[1.0]] * 5
    assert not Neighbours.of(examples[:0], [], ["card"]).votes(examples).any()


def test_only_the_nearest_k_examples_vote() -> None:
    near = [[1, 0.01 * i, 0] for i in range(K)]
    many_far = [[0.5, 1, 0]] * 20  # more of them, but none among the nearest K
    neighbours = Neighbours.of(_unit(near + many_far), ["card"] * K + ["refund"] * 20, ["card", "refund"])
    assert neighbours.votes(_unit([[1, 0, 0]]))[0].tolist() == [1.0, 0.0]


def test_a_model_with_out_of_scope_examples_scores_the_same_after_saving(tmp_path: Path) -> None:
    """The out-of-scope examples vote too; the file keeps their vectors beside the
    in-scope ones (familiarity's), and a loaded model routes exactly as the fitted one."""
    texts, labels = read_training_csv(DATA / "banking77_train_slice.csv")
    weather = ["what is the weather tomorrow", "will it rain today", "play some music", "tell me a joke",
               "who won the football game", "set an alarm for seven", "what time is it in tokyo",
               "how tall is mount everest", "recommend a good film", "translate hello to french"]
    encoder = HashedWords()
    model = IntentModel.fit(texts, labels, out_of_scope=weather, encoder=encoder, votes_weight=1.0)
    assert len(model._neighbours.vectors) == len(model._familiarity.vectors) + len(weather)
    assert np.shares_memory(model._neighbours.vectors, model._familiarity.vectors)  # one array, not two
    probe = ["how do I top up my card", "will it snow tomorrow", "my card payment was declined"]
    path = tmp_path / "model.skops"
    model.save(path)
    loaded = IntentModel.load(path, encoder=encoder)
    assert loaded.predict(probe) == model.predict(probe)
    assert loaded._neighbours.weight == model._neighbours.weight == 1.0
    np.testing.assert_array_equal(loaded._neighbours.columns, model._neighbours.columns)


def test_a_version_4_file_loads_without_votes(tmp_path: Path) -> None:
    """Its temperature and threshold were fitted on the SVM's scores alone; votes added
    on top would move every confidence away from what the threshold was chosen for."""
    encoder = HashedWords()
    model = IntentModel.fit(*read_training_csv(DATA / "banking77_train_slice.csv"), encoder=encoder,
                            votes_weight=0.5)
    path = tmp_path / "model.skops"
    model.save(path)
    saved = skops_io.load(path, trusted=skops_io.get_untrusted_types(file=path))
    saved["format"] = "switchboard.intents/4"
    del saved["neighbours"]
    skops_io.dump(saved, path)
    old = IntentModel.load(path, encoder=encoder)
    assert old._neighbours is None and model._neighbours is not None
    message = ["I still have not received my new card"]
    assert old._scores(message)[0].tolist() != model._scores(message)[0].tolist()


def test_fitting_keeps_the_votes_only_where_they_route_more_held_out_messages_right() -> None:
    """The weight is chosen per model on its own held-out rows: words hashed into 64
    numbers (the stand-in encoder) are no better neighbours than the SVM, which routes
    alone."""
    slice_ = read_training_csv(DATA / "banking77_train_slice.csv")
    assert IntentModel.fit(*slice_, encoder=HashedWords())._neighbours is None
    assert IntentModel.fit(*slice_, encoder=HashedWords(), votes_weight=0.0)._neighbours is None
    assert IntentModel.fit(*slice_)._neighbours is None  # no encoder, no vectors to vote with


def test_the_shipped_model_routes_by_its_svm_alone() -> None:
    """Its examples are a shop's, a few an intent, and it fires the escalation triggers on
    every help center's questions: with votes, bench/answers.py's other domains' questions
    were handed over as fraud or a request for a person (core/intents/store.py)."""
    model = default_intent_model("e5")
    assert model.encoder_name is not None and model.votes_weight == 0.0 and model._neighbours is None
