"""Which tickets get reply suggestions in the Zendesk sidebar, and whether they cite the
right article: the topic gate on shared words alone (before) against shared words or
meaning (now, ``assist.on_topic``), side by side on the same indexes in one run.

Each set's articles are indexed as `switchboard kb import` does (each index fitting
its own confidence and menu floor); each held-out question is a ticket, redacted and
trimmed as ``prepare_suggestions`` does, and up to three candidates are suggested.
Sets (paths are arguments, see ../shared/README.md): StackFAQ's and banking77's
held-out halves, StackFAQ's again as emails ("Hi team," … "Kind regards"), CLINC150's
``oos_val`` questions against each (no article answers them: any suggestion is
wrong), and XQuAD's Russian questions against the German paragraphs (a ticket in
another language than the articles). Nothing is fitted here: the menu floor is each
index's own.

    python bench/suggestions.py --stackfaq ../shared/data/stackfaq/stackExchange-FAQ.json \\
        --banking77 ../shared/data/banking77/train.csv --clinc150 ../shared/data/clinc150/data_train_val.json \\
        --xquad ../shared/data/xquad [--limit 400]

Prints one JSON object: per set and gate, the share of tickets with suggestions, whose
first suggestion cites the right article, and whose three hold it.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.answers import xquad  # noqa: E402
from bench.retrieval import as_emails, load_banking77, load_offtopic, load_stackfaq  # noqa: E402
from switchboard.core.helpdesk import assist  # noqa: E402
from switchboard.core.knowledge.records import Hit  # noqa: E402
from switchboard.core.knowledge.retrieval import Retriever, build_index  # noqa: E402
from switchboard.core.pii.redaction import redact  # noqa: E402

Gate = tuple[Callable[[Sequence[Hit]], bool], Callable[[Sequence[Hit]], list[Hit]]]


def _by_words(hits: Sequence[Hit]) -> bool:
    return bool(hits) and hits[0].signals.get("coverage", 0.0) >= assist.MIN_COVERAGE


def _words_candidates(hits: Sequence[Hit]) -> list[Hit]:
    best = max((hit.signals.get("relative_score", 0.0) for hit in hits), default=0.0)
    return [hit for hit in hits if hit.signals.get("coverage", 0.0) >= assist.MIN_COVERAGE
            and hit.signals.get("relative_score", 0.0) >= assist.CANDIDATE_SHARE * best]


GATES: dict[str, Gate] = {"words": (_by_words, _words_candidates),
                          "words_or_meaning": (assist.on_topic, assist.candidate_hits)}


def measure(retriever: Retriever, tickets: Sequence[tuple[str, str | None]]) -> dict[str, Any]:
    hits_of = [retriever.search(assist.suggestion_query(redact(text).text), k=8) for text, _ in tickets]
    report: dict[str, Any] = {"tickets": len(tickets)}
    for name, (gate, candidates) in GATES.items():
        given = first = within = 0
        for hits, (_, article) in zip(hits_of, tickets, strict=True):
            offered = candidates(hits)[:assist.MAX_SUGGESTIONS] if gate(hits) else []
            given += bool(offered)
            first += bool(offered) and offered[0].passage.article_id == article
            within += article in {hit.passage.article_id for hit in offered}
        n = max(len(tickets), 1)
        report[name] = {"with_suggestions": round(given / n, 3), "first_right": round(first / n, 3),
                        "right_in_three": round(within / n, 3)}
    return report


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stackfaq", type=Path)
    parser.add_argument("--banking77", type=Path)
    parser.add_argument("--clinc150", type=Path, help="for its oos_val questions, which no article answers")
    parser.add_argument("--xquad", type=Path, help="the folder holding xquad.de.json and xquad.ru.json")
    parser.add_argument("--limit", type=int, default=400, help="at most this many tickets a set (random, seeded)")
    args = parser.parse_args(argv)

    def limited(tickets: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
        return random.Random(1).sample(tickets, args.limit) if args.limit and len(tickets) > args.limit else tickets

    offtopic = [(text, None) for text in load_offtopic(args.clinc150)[1]] if args.clinc150 else []
    results: dict[str, Any] = {"command": " ".join(sys.argv), "sets": {}}
    for name, path, load in (("stackfaq", args.stackfaq, load_stackfaq), ("banking77", args.banking77, load_banking77)):
        if path is None:
            continue
        articles, _, test = load(path)
        retriever = build_index(articles, "e5")
        tickets: list[tuple[str, str | None]] = limited(list(test))
        results["sets"][name] = measure(retriever, tickets)
        if name == "stackfaq":
            results["sets"]["stackfaq_as_emails"] = measure(retriever, list(as_emails(tickets)))  # type: ignore[arg-type]
        if offtopic:
            results["sets"][f"offtopic_against_{name}"] = measure(retriever, offtopic)
        print(json.dumps({name: results["sets"][name]}), file=sys.stderr, flush=True)
    if args.xquad:
        articles, questions = xquad(args.xquad, "ru", articles_in="de")
        results["sets"]["xquad_ru_to_de"] = measure(build_index(articles, "e5"),
                                                    limited([(q.text, q.expected) for q in questions]))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
