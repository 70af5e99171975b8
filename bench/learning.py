"""Does the bot get better with use, and can wrong picks teach it? Learned phrasings
replayed on a held-out set, side by side with the bot before learning, in one run.

A stream of customers asks the tuning half's questions and, where the bot offered a
menu holding the right article, picks it (as a customer does). The product activates a
phrasing once two distinct customers picked the same article for the same question
(`core/knowledge/phrasings.py`); every question of this stream is different, so each
pick stands for two customers who asked it (a stream of repeated questions teaches the
same phrasings, more slowly). The picked questions become the account's learned
phrasings (their query vectors, the same `Learned` the live bot searches with). Then
the held-out half's questions, none of them seen, are asked again. The control replays
the stream with adversarial picks (each pick names a wrong article, and is treated as
corroborated too: the worst case): its wrong answers are reported.

A second stream, reported apart, adds what agents teach: every question of the stream
the bot did not answer right and offered no menu holding the right article for (a
menu without it, a clarification, a handover, a wrong answer the customer said did not
help) goes to an agent whose reply links the right article; one agent corroborates
(`phrasings.learned_from_reply`). Its adversarial control files those under wrong
articles too.

    python bench/learning.py --stackfaq ../shared/data/stackfaq/stackExchange-FAQ.json \\
        --banking77 ../shared/data/banking77/train.csv [--picks 400]

Prints one JSON object: per set, answered right / wrong and reached on the held-out
questions before learning, after learning, and after the adversarial stream.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.retrieval import load_banking77, load_stackfaq  # noqa: E402
from switchboard.core.bot.escalation_file import load_policy  # noqa: E402
from switchboard.core.conversation.evaluation import Configuration, Question, counts, evaluate  # noqa: E402
from switchboard.core.intents.store import default_intent_model  # noqa: E402
from switchboard.core.knowledge.embeddings import encoder_named, queries  # noqa: E402
from switchboard.core.knowledge.learned import Learned  # noqa: E402
from switchboard.core.knowledge.retrieval import Retriever, build_index  # noqa: E402


def learned_from(picks: Sequence[tuple[str, str]], retriever: Retriever) -> Learned | None:
    """The picks (question, article) as active learned phrasings."""
    kept = list(dict.fromkeys(picks))
    if not kept:
        return None
    assert retriever.encoder_name is not None
    vectors = queries(encoder_named(retriever.encoder_name), [q for q, _ in kept])
    return Learned.of([a for _, a in kept], [q for q, _ in kept], np.asarray(vectors, dtype=np.float32),
                      index=retriever)


def figures(outcomes: Sequence[Any]) -> dict[str, float]:
    tally = counts(outcomes)
    n = max(len(outcomes), 1)
    return {"answered_right": round(tally["answered_right"] / n, 4),
            "answered_wrong": round(tally["answered_wrong"] / n, 4),
            "reached": round((tally["answered_right"] + tally["choices_with_right"]) / n, 4)}


def one_set(articles: Sequence[Any], tune: Sequence[tuple[str, str]], test: Sequence[tuple[str, str]],
            picks: int, seed: int = 2) -> dict[str, Any]:
    retriever = build_index(articles, "e5")
    config = Configuration(description={}, policy=load_policy(None), retriever=retriever,
                           intent_model=default_intent_model())
    stream = random.Random(seed).sample(list(tune), min(picks, len(tune)))
    asked = evaluate([Question(q, a) for q, a in stream], config)
    # A customer picks the right article from a menu that holds it (an answer needs no pick).
    honest = [(o.question, o.expected) for o in asked if o.verdict == "choices_with_right"]
    # What the bot did not get the customer to: an agent answers it and links the article.
    linked = [(o.question, o.expected) for o in asked if o.verdict not in ("answered_right", "choices_with_right")]
    article_ids = sorted({a for _, a in tune})
    rng = random.Random(seed + 1)
    adversarial = [(o.question, rng.choice([a for a in article_ids if a != o.expected]))
                   for o in asked if o.action == "choices"]
    adversarial_links = [(question, rng.choice([a for a in article_ids if a != expected]))
                         for question, expected in linked]
    held_out = [Question(q, a) for q, a in test]
    report: dict[str, Any] = {"stream": len(stream), "honest_picks": len(honest),
                              "adversarial_picks": len(adversarial), "agent_links": len(linked),
                              "held_out": len(held_out)}
    report["before"] = figures(evaluate(held_out, config))
    for name, stream_picks in (("after_learning", honest), ("after_adversarial_picks", adversarial),
                               ("after_picks_and_agent_links", honest + linked),
                               ("after_adversarial_picks_and_links", adversarial + adversarial_links)):
        learned = learned_from(stream_picks, retriever)
        report[f"{name}_phrasings"] = len(learned.texts) if learned else 0
        taught = Configuration(description={}, policy=config.policy, retriever=retriever,
                               intent_model=config.intent_model, learned=learned)
        report[name] = figures(evaluate(held_out, taught))
    return report


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stackfaq", type=Path)
    parser.add_argument("--banking77", type=Path)
    parser.add_argument("--picks", type=int, default=400, help="customers in the replayed stream")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"command": " ".join(sys.argv)}
    if args.stackfaq:
        results["stackfaq"] = one_set(*load_stackfaq(args.stackfaq), args.picks)
    if args.banking77:
        results["banking77"] = one_set(*load_banking77(args.banking77), args.picks)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
