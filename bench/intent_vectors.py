"""Make the shipped intent examples' sentence vectors, stored beside the shipped CSV
(core/intents/vectors.py says why). Run it after editing switchboard/data/intents_default.csv:

    python bench/intent_vectors.py

A test (tests/core/test_intent_vectors.py) fails while the file is stale.
"""
from __future__ import annotations

import argparse
import time

from switchboard.core.intents.model import default_training_csv
from switchboard.core.intents.vectors import SHIPPED_VECTOR_FILES, shipped_vectors_file, write_shipped_vectors
from switchboard.core.knowledge.embeddings import encoder_named


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", choices=sorted(SHIPPED_VECTOR_FILES), action="append",
                        help="Encoder name (default: every encoder with a shipped file).")
    args = parser.parse_args()
    csv = default_training_csv()
    for name in args.encoder or sorted(SHIPPED_VECTOR_FILES):
        path = shipped_vectors_file(name, csv)
        assert path is not None
        started = time.perf_counter()
        count = write_shipped_vectors(encoder_named(name), csv, path)
        print(f"{path}: {count} examples by {name}, {path.stat().st_size:,} bytes, "
              f"{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
