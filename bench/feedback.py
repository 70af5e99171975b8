"""Does agent feedback improve later rankings? A replay on StackFAQ.

Data and split (the same as ``bench/retrieval.py``): 125 StackExchange threads are the
articles; each thread's paraphrases come in two groups of five separated by "*". The
FIRST group is the feedback half: simulated agents vote on its searches. The SECOND
group is the evaluation half: P@1 and R@5 are measured on it. No question is in both.

Simulated agent, for each feedback question: search (top 5); thumbs-up on the top hit
if it is the right thread, thumbs-down otherwise; and, when the right thread is elsewhere
in the top 5, a thumbs-up on it too (the agent picked that suggestion instead).

Reported on the evaluation half, side by side:
- ``retrieval``: the lexical Retriever alone;
- ``with_feedback``: the same hits re-ranked by FeedbackMemory built from those votes;
- ``control_shuffled``: the same votes with their articles permuted across threads (no
  thread keeps its own), several seeds: same number and mix of votes, no information.
  If the gain were an artefact (e.g. any shift helps) the control would gain too.

Re-ranking gets the top ``--depth`` hits (8, as agent assist asks for), so R@5 can also
gain when feedback lifts the right thread from rank 6-8 into the top 5.

``--tune`` chooses FeedbackSettings without touching the evaluation half: five-fold
inside the feedback half (each paraphrase of a thread scored once, its four siblings
voting).

    python bench/feedback.py --stackfaq /work/shared/data/stackfaq/stackExchange-FAQ.json [--tune]

Prints one JSON object.
"""
from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from retrieval import Query, load_stackfaq  # noqa: E402  (bench/retrieval.py)

from switchboard.core.bot.decisions import confident  # noqa: E402
from switchboard.core.knowledge.chunking import chunk_articles  # noqa: E402
from switchboard.core.knowledge.feedback import FeedbackMemory, FeedbackSettings, Vote  # noqa: E402
from switchboard.core.knowledge.records import Hit  # noqa: E402
from switchboard.core.knowledge.retrieval import Retriever  # noqa: E402

Ranker = Callable[[str, list[Hit]], list[Hit]]
SHUFFLE_SEEDS = (1, 2, 3, 4, 5)
TIE_TOLERANCE = 0.005  # about 3 of the 625 tuning questions


def agent_votes(retriever: Retriever, queries: Sequence[Query]) -> list[Vote]:
    """What the simulated agents say about each feedback question's top five."""
    votes = []
    for text, right in queries:
        found = [hit.passage.article_id for hit in retriever.search(text, 5)]
        if not found:
            continue
        votes.append(Vote(text, found[0], 1.0 if found[0] == right else -1.0))
        if found[0] != right and right in found:
            votes.append(Vote(text, right, 1.0))
    return votes


def shuffled(votes: Sequence[Vote], articles: Sequence[str], seed: int) -> list[Vote]:
    """The votes with article ids permuted across threads, no thread mapped to itself."""
    rng = random.Random(seed)
    while True:
        permuted = list(articles)
        rng.shuffle(permuted)
        if all(a != b for a, b in zip(articles, permuted, strict=True)):
            break
    mapping = dict(zip(articles, permuted, strict=True))
    return [Vote(vote.query, mapping[vote.article_id], vote.value) for vote in votes]


def evaluate(retriever: Retriever, queries: Sequence[Query], rank: Ranker, depth: int,
             candidates: dict[str, list[Hit]]) -> dict[str, float]:
    at1 = at5 = 0
    for text, right in queries:
        hits = candidates.get(text)
        if hits is None:
            hits = candidates[text] = retriever.search(text, depth)
        found = [hit.passage.article_id for hit in rank(text, hits)]
        at1 += found[:1] == [right]
        at5 += right in found[:5]
    return {"precision@1": round(at1 / len(queries), 4), "recall@5": round(at5 / len(queries), 4)}


def movement(queries: Sequence[Query], memory: FeedbackMemory,
             candidates: dict[str, list[Hit]]) -> dict[str, int | float]:
    """What feedback did to the evaluation questions: how many it touched, fixed and
    broke at rank 1, and how often the top hit passes the confidence gate agent assist
    and the bot apply (``selfservice.confident``: score and coverage) while right or
    wrong, before and after. The gate matters as much as the order: a right article
    promoted to first but still scored as unsure would not be suggested at all."""
    touched = fixed = broken = 0
    gate = {"before_right": 0, "before_wrong": 0, "after_right": 0, "after_wrong": 0}
    for text, right in queries:
        before = candidates[text]
        after = memory.rerank(text, before)
        touched += any(hit.signals["feedback"] != 0 for hit in after)
        was_right = [h.passage.article_id for h in before[:1]] == [right]
        is_right = [h.passage.article_id for h in after[:1]] == [right]
        fixed += not was_right and is_right
        broken += was_right and not is_right
        if confident(before):
            gate["before_right" if was_right else "before_wrong"] += 1
        if confident(after):
            gate["after_right" if is_right else "after_wrong"] += 1
    return {"questions_with_similar_votes": touched, "top1_fixed": fixed, "top1_broken": broken,
            **{f"confident_top1_{key}": round(count / len(queries), 4) for key, count in gate.items()}}


