"""Self-service reply latency with the local engine, next to a plain BM25 baseline, and
the memory of the processes that serve it.

"Ours" is everything the bot does for one message after it is stored: redaction,
enrichment (intent model, sentiment, language), retrieval, extractive drafting and the
grounding check. The baseline, measured in the same run on the same knowledge base and
questions, is bm25s alone returning its top passage (no understanding, no safety).

    python bench/reply_latency.py                                  # 10,000 articles
    python bench/reply_latency.py --articles 10000 --articles 100000
    python bench/reply_latency.py --articles 100000 --no-services  # latency only

Each knowledge-base size, and ours and the baseline at each size, are measured in
processes of their own, so every peak RSS belongs to one engine on one knowledge base.
Then, unless --no-services, the knowledge base is imported with `switchboard kb import`
into a fresh SQLite database and the service is started twice, answering signed Twilio
webhooks (sandboxed replies) from distinct customers:
  embedded: one gunicorn worker that answers in-process (what `switchboard serve` does);
  celery:   one gunicorn worker that verifies, records and enqueues, plus a Celery
            worker (prefork, one pool process) that answers, on a private redis-server.
Memory is read from /proc before the first webhook and after the last reply.

Prints JSON. Knowledge bases are synthetic and deterministic (bench/retrieval.py).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from harness import (  # noqa: E402
    ROOT,
    Server,
    base_env,
    celery_worker,
    children,
    gunicorn,
    memory,
    post_message,
    private_redis,
    run_cli_measured,
    stop,
    tree_memory,
)
from retrieval import synthetic_kb  # noqa: E402

WHAT = {
    "latency": "per message, in one process, after one warm-up message; 300 synthetic questions",
    "engine_process": "a process of its own per engine and size: rss_mb_kb_text_only is after generating and "
                      "chunking the articles (the same in both), peak_rss_mb the most it held (ru_maxrss) "
                      "after building its index and answering",
    "kb_import_peak_rss_mb": "`switchboard kb import` of the JSONL file: store the articles and build the index",
    "services": "memory per process (MB) from /proc: rss_mb resident now, peak_rss_mb the most ever resident "
                "(VmHWM), uss_mb only this process's pages (what one more forked worker costs), pss_mb its "
                "fair share of shared pages (sums without double counting); idle = started, before any "
                "webhook; answered = after every webhook got its bot reply",
    "embedded": "gunicorn master + 1 worker (4 threads) that verifies, records and answers in-process",
    "celery": "gunicorn master + 1 worker that verifies, records and enqueues; Celery main + 1 pool child that "
              "answers (the pool child loads the index; each extra --concurrency adds about one child's uss_mb)",
}


# -- latency, one engine per process ----------------------------------------------------
def percentiles(run: Callable[[str], object], questions: Sequence[str]) -> dict[str, float]:
    run(questions[0])
    times = []
    for question in questions:
        started = time.perf_counter()
        run(question)
        times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(float(np.percentile(times, 50)), 2), "p95_ms": round(float(np.percentile(times, 95)), 2),
            "p99_ms": round(float(np.percentile(times, 99)), 2), "max_ms": round(max(times), 2)}


def ours(passages: list, questions: list[str], embeddings: str | None = "wordllama") -> dict[str, object]:
    from switchboard.core.bot.decisions import Turn, decide
    from switchboard.core.bot.escalation_file import load_policy
    from switchboard.core.intents.store import default_intent_model
    from switchboard.core.knowledge.analysis import content_words
    from switchboard.core.knowledge.retrieval import build_retriever
    from switchboard.core.pii.redaction import redact
    from switchboard.core.understanding.enrichment import enrich

    started = time.perf_counter()
    retriever = build_retriever(passages, embeddings)  # as KnowledgeBase.rebuild_index does
    build_seconds = time.perf_counter() - started
    model, turn, escalation = default_intent_model(), Turn(first_bot_message=False), load_policy()
    actions: dict[str, int] = {}

    def reply(question: str) -> None:
        clean = redact(question).text
        decision = decide(clean, enrich(clean, intent_model=model), turn, policy=escalation,
                          search=lambda q: retriever.search(q, k=5), topic_words=content_words)
        actions[decision.action] = actions.get(decision.action, 0) + 1

    latency = percentiles(reply, questions)
    return {"index_build_seconds": round(build_seconds, 1), "latency": latency, "actions": actions}


def baseline(passages: list, questions: list[str]) -> dict[str, object]:
    import bm25s

    corpus = [f"{p.title} {p.text}" for p in passages]
    started = time.perf_counter()
    plain = bm25s.BM25()
    plain.index(bm25s.tokenize(corpus, show_progress=False), show_progress=False)
    build_seconds = time.perf_counter() - started

    def top_passage(question: str) -> None:
        documents, _ = plain.retrieve(bm25s.tokenize([question], show_progress=False), k=1, show_progress=False)
        corpus[int(documents[0][0])].split(". ")[0]

    return {"index_build_seconds": round(build_seconds, 1), "latency": percentiles(top_passage, questions)}


def engine_child(engine: str, articles_count: int) -> dict[str, object]:
    """Runs in its own process (``--engine``): its peak RSS is this engine's alone."""
    from switchboard.core.knowledge.chunking import chunk_articles

    articles, questions = synthetic_kb(articles_count)
    passages = chunk_articles(articles)
    text_only = memory(os.getpid())["rss_mb"]
    if engine == "ours":  # the default install: lexical fused with WordLlama embeddings
        result = ours(passages, questions)
    elif engine == "ours_lexical":  # SWITCHBOARD_EMBEDDINGS=none
        result = ours(passages, questions, embeddings=None)
    else:
        result = baseline(passages, questions)
    result.update(articles=articles_count, passages=len(passages), questions=len(questions),
                  rss_mb_kb_text_only=text_only,
                  peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))
    return result


