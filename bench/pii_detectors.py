"""Should names and street addresses join the redaction detectors? Candidates measured
on a labelled sample of customer messages, in one run.

    pip install -c constraints.txt -e ".[pii-bench]"
    python bench/pii_detectors.py bench/data/pii_names_addresses.jsonl \\
        bench/data/pii_names_addresses_heldout.jsonl

Prints one JSON object. The sample (synthetic, hand-written SMS-style support messages)
gives, per message, the exact spans of names and street addresses (``pii``) and of what
must survive redaction (``keep``: order numbers, dates, amounts, product names). The
held-out file was written after the ``cue_rules`` below, to measure them on text they
were not written against (the first file was labelled alongside them). A
detected span counts as a true positive when it overlaps a labelled span of its kind
(span overlap, as a reviewer would judge "the address was hidden"); ``damage`` counts
the ``keep`` spans a detector would have redacted, which is what an agent would lose.

Candidates, all offline with no model download at run time:

* ``pyap`` — regex address finder for US/CA/GB full addresses (last release 2020);
* ``usaddress`` — CRF address parser (model inside the package), applied to free text:
  a run of address-labelled tokens containing a house number or PO box is an address;
* ``probablepeople`` — CRF name parser (model inside the package), applied to free text:
  runs of GivenName/Surname/… tokens are names;
* ``cue_rules`` — our own baseline: a capitalised name after "my name is", "this is",
  "I'm", "it's" … or before "here"; a house number followed by capitalised words ending
  in a street suffix.

The baseline (the current redaction, which finds neither) is the zero line: recall 0,
damage ``current_redaction_damage``.
"""
from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import time
from collections.abc import Callable, Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from switchboard.core.pii.redaction import redact

Span = tuple[str, int, int]

_TOKEN = re.compile(r"\S+")


