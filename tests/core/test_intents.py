"""Intent routing: training data checks, accuracy on real data, out-of-scope
detection and safe persistence."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import skops.io as skops_io

from switchboard.core.intents.calibration import OUT_OF_SCOPE_RECALL_TARGET
from switchboard.core.intents.model import (
    OUT_OF_SCOPE,
    IntentDataError,
    IntentModel,
    IntentModelFileError,
    IntentPrediction,
    choose_threshold,
    default_training_csv,
    fit_temperature,
    message_vectors,
    read_training_csv,
    training_set,
)
from switchboard.core.intents.scoring import class_scores, transform

DATA = Path(__file__).parent / "data"

# Far from banking in topic; a router that sends any of these to a card or
# top-up answer is confidently wrong.
CLEARLY_OUT_OF_SCOPE = [
    "what's the weather in Paris",
    "Can you recommend a good recipe for lasagna?",
    "How long should I bake banana bread?",
    "who won the football game last night",
    "tell me a joke",
    "play some jazz music",
]


def write(tmp_path: Path, content: str, name: str = "intents.csv") -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def banking() -> IntentModel:
    return IntentModel.fit(*read_training_csv(DATA / "banking77_train_slice.csv"))


@pytest.fixture(scope="module")
def banking_held_out() -> tuple[list[str], list[str]]:
    return read_training_csv(DATA / "banking77_test_slice.csv")


@pytest.fixture(scope="module")
def shop() -> IntentModel:
    return IntentModel.fit(*read_training_csv(default_training_csv()))


# --- reading training files -------------------------------------------------------


def test_reads_rows_keeping_oos_category_and_skipping_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufeffText,Category\nwhere is my order,order_status\n,\n"
                           '"hi, there",greeting\nwhat is the weather,oos\n')
    texts, labels = read_training_csv(path)
    assert texts == ["where is my order", "hi, there", "what is the weather"]
    assert labels == ["order_status", "greeting", "oos"]


def test_missing_category_column_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "text,label\nwhere is my order,order_status\n")
    with pytest.raises(IntentDataError, match=r"missing: category"):
        read_training_csv(path)


def test_empty_text_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "text,category\nwhere is my order,order_status\n  ,greeting\n")
    with pytest.raises(IntentDataError, match=r"line 3: the text is empty"):
        read_training_csv(path)


def test_line_numbers_count_blank_lines_as_an_editor_does(tmp_path: Path) -> None:
    path = write(tmp_path, "text,category\n\nwhere is my order,order_status\n\n ,greeting\n")
    with pytest.raises(IntentDataError, match=r"line 5: the text is empty"):
        read_training_csv(path)


def test_unclosed_quote_is_reported_rather_than_swallowing_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'text,category\n"where is my order,order_status\nhello,greeting\n')
    with pytest.raises(IntentDataError, match="line 2: a quote opens a field here and is never closed"):
        read_training_csv(path)


def test_empty_category_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "text,category\nwhere is my order,\n")
    with pytest.raises(IntentDataError, match=r"line 2: the category is empty"):
        read_training_csv(path)


def test_header_only_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IntentDataError, match="no rows"):
        read_training_csv(write(tmp_path, "text,category\n"))


def test_missing_file_is_an_intent_data_error(tmp_path: Path) -> None:
    with pytest.raises(IntentDataError, match="Cannot open"):
        read_training_csv(tmp_path / "nope.csv")


def test_non_utf8_file_asks_for_a_utf8_export(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("text,category\nm\xe9lange caf\xe9,order_status\n".encode("latin-1"))
    with pytest.raises(IntentDataError, match="UTF-8"):
        read_training_csv(path)


def test_default_training_set_has_the_documented_shape() -> None:
    texts, labels = read_training_csv(default_training_csv())
    counts = {label: labels.count(label) for label in set(labels)}
    intents = {label for label in counts if label != "oos"}
    assert {"order_status", "human_agent", "fraud", "legal", "refund_status"} <= intents
    assert len(intents) >= 15
    assert all(20 <= counts[label] <= 40 for label in intents), counts
    assert counts["oos"] >= 20
    assert len({t.lower() for t in texts}) == len(texts), "duplicate example messages"


# --- an account's rows and the shipped ones ----------------------------------------


def test_an_accounts_rows_are_added_after_the_shipped_ones_and_replace_those_of_the_same_text(
        tmp_path: Path) -> None:
    shipped = write(tmp_path, "text,category\nWhere is my order?,order_status\nhello,greeting\n"
                              "thanks,thanks\nwhat's the weather,oos\n", name="shipped.csv")
    mine = training_set(["where  is my ORDER?", "Hello", "my points", "bored,", "weather today"],
                        ["loyalty", "greeting", "loyalty", "OOS", "out_of_scope"], shipped_csv=shipped)
    assert mine.texts == ("thanks", "what's the weather", "where  is my ORDER?", "Hello", "my points", "bored,",
                          "weather today")
    assert mine.labels == ("thanks", "oos", "loyalty", "greeting", "loyalty", "OOS", "out_of_scope")
    assert (mine.shipped, mine.yours, mine.overridden, mine.relabelled) == (2, 5, 2, 1)
    assert mine.new_intents == ("loyalty",) and mine.your_intents == {"loyalty", "greeting"}
    assert mine.counts() == {"mode": "added", "shipped_examples": 2, "your_examples": 5, "overridden_shipped": 2,
                             "relabelled_shipped": 1, "new_intents": 1}


def test_replacing_leaves_every_shipped_row_out(tmp_path: Path) -> None:
    shipped = write(tmp_path, "text,category\nhello,greeting\nthanks,thanks\n", name="shipped.csv")
    mine = training_set(["hello", "my points"], ["loyalty", "loyalty"], replace=True, shipped_csv=shipped)
    assert (mine.texts, mine.labels) == (("hello", "my points"), ("loyalty", "loyalty"))
    assert (mine.shipped, mine.yours, mine.overridden, mine.new_intents) == (0, 2, 0, ("loyalty",))
    assert mine.counts()["mode"] == "replaced"


# --- training-time checks ---------------------------------------------------------


def test_too_few_examples_names_the_category() -> None:
    texts = [f"order {i}" for i in range(6)] + ["hello", "hi"]
    labels = ["order_status"] * 6 + ["greeting"] * 2
    with pytest.raises(IntentDataError, match=r"'greeting' \(2\)"):
        IntentModel.fit(texts, labels)


def test_a_single_category_cannot_be_trained() -> None:
    with pytest.raises(IntentDataError, match="at least two categories"):
        IntentModel.fit([f"order {i}" for i in range(6)], ["order_status"] * 6)


def test_texts_and_labels_must_pair_up() -> None:
    with pytest.raises(IntentDataError, match="3 texts but 2 labels"):
        IntentModel.fit(["a", "b", "c"], ["x", "y"])


# --- behaviour on real data -------------------------------------------------------


def test_labels_are_the_trained_intents(banking: IntentModel) -> None:
    _, labels = read_training_csv(DATA / "banking77_train_slice.csv")
    assert banking.labels == tuple(sorted(set(labels)))


def test_routes_held_out_banking_messages_correctly(
    banking: IntentModel, banking_held_out: tuple[list[str], list[str]]
) -> None:
    """150 unseen messages over 10 intents (chance: 10%). Measured with scikit-learn
    1.9: 98% ranked right, 92% routed right, none routed wrongly. The bars leave room
    for library drift but fail if features, calibration or the threshold break:
    routing most messages, and almost never to the wrong intent, is the promise."""
    texts, truth = banking_held_out
    predictions = banking.predict(texts)
    routed = [p for p in predictions if p.in_scope]
    routed_right = sum(p.intent == t for p, t in zip(predictions, truth, strict=True) if p.in_scope)
    assert routed_right / len(texts) >= 0.85
    assert routed_right / len(routed) >= 0.95


def test_clearly_out_of_scope_messages_are_not_routed(banking: IntentModel) -> None:
    for prediction in banking.predict(CLEARLY_OUT_OF_SCOPE):
        assert not prediction.in_scope, prediction
        assert prediction.intent == OUT_OF_SCOPE
        assert prediction.confidence < banking.threshold
        assert prediction.best_intent in banking.labels  # what it came closest to, for the admin


def test_a_message_sharing_nothing_with_training_data_is_out_of_scope(banking: IntentModel) -> None:
    for prediction in banking.predict(["", "   ", "🙂🙂"]):
        assert prediction.intent == OUT_OF_SCOPE and not prediction.in_scope


def test_prediction_carries_text_and_a_probability(banking: IntentModel) -> None:
    [prediction] = banking.predict(["I still have not received my new card"])
    assert prediction == IntentPrediction(
        "I still have not received my new card", "card_arrival", prediction.confidence, True, "card_arrival"
    )
    assert banking.threshold <= prediction.confidence <= 1.0


def test_predict_refuses_a_bare_string(banking: IntentModel) -> None:
    with pytest.raises(TypeError, match="list of messages"):
        banking.predict("where is my card")  # type: ignore[arg-type]


def test_training_is_deterministic(banking_held_out: tuple[list[str], list[str]]) -> None:
    texts, labels = read_training_csv(DATA / "banking77_train_slice.csv")
    first = IntentModel.fit(texts, labels).predict(banking_held_out[0])
    second = IntentModel.fit(texts, labels).predict(banking_held_out[0])
    assert first == second


def test_shop_model_recognises_requests_for_a_person_in_new_words(shop: IntentModel) -> None:
    phrasings = ["could I please speak with a real human", "I need to talk to somebody",
                 "let me speak to a representative", "put me through to an agent now"]
    for prediction in shop.predict(phrasings):
        assert (prediction.intent, prediction.in_scope) == ("human_agent", True), prediction


def test_shop_model_learns_out_of_scope_rows_without_exposing_them_as_an_intent(shop: IntentModel) -> None:
    assert OUT_OF_SCOPE not in shop.labels and "oos" not in shop.labels
    unseen = ["give me a recipe for banana bread", "who won the world cup in 2018", "how do I cook rice"]
    assert [p.in_scope for p in shop.predict(unseen)] == [False, False, False]
    assert shop.predict(["my card was declined at checkout"])[0].intent == "card_declined"


# --- threshold choice ---------------------------------------------------------------


def test_threshold_separates_out_of_scope_from_correct_routing() -> None:
    confidence = np.array([0.95, 0.9, 0.85, 0.3, 0.2, 0.25])
    correct = np.array([True, True, True, False, False, False])
    is_oos = np.array([False, False, False, True, True, True])
    assert 0.3 < choose_threshold(confidence, correct, is_oos) < 0.85


def test_the_cut_keeps_the_stated_out_of_scope_recall_and_no_more() -> None:
    """Most out-of-scope rows score low, a few sit among the in-scope ones. Weighing both
    groups equally (the rule before) cut above all of them, at 0.90, and turned away a
    tenth of the correctly routed rows; the cut is now the lowest that rejects the stated
    share of out-of-scope rows."""
    correct_in_scope = np.concatenate([np.linspace(0.95, 1.0, 90), np.linspace(0.6, 0.85, 10)])
    oos = np.concatenate([np.full(30, 0.2), [0.62, 0.66, 0.7, 0.78, 0.82, 0.85]])
    confidence = np.concatenate([correct_in_scope, oos])
    is_oos = np.arange(len(confidence)) >= len(correct_in_scope)
    threshold = choose_threshold(confidence, ~is_oos, is_oos)
    assert np.mean(oos < threshold) >= OUT_OF_SCOPE_RECALL_TARGET
    next_lower = confidence[confidence < threshold].max()
    assert np.mean(oos < next_lower) < OUT_OF_SCOPE_RECALL_TARGET
    assert np.mean(correct_in_scope >= threshold) > 0.9


def test_out_of_scope_rows_the_out_of_scope_class_rejects_do_not_raise_the_cut() -> None:
    """They are turned away whatever the cut; counting them again cut at 0.935 here,
    turning away a tenth of the correctly routed rows."""
    correct_in_scope = np.concatenate([np.linspace(0.95, 1.0, 90), np.linspace(0.5, 0.8, 10)])
    oos = np.array([0.85, 0.87, 0.9, 0.92, 0.2])
    confidence = np.concatenate([correct_in_scope, oos])
    is_oos = np.arange(len(confidence)) >= len(correct_in_scope)
    routable = np.concatenate([np.ones(100, bool), [False, False, False, False, True]])
    assert choose_threshold(confidence, ~is_oos, is_oos, routable) < 0.5


def test_with_the_recall_met_the_cut_still_turns_away_the_models_own_mistakes() -> None:
    confidence = np.concatenate([np.linspace(0.6, 1.0, 50), np.linspace(0.1, 0.4, 50), [0.9]])
    correct = np.concatenate([np.ones(50, bool), np.zeros(51, bool)])
    is_oos = np.arange(101) == 100
    threshold = choose_threshold(confidence, correct, is_oos, routable=~is_oos)
    assert 0.4 < threshold <= 0.6


def test_without_out_of_scope_rows_the_threshold_keeps_most_correct_routing() -> None:
    confidence = np.linspace(0.5, 1.0, 100)
    threshold = choose_threshold(confidence, np.ones(100, bool), np.zeros(100, bool))
    assert 0.52 < threshold < 0.53  # the 5th percentile of correct confidences


def test_error_free_held_out_slice_does_not_make_every_answer_certain() -> None:
    scores = np.array([[4.0, 0.0], [0.0, 4.0]] * 20)
    truth = np.array([0, 1] * 20)
    temperature = fit_temperature(scores, truth)
    top_probability = 1 / (1 + np.exp(-4.0 / temperature))
    assert 0.9 < top_probability < 0.999


def test_a_few_well_separated_intents_still_leave_room_for_doubt() -> None:
    """Four banking intents are held out without a single mistake; before the
    temperature was regularised this gave threshold 1.0 and certainty for any text."""
    texts, labels = read_training_csv(DATA / "banking77_train_slice.csv")
    keep = {"change_pin", "card_arrival", "top_up_failed", "lost_or_stolen_card"}
    rows = [(text, label) for text, label in zip(texts, labels, strict=True) if label in keep]
    model = IntentModel.fit([text for text, _ in rows], [label for _, label in rows])
    [jazz] = model.predict(["play some jazz music"])
    assert model.threshold < 0.99
    assert jazz.confidence < model.threshold and not jazz.in_scope


# --- persistence --------------------------------------------------------------------


def test_save_and_load_give_identical_predictions(
    banking: IntentModel, banking_held_out: tuple[list[str], list[str]], tmp_path: Path
) -> None:
    path = tmp_path / "model.skops"
    banking.save(path)
    loaded = IntentModel.load(path)
    texts = banking_held_out[0] + CLEARLY_OUT_OF_SCOPE
    assert loaded.predict(texts) == banking.predict(texts)
    assert loaded.labels == banking.labels and loaded.threshold == banking.threshold


class NotAModelPart:
    """Stands in for a type an attacker could smuggle into a model file."""


def test_load_refuses_files_with_foreign_types(banking: IntentModel, tmp_path: Path) -> None:
    path = tmp_path / "tampered.skops"
    skops_io.dump({"format": "switchboard.intents/1", "payload": NotAModelPart()}, path)
    with pytest.raises(IntentModelFileError, match="NotAModelPart"):
        IntentModel.load(path)


def test_load_refuses_a_pickle(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"format": "switchboard.intents/1"}))
    with pytest.raises(IntentModelFileError, match="not an intent model file"):
        IntentModel.load(path)


def test_load_refuses_a_skops_file_not_written_by_save(tmp_path: Path) -> None:
    path = tmp_path / "other.skops"
    skops_io.dump({"threshold": 0.5}, path)
    with pytest.raises(IntentModelFileError, match="not written by IntentModel.save"):
        IntentModel.load(path)


def test_load_of_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(IntentModelFileError, match="No intent model"):
        IntentModel.load(tmp_path / "absent.skops")


def test_threshold_override_previews_a_looser_or_stricter_cut(banking: IntentModel) -> None:
    texts = CLEARLY_OUT_OF_SCOPE[:1] + ["I still have not received my new card"]
    assert [p.in_scope for p in banking.predict(texts, threshold=0.0)] == [True, True]
    assert [p.in_scope for p in banking.predict(texts, threshold=1.01)] == [False, False]
    assert [p.in_scope for p in banking.predict(texts)] == [False, True]


# --- sentence embeddings as extra features ------------------------------------------


class HashedWords:
    """A stand-in sentence encoder: the same unit vector for the same words, near
    vectors for messages sharing words. Deterministic and offline."""

    name = "hashed-words-test"

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), 64), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                vectors[row, sum(map(ord, word)) % 64] += 1.0
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def test_an_encoder_adds_features_and_travels_with_the_model_by_name(
    banking_held_out: tuple[list[str], list[str]], tmp_path: Path
) -> None:
    encoder = HashedWords()
    model = IntentModel.fit(*read_training_csv(DATA / "banking77_train_slice.csv"), encoder=encoder)
    assert model.encoder_name == "hashed-words-test"
    texts, truth = banking_held_out
    predictions = model.predict(texts)
    assert np.mean([p.intent == t for p, t in zip(model.predict(texts, threshold=0.0), truth, strict=True)]) >= 0.9
    path = tmp_path / "model.skops"
    model.save(path)
    assert IntentModel.load(path, encoder=encoder).predict(texts) == predictions
    with pytest.raises(IntentModelFileError, match="hashed-words-test"):
        IntentModel.load(path)  # the encoder is saved by name: without it the model cannot route


def test_a_message_of_unknown_words_is_out_of_scope_even_with_embeddings() -> None:
    model = IntentModel.fit(*read_training_csv(DATA / "banking77_train_slice.csv"), encoder=HashedWords())
    for prediction in model.predict(["", "🙂🙂"]):
        assert prediction.intent == OUT_OF_SCOPE and not prediction.in_scope


def test_a_version_1_model_file_still_loads(banking: IntentModel, tmp_path: Path) -> None:
    path = tmp_path / "v1.skops"
    skops_io.dump({"format": "switchboard.intents/1", "temperature": banking._temperature,
                   "threshold": banking.threshold, "pipeline": banking._pipeline}, path)
    loaded = IntentModel.load(path)
    assert loaded.encoder_name is None
    assert loaded.predict(CLEARLY_OUT_OF_SCOPE) == banking.predict(CLEARLY_OUT_OF_SCOPE)


def test_routing_one_message_computes_the_features_scikit_learn_would(banking: IntentModel) -> None:
    """The per-message path stacks the FeatureUnion's parts itself (joblib's per-call
    cost was more than the TF-IDF's): the features, hence every score, are the same."""
    texts = ["I was charged twice for one order", "Où est ma carte ? Ça fait 2 semaines",
             "", "!!!", "top up", "ZZZZ qqqq"]
    pipeline = banking._pipeline
    for batch in ([t] for t in texts):
        ours, theirs = transform(pipeline, batch), pipeline[:-1].transform(batch)
        assert ours.shape == theirs.shape and (ours != theirs).nnz == 0, batch
    assert (transform(pipeline, texts) != pipeline[:-1].transform(texts)).nnz == 0


