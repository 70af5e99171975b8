"""How the intent model's out-of-scope cut was chosen: CLINC150 rotations of the training
parts only (never val / oos_val, which bench/intents.py reports).

    python bench/intent_thresholds.py --clinc150 /work/shared/data/clinc150/data_train_val.json \\
        --vector-cache /work/cache/intents [--folds 1,2,3] [--targets 0.9,0.925,0.95]

Each of five rotations holds a fifth of ``train`` (stratified) and of ``oos_train`` out
of tuning; the model (TF-IDF + multilingual-e5-small, as shipped) is fitted on the rest
exactly as ``IntentModel.fit`` does, with its held-out scores taken from ``--folds``
folds (1: one held-out fifth, as before the recall target). Per recall target (and for
the rule before it, which maximised right decisions over both groups), prints the mean
cut, its range over the rotations, and in-scope accuracy / out-of-scope recall on the
rows held out of tuning. Prints one JSON object.
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
from intents import Clinc, remembered  # noqa: E402  (bench/intents.py, beside this file)

from switchboard.core.intents import calibration  # noqa: E402
from switchboard.core.intents import model as intents  # noqa: E402
from switchboard.core.intents.calibration import choose_threshold, decide, fit_temperature  # noqa: E402
from switchboard.core.knowledge.embeddings import E5, SentenceEncoder, encoder_named  # noqa: E402

ROTATIONS = 5
ROTATION_SEED = 1
Rule = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], float]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clinc150", type=Path, required=True, help="CLINC150 data_train_val.json")
    parser.add_argument("--vector-cache", type=Path, help="bench/intents.py's vector cache directory.")
    parser.add_argument("--folds", default="1,2,3", help="Comma-separated; 1 holds out one fifth.")
    parser.add_argument("--targets", default="0.85,0.9,0.925,0.95", help="Out-of-scope recall targets.")
    args = parser.parse_args()
    encoder = remembered(encoder_named(E5), args.vector_cache)
    data = Clinc.read(args.clinc150)
    rules: dict[str, Rule] = {"rule_before": lambda c, k, o, r: balanced_cut(c, k, o)}
    for target in map(float, args.targets.split(",")):
        rules[f"recall_{target}"] = functools.partial(with_target, target)
    report = {}
    for folds in map(int, args.folds.split(",")):
        runs = [rotation_run(data, rotation, folds, encoder) for rotation in range(ROTATIONS)]
        report[f"folds_{folds}"] = {name: summary(runs, rule) for name, rule in rules.items()}
    print(json.dumps(report, indent=2))


def rotation_run(data: Clinc, rotation: int, folds: int, encoder: SentenceEncoder) -> dict:
    """The held-out pieces the cut is chosen from, and the tuning rows' verdicts before any cut."""
    keep, tune = list(StratifiedKFold(ROTATIONS, shuffle=True, random_state=ROTATION_SEED)
                      .split(data.train_x, data.train_y))[rotation]
    oos_keep, oos_tune = list(KFold(ROTATIONS, shuffle=True, random_state=ROTATION_SEED)
                              .split(data.oos_train))[rotation]
    texts, targets = intents.training_rows([data.train_x[i] for i in keep], [data.train_y[i] for i in keep],
                                           [data.oos_train[i] for i in oos_keep])
    vectors = intents._embedded(encoder, texts, {})
    weight = intents.embedding_weight_for(encoder)
    positions = np.arange(len(targets))
    splits = ([tuple(train_test_split(positions, test_size=intents.HOLDOUT_FRACTION, stratify=targets,
                                      random_state=0))] if folds == 1
              else list(StratifiedKFold(folds, shuffle=True, random_state=0).split(positions, targets)))
    held, scores, known = [], [], []
    for fit_rows, held_rows in splits:
        probe = intents.IntentModel(intents._fit_pipeline([texts[i] for i in fit_rows], [targets[i] for i in fit_rows],
                                                          vectors[fit_rows], 0, weight),
                                    temperature=1.0, threshold=0.0, encoder=encoder, embedding_weight=weight)
        fold_scores, fold_known = probe._scores([texts[i] for i in held_rows], vectors[held_rows])
        held.append(held_rows)
        scores.append(fold_scores)
        known.append(fold_known)
    classes = np.unique(targets)
    truth = np.array(targets)[np.concatenate(held)]
    all_scores = np.vstack(scores)
    temperature = fit_temperature(all_scores, np.searchsorted(classes, truth))
    in_scope = np.flatnonzero(classes != intents.OUT_OF_SCOPE)
    oos = int(np.flatnonzero(classes == intents.OUT_OF_SCOPE)[0])
    best, confidence, routable = decide(all_scores, np.full(len(truth), temperature), in_scope, oos)
    routable &= np.concatenate(known)
    correct = (classes[in_scope][best] == truth) & routable
    final = intents.IntentModel(intents._fit_pipeline(texts, targets, vectors, 0, weight), temperature=temperature,
                                threshold=0.0, encoder=encoder, embedding_weight=weight)
    tune_best, tune_confidence, tune_routable, _ = final._assess([data.train_x[i] for i in tune])
    _, oos_confidence, oos_routable, _ = final._assess([data.oos_train[i] for i in oos_tune])
    right = (np.array(final.labels)[tune_best] == np.array([data.train_y[i] for i in tune])) & tune_routable
    return {"held": (confidence, correct, truth == intents.OUT_OF_SCOPE, routable),
            "tune": (right, tune_confidence, oos_routable, oos_confidence)}


def summary(runs: list[dict], rule: Rule) -> dict:
    cuts, accuracy, recall = [], [], []
    for run in runs:
        cut = rule(*run["held"])
        right, confidence, oos_routable, oos_confidence = run["tune"]
        cuts.append(cut)
        accuracy.append(float(np.mean(right & (confidence >= cut))))
        recall.append(float(np.mean(~(oos_routable & (oos_confidence >= cut)))))
    return {"cut": round(float(np.mean(cuts)), 3), "cut_range": [round(min(cuts), 3), round(max(cuts), 3)],
            "in_scope_accuracy": round(float(np.mean(accuracy)), 4), "oos_recall": round(float(np.mean(recall)), 4),
            "oos_recall_lowest_rotation": round(min(recall), 2)}


def with_target(target: float, confidence: np.ndarray, correct: np.ndarray, is_oos: np.ndarray,
                routable: np.ndarray) -> float:
    """choose_threshold as shipped, with another recall target."""
    shipped, calibration.OUT_OF_SCOPE_RECALL_TARGET = calibration.OUT_OF_SCOPE_RECALL_TARGET, target
    try:
        return choose_threshold(confidence, correct, is_oos, routable)
    finally:
        calibration.OUT_OF_SCOPE_RECALL_TARGET = shipped


def balanced_cut(confidence: np.ndarray, correct: np.ndarray, is_oos: np.ndarray) -> float:
    """The rule before the recall target, for comparison: the cut making the most right
    decisions with in-scope and out-of-scope rows weighted equally as groups."""
    levels = np.unique(confidence)
    candidates = np.concatenate([[0.0], (levels[:-1] + levels[1:]) / 2, [np.nextafter(levels[-1], 2)]])
    accept = confidence[None, :] >= candidates[:, None]
    right = np.where(correct[None, :], accept, ~accept)
    score = (right[:, ~is_oos].mean(axis=1) + right[:, is_oos].mean(axis=1)) / 2
    best = np.flatnonzero(score == score.max())
    return float(candidates[best[len(best) // 2]])


if __name__ == "__main__":
    main()
