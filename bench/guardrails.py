"""Precision and recall of each guardrail (risky promises, disclaimers, tone and style)
on a hand-labelled set of agent replies and bot answers, held-out half reported.

    python bench/guardrails.py [bench/data/guardrails_labelled.jsonl]

Prints one JSON object: per split (``tune``: the lines the rules were adjusted on;
``heldout``: lines written before the rules were run on them, the figures to quote)
and per guardrail, the rules' precision, recall and F1, beside a keyword baseline (the
words a reviewer would search for first: "guarantee", "promise", "refund", "fault",
"liab…"; the regulated intent or any topic word; the style card's words only). A
reply counts once per guardrail: flagged or not, against labelled or not.
"""
from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from switchboard.core.helpdesk.assist import style_card
from switchboard.core.quality.guardrails import check, phrase_pattern
from switchboard.core.quality.policy import GuardrailPolicy, load_policy

DATA = Path(__file__).resolve().parent / "data" / "guardrails_labelled.jsonl"
GUARDRAILS = ("risky_promise", "disclaimer", "style")
_BASELINE_RISKY = re.compile(r"\b(?:guarantee\w*|promise\w*|refund\w*|fault|liab\w*)\b", re.IGNORECASE)

Detector = Callable[[dict[str, Any]], set[str]]


def rules(policy: GuardrailPolicy, avoid: dict[str, str]) -> Detector:
    return lambda item: {f.guardrail for f in check(item["text"], item["intent"], policy, style_avoid=avoid)}


def baseline(policy: GuardrailPolicy, avoid: dict[str, str]) -> Detector:
    def detect(item: dict[str, Any]) -> set[str]:
        text, found = item["text"], set()
        if _BASELINE_RISKY.search(text):
            found.add("risky_promise")
        if any(item["intent"] in d.intents or any(phrase_pattern(t).search(text) for t in d.topics)
               for d in policy.disclaimers):
            found.add("disclaimer")
        if any(phrase_pattern(word).search(text) for word in avoid):
            found.add("style")
        return found
    return detect


def scores(items: Iterable[dict[str, Any]], detect: Detector) -> dict[str, dict[str, float | int]]:
    counts = {g: {"tp": 0, "fp": 0, "fn": 0, "labelled": 0} for g in GUARDRAILS}
    for item in items:
        found, truth = detect(item), set(item["breaks"])
        for g in GUARDRAILS:
            c = counts[g]
            c["labelled"] += g in truth
            c["tp"] += g in found and g in truth
            c["fp"] += g in found and g not in truth
            c["fn"] += g in truth and g not in found
    out: dict[str, dict[str, float | int]] = {}
    for g, c in counts.items():
        precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
        recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[g] = {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3), **c}
    return out


def misses(items: Iterable[dict[str, Any]], detect: Detector) -> list[dict[str, Any]]:
    """Every held-out line the rules got wrong, for a reviewer to read."""
    wrong = []
    for item in items:
        found = detect(item)
        if found != set(item["breaks"]):
            wrong.append({"id": item["id"], "labelled": sorted(item["breaks"]), "flagged": sorted(found),
                          "text": item["text"]})
    return wrong


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", type=Path, default=DATA)
    args = parser.parse_args(argv)
    items = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    policy, avoid = load_policy(), style_card().avoid
    detectors = {"rules": rules(policy, avoid), "keyword_baseline": baseline(policy, avoid)}
    started = time.perf_counter()
    result: dict[str, Any] = {"data": str(args.data), "policy": policy.source, "python": platform.python_version()}
    for split in ("tune", "heldout"):
        part = [i for i in items if i["split"] == split]
        result[split] = {"replies": len(part), "breaking": sum(bool(i["breaks"]) for i in part),
                         **{name: scores(part, detect) for name, detect in detectors.items()}}
    result["heldout_errors"] = misses([i for i in items if i["split"] == "heldout"], detectors["rules"])
    result["ms_per_reply"] = round((time.perf_counter() - started) * 1000 / (2 * len(items)), 3)
    return result


if __name__ == "__main__":
    json.dump(main(), sys.stdout, indent=2)
    sys.stdout.write("\n")