ODD_MESSAGES = ["I was charged twice for one order", "Où est ma carte ? Ça fait 2 semaines", "", "!!!", "top up",
                "ZZZZ qqqq", "card card card card declined declined", "TOP UP top-up Top Up"]


@pytest.mark.parametrize("encoder", [None, HashedWords()], ids=["tf-idf", "with embeddings"])
def test_routing_scores_are_the_ones_scikit_learn_computes(
    banking_held_out: tuple[list[str], list[str]], encoder: HashedWords | None
) -> None:
    """Routing scores a message from the fitted parameters instead of through
    scikit-learn's transform and decision_function (their per-call checks cost ten
    times the arithmetic): same scores, same known-words verdict, on held-out messages
    and odd ones (repeated words, accents, nothing known)."""
    model = IntentModel.fit(*read_training_csv(DATA / "banking77_train_slice.csv"), encoder=encoder)
    assert model._scorer is not None
    texts = banking_held_out[0] + ODD_MESSAGES
    features, known = model._features(texts)
    ours, our_known = model._scores(texts)
    # with an encoder, the nearest examples' votes are added (core/intents/neighbours.py)
    voting = model._neighbours
    votes = 0.0 if voting is None else voting.weight * voting.votes(message_vectors(encoder, texts))
    np.testing.assert_allclose(ours, class_scores(model._pipeline, features) + votes, rtol=1e-9, atol=1e-12)
    assert (our_known == known).all() and not known[-6] and not known[-3]
    one_at_a_time = np.vstack([model._scores([text])[0] for text in texts[-len(ODD_MESSAGES):]])
    # the votes' cosines are float32 products, which BLAS sums in another order for one row
    tolerance = 1e-12 if encoder is None else 1e-6
    np.testing.assert_allclose(one_at_a_time, ours[-len(ODD_MESSAGES):], rtol=tolerance, atol=tolerance)


