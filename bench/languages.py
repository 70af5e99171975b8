"""How often a customer's first message is read in the language it is written in, as
the live bot reads it (`conversation_language`): with nothing known of the customer,
from a number whose country speaks English (+1, +44), and to a help center written in
the message's own language. No threshold here is fitted: the detector's floors and the
three-to-one prior of a likely language are the product's own.

Sets (written by hand for this project, nothing tuned on them):

- the non-English rows of ``bench/data/intents_multilingual_dev.csv`` and
  ``tests/core/data/intents_multilingual.csv`` (es, fr, de, pt, it; 100 short
  customer messages);
- ``bench/data/spanish_vs_english_sample_kb.csv`` (60 Spanish questions to the English
  sample help center, which is English: with no number and from an English-speaking one).

    python bench/languages.py

Prints one JSON object: per set and setting, the messages read in their language.
"""
from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from switchboard.core.understanding.enrichment import conversation_language  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MULTILINGUAL = (ROOT / "bench/data/intents_multilingual_dev.csv", ROOT / "tests/core/data/intents_multilingual.csv")
SPANISH = ROOT / "bench/data/spanish_vs_english_sample_kb.csv"
#: An English-speaking country's number (+1, +44) makes English likely; an English help center serves it.
ENGLISH = frozenset({"en"})


def read(rows: Sequence[tuple[str, str]], *, likely: frozenset[str] = frozenset(),
         served: frozenset[str] | None = None) -> int:
    """How many of ``rows`` (text, language) are read in their language; ``served``:
    the help center's languages (None: a help center in each message's own)."""
    return sum(conversation_language(text, previous=None, preference=None, likely=likely,
                                     served=frozenset({language}) if served is None else served) == language
               for text, language in rows)


def main() -> None:
    multilingual = [(row["text"], row["language"]) for path in MULTILINGUAL
                    for row in csv.DictReader(path.open(encoding="utf-8")) if row["language"] != "en"]
    with SPANISH.open(encoding="utf-8") as handle:
        spanish = [(row["question"], "es") for row in csv.DictReader(handle)]
    print(json.dumps({
        "multilingual": {"messages": len(multilingual),
                         "no_number_english_help_center": read(multilingual, served=ENGLISH),
                         "english_number_english_help_center": read(multilingual, likely=ENGLISH,
                                                                    served=ENGLISH),
                         "no_number_help_center_in_their_language": read(multilingual),
                         "english_number_help_center_in_their_language": read(multilingual, likely=ENGLISH)},
        "spanish_vs_english_sample_kb": {"messages": len(spanish),
                                         "no_number": read(spanish, served=ENGLISH),
                                         "english_number": read(spanish, likely=ENGLISH, served=ENGLISH)},
    }, indent=2))


if __name__ == "__main__":
    main()