def _tokens(text: str) -> list[tuple[str, int, int]]:
    return [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _runs(text: str, labels: Iterable[tuple[str, str]], wanted: set[str]) -> list[tuple[int, int, set[str]]]:
    """Contiguous runs of tokens whose label is in ``wanted``, as character spans."""
    runs: list[tuple[int, int, set[str]]] = []
    current: tuple[int, int, set[str]] | None = None
    for (_, start, end), (_, label) in zip(_tokens(text), labels, strict=False):
        if label in wanted:
            current = (current[0], end, current[2] | {label}) if current else (start, end, {label})
        else:
            if current:
                runs.append(current)
            current = None
    if current:
        runs.append(current)
    return runs


def _strip_punct(text: str, start: int, end: int) -> tuple[int, int]:
    while end > start and text[end - 1] in ",.!?;:)":
        end -= 1
    while start < end and text[start] in "(":
        start += 1
    return start, end


def pyap_detector(text: str) -> list[Span]:
    import pyap

    found = []
    for country in ("US", "CA", "GB"):
        for address in pyap.parse(text, country=country):
            found.append(("address", address.match_start, address.match_end))
    return found


_USADDRESS_PARTS = {
    "AddressNumber", "AddressNumberPrefix", "AddressNumberSuffix", "StreetName", "StreetNamePreDirectional",
    "StreetNamePreModifier", "StreetNamePreType", "StreetNamePostDirectional", "StreetNamePostModifier",
    "StreetNamePostType", "OccupancyType", "OccupancyIdentifier", "SubaddressType", "SubaddressIdentifier",
    "PlaceName", "StateName", "ZipCode", "USPSBoxType", "USPSBoxID", "BuildingName", "LandmarkName",
}


def usaddress_detector(text: str) -> list[Span]:
    import usaddress

    found = []
    for start, end, labels in _runs(text, usaddress.parse(text), _USADDRESS_PARTS):
        if labels & {"AddressNumber", "USPSBoxID"} and labels & {"StreetName", "USPSBoxType"}:
            found.append(("address", *_strip_punct(text, start, end)))
    return found


_NAME_PARTS = {"PrefixMarital", "PrefixOther", "GivenName", "FirstInitial", "MiddleName", "MiddleInitial",
               "Surname", "SuffixGenerational", "SuffixOther", "Nickname"}


def probablepeople_detector(text: str) -> list[Span]:
    import probablepeople

    found = []
    for start, end, labels in _runs(text, probablepeople.parse(text), _NAME_PARTS):
        if labels & {"GivenName", "Surname"}:
            found.append(("name", *_strip_punct(text, start, end)))
    return found


_CAPITALISED_WORD = r"[A-Z][a-z]+(?:['-][A-Z]?[a-z]+)?"
_NAME_WORD = r"(?:Mr\.?|Mrs\.?|Ms\.?|Dr\.?\s)?\s?" + _CAPITALISED_WORD + r"(?:\s+" + _CAPITALISED_WORD + r")?"
# The cue is matched in any case ("THIS IS", "i'm"), the name only capitalised.
_NAME_BEFORE = re.compile(r"\b(?i:my name is|my name's|name's|this is|i'm|i am|it's|its)\s+(" + _NAME_WORD + r")")
_NAME_AFTER = re.compile(r"(?:^|[.!?]\s+)(" + _NAME_WORD + r")\s+(?:here|speaking)\b")
_STREET_SUFFIX = (r"(?:Street|St|Avenue|Ave|Road|Rd|Lane|Ln|Drive|Dr|Boulevard|Blvd|Court|Ct|Close|Way|Place|Pl|"
                  r"Parkway|Pkwy|Terrace|Crescent|Square|Sq)\b\.?")
_ADDRESS = re.compile(r"\b(?:[0-9]{1,5}[A-Z]?\s+(?:[NSEW]\s+)?(?:[A-Z][a-z0-9]+\s+){1,3}" + _STREET_SUFFIX
                      + r"|PO Box [0-9]+)")


def cue_rules_detector(text: str) -> list[Span]:
    found: list[Span] = []
    for pattern in (_NAME_BEFORE, _NAME_AFTER):
        for match in pattern.finditer(text):
            start, end = _strip_punct(text, match.start(1), match.end(1))
            if not re.match(r"(?:I|Hi|Hey|Hello|Ok|It|This)\b", text[start:end]):
                found.append(("name", start, end))
    for match in _ADDRESS.finditer(text):
        found.append(("address", match.start(), match.end()))
    return found


DETECTORS: dict[str, Callable[[str], list[Span]]] = {
    "pyap": pyap_detector,
    "usaddress": usaddress_detector,
    "probablepeople": probablepeople_detector,
    "cue_rules": cue_rules_detector,
}


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def score(rows: list[dict], detect: Callable[[str], list[Span]]) -> dict:
    figures: dict[str, dict[str, int]] = {kind: {"tp": 0, "fp": 0, "gold": 0, "gold_found": 0}
                                          for kind in ("name", "address")}
    damage: dict[str, int] = {}
    false_positives: list[str] = []
    started = time.perf_counter()
    for row in rows:
        text = row["text"]
        found = detect(text)
        for kind in ("name", "address"):
            gold = [(s["start"], s["end"]) for s in row["pii"] if s["kind"] == kind]
            mine = [(s, e) for k, s, e in found if k == kind]
            figures[kind]["gold"] += len(gold)
            figures[kind]["gold_found"] += sum(any(_overlaps(g, m) for m in mine) for g in gold)
            for span in mine:
                # A detected span is right when it overlaps a labelled span of either kind
                # (an address that swallows the name before it still hides only PII).
                if any(_overlaps(span, (s["start"], s["end"])) for s in row["pii"]):
                    figures[kind]["tp"] += 1
                else:
                    figures[kind]["fp"] += 1
                    false_positives.append(f"{row['id']} {kind}: {text[span[0]:span[1]]!r}")
        for keep in row["keep"]:
            if any(_overlaps((s, e), (keep["start"], keep["end"])) for _, s, e in found):
                damage[keep["kind"]] = damage.get(keep["kind"], 0) + 1
    elapsed = time.perf_counter() - started
    result: dict = {}
    for kind, f in figures.items():
        predicted = f["tp"] + f["fp"]
        result[kind] = {
            "precision": round(f["tp"] / predicted, 3) if predicted else None,
            "recall": round(f["gold_found"] / f["gold"], 3) if f["gold"] else None,
            "detected": predicted,
            "labelled": f["gold"],
        }
    result["damage"] = damage
    result["damage_total"] = sum(damage.values())
    result["false_positive_examples"] = false_positives[:8]
    result["ms_per_message"] = round(1000 * elapsed / max(1, len(rows)), 3)
    return result


def current_redaction_damage(rows: list[dict]) -> int:
    """What today's detectors already take from the ``keep`` spans (should be 0)."""
    damaged = 0
    for row in rows:
        findings = redact(row["text"], default_region="US").findings
        damaged += sum(any(_overlaps((f.start, f.end), (k["start"], k["end"])) for f in findings) for k in row["keep"])
    return damaged


def measure(sample: Path) -> dict:
    rows = [json.loads(line) for line in sample.read_text(encoding="utf-8").splitlines() if line.strip()]
    results: dict = {}
    for name, detect in DETECTORS.items():
        try:
            results[name] = score(rows, detect)
        except ImportError:
            results[name] = {"error": "not installed: pip install -c constraints.txt -e '.[pii-bench]'"}
    return {
        "messages": len(rows),
        "labelled": {
            "name": sum(1 for r in rows for s in r["pii"] if s["kind"] == "name"),
            "address": sum(1 for r in rows for s in r["pii"] if s["kind"] == "address"),
            "keep": sum(len(r["keep"]) for r in rows),
            "messages_without_pii": sum(1 for r in rows if not r["pii"]),
        },
        "current_redaction_damage": current_redaction_damage(rows),
        "detectors": results,
    }


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("samples", type=Path, nargs="+",
                        help="JSONL samples, e.g. bench/data/pii_names_addresses.jsonl")
    args = parser.parse_args(argv)
    output = {
        "samples": {str(sample): measure(sample) for sample in args.samples},
        "versions": {name: _version(name) for name in DETECTORS if name != "cue_rules"},
        "python": platform.python_version(),
    }
    json.dump(output, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
