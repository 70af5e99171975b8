"""Self-service decision benchmark: what a customer's first question ends with.

Runs :func:`switchboard.core.bot.decisions.decide` itself (escalation policy, drafting and
grounding included, no intent model) over StackFAQ (see bench/retrieval.py: 125 threads
become articles, their paraphrases become questions; the FIRST group of each thread's
paraphrases is the tuning half, the SECOND the held-out half reported) and counts, per
kind of question:

* ``reached``: the right article cited by the answer (``answered_right``) or offered in
  the menu (``menu_right``);
* ``wrong``: an answer citing another article (the costly mistake);
* ``menu_without``, ``clarified``, ``handed_over``.

Kinds: ``full`` (the paraphrase as written), ``short`` (two of its topic words, as
customers text "refund status"), ``small_kb`` (a 67-article KB holding the article),
``left_out`` (the same KB without it: any answer is wrong) and ``offtopic`` (CLINC150
out-of-scope questions: oos_train for tune, oos_val for test).

    python bench/decision.py --stackfaq /work/shared/data/stackfaq/stackExchange-FAQ.json \
        --offtopic /work/shared/data/clinc150/data_train_val.json [--half tune|test] \
        [--embeddings wordllama|minilm|none] [--banking77 …/train.csv instead of --stackfaq] \
        [--set MIN_SCORE=0.5 --set SHORT_MIN_SCORE=0.9 ...]

``--set`` overrides a module constant of core/bot/decisions.py for the run, which is how
its thresholds were chosen (on ``--half tune``). Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from switchboard.core.bot import decisions as selfservice
from switchboard.core.bot.escalation_file import load_policy
from switchboard.core.knowledge.analysis import content_words
from switchboard.core.knowledge.chunking import chunk_articles
from switchboard.core.knowledge.retrieval import Retriever, build_retriever
from switchboard.core.understanding.enrichment import enrich

sys.path.insert(0, str(Path(__file__).parent))
from retrieval import load_banking77, load_stackfaq  # noqa: E402

#: Size of the help center the small-KB kinds are asked of (the unseen one had 67).
SMALL_KB = 67
#: Every how-many-th thread gets a small KB with and without its article (each build
#: indexes 67 articles twice).
SMALL_KB_EVERY = 5


def short_version(text: str, rng: random.Random) -> str | None:
    """Two of the question's topic words, in order: a customer's terse text."""
    words = content_words(text)
    if len(words) <= 2:
        return None
    keep = sorted(rng.sample(range(len(words)), 2))
    return " ".join(words[i] for i in keep)


def outcome(retriever: Retriever, question: str, expected: str | None) -> str:
    decision = selfservice.decide(
        question, enrich(question), selfservice.Turn(first_bot_message=False), policy=load_policy(None),
        search=lambda q: retriever.search(q, k=5), topic_words=content_words,
    )
    if decision.action == "answer":
        cited = [p.article_id for p in decision.draft.citations] if decision.draft else []
        return "answered_right" if expected in cited[:1] else "wrong"
    if decision.action == "choices":
        return "menu_right" if expected in {h.passage.article_id for h in decision.choices} else "menu_without"
    return {"clarify": "clarified", "handoff": "handed_over"}.get(decision.action, decision.action)


def run(args: argparse.Namespace) -> dict:
    articles, tune, test = load_banking77(args.banking77) if args.banking77 else load_stackfaq(args.stackfaq)
    queries = tune if args.half == "tune" else test
    passages = chunk_articles(articles)

    def build(chosen: list) -> Retriever:  # as the product indexes: lexical fused with embeddings
        return build_retriever(chosen, args.embeddings)

    full = build(passages)
    rng = random.Random(3 if args.half == "tune" else 4)
    asked: dict[str, list[tuple[Retriever, str, str | None]]] = {k: [] for k in
                                                                ("full", "short", "small_kb", "left_out", "offtopic")}
    answered_by: dict[str, list[str]] = {}
    for text, article_id in queries:
        asked["full"].append((full, text, article_id))
        answered_by.setdefault(article_id, []).append(text)
        if (short := short_version(text, rng)) is not None:
            asked["short"].append((full, short, article_id))
    ids = sorted(answered_by)
    for number, article_id in enumerate(ids):
        if number % SMALL_KB_EVERY:
            continue
        chosen = set(rng.sample([a for a in ids if a != article_id], min(SMALL_KB, len(ids) - 1) - 1))
        with_it = build([p for p in passages if p.article_id in chosen | {article_id}])
        without_it = build([p for p in passages if p.article_id in chosen])
        for text in answered_by[article_id]:
            asked["small_kb"].append((with_it, text, article_id))
            asked["left_out"].append((without_it, text, article_id))
    if args.offtopic:
        data = json.loads(args.offtopic.read_text(encoding="utf-8"))
        texts = data["oos_train"][: args.offtopic_count] if args.half == "tune" else data["oos_val"]
        asked["offtopic"] = [(full, text, None) for text, _ in texts]
    report: dict = {"half": args.half, "embeddings": args.embeddings,
                    "constants": {name: getattr(selfservice, name) for name in args.constants}}
    for kind, rows in asked.items():
        if not rows:
            continue
        tally = Counter(outcome(retriever, text, expected) for retriever, text, expected in rows)
        tally["reached"] = tally["answered_right"] + tally["menu_right"]
        report[kind] = {"questions": len(rows), **{name: round(count / len(rows), 3)
                                                   for name, count in sorted(tally.items()) if count}}
    return report


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stackfaq", type=Path, help="path to stackExchange-FAQ.json")
    parser.add_argument("--banking77", type=Path,
                        help="banking77 train.csv instead: real questions, not paraphrases of titles "
                             "(bench/retrieval.py load_banking77)")
    parser.add_argument("--embeddings", choices=("wordllama", "minilm", "none"), default="wordllama",
                        help="the index the product builds (default: the default install's)")
    parser.add_argument("--offtopic", type=Path, help="CLINC150 data_train_val.json (out-of-scope questions)")
    parser.add_argument("--offtopic-count", type=int, default=600, help="oos_train questions asked on tune")
    parser.add_argument("--half", choices=("tune", "test"), default="test")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a core/bot/decisions.py constant for this run")
    args = parser.parse_args(argv)
    if not (args.stackfaq or args.banking77):
        parser.error("give --stackfaq PATH or --banking77 PATH")
    for assignment in args.set:
        name, _, value = assignment.partition("=")
        if not hasattr(selfservice, name):
            parser.error(f"core/bot/decisions.py has no constant {name}")
        setattr(selfservice, name, type(getattr(selfservice, name))(value))
    args.constants = ["MIN_SCORE", "PARAPHRASE_MIN_SCORE", "MIN_COVERAGE", "SHORT_QUESTION_WORDS", "SHORT_MIN_SCORE",
                      "MIN_CHOICE_SCORE"]
    args.constants = [name for name in args.constants if hasattr(selfservice, name)]
    json.dump(run(args), sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