def run_engine(engine: str, articles_count: int) -> dict[str, object]:
    done = subprocess.run([sys.executable, __file__, "--engine", engine, "--articles", str(articles_count)],
                          capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise RuntimeError(f"{engine} at {articles_count} articles failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


# -- the service's processes -------------------------------------------------------------
def write_jsonl(articles_count: int, path: Path) -> list[str]:
    """The synthetic knowledge base as a help-center export; returns its questions."""
    articles, questions = synthetic_kb(articles_count)
    with path.open("w") as out:
        for a in articles:
            out.write(json.dumps({"id": a.id, "title": a.title, "body": a.body,
                                  "url": f"https://help.example.com/{a.id}"}) + "\n")
    return questions


def bot_replies(database: Path) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as connection:
        return connection.execute(
            "SELECT count(*) FROM messages WHERE direction = 'outbound' AND author = 'bot'").fetchone()[0]


def answer(server: Server, database: Path, questions: Sequence[str], timeout: float,
           first_customer: int) -> dict[str, float]:
    """Post one signed question per new customer (numbers from ``first_customer`` on,
    so no run meets a conversation another run handed over); wait for every reply."""
    already = bot_replies(database)
    began = time.monotonic()
    for n, question in enumerate(questions):
        status = post_message(server.port, f"SM{uuid.uuid4().hex}", f"+1415556{first_customer + n:04d}", question)
        if not 200 <= status < 300:
            raise RuntimeError(f"the webhook answered {status}; see the gunicorn log")
    first, got = None, 0
    while time.monotonic() - began < timeout:
        got = bot_replies(database) - already
        if got and first is None:
            first = time.monotonic() - began
        if got >= len(questions):
            return {"webhooks": len(questions), "first_reply_seconds": round(first or 0, 2),
                    "all_replies_seconds": round(time.monotonic() - began, 2)}
        time.sleep(0.25)
    raise TimeoutError(f"{got} of {len(questions)} replies within {timeout:.0f} s; see the logs")


def embedded(env: dict[str, str], database: Path, questions: Sequence[str], work: Path,
             timeout: float) -> dict[str, object]:
    server = gunicorn("switchboard.wsgi:app", env, workers=1, threads=4, chdir=ROOT,
                      log=work / "gunicorn-embedded.log")
    try:
        idle = tree_memory(server.process.pid, "gunicorn master", "gunicorn worker (web + answers)")
        timing = answer(server, database, questions, timeout, first_customer=0)
        return {**timing, "idle": idle,
                "answered": tree_memory(server.process.pid, "gunicorn master", "gunicorn worker (web + answers)")}
    finally:
        server.stop()


def wait_for_pool(worker: subprocess.Popen, timeout: float = 60.0) -> None:
    """The Celery main process forks its pool only after importing the app."""
    deadline = time.monotonic() + timeout
    while not children(worker.pid):
        if worker.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the Celery worker did not start its pool; see celery.log")
        time.sleep(0.2)


def with_celery(env: dict[str, str], database: Path, questions: Sequence[str], work: Path,
                timeout: float) -> dict[str, object]:
    with ExitStack() as stack:
        redis, url = private_redis(work)
        stack.callback(stop, redis)
        env = {**env, "SWITCHBOARD_REDIS_URL": url}
        worker = celery_worker(env, concurrency=1, log=work / "celery.log")
        stack.callback(stop, worker)
        server = gunicorn("switchboard.wsgi:app", env, workers=1, threads=4, chdir=ROOT,
                          log=work / "gunicorn-celery.log")
        stack.callback(server.stop)

        def snapshot() -> dict[str, object]:
            return {"web": tree_memory(server.process.pid, "gunicorn master", "gunicorn worker (web)"),
                    "worker": tree_memory(worker.pid, "celery main", "celery pool child (answers)")}

        wait_for_pool(worker)
        idle = snapshot()
        timing = answer(server, database, questions, timeout, first_customer=5000)
        return {**timing, "idle": idle, "answered": snapshot()}


def services(articles_count: int, webhooks: int, timeout: float) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix=f"sb-bench-reply-{articles_count}-"))
    database = work / "switchboard.db"
    env = base_env(f"sqlite:///{database}", work)
    questions = write_jsonl(articles_count, work / "articles.jsonl")[:webhooks]
    try:
        started = time.perf_counter()
        import_peak = run_cli_measured(["kb", "import", str(work / "articles.jsonl")], env, work / "import.log")
        result: dict[str, object] = {"kb_import_seconds": round(time.perf_counter() - started, 1),
                                     "kb_import_peak_rss_mb": import_peak, "logs": str(work)}
        result["embedded"] = embedded(env, database, questions, work, timeout)
        result["celery"] = with_celery(env, database, questions, work, timeout)
        return result
    finally:  # keep the logs, not hundreds of MB of database and index per run
        for bulky in (work / "articles.jsonl", database, work / "switchboard.db-wal", work / "switchboard.db-shm",
                      work / "index"):
            if bulky.is_dir():
                shutil.rmtree(bulky, ignore_errors=True)
            else:
                bulky.unlink(missing_ok=True)


