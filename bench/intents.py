"""Intent routing benchmark: ours, read with each sentence encoder asked for, against
TF-IDF + logistic regression and naive Bayes baselines, in one run.

    python bench/intents.py --banking77 /work/shared/data/banking77/train.csv \\
        --clinc150 /work/shared/data/clinc150/data_train_val.json --encoders none,wordllama,e5 \\
        [--vector-cache DIR] [--tune]

Prints one JSON object. BANKING77 measures routing accuracy on a held-out stratified
20% of train.csv (seed 0; the model's settings were chosen on splits of the other
80% only). CLINC150 measures "knowing when it does not know": trained on ``train`` +
``oos_train``, scored on ``val`` + ``oos_val``. In-scope accuracy counts a rejected
in-scope message as wrong, as in the CLINC150 paper.

Ours chooses its threshold with ``choose_threshold`` (core/intents/calibration.py): with
out-of-scope training rows, the lowest cut that still rejects 92.5% of them, every row
held out once (2 folds); without them, the cut keeping 95% of the correctly routed rows
of a held-out fifth. The baselines are routed by the same rule (best in-scope intent
when at least as sure as the threshold), on a held-out fifth of their training rows, so
the figures compare models more than thresholds. ``ours`` holds one entry per ``--encoders``
name (``none``: TF-IDF alone; ``e5``, ``wordllama``, ``minilm``: that encoder's
embeddings added as features, as ``settings.embeddings`` names them), all from the same
split in the same run.

``shipped`` measures the model fitted on the shipped examples (switchboard/data/
intents_default.csv) per encoder: on English paraphrases of them and on messages in
Spanish, French, German, Portuguese and Italian (both written for this, in
tests/core/data/; the model never sees them), how many ordinary messages would fire an
escalation trigger by their intent, and the time to route one new message.

``--tune`` (never the reported splits): the embedding weight on an 80/20 split of the
BANKING77 part the model is trained on and of CLINC150's train, and
bench/data/intents_multilingual_dev.csv (written apart from the test fixture); a linear
SVM on the embeddings alone (do the words help?); and the share of those English
messages whose words are so unlike the examples' that the encoder alone reads them.
``--vector-cache DIR`` keeps the encoders' vectors of the benchmark texts between runs
(multilingual-e5-small embeds ~30,000 texts in about half an hour on one core).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import sklearn
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.svm import LinearSVC

from switchboard.core.bot.escalation import TopicRule
from switchboard.core.bot.escalation_file import load_policy
from switchboard.core.intents.model import (
    HOLDOUT_FRACTION,
    MIN_WORD_COVERAGE,
    OUT_OF_SCOPE,
    IntentModel,
    IntentPrediction,
    choose_threshold,
    default_training_csv,
    embedding_weight_for,
    read_training_csv,
)
from switchboard.core.intents.store import SHIPPED_VOTES_WEIGHT
from switchboard.core.intents.vectors import shipped_vectors
from switchboard.core.knowledge.embeddings import E5, MINILM, WORDLLAMA, SentenceEncoder, encoder_named, queries

TEST_FRACTION = 0.2
SPLIT_SEED = 0
CALIBRATION_BINS = 10
#: ``settings.embeddings`` names, as the product reads them.
ENCODERS = {"none": None, "e5": E5, "wordllama": WORDLLAMA, "minilm": MINILM}
#: Embedding weights tried by --tune (the TF-IDF blocks are unit-length, so are the vectors).
TUNING_WEIGHTS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0)
#: The sets the shipped model is measured on: written for this, never trained on.
TEST_DATA = Path(__file__).resolve().parent.parent / "tests" / "core" / "data"
SHIPPED_SETS = {"paraphrases_en": TEST_DATA / "intents_shop_paraphrases.csv",
                "multilingual": TEST_DATA / "intents_multilingual.csv"}
MULTILINGUAL_DEV = Path(__file__).resolve().parent / "data" / "intents_multilingual_dev.csv"
#: New messages (in none of the sets) routed one at a time for the per-message time.
TIMING_MESSAGES = 100
T = TypeVar("T")
Encoders = dict[str, SentenceEncoder | None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--banking77", type=Path, required=True, help="BANKING77 train.csv")
    parser.add_argument("--clinc150", type=Path, required=True, help="CLINC150 data_train_val.json")
    parser.add_argument("--encoders", default="none,e5",
                        help=f"Comma-separated, side by side: {', '.join(ENCODERS)} (default: none,e5).")
    parser.add_argument("--vector-cache", type=Path,
                        help="Directory keeping each encoder's vectors of the benchmark texts between runs.")
    parser.add_argument("--tune", action="store_true",
                        help="Measure embedding weights on tuning splits instead of the reported figures.")
    args = parser.parse_args()
    unknown = [name for name in args.encoders.split(",") if name not in ENCODERS]
    if unknown:
        parser.error(f"unknown encoder {', '.join(unknown)}: use {', '.join(ENCODERS)}")
    encoders: Encoders = {}
    for name in args.encoders.split(","):
        model = ENCODERS[name]
        encoders[name] = None if model is None else remembered(encoder_named(model), args.vector_cache)
    environment = {"python": platform.python_version(), "scikit_learn": sklearn.__version__,
                   "cpus": os.cpu_count(), "encoders": {name: ENCODERS[name] for name in encoders}}
    if args.tune:
        report = {"tuning": tuning(args.banking77, args.clinc150, encoders), "environment": environment}
    else:
        report = {
            "banking77": banking77(args.banking77, encoders),
            "clinc150": clinc150(args.clinc150, encoders),
            "shipped": {name: shipped(encoder) for name, encoder in encoders.items()},
            "environment": environment,
        }
    print(json.dumps(report, indent=2))


# --- the reported figures ----------------------------------------------------------------


def banking77_split(path: Path) -> tuple[list[str], list[str], list[str], list[str]]:
    texts, labels = read_training_csv(path)
    return train_test_split(texts, labels, test_size=TEST_FRACTION, stratify=labels, random_state=SPLIT_SEED)


def banking77(path: Path, encoders: Encoders) -> dict:
    train_x, test_x, train_y, test_y = banking77_split(path)
    return {
        "split": {"train": len(train_x), "test": len(test_x), "intents": len(set(train_y)),
                  "test_fraction": TEST_FRACTION, "seed": SPLIT_SEED,
                  "reported_on": "held-out 20% of train.csv"},
        "ours": {name: banking77_scores(train_x, train_y, test_x, test_y, encoder)
                 for name, encoder in encoders.items()},
        # the same model with the SVM alone (before core/intents/neighbours.py), same run
        "ours_without_votes": {name: banking77_scores(train_x, train_y, test_x, test_y, encoder, votes_weight=0.0)
                               for name, encoder in encoders.items() if encoder is not None},
        "baseline_tfidf_logreg": Baseline.fit(tfidf_logreg, train_x, train_y).scores(test_x, test_y),
        "baseline_naive_bayes": Baseline.fit(naive_bayes, train_x, train_y).scores(test_x, test_y),
        "notes": "accuracy and macro_f1 are closed-set (every message gets its best intent); "
                 "routed_* apply the trained out-of-scope threshold; routed_accuracy counts "
                 "a rejected message as wrong. messages_per_second excludes embedding when "
                 "--vector-cache holds the vectors (see shipped.*.per_message_ms).",
    }


def banking77_scores(train_x: list[str], train_y: list[str], test_x: list[str], test_y: list[str],
                     encoder: SentenceEncoder | None, weight: float | None = None,
                     votes_weight: float | None = None) -> dict:
    model, fit_seconds = timed(lambda: IntentModel.fit(train_x, train_y, encoder=encoder, embedding_weight=weight,
                                                       votes_weight=votes_weight))
    (routed, closed), predict_seconds = timed(
        lambda: (model.predict(test_x), model.predict(test_x, threshold=0.0)))
    closed_intents = [p.intent for p in closed]
    taken = [p for p in routed if p.in_scope]
    return {
        "accuracy": round(accuracy_score(test_y, closed_intents), 4),
        "macro_f1": round(f1_score(test_y, closed_intents, average="macro"), 4),
        "expected_calibration_error": round(calibration_error(
            np.array([p.confidence for p in closed]), np.array(closed_intents) == np.array(test_y)), 4),
        "threshold": round(model.threshold, 4),
        "votes_weight": model.votes_weight,
        "routed_share": round(len(taken) / len(routed), 4),
        "routed_precision": round(sum(
            p.intent == t for p, t in zip(routed, test_y, strict=True) if p.in_scope
        ) / max(len(taken), 1), 4),
        "routed_accuracy": round(sum(
            p.intent == t for p, t in zip(routed, test_y, strict=True) if p.in_scope) / len(routed), 4),
        "fit_seconds": round(fit_seconds, 2),
        "messages_per_second": round(2 * len(test_x) / predict_seconds),
    }


@dataclass(frozen=True)
class Clinc:
    train_x: list[str]
    train_y: list[str]
    oos_train: list[str]
    val_x: list[str]
    val_y: list[str]
    oos_val: list[str]

    @classmethod
    def read(cls, path: Path) -> Clinc:
        data = json.loads(path.read_text(encoding="utf-8"))

        def texts(part: str) -> list[str]:
            return [text for text, _ in data[part]]

        return cls(texts("train"), [label for _, label in data["train"]], texts("oos_train"),
                   texts("val"), [label for _, label in data["val"]], texts("oos_val"))


def clinc150(path: Path, encoders: Encoders) -> dict:
    data = Clinc.read(path)
    # Same model family trained on in-scope rows only: what the threshold alone does.
    without_oos_rows = {}
    for name, encoder in encoders.items():
        closed_model = IntentModel.fit(data.train_x, data.train_y, encoder=encoder)
        without_oos_rows[name] = open_set_scores(
            [p.intent for p in closed_model.predict(data.val_x)], data.val_y,
            [p.intent for p in closed_model.predict(data.oos_val)])
    baseline_rows = (data.train_x + data.oos_train, data.train_y + [OUT_OF_SCOPE] * len(data.oos_train))
    baselines = {name: Baseline.fit(make, *baseline_rows)
                 for name, make in (("baseline_tfidf_logreg", tfidf_logreg), ("baseline_naive_bayes", naive_bayes))}
    return {
        "split": {"train": len(data.train_x), "oos_train": len(data.oos_train), "val": len(data.val_x),
                  "oos_val": len(data.oos_val), "intents": len(set(data.train_y)),
                  "reported_on": "val + oos_val"},
        "ours": {name: clinc150_scores(data.train_x, data.train_y, data.oos_train, data.val_x, data.val_y,
                                       data.oos_val, encoder) for name, encoder in encoders.items()},
        "ours_without_votes": {name: clinc150_scores(data.train_x, data.train_y, data.oos_train, data.val_x,
                                                     data.val_y, data.oos_val, encoder, votes_weight=0.0)
                               for name, encoder in encoders.items() if encoder is not None},
        "ours_without_oos_training_rows": without_oos_rows,
        "notes": "in_scope_accuracy counts rejected in-scope messages as wrong; "
                 "closed_set_accuracy applies no threshold (the out-of-scope class can still win).",
        **{name: baseline.open_set_scores(data.val_x, data.val_y, data.oos_val)
           for name, baseline in baselines.items()},
    }


def clinc150_scores(train_x: list[str], train_y: list[str], oos_train: list[str], val_x: list[str],
                    val_y: list[str], oos_val: list[str], encoder: SentenceEncoder | None,
                    weight: float | None = None, votes_weight: float | None = None) -> dict:
    model, fit_seconds = timed(lambda: IntentModel.fit(train_x, train_y, out_of_scope=oos_train, encoder=encoder,
                                                       embedding_weight=weight, votes_weight=votes_weight))
    in_scope = model.predict(val_x)
    out_of_scope = model.predict(oos_val)
    return {
        **open_set_scores([p.intent for p in in_scope], val_y, [p.intent for p in out_of_scope]),
        "closed_set_accuracy": round(float(np.mean(
            [p.intent == t for p, t in zip(model.predict(val_x, threshold=0.0), val_y, strict=True)])), 4),
        "threshold": round(model.threshold, 4),
        "votes_weight": model.votes_weight,
        "fit_seconds": round(fit_seconds, 2),
    }


# --- the shipped model ----------------------------------------------------------------


def shipped(encoder: SentenceEncoder | None, weight: float | None = None, *,
            sets: dict[str, Path] = SHIPPED_SETS, timing: bool = True) -> dict:
    """The model fitted on the shipped examples, on messages written apart from them."""
    texts, labels = read_training_csv(default_training_csv())
    live = getattr(encoder, "encoder", encoder)  # the encoder itself, not the benchmark's vector cache
    model = IntentModel.fit(texts, labels, encoder=encoder, embedding_weight=weight, votes_weight=SHIPPED_VOTES_WEIGHT,
                            known_vectors=shipped_vectors(live) if live is not None else None)
    report: dict[str, object] = {"weight": None if encoder is None else (weight or embedding_weight_for(encoder))}
    for name, path in sets.items():
        report[name] = shipped_set_scores(model, path)
    if timing:
        report["per_message_ms"] = per_message_ms(texts, labels, live)
    return report


def shipped_set_scores(model: IntentModel, path: Path) -> dict:
    """Routing accuracy (an ``oos`` row is right when rejected), per language where the
    file says; and ordinary messages that would fire an escalation trigger by intent."""
    rows = read_rows_with_language(path)
    predictions = model.predict([text for text, _, _ in rows])
    triggers = trigger_intents()

    def fires(p: IntentPrediction) -> bool:
        return p.in_scope and p.intent in triggers and p.confidence >= triggers[p.intent]

    def scores(picked: Iterable[int]) -> dict:
        picked = list(picked)
        right = [predictions[i].intent == normal(rows[i][1]) for i in picked]
        ordinary = [i for i in picked if normal(rows[i][1]) not in triggers]
        wanted = [i for i in picked if normal(rows[i][1]) in triggers]
        theirs = sum(fires(predictions[i]) and predictions[i].intent == normal(rows[i][1]) for i in wanted)
        return {"messages": len(picked), "accuracy": round(float(np.mean(right)), 4),
                "ordinary_firing_a_trigger": sum(fires(predictions[i]) for i in ordinary),
                "trigger_messages_firing_theirs": f"{theirs}/{len(wanted)}"}

    languages = sorted({language for _, _, language in rows if language})
    report = scores(range(len(rows)))
    if languages:
        report["by_language"] = {language: scores(i for i, row in enumerate(rows) if row[2] == language)
                                 for language in languages}
    report["wrong"] = [f"{rows[i][0]} -> {p.intent if p.in_scope else f'out_of_scope ({p.best_intent})'} "
                       f"{p.confidence:.2f} (labelled {rows[i][1]})"
                       for i, p in enumerate(predictions) if p.intent != normal(rows[i][1])]
    return report


def per_message_ms(texts: list[str], labels: list[str], encoder: SentenceEncoder | None) -> dict:
    """Routing one message never seen before (the encoder's cache misses), then the same
    message again (what retrieval's own encoding of it costs after routing: a cache hit)."""
    model = IntentModel.fit(texts, labels, encoder=encoder, votes_weight=SHIPPED_VOTES_WEIGHT,
                            known_vectors=shipped_vectors(encoder) if encoder is not None else None)
    messages = [f"my order {number} has not arrived, it was due on day {number % 28 + 1}"
                for number in range(TIMING_MESSAGES)]
    first, again = [], []
    for message in messages:
        first.append(timed(lambda message=message: model.predict([message]))[1])
        if encoder is not None:
            again.append(timed(lambda message=message: queries(encoder, [message]))[1])
    report = {"first_p50": round(1000 * float(np.median(first)), 2),
              "first_p95": round(1000 * float(np.quantile(first, 0.95)), 2)}
    if again:
        report["same_text_encoded_again_p50"] = round(1000 * float(np.median(again)), 3)
    return report


# --- tuning (never on a reported split) ---------------------------------------------


def tuning(banking_path: Path, clinc_path: Path, encoders: Encoders) -> dict:
    """The embedding weight per encoder: BANKING77 accuracy on a fifth of the part the
    reported model trains on; CLINC150 in-scope accuracy and out-of-scope recall on a
    fifth of train and oos_train; the shipped model on bench/data's multilingual dev set.
    Also a LinearSVC on the embeddings alone (no TF-IDF), to say whether words help."""
    bank_x, _, bank_y, _ = banking77_split(banking_path)
    fit_x, tune_x, fit_y, tune_y = train_test_split(bank_x, bank_y, test_size=TEST_FRACTION, stratify=bank_y,
                                                    random_state=SPLIT_SEED)
    clinc = Clinc.read(clinc_path)
    c_fit_x, c_tune_x, c_fit_y, c_tune_y = train_test_split(clinc.train_x, clinc.train_y, test_size=TEST_FRACTION,
                                                            stratify=clinc.train_y, random_state=SPLIT_SEED)
    o_fit, o_tune = train_test_split(clinc.oos_train, test_size=TEST_FRACTION, random_state=SPLIT_SEED)
    report: dict[str, object] = {"split": {"banking77": {"fit": len(fit_x), "tune": len(tune_x)},
                                           "clinc150": {"fit": len(c_fit_x), "tune": len(c_tune_x),
                                                        "oos_fit": len(o_fit), "oos_tune": len(o_tune)}}}
    lexical = IntentModel.fit(fit_x, fit_y), IntentModel.fit(c_fit_x, c_fit_y, out_of_scope=o_fit)
    report["read_by_meaning_alone"] = {  # the share of English messages the MeaningHead would take
        "banking77": round(float(np.mean(lexical[0].word_coverage(tune_x) < MIN_WORD_COVERAGE)), 4),
        "clinc150": round(float(np.mean(lexical[1].word_coverage(c_tune_x) < MIN_WORD_COVERAGE)), 4),
        "min_word_coverage": round(MIN_WORD_COVERAGE, 4)}
    for name, encoder in encoders.items():
        weights: Sequence[float | None] = (None,) if encoder is None else TUNING_WEIGHTS
        rows = {}
        for weight in weights:
            bank = banking77_scores(fit_x, fit_y, tune_x, tune_y, encoder, weight)
            clinc_scores = clinc150_scores(c_fit_x, c_fit_y, o_fit, c_tune_x, c_tune_y, o_tune, encoder, weight)
            dev = shipped(encoder, weight, sets={"multilingual_dev": MULTILINGUAL_DEV}, timing=False)
            rows[str(weight or "-")] = {
                "banking77_accuracy": bank["accuracy"], "banking77_routed_accuracy": bank["routed_accuracy"],
                "clinc150_in_scope_accuracy": clinc_scores["in_scope_accuracy"],
                "clinc150_oos_recall": clinc_scores["oos_recall"],
                "clinc150_closed_set_accuracy": clinc_scores["closed_set_accuracy"],
                "multilingual_dev": {key: value for key, value in dev["multilingual_dev"].items()  # type: ignore[union-attr]
                                     if key != "by_language"}}
        if encoder is not None:
            rows["embeddings_only_closed_set"] = {
                "banking77_accuracy": embeddings_only(encoder, fit_x, fit_y, tune_x, tune_y),
                "clinc150_closed_set_accuracy": embeddings_only(encoder, c_fit_x, c_fit_y, c_tune_x, c_tune_y)}
        report[name] = rows
    return report


def embeddings_only(encoder: SentenceEncoder, train_x: list[str], train_y: list[str], test_x: list[str],
                    test_y: list[str]) -> float:
    classifier = LinearSVC(C=1.0, random_state=SPLIT_SEED).fit(queries(encoder, train_x), train_y)
    return round(accuracy_score(test_y, classifier.predict(queries(encoder, test_x))), 4)


# --- helpers ------------------------------------------------------------------------


class RememberedQueries:
    """An encoder whose query vectors of the benchmark's texts are kept in a file, so a
    second run (or the tuning run) does not embed 30,000 texts again."""

    def __init__(self, encoder: SentenceEncoder, directory: Path) -> None:
        self.name = encoder.name
        self.encoder = encoder
        self._path = directory / f"{encoder.name}.queries.npz"
        self._known: dict[str, np.ndarray] = {}
        if self._path.is_file():
            with np.load(self._path, allow_pickle=False) as stored:
                self._known = dict(zip(map(str, stored["texts"]), stored["vectors"], strict=True))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.encoder.encode(texts)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        missing = [text for text in dict.fromkeys(texts) if text not in self._known]
        if missing:
            self._known.update(zip(missing, queries(self.encoder, missing), strict=True))
            self._path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(self._path, texts=np.array(list(self._known)), vectors=np.stack(list(self._known.values())))
        if not texts:
            return queries(self.encoder, [])
        return np.stack([self._known[text] for text in texts])


def remembered(encoder: SentenceEncoder, directory: Path | None) -> SentenceEncoder:
    return encoder if directory is None else RememberedQueries(encoder, directory)


def read_rows_with_language(path: Path) -> list[tuple[str, str, str]]:
    """``text,category[,language]`` rows."""
    import csv

    with path.open(encoding="utf-8") as file:
        return [(row["text"], row["category"], row.get("language") or "") for row in csv.DictReader(file)]


def normal(label: str) -> str:
    return OUT_OF_SCOPE if label in ("oos", OUT_OF_SCOPE) else label


def trigger_intents() -> dict[str, float]:
    """The shipped escalation policy's intents that hand a conversation over, with the
    confidence each needs."""
    return {intent: rule.min_confidence for rule in load_policy().rules
            if isinstance(rule, TopicRule) and rule.enabled and rule.min_confidence is not None
            for intent in rule.intents}


def open_set_scores(in_scope_intents: Sequence[str], truth: Sequence[str],
                    oos_intents: Sequence[str]) -> dict:
    return {
        "in_scope_accuracy": round(float(np.mean(
            [p == t for p, t in zip(in_scope_intents, truth, strict=True)])), 4),
        "in_scope_rejected": round(float(np.mean([p == OUT_OF_SCOPE for p in in_scope_intents])), 4),
        "oos_recall": round(float(np.mean([p == OUT_OF_SCOPE for p in oos_intents])), 4),
    }


def tfidf_logreg() -> Pipeline:
    """The baseline the routing issue measures against: word 1-2 gram TF-IDF and
    logistic regression, scikit-learn defaults otherwise."""
    return make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                         LogisticRegression(max_iter=2000))


def naive_bayes() -> Pipeline:
    """Plain bag of words, multinomial naive Bayes, default smoothing."""
    return make_pipeline(CountVectorizer(), MultinomialNB())


@dataclass(frozen=True)
class Baseline:
    """A probabilistic baseline routed as ours is: its best in-scope intent when at
    least ``threshold`` sure (and surer than of out-of-scope), the threshold chosen by
    the same rule (choose_threshold) on a held-out fifth of its training rows."""

    model: Pipeline
    threshold: float
    fit_seconds: float

    @classmethod
    def fit(cls, make: Callable[[], Pipeline], texts: list[str], labels: list[str]) -> Baseline:
        start = time.perf_counter()
        fit_x, held_x, fit_y, held_y = train_test_split(texts, labels, test_size=HOLDOUT_FRACTION,
                                                        stratify=labels, random_state=SPLIT_SEED)
        best, confidence = best_in_scope(make().fit(fit_x, fit_y), held_x)
        truth = np.array(held_y)
        threshold = choose_threshold(confidence, (best == truth) & (truth != OUT_OF_SCOPE), truth == OUT_OF_SCOPE,
                                     best != OUT_OF_SCOPE)
        return cls(make().fit(texts, labels), threshold, time.perf_counter() - start)

    def routes(self, texts: Sequence[str]) -> list[str]:
        best, confidence = best_in_scope(self.model, texts)
        return [str(b) if c >= self.threshold else OUT_OF_SCOPE for b, c in zip(best, confidence, strict=True)]

    def scores(self, test_x: Sequence[str], test_y: Sequence[str]) -> dict:
        closed = self.model.predict(test_x)
        routed = self.routes(test_x)
        taken = [(p, t) for p, t in zip(routed, test_y, strict=True) if p != OUT_OF_SCOPE]
        return {
            "accuracy": round(accuracy_score(test_y, closed), 4),
            "macro_f1": round(f1_score(test_y, closed, average="macro"), 4),
            "threshold": round(self.threshold, 4),
            "routed_share": round(len(taken) / len(routed), 4),
            "routed_precision": round(sum(p == t for p, t in taken) / max(len(taken), 1), 4),
            "routed_accuracy": round(sum(p == t for p, t in taken) / len(routed), 4),
            "fit_seconds": round(self.fit_seconds, 2),
        }

    def open_set_scores(self, val_x: Sequence[str], val_y: Sequence[str], oos_val: Sequence[str]) -> dict:
        return {**open_set_scores(self.routes(val_x), val_y, self.routes(oos_val)),
                "closed_set_accuracy": round(accuracy_score(val_y, self.model.predict(val_x)), 4),
                "threshold": round(self.threshold, 4), "fit_seconds": round(self.fit_seconds, 2)}


def best_in_scope(model: Pipeline, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each message's most probable in-scope intent (out_of_scope when that class is
    likelier still) and its probability."""
    probabilities = model.predict_proba(texts)
    in_scope = model.classes_ != OUT_OF_SCOPE
    scoped = probabilities[:, in_scope]
    column = scoped.argmax(axis=1)
    confidence = scoped[np.arange(len(texts)), column]
    best = model.classes_[in_scope][column].astype(object)
    if not in_scope.all():
        best[probabilities[:, ~in_scope][:, 0] >= confidence] = OUT_OF_SCOPE
    return best, confidence


def calibration_error(confidence: np.ndarray, correct: np.ndarray) -> float:
    """Expected calibration error over equal-width bins: how far "80% sure" is from
    being right 80% of the time, averaged over messages."""
    bins = np.minimum((confidence * CALIBRATION_BINS).astype(int), CALIBRATION_BINS - 1)
    return float(sum(
        (bins == b).mean() * abs(confidence[bins == b].mean() - correct[bins == b].mean())
        for b in range(CALIBRATION_BINS) if (bins == b).any()
    ))


def timed(make: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = make()
    return result, time.perf_counter() - start


if __name__ == "__main__":
    main()
