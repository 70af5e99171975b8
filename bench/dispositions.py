"""Disposition accuracy: the wrap-up's code (core/quality/wrapup.py's ``choose``, from
the intent model's prediction and the account's taxonomy) against the code the true
intent label gives, on BANKING77's held-out messages.

    python bench/dispositions.py --banking77 /work/shared/data/banking77/train.csv

Prints one JSON object. The split is bench/intents.py's (a stratified 20% of train.csv
held out, seed 0): the intent model (TF-IDF, no encoder: the fastest to fit) is fitted
on the other 80% and scored once on the held-out part; nothing was tuned on it. The
taxonomy (bench/data/dispositions_banking77.yaml: 11 codes over the 77 intents) was
written before the run. Baselines side by side: the most common code of the training
part for every message, and the intent model's exact intent accuracy (a wrong intent
in the right group still files the right code). ``by_confidence`` gives accuracy and
coverage above the wrap-up's confidence thresholds, for an account that leaves the
field empty below one.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.intents import banking77_split  # noqa: E402
from switchboard.core.intents.model import IntentModel  # noqa: E402
from switchboard.core.quality.wrapup import choose, load_taxonomy  # noqa: E402

TAXONOMY = Path(__file__).resolve().parent / "data" / "dispositions_banking77.yaml"
THRESHOLDS = (0.0, 0.3, 0.5, 0.7, 0.9)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--banking77", type=Path, required=True, help="BANKING77's train.csv")
    parser.add_argument("--taxonomy", type=Path, default=TAXONOMY)
    args = parser.parse_args(argv)
    codes = load_taxonomy(args.taxonomy)
    train_x, test_x, train_y, test_y = banking77_split(args.banking77)
    started = time.perf_counter()
    model = IntentModel.fit(train_x, train_y)
    fit_seconds = time.perf_counter() - started
    predictions = model.predict(test_x)
    truth = [choose(codes, label, 1.0, "bot_resolved").code for label in test_y]
    chosen = [choose(codes, p.intent, p.confidence, "bot_resolved") for p in predictions]
    majority = Counter(choose(codes, label, 1.0, "bot_resolved").code for label in train_y).most_common(1)[0][0]
    right = [c.code == t for c, t in zip(chosen, truth, strict=True)]
    by_confidence = {}
    for threshold in THRESHOLDS:
        kept = [ok for ok, c in zip(right, chosen, strict=True) if c.confidence >= threshold]
        by_confidence[str(threshold)] = {"coverage": round(len(kept) / len(right), 3),
                                         "accuracy": round(sum(kept) / len(kept), 3) if kept else None}
    return {
        "split": {"train": len(train_x), "heldout": len(test_x), "intents": len(set(train_y)), "codes": len(codes),
                  "reported_on": "heldout (stratified 20%, seed 0, as bench/intents.py)"},
        "disposition_accuracy": round(sum(right) / len(right), 3),
        "baseline_majority_code": {"code": majority,
                                   "accuracy": round(sum(t == majority for t in truth) / len(truth), 3)},
        "intent_accuracy": round(sum(p.intent == y for p, y in zip(predictions, test_y, strict=True)) / len(test_y), 3),
        "by_confidence": by_confidence,
        "fit_seconds": round(fit_seconds, 1), "python": platform.python_version(),
    }


if __name__ == "__main__":
    json.dump(main(), sys.stdout, indent=2)
    sys.stdout.write("\n")