def measure(articles_count: int, args: argparse.Namespace) -> dict[str, object]:
    mine, plain = run_engine("ours", articles_count), run_engine("baseline", articles_count)
    lexical = run_engine("ours_lexical", articles_count)
    result: dict[str, object] = {
        "articles": articles_count, "passages": mine["passages"], "questions": mine["questions"],
        "ours_local_reply": mine, "ours_lexical_only_reply": lexical,
        "baseline_plain_bm25_top_passage": plain,
        "embeddings_add_peak_rss_mb": round(mine["peak_rss_mb"] - lexical["peak_rss_mb"], 1),  # type: ignore[operator]
        "ratio_p50_ours_over_baseline": round(
            mine["latency"]["p50_ms"] / max(plain["latency"]["p50_ms"], 1e-6), 1),  # type: ignore[index]
    }
    if not args.no_services:
        result["services"] = services(articles_count, args.webhooks, args.reply_timeout)
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, action="append",
                        help="knowledge-base size (repeatable; default 10000; 100000 takes several minutes)")
    parser.add_argument("--no-services", action="store_true",
                        help="skip the web/worker memory measurement (latency and engine memory only)")
    parser.add_argument("--webhooks", type=int, default=20, help="signed webhooks each service answers")
    parser.add_argument("--reply-timeout", type=float, default=600.0, help="seconds to wait for the replies")
    # A child process's own engine:
    parser.add_argument("--engine", choices=("ours", "ours_lexical", "baseline"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = args.articles or [10_000]
    if args.engine:
        print(json.dumps(engine_child(args.engine, sizes[0])))
        return
    runs = [measure(n, args) for n in sizes]
    print(json.dumps({"benchmark": "reply_latency", "machine_cpus": os.cpu_count(), "what": WHAT, "runs": runs},
                     indent=2))


if __name__ == "__main__":
    main()
