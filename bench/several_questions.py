"""Messages that ask two or three things at once, on the shipped sample knowledge base:
how many get every question answered, part of them, a menu, or a wrong article.

`bench/data/two_questions_sample_kb.csv` lists each message with the articles that
answer it (one when its questions are about one thing, "Do you deliver to Australia?
How long would that take?"), in two batches written by hand after the rule in
`core/bot/several_questions.py`: ``first`` (looked at while it was finished) and
``second`` (measured once). The decision is the live one (`switchboard eval`'s path).

    python bench/several_questions.py [--kb switchboard/data/sample_kb.json]

Prints one JSON object: per batch, the count of each outcome and each message's.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from switchboard.core.bot.escalation_file import load_policy  # noqa: E402
from switchboard.core.conversation.evaluation import Configuration, Question, run_question  # noqa: E402
from switchboard.core.intents.store import default_intent_model  # noqa: E402
from switchboard.core.knowledge.loaders import load_articles  # noqa: E402
from switchboard.core.knowledge.retrieval import build_index  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def outcome(action: str, shown: Sequence[str], wanted: Sequence[str]) -> str:
    """all / part / wrong for an answer (wrong: it cites an article no question asks
    for); menu_with / menu_without (the first question's article offered or not);
    else the action (handoff, clarify)."""
    if action == "answer":
        if set(shown) - set(wanted):
            return "wrong"
        return "all" if set(wanted) <= set(shown) else "part"
    if action == "choices":
        return "menu_with" if wanted[0] in shown else "menu_without"
    return action


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kb", type=Path, default=ROOT / "switchboard" / "data" / "sample_kb.json")
    parser.add_argument("--questions", type=Path, default=ROOT / "bench" / "data" / "two_questions_sample_kb.csv")
    args = parser.parse_args(argv)
    retriever = build_index(load_articles(args.kb), "e5")
    config = Configuration(description={}, policy=load_policy(None), retriever=retriever,
                           intent_model=default_intent_model())
    report: dict[str, Any] = {"command": " ".join(sys.argv)}
    with args.questions.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for batch in dict.fromkeys(row["batch"] for row in rows):
        messages = []
        for row in (r for r in rows if r["batch"] == batch):
            wanted = row["articles"].split()
            decided = run_question(Question(row["question"], wanted[0]), config)
            messages.append({"question": row["question"], "articles": wanted, "action": decided.action,
                             "shown": list(decided.shown), "outcome": outcome(decided.action, decided.shown, wanted)})
        report[batch] = {"counts": dict(Counter(m["outcome"] for m in messages)), "messages": messages}
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
