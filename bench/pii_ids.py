"""How well does redaction find identity numbers and foreign phone numbers, and what does
it take that agents need? The redaction as it stands, on a labelled sample, in one run.

    python bench/pii_ids.py bench/data/pii_ids.jsonl bench/data/pii_ids_heldout.jsonl

Prints one JSON object. The samples (synthetic, hand-written SMS-style support
messages, issue 42) label the exact spans of passport numbers, driver's licence
numbers, phone numbers in another country's national format and US SSNs, the SSA's
published sample numbers included (``pii``), and of what must survive (``keep``: order
numbers, dates, amounts, times, product codes, tracking numbers, postcodes). Messages
are redacted as processing redacts a text from a US number to a US company number
(``default_region="US"``). A labelled span is found when a redaction overlaps it;
a redaction is right when it overlaps a labelled span; ``damage`` counts the ``keep``
spans a redaction touched. The held-out file was written with the first, before the
detectors were changed, and was not looked at while they were.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

from switchboard.core.pii.redaction import redact

KINDS = ("passport", "licence", "phone", "ssn")


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def measure(sample: Path) -> dict[str, Any]:
    rows = [json.loads(line) for line in sample.read_text(encoding="utf-8").splitlines() if line.strip()]
    labelled = {kind: 0 for kind in KINDS}
    found = {kind: 0 for kind in KINDS}
    right = wrong = 0
    damage: dict[str, int] = {}
    missed: list[str] = []
    taken: list[str] = []
    started = time.perf_counter()
    for row in rows:
        text = row["text"]
        spans = [(f.start, f.end) for f in redact(text, default_region="US", also_regions=("US",)).findings]
        for label in row["pii"]:
            gold = (label["start"], label["end"])
            labelled[label["kind"]] += 1
            if any(_overlaps(gold, span) for span in spans):
                found[label["kind"]] += 1
            else:
                missed.append(f"{row['id']} {label['kind']}: {text[gold[0]:gold[1]]!r}")
        for span in spans:
            if any(_overlaps(span, (label["start"], label["end"])) for label in row["pii"]):
                right += 1
            else:
                wrong += 1
        for keep in row["keep"]:
            if any(_overlaps((keep["start"], keep["end"]), span) for span in spans):
                damage[keep["kind"]] = damage.get(keep["kind"], 0) + 1
                taken.append(f"{row['id']} {keep['kind']}: {text[keep['start']:keep['end']]!r}")
    elapsed = time.perf_counter() - started
    total = sum(labelled.values())
    return {
        "messages": len(rows),
        "labelled": labelled,
        "keep": sum(len(row["keep"]) for row in rows),
        "recall": {kind: round(found[kind] / labelled[kind], 3) if labelled[kind] else None for kind in KINDS},
        "recall_all": round(sum(found.values()) / total, 3) if total else None,
        "precision": round(right / (right + wrong), 3) if right + wrong else None,
        "redactions": right + wrong,
        "damage": damage,
        "damage_total": sum(damage.values()),
        "missed": missed,
        "wrongly_taken": taken,
        "ms_per_message": round(1000 * elapsed / max(1, len(rows)), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("samples", type=Path, nargs="+", help="JSONL samples, e.g. bench/data/pii_ids.jsonl")
    args = parser.parse_args(argv)
    json.dump({"samples": {str(sample): measure(sample) for sample in args.samples},
               "python": platform.python_version()}, sys.stdout, indent=2, ensure_ascii=False)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
