"""Intent routing benchmark: ours against a naive Bayes baseline, in one run.

    python bench/intents.py --banking77 /work/shared/data/banking77/train.csv \\
        --clinc150 /work/shared/data/clinc150/data_train_val.json

Prints one JSON object. BANKING77 measures routing accuracy on a held-out stratified
20% of train.csv (seed 0; the model's settings were chosen on splits of the other
80% only). CLINC150 measures "knowing when it does not know": trained on ``train`` +
``oos_train``, scored on ``val`` + ``oos_val``. In-scope accuracy counts a rejected
in-scope message as wrong, as in the CLINC150 paper.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import sklearn
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import Pipeline, make_pipeline

from switchboard.core.intents import OUT_OF_SCOPE, IntentModel, read_training_csv

TEST_FRACTION = 0.2
SPLIT_SEED = 0
BASELINE_THRESHOLD = 0.5
CALIBRATION_BINS = 10
T = TypeVar("T")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--banking77", type=Path, required=True, help="BANKING77 train.csv")
    parser.add_argument("--clinc150", type=Path, required=True, help="CLINC150 data_train_val.json")
    args = parser.parse_args()
    report = {
        "banking77": banking77(args.banking77),
        "clinc150": clinc150(args.clinc150),
        "environment": {"python": platform.python_version(), "scikit_learn": sklearn.__version__,
                        "cpus": os.cpu_count()},
    }
    print(json.dumps(report, indent=2))


def banking77(path: Path) -> dict:
    texts, labels = read_training_csv(path)
    train_x, test_x, train_y, test_y = train_test_split(
        texts, labels, test_size=TEST_FRACTION, stratify=labels, random_state=SPLIT_SEED)

    model, fit_seconds = timed(lambda: IntentModel.fit(train_x, train_y))
    (routed, closed), predict_seconds = timed(
        lambda: (model.predict(test_x), model.predict(test_x, threshold=0.0)))
    closed_intents = [p.intent for p in closed]
    taken = [p for p in routed if p.in_scope]
    ours = {
        "accuracy": round(accuracy_score(test_y, closed_intents), 4),
        "macro_f1": round(f1_score(test_y, closed_intents, average="macro"), 4),
        "expected_calibration_error": round(calibration_error(
            np.array([p.confidence for p in closed]), np.array(closed_intents) == np.array(test_y)), 4),
        "threshold": round(model.threshold, 4),
        "routed_share": round(len(taken) / len(routed), 4),
        "routed_precision": round(sum(
            p.intent == t for p, t in zip(routed, test_y, strict=True) if p.in_scope
        ) / max(len(taken), 1), 4),
        "fit_seconds": round(fit_seconds, 2),
        "messages_per_second": round(2 * len(test_x) / predict_seconds),
    }

    baseline, baseline_seconds = timed(lambda: naive_bayes().fit(train_x, train_y))
    baseline_intents = baseline.predict(test_x)
    return {
        "split": {"train": len(train_x), "test": len(test_x), "intents": len(set(labels)),
                  "test_fraction": TEST_FRACTION, "seed": SPLIT_SEED},
        "ours": ours,
        "baseline_naive_bayes": {
            "accuracy": round(accuracy_score(test_y, baseline_intents), 4),
            "macro_f1": round(f1_score(test_y, baseline_intents, average="macro"), 4),
            "fit_seconds": round(baseline_seconds, 2),
        },
        "notes": "accuracy and macro_f1 are closed-set (every message gets its best intent); "
                 "routed_* apply the trained out-of-scope threshold.",
    }


def clinc150(path: Path) -> dict:
    data = json.loads(path.read_text(encoding="utf-8"))
    train_x = [text for text, _ in data["train"]]
    train_y = [label for _, label in data["train"]]
    oos_train = [text for text, _ in data["oos_train"]]
    val_x = [text for text, _ in data["val"]]
    val_y = [label for _, label in data["val"]]
    oos_val = [text for text, _ in data["oos_val"]]

    model, fit_seconds = timed(lambda: IntentModel.fit(train_x, train_y, out_of_scope=oos_train))
    in_scope = model.predict(val_x)
    out_of_scope = model.predict(oos_val)
    ours = {
        **open_set_scores([p.intent for p in in_scope], val_y, [p.intent for p in out_of_scope]),
        "closed_set_accuracy": round(float(np.mean(
            [p.intent == t for p, t in zip(model.predict(val_x, threshold=0.0), val_y, strict=True)])), 4),
        "threshold": round(model.threshold, 4),
        "fit_seconds": round(fit_seconds, 2),
    }
    # Same model family trained on in-scope rows only: what the threshold alone does.
    closed_model, _ = timed(lambda: IntentModel.fit(train_x, train_y))
    without_oos_rows = open_set_scores(
        [p.intent for p in closed_model.predict(val_x)], val_y,
        [p.intent for p in closed_model.predict(oos_val)])

    baseline, baseline_seconds = timed(
        lambda: naive_bayes().fit(train_x + oos_train, train_y + [OUT_OF_SCOPE] * len(oos_train)))
    return {
        "split": {"train": len(train_x), "oos_train": len(oos_train), "val": len(val_x),
                  "oos_val": len(oos_val), "intents": len(set(train_y))},
        "ours": ours,
        "ours_without_oos_training_rows": without_oos_rows,
        "notes": "in_scope_accuracy counts rejected in-scope messages as wrong; "
                 "closed_set_accuracy applies no threshold (the out-of-scope class can still win).",
        "baseline_naive_bayes": {
            **open_set_scores(naive_bayes_routes(baseline, val_x), val_y,
                              naive_bayes_routes(baseline, oos_val)),
            "threshold": BASELINE_THRESHOLD,
            "fit_seconds": round(baseline_seconds, 2),
        },
    }


def open_set_scores(in_scope_intents: Sequence[str], truth: Sequence[str],
                    oos_intents: Sequence[str]) -> dict:
    return {
        "in_scope_accuracy": round(float(np.mean(
            [p == t for p, t in zip(in_scope_intents, truth, strict=True)])), 4),
        "in_scope_rejected": round(float(np.mean([p == OUT_OF_SCOPE for p in in_scope_intents])), 4),
        "oos_recall": round(float(np.mean([p == OUT_OF_SCOPE for p in oos_intents])), 4),
    }


def naive_bayes() -> Pipeline:
    """The baseline: plain bag of words, multinomial naive Bayes, default smoothing."""
    return make_pipeline(CountVectorizer(), MultinomialNB())


def naive_bayes_routes(model: Pipeline, texts: Sequence[str]) -> list[str]:
    probabilities = model.predict_proba(texts)
    best = model.classes_[probabilities.argmax(axis=1)]
    return [str(label) if p >= BASELINE_THRESHOLD else OUT_OF_SCOPE
            for label, p in zip(best, probabilities.max(axis=1), strict=True)]


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