def test_a_two_intent_model_scores_both_classes_as_scikit_learn_does() -> None:
    """With two classes the SVM has one score column; routing adds the other as 0."""
    texts = ["where is my parcel", "my parcel has not arrived", "track my delivery", "when will my order come",
             "delivery is late", "refund please", "I want my money back", "how do I get a refund",
             "refund my order", "return and refund"]
    model = IntentModel.fit(texts, ["delivery"] * 5 + ["refund"] * 5)
    features, _ = model._features(ODD_MESSAGES + texts)
    ours, _ = model._scores(ODD_MESSAGES + texts)
    assert ours.shape == (len(texts) + len(ODD_MESSAGES), 2)
    np.testing.assert_allclose(ours, class_scores(model._pipeline, features), rtol=1e-9, atol=1e-12)


def test_a_pipeline_of_another_shape_is_scored_by_scikit_learn(banking: IntentModel) -> None:
    """A saved pipeline whose final step is not the LinearSVC this module trains still
    routes, through scikit-learn's own path."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    texts, labels = read_training_csv(DATA / "banking77_train_slice.csv")
    pipeline = make_pipeline(banking._pipeline[0], LogisticRegression(max_iter=200)).fit(texts, labels)
    model = IntentModel(pipeline, temperature=1.0, threshold=0.0)
    assert model._scorer is None
    assert [p.intent for p in model.predict(texts[:20])] == list(pipeline.predict(texts[:20]))


class QueriesOnly(HashedWords):
    """An asymmetric encoder (as E5 is) that records which side each text was embedded as."""

    name = "queries-only-test"

    def __init__(self) -> None:
        self.as_queries: list[str] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        raise AssertionError(f"embedded as passages: {texts[:3]}")

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        self.as_queries.extend(texts)
        return super().encode(texts)


def test_examples_and_messages_are_both_embedded_as_queries() -> None:
    """E5 is trained to compare a "query: " with a "passage: ": an example embedded as one
    and a message as the other would be compared across the two sides."""
    encoder = QueriesOnly()
    texts, labels = read_training_csv(DATA / "banking77_train_slice.csv")
    model = IntentModel.fit(texts, labels, encoder=encoder)
    assert set(encoder.as_queries) == set(texts)
    model.predict(["I still have not received my new card"])
    assert encoder.as_queries[-1] == "I still have not received my new card"


def test_known_vectors_are_used_instead_of_embedding_again() -> None:
    texts, labels = read_training_csv(DATA / "banking77_train_slice.csv")
    known = dict(zip(texts, HashedWords().encode(texts), strict=True))
    encoder = QueriesOnly()
    with_known = IntentModel.fit(texts, labels, encoder=encoder, known_vectors=known)
    assert encoder.as_queries == []
    embedded = IntentModel.fit(texts, labels, encoder=QueriesOnly())
    assert with_known.predict(CLEARLY_OUT_OF_SCOPE + texts[:20]) == embedded.predict(CLEARLY_OUT_OF_SCOPE + texts[:20])


def test_the_embedding_weight_is_saved_with_the_model(tmp_path: Path) -> None:
    encoder = HashedWords()
    texts, labels = read_training_csv(DATA / "banking77_train_slice.csv")
    model = IntentModel.fit(texts, labels, encoder=encoder, embedding_weight=3.0)
    model.save(tmp_path / "model.skops")
    loaded = IntentModel.load(tmp_path / "model.skops", encoder=encoder)
    assert loaded._embedding_weight == 3.0
    assert loaded.predict(texts[:30]) == model.predict(texts[:30])


# --- the shipped model, read with the multilingual encoder ----------------------------


def trigger_intents() -> dict[str, float]:
    """The shipped escalation policy's intents that hand a conversation over, and the
    confidence each needs."""
    from switchboard.core.bot.escalation import TopicRule
    from switchboard.core.bot.escalation_file import load_policy

    return {intent: rule.min_confidence for rule in load_policy().rules
            if isinstance(rule, TopicRule) and rule.enabled and rule.min_confidence is not None
            for intent in rule.intents}


def fires(prediction: IntentPrediction, triggers: dict[str, float]) -> bool:
    intent = prediction.intent
    return prediction.in_scope and intent in triggers and prediction.confidence >= triggers[intent]


def expected(label: str) -> str:
    return OUT_OF_SCOPE if label == "oos" else label


@pytest.fixture(scope="module")
def shop_e5() -> IntentModel:
    from switchboard.core.intents.store import default_intent_model
    from switchboard.core.knowledge.embeddings import E5

    model = default_intent_model("e5")
    assert model.encoder_name == E5
    return model


def test_the_shipped_model_routes_held_out_english_paraphrases(shop_e5: IntentModel) -> None:
    """Two messages per shipped intent, written apart from the shipped examples.
    Measured: 34 of 34."""
    texts, labels = read_training_csv(DATA / "intents_shop_paraphrases.csv")
    predictions = shop_e5.predict(texts)
    right = [p.intent == expected(label) for p, label in zip(predictions, labels, strict=True)]
    assert np.mean(right) >= 0.9, [p for p, ok in zip(predictions, right, strict=True) if not ok]


def multilingual() -> list[tuple[str, str, str]]:
    """(text, intent, language): tests/core/data/intents_multilingual.csv, 12 messages in
    each of es, fr, de, pt and it, labelled with the shipped intents (``oos``: none)."""
    import csv

    with (DATA / "intents_multilingual.csv").open(encoding="utf-8") as file:
        return [(row["text"], row["category"], row["language"]) for row in csv.DictReader(file)]


def ordinary_messages_routed_to(model: IntentModel, intents: set[str]) -> list[IntentPrediction]:
    """The fixture's messages labelled with no intent of ``intents`` that the model routes
    to one of them (at any confidence)."""
    rows = [text for text, label, _ in multilingual() if label not in intents]
    return [p for p in model.predict(rows) if p.in_scope and p.intent in intents]


def test_no_ordinary_message_in_another_language_is_routed_to_a_person_fraud_or_legal(shop_e5: IntentModel) -> None:
    """The Spanish customer asking when the parcel reaches Madrid was handed to a person
    ("customer asked for a person") by English character n-grams. With the multilingual
    encoder no ordinary message of the 46 in five languages goes to one of the handoffs
    that cost most when wrong."""
    assert {"human_agent", "fraud", "legal"} <= set(trigger_intents())
    assert ordinary_messages_routed_to(shop_e5, {"human_agent", "fraud", "legal"}) == []
    [madrid] = shop_e5.predict(["¿En cuántos días me llega el paquete a Madrid?"])
    assert madrid.intent != "human_agent" and madrid.best_intent != "human_agent"


@pytest.mark.xfail(strict=True, reason="measured: \"J'ai reçu la mauvaise taille\" (a wrong size came) is "
                                       "a complaint at 0.83, read by the encoder alone (none of its words are the "
                                       "examples')")
def test_no_ordinary_message_in_another_language_fires_any_escalation_trigger(shop_e5: IntentModel) -> None:
    """Complaints included: a wrong size is not one. Strict: passing will say the limit is gone."""
    triggers = trigger_intents()
    assert [p for p in ordinary_messages_routed_to(shop_e5, set(triggers)) if fires(p, triggers)] == []


def test_requests_for_a_person_in_other_languages_are_human_agent(shop_e5: IntentModel) -> None:
    triggers = trigger_intents()
    for text in ["quiero hablar con una persona", "je veux parler à un humain"]:
        [prediction] = shop_e5.predict([text])
        assert prediction.intent == "human_agent" and fires(prediction, triggers), prediction


def test_the_shipped_model_routes_other_languages(shop_e5: IntentModel) -> None:
    """Measured (bench/intents.py, shipped.e5.multilingual): 57 of 60 routed right, 11 or
    12 of each language's 12; the TF-IDF model alone routed 11 (and fired a trigger for 2
    ordinary ones). The bars leave room for a message or two, and fail if the encoder
    stops carrying meaning across languages."""
    rows = multilingual()
    predictions = shop_e5.predict([text for text, _, _ in rows])
    right = {language: [] for _, _, language in rows}
    for (_, label, language), prediction in zip(rows, predictions, strict=True):
        right[language].append(prediction.intent == expected(label))
    assert np.mean(sum(right.values(), [])) >= 0.9, {language: np.mean(r) for language, r in right.items()}
    assert all(np.mean(r) >= 0.75 for r in right.values()), {language: np.mean(r) for language, r in right.items()}


def test_a_message_in_another_script_is_routed_when_it_is_like_the_examples(shop_e5: IntentModel) -> None:
    """tests/core/data/intents_other_scripts.csv: shop requests and other questions in
    Russian, Chinese, Japanese, Arabic, Korean, Ukrainian and Greek, written after the rule
    was chosen on other messages. They share not one character sequence with the English
    examples, so every one was out of scope (0 of 26 requests routed) although the
    encoder reads them; now those whose vector is like their intent's examples are routed
    (7 of 26 measured), none to a wrong intent, and no question outside the shop is."""
    import csv

    with (DATA / "intents_other_scripts.csv").open(encoding="utf-8") as file:
        rows = [(row["text"], expected(row["category"])) for row in csv.DictReader(file)]
    predictions = shop_e5.predict([text for text, _ in rows])
    judged = list(zip(rows, predictions, strict=True))
    assert [p for (_, label), p in judged if p.in_scope and p.intent != label] == []
    assert sum(p.intent == label for (_, label), p in judged if label != OUT_OF_SCOPE) >= 6
    [where] = shop_e5.predict(["Где мой заказ?"])
    assert (where.intent, where.familiar) == ("order_status", True)


def test_a_message_without_words_stays_out_of_scope_whatever_its_vector(shop_e5: IntentModel) -> None:
    """Read by its vector alone, "。。。" is close to the greetings; a vector of no words is
    no evidence."""
    for prediction in shop_e5.predict(["", "🙂🙂", "。。。", "?!"]):
        assert not prediction.in_scope, prediction
