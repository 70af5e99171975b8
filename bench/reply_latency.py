"""Self-service reply latency with the local engine, next to a plain BM25 baseline.

"Ours" is everything the bot does for one message after it is stored: redaction,
enrichment (intent model, sentiment, language), retrieval, extractive drafting and the
grounding check. The baseline, measured in the same run on the same knowledge base and
questions, is bm25s alone returning its top passage (no understanding, no safety).

    python bench/reply_latency.py --articles 10000 [--articles 100000]

Prints JSON. Knowledge bases are synthetic and deterministic (bench/retrieval.py).
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import bm25s
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from retrieval import synthetic_kb  # noqa: E402

from switchboard.core.enrichment import enrich  # noqa: E402
from switchboard.core.knowledge.analysis import content_words  # noqa: E402
from switchboard.core.knowledge.chunking import chunk_articles  # noqa: E402
from switchboard.core.knowledge.retrieval import Retriever  # noqa: E402
from switchboard.core.policy import load_policy  # noqa: E402
from switchboard.core.redaction import redact  # noqa: E402
from switchboard.core.replies import default_intent_model  # noqa: E402
from switchboard.core.selfservice import Turn, decide  # noqa: E402


def percentiles(run: Callable[[str], object], questions: Sequence[str]) -> dict[str, float]:
    run(questions[0])
    times = []
    for question in questions:
        started = time.perf_counter()
        run(question)
        times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(float(np.percentile(times, 50)), 2), "p95_ms": round(float(np.percentile(times, 95)), 2),
            "max_ms": round(max(times), 2)}


def measure(articles_count: int) -> dict[str, object]:
    articles, questions = synthetic_kb(articles_count)
    passages = chunk_articles(articles)
    started = time.perf_counter()
    retriever = Retriever.build(passages)
    build_seconds = time.perf_counter() - started
    model = default_intent_model()
    turn = Turn(first_bot_message=False)
    escalation = load_policy()
    actions: dict[str, int] = {}

    def ours(question: str) -> None:
        clean = redact(question).text
        decision = decide(clean, enrich(clean, intent_model=model), turn, policy=escalation,
                          search=lambda q: retriever.search(q, k=5), topic_words=content_words)
        actions[decision.action] = actions.get(decision.action, 0) + 1

    corpus = [f"{p.title} {p.text}" for p in passages]
    plain = bm25s.BM25()
    plain.index(bm25s.tokenize(corpus, show_progress=False), show_progress=False)

    def baseline(question: str) -> None:
        documents, _ = plain.retrieve(bm25s.tokenize([question], show_progress=False), k=1, show_progress=False)
        corpus[int(documents[0][0])].split(". ")[0]

    result = {"articles": articles_count, "passages": len(passages), "questions": len(questions),
              "ours_index_build_seconds": round(build_seconds, 1),
              "ours_local_reply": percentiles(ours, questions),
              "baseline_plain_bm25_top_passage": percentiles(baseline, questions)}
    result["ours_actions"] = actions
    result["ratio_p50_ours_over_baseline"] = round(
        result["ours_local_reply"]["p50_ms"] / max(result["baseline_plain_bm25_top_passage"]["p50_ms"], 1e-6), 1)
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, action="append", help="knowledge-base size (repeatable)")
    args = parser.parse_args(argv)
    runs = [measure(n) for n in (args.articles or [10_000])]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"benchmark": "reply_latency", "runs": runs, "peak_rss_megabytes": round(peak)}, indent=2))


if __name__ == "__main__":
    main()
