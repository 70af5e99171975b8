"""The labelled support messages behind bench/pii_detectors.py, used as a regression check.

Issue 20 kept names and addresses out of redaction because every candidate detector
destroyed order numbers, dates or amounts on this sample; the detectors we do run must
not start doing the same. The sample's labels are checked too, since the benchmark's
figures are only as good as its spans.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from switchboard.core.pii.redaction import redact

DATA = Path(__file__).resolve().parents[2] / "bench" / "data"
SAMPLES = ("pii_names_addresses.jsonl", "pii_names_addresses_heldout.jsonl")


def _rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("name", SAMPLES)
def test_labels_are_exact_non_overlapping_spans(name: str) -> None:
    rows = _rows(name)
    assert len({row["id"] for row in rows}) == len(rows)
    for row in rows:
        spans = sorted((s["start"], s["end"]) for s in [*row["pii"], *row["keep"]])
        for (_, end), (next_start, _) in zip(spans, spans[1:], strict=False):
            assert end <= next_start, row["id"]
        for span in [*row["pii"], *row["keep"]]:
            value = row["text"][span["start"]:span["end"]]
            assert value and value == value.strip(), (row["id"], value)
        assert {s["kind"] for s in row["pii"]} <= {"name", "address"}
        assert {s["kind"] for s in row["keep"]} <= {"order", "date", "amount", "product"}


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize("region", ["US", "GB"])
def test_redaction_keeps_every_order_number_date_amount_and_product(name: str, region: str) -> None:
    damaged = []
    for row in _rows(name):
        redacted = redact(row["text"], default_region=region)
        for keep in row["keep"]:
            value = row["text"][keep["start"]:keep["end"]]
            overlapped = any(f.start < keep["end"] and keep["start"] < f.end for f in redacted.findings)
            if overlapped or value not in redacted.text:
                damaged.append((row["id"], keep["kind"], value))
    assert damaged == []
