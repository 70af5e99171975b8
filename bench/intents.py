"""Intent routing benchmark: ours against TF-IDF + logistic regression and naive Bayes
baselines, in one run.

    python bench/intents.py --banking77 /work/shared/data/banking77/train.csv \\
        --clinc150 /work/shared/data/clinc150/data_train_val.json

Prints one JSON object. BANKING77 measures routing accuracy on a held-out stratified
20% of train.csv (seed 0; the model's settings were chosen on splits of the other
80% only). CLINC150 measures "knowing when it does not know": trained on ``train`` +
``oos_train``, scored on ``val`` + ``oos_val``. In-scope accuracy counts a rejected
in-scope message as wrong, as in the CLINC150 paper.

The baselines are routed by the same rule as ours (best in-scope intent when at least
as sure as a threshold chosen on a held-out fifth of their training rows), so every
figure compares models, not thresholds. With ``--encoder NAME`` our model adds that
sentence encoder's embeddings as features and ``ours_without_embeddings`` is printed
beside it, from the same split in the same run.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable, Sequence
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

from switchboard.core.intents import (
    HOLDOUT_FRACTION,
    OUT_OF_SCOPE,
    IntentModel,
    choose_threshold,
    read_training_csv,
)
from switchboard.core.knowledge.embeddings import SentenceEncoder

TEST_FRACTION = 0.2
SPLIT_SEED = 0
CALIBRATION_BINS = 10
T = TypeVar("T")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--banking77", type=Path, required=True, help="BANKING77 train.csv")
    parser.add_argument("--clinc150", type=Path, required=True, help="CLINC150 data_train_val.json")
    parser.add_argument("--encoder", help="Sentence encoder whose embeddings are added as features "
                                          "(a name core/knowledge/embeddings.encoder_named knows).")
    args = parser.parse_args()
    encoder = None
    if args.encoder:
        from switchboard.core.knowledge.embeddings import encoder_named

        encoder = encoder_named(args.encoder)
    report = {
        "banking77": banking77(args.banking77, encoder),
        "clinc150": clinc150(args.clinc150, encoder),
        "environment": {"python": platform.python_version(), "scikit_learn": sklearn.__version__,
                        "cpus": os.cpu_count(), "encoder": encoder.name if encoder else None},
    }
    print(json.dumps(report, indent=2))


def banking77(path: Path, encoder: SentenceEncoder | None = None) -> dict:
    texts, labels = read_training_csv(path)
    train_x, test_x, train_y, test_y = train_test_split(
        texts, labels, test_size=TEST_FRACTION, stratify=labels, random_state=SPLIT_SEED)
    ours = banking77_scores(train_x, train_y, test_x, test_y, encoder)
    return {
        "split": {"train": len(train_x), "test": len(test_x), "intents": len(set(labels)),
                  "test_fraction": TEST_FRACTION, "seed": SPLIT_SEED},
        "ours": ours,
        **({"ours_without_embeddings": banking77_scores(train_x, train_y, test_x, test_y, None)}
           if encoder else {}),
        "baseline_tfidf_logreg": Baseline.fit(tfidf_logreg, train_x, train_y).scores(test_x, test_y),
        "baseline_naive_bayes": Baseline.fit(naive_bayes, train_x, train_y).scores(test_x, test_y),
        "notes": "accuracy and macro_f1 are closed-set (every message gets its best intent); "
                 "routed_* apply the trained out-of-scope threshold; routed_accuracy counts "
                 "a rejected message as wrong.",
    }


def banking77_scores(train_x: list[str], train_y: list[str], test_x: list[str], test_y: list[str],
                     encoder: SentenceEncoder | None) -> dict:
    model, fit_seconds = timed(lambda: IntentModel.fit(train_x, train_y, encoder=encoder))
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
        "routed_share": round(len(taken) / len(routed), 4),
        "routed_precision": round(sum(
            p.intent == t for p, t in zip(routed, test_y, strict=True) if p.in_scope
        ) / max(len(taken), 1), 4),
        "routed_accuracy": round(sum(
            p.intent == t for p, t in zip(routed, test_y, strict=True) if p.in_scope) / len(routed), 4),
        "fit_seconds": round(fit_seconds, 2),
        "messages_per_second": round(2 * len(test_x) / predict_seconds),
    }


def clinc150(path: Path, encoder: SentenceEncoder | None = None) -> dict:
    data = json.loads(path.read_text(encoding="utf-8"))
    train_x = [text for text, _ in data["train"]]
    train_y = [label for _, label in data["train"]]
    oos_train = [text for text, _ in data["oos_train"]]
    val_x = [text for text, _ in data["val"]]
    val_y = [label for _, label in data["val"]]
    oos_val = [text for text, _ in data["oos_val"]]

    def scores(encoder: SentenceEncoder | None) -> dict:
        model, fit_seconds = timed(lambda: IntentModel.fit(train_x, train_y, out_of_scope=oos_train,
                                                           encoder=encoder))
        in_scope = model.predict(val_x)
        out_of_scope = model.predict(oos_val)
        return {
            **open_set_scores([p.intent for p in in_scope], val_y, [p.intent for p in out_of_scope]),
            "closed_set_accuracy": round(float(np.mean(
                [p.intent == t for p, t in zip(model.predict(val_x, threshold=0.0), val_y, strict=True)])), 4),
            "threshold": round(model.threshold, 4),
            "fit_seconds": round(fit_seconds, 2),
        }

    ours = scores(encoder)
    without_embeddings = {"ours_without_embeddings": scores(None)} if encoder else {}
    # Same model family trained on in-scope rows only: what the threshold alone does.
    closed_model, _ = timed(lambda: IntentModel.fit(train_x, train_y, encoder=encoder))
    without_oos_rows = open_set_scores(
        [p.intent for p in closed_model.predict(val_x)], val_y,
        [p.intent for p in closed_model.predict(oos_val)])

    baseline_rows = (train_x + oos_train, train_y + [OUT_OF_SCOPE] * len(oos_train))
    baselines = {name: Baseline.fit(make, *baseline_rows)
                 for name, make in (("baseline_tfidf_logreg", tfidf_logreg), ("baseline_naive_bayes", naive_bayes))}
    return {
        "split": {"train": len(train_x), "oos_train": len(oos_train), "val": len(val_x),
                  "oos_val": len(oos_val), "intents": len(set(train_y))},
        "ours": ours,
        **without_embeddings,
        "ours_without_oos_training_rows": without_oos_rows,
        "notes": "in_scope_accuracy counts rejected in-scope messages as wrong; "
                 "closed_set_accuracy applies no threshold (the out-of-scope class can still win).",
        **{name: baseline.open_set_scores(val_x, val_y, oos_val) for name, baseline in baselines.items()},
    }


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
        threshold = choose_threshold(confidence, (best == truth) & (truth != OUT_OF_SCOPE), truth == OUT_OF_SCOPE)
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