def replay(retriever: Retriever, articles: Sequence[str], feedback: Sequence[Query],
           evaluation: Sequence[Query], settings: FeedbackSettings, depth: int,
           candidates: dict[str, list[Hit]]) -> dict:
    votes = agent_votes(retriever, feedback)
    memory = FeedbackMemory(votes, settings=settings)
    plain: Ranker = lambda text, hits: hits  # noqa: E731
    report: dict = {
        "retrieval": evaluate(retriever, evaluation, plain, depth, candidates),
        "with_feedback": evaluate(retriever, evaluation, memory.rerank, depth, candidates),
    }
    controls = []
    for seed in SHUFFLE_SEEDS:
        control = FeedbackMemory(shuffled(votes, articles, seed), settings=settings)
        controls.append(evaluate(retriever, evaluation, control.rerank, depth, candidates))
    report["control_shuffled_mean"] = {
        metric: round(sum(c[metric] for c in controls) / len(controls), 4)
        for metric in ("precision@1", "recall@5")}
    report["control_shuffled_per_seed"] = controls
    report["votes"] = {"total": len(votes), "up": sum(v.value > 0 for v in votes),
                       "down": sum(v.value < 0 for v in votes)}
    report["movement"] = movement(evaluation, memory, candidates)
    empty = FeedbackMemory(settings=settings)
    report["empty_memory_changes_nothing"] = all(
        [(h.passage.id, h.score) for h in empty.rerank(text, candidates[text])]
        == [(h.passage.id, h.score) for h in candidates[text]] for text, _ in evaluation)
    return report


def tune(retriever: Retriever, feedback: Sequence[Query], depth: int) -> dict:
    """Grid over FeedbackSettings on the feedback half alone, five-fold: in fold i the
    i-th paraphrase of each thread is scored and the other four vote (close to the five
    voters per thread of the real replay). Sorted best first: P@1, then R@5, then the
    smaller shift and the higher threshold (the more cautious setting wins a tie)."""
    by_thread: dict[str, list[Query]] = {}
    for query in feedback:
        by_thread.setdefault(query[1], []).append(query)
    folds = max(len(group) for group in by_thread.values())
    plans = []
    for fold in range(folds):
        voting = [q for group in by_thread.values() for i, q in enumerate(group) if i != fold]
        scored = [q for group in by_thread.values() for i, q in enumerate(group) if i == fold]
        plans.append((agent_votes(retriever, voting), scored))
    candidates: dict[str, list[Hit]] = {}
    plain: Ranker = lambda text, hits: hits  # noqa: E731

    def pooled(rank_for: Callable[[list[Vote]], Ranker]) -> dict[str, float]:
        rows = [(evaluate(retriever, scored, rank_for(votes), depth, candidates), len(scored))
                for votes, scored in plans]
        total = sum(n for _, n in rows)
        return {metric: round(sum(r[metric] * n for r, n in rows) / total, 4)
                for metric in ("precision@1", "recall@5")}

    results: dict = {"folds": folds, "retrieval": pooled(lambda votes: plain), "grid": []}
    for threshold, shift, prior in itertools.product((0.2, 0.3, 0.4, 0.5, 0.6),
                                                     (0.05, 0.1, 0.2, 0.3, 0.5),
                                                     (0.5, 1.0, 2.0)):
        settings = FeedbackSettings(similarity_threshold=threshold, max_shift=shift, prior=prior)
        scores = pooled(lambda votes, s=settings: FeedbackMemory(votes, settings=s).rerank)
        results["grid"].append({**asdict(settings), **scores})
    results["grid"].sort(key=lambda row: (-row["precision@1"], -row["recall@5"], row["max_shift"],
                                          -row["similarity_threshold"]))
    results["chosen"] = choose(results["grid"])
    return results


def choose(grid: Sequence[dict]) -> dict:
    """The most cautious setting within ``TIE_TOLERANCE`` of the best P@1: smallest
    ``max_shift``, then highest ``similarity_threshold``, then best P@1. The top of the
    grid is flat (a few questions apart), and a smaller bound and a stricter neighbour
    test risk less on a help desk whose topics overlap more than StackFAQ's threads."""
    best = max(row["precision@1"] for row in grid)
    near = [row for row in grid if row["precision@1"] >= best - TIE_TOLERANCE]
    return min(near, key=lambda row: (row["max_shift"], -row["similarity_threshold"],
                                      -row["precision@1"], -row["recall@5"]))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stackfaq", type=Path, required=True, help="path to stackExchange-FAQ.json")
    parser.add_argument("--depth", type=int, default=8, help="hits retrieved before re-ranking")
    parser.add_argument("--max-words", type=int, default=120, help="chunk size, as bench/retrieval.py")
    parser.add_argument("--tune", action="store_true",
                        help="grid over FeedbackSettings inside the feedback half only")
    defaults = FeedbackSettings()
    parser.add_argument("--threshold", type=float, default=defaults.similarity_threshold)
    parser.add_argument("--max-shift", type=float, default=defaults.max_shift)
    parser.add_argument("--prior", type=float, default=defaults.prior)
    args = parser.parse_args(argv)
    articles, feedback, evaluation = load_stackfaq(args.stackfaq)
    retriever = Retriever.build(chunk_articles(articles, max_words=args.max_words))
    settings = FeedbackSettings(similarity_threshold=args.threshold, max_shift=args.max_shift,
                                prior=args.prior)
    report: dict = {
        "dataset": {"articles": len(articles), "feedback_questions": len(feedback),
                    "evaluation_questions": len(evaluation),
                    "split": "per thread: paraphrases before '*' vote (feedback half), "
                             "after '*' are evaluated; disjoint"},
        "settings": asdict(settings),
        "depth": args.depth,
    }
    if args.tune:
        report["tune_within_feedback_half"] = tune(retriever, feedback, args.depth)
    report["evaluation"] = replay(retriever, [a.id for a in articles], feedback, evaluation,
                                  settings, args.depth, {})
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
