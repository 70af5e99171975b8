"""Memory of a Celery worker answering from a 10,000-article knowledge base: the main
process and each prefork pool child, with the models and index shared and, in the same
run, without (``SWITCHBOARD_WORKER_PRELOAD=0``: every child loads its own copy, as
before issue 18).

    python bench/memory.py [--articles 10000] [--concurrency 2] [--messages 24] [--rounds 1]
    python bench/memory.py --profile        # what each loaded part adds, in one process

A knowledge base of synthetic, deterministic articles (bench/retrieval.py's generator:
Zipf-distributed words, 2-5 paragraphs each) is imported with `switchboard kb import`
into a fresh SQLite database. Then, for each setting in turn, a Celery worker is started
as `switchboard worker` runs it (prefork pool, ``--concurrency`` children) on a private
redis-server, signed Twilio webhooks from distinct customers are posted to one gunicorn
worker (verify, record, enqueue) until every pool child has answered some (its log
names the child), and memory is read from /proc:

  rss_mb   resident pages, shared ones counted in full in every process that maps them;
  pss_mb   each shared page divided among the processes sharing it (sums to the total);
  uss_mb   pages only this process holds: what the child costs, and what one more
           child would cost.

Which figure the issue's goal ("≤ 250 MB each") is judged on: RSS cannot show sharing
(a forked child that shares everything with its parent has the parent's RSS), so the
goal is read on PSS and USS per child; RSS is printed beside them.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from harness import ROOT, _clean_env, base_env, children, gunicorn, memory, post_message, private_redis, run_cli, stop  # noqa: E402
from reply_latency import bot_replies, write_jsonl  # noqa: E402

#: The setting each variant runs with, and what it means.
VARIANTS = {
    "baseline_each_child_loads": "0",
    "ours_shared": "1",
}
_CHILD_DONE = re.compile(r"INFO/ForkPoolWorker-(\d+)\].*succeeded")


def start_worker(env: Mapping[str, str], concurrency: int, log: Path) -> subprocess.Popen:
    """`switchboard worker --no-beat`'s command line, with INFO logging so the log says
    which pool child ran each task."""
    out = open(log, "ab")  # noqa: SIM115 - owned by the child
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "switchboard.worker", "worker", f"--concurrency={concurrency}",
         "--loglevel=INFO", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=_clean_env(env), stdout=out, stderr=out)


def wait_for_pool(worker: subprocess.Popen, concurrency: int, log: Path, timeout: float = 180.0) -> float:
    """Seconds until the pool's children exist and the worker consumes ("ready")."""
    began = time.monotonic()
    while len(children(worker.pid)) < concurrency or "ready." not in log.read_text(errors="replace"):
        if worker.poll() is not None or time.monotonic() - began > timeout:
            raise RuntimeError(f"the Celery worker did not start its pool; see {log}")
        time.sleep(0.2)
    return round(time.monotonic() - began, 1)


def tasks_per_child(log: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for match in _CHILD_DONE.finditer(log.read_text(errors="replace")):
        counts[match.group(1)] = counts.get(match.group(1), 0) + 1
    return counts


def answer_until_every_child_ran(port: int, database: Path, questions: Sequence[str], first_customer: int,
                                 log: Path, concurrency: int, timeout: float) -> dict[str, object]:
    """Post the questions in bursts (one new customer each) and wait for the replies,
    until every pool child has run at least one message task."""
    began, sent, already = time.monotonic(), 0, bot_replies(database)
    while time.monotonic() - began < timeout:
        burst = questions[sent % len(questions):][:concurrency * 4] or questions[:concurrency * 4]
        for question in burst:
            status = post_message(port, f"SM{uuid.uuid4().hex}", f"+1415557{first_customer + sent:04d}", question)
            if not 200 <= status < 300:
                raise RuntimeError(f"the webhook answered {status}; see the gunicorn log")
            sent += 1
        while bot_replies(database) - already < sent:
            if time.monotonic() - began > timeout:
                raise TimeoutError(f"{bot_replies(database) - already} of {sent} replies; see {log}")
            time.sleep(0.25)
        per_child = tasks_per_child(log)
        if len(per_child) >= concurrency and sent >= len(questions):
            return {"messages": sent, "tasks_per_child": per_child, "seconds": round(time.monotonic() - began, 1)}
    raise TimeoutError(f"not every pool child ran a task within {timeout:.0f} s; see {log}")


def worker_memory(pid: int) -> dict[str, object]:
    parent = {"pid": pid, **memory(pid)}
    kids = [{"pid": child, **memory(child)} for child in children(pid)]
    return {"celery_main": parent, "pool_children": kids,
            "total_pss_mb": round(parent["pss_mb"] + sum(k["pss_mb"] for k in kids), 1),
            "max_child_rss_mb": max(k["rss_mb"] for k in kids), "max_child_pss_mb": max(k["pss_mb"] for k in kids),
            "max_child_uss_mb": max(k["uss_mb"] for k in kids)}


def run_variant(name: str, env: dict[str, str], port: int, database: Path, questions: Sequence[str],
                first_customer: int, work: Path, args: argparse.Namespace) -> dict[str, object]:
    log = work / f"celery-{name}-{first_customer}.log"
    worker = start_worker({**env, "SWITCHBOARD_WORKER_PRELOAD": VARIANTS[name]}, args.concurrency, log)
    try:
        ready = wait_for_pool(worker, args.concurrency, log)
        idle = worker_memory(worker.pid)
        served = answer_until_every_child_ran(port, database, questions, first_customer, log, args.concurrency,
                                              args.timeout)
        return {"setting": f"SWITCHBOARD_WORKER_PRELOAD={VARIANTS[name]}", "start_to_ready_seconds": ready,
                **served, "idle": idle, "answered": worker_memory(worker.pid)}
    finally:
        stop(worker)


def measure(args: argparse.Namespace) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="sb-bench-memory-"))
    database = work / "switchboard.db"
    env = base_env(f"sqlite:///{database}", work)
    questions = write_jsonl(args.articles, work / "articles.jsonl")[:args.messages]
    result: dict[str, object] = {"logs": str(work)}
    try:
        started = time.perf_counter()
        run_cli(["kb", "import", str(work / "articles.jsonl")], env)
        result["kb_import_seconds"] = round(time.perf_counter() - started, 1)
        with ExitStack() as stack:
            redis, url = private_redis(work)
            stack.callback(stop, redis)
            env["SWITCHBOARD_REDIS_URL"] = url
            server = gunicorn("switchboard.wsgi:app", env, workers=1, threads=4, chdir=ROOT,
                              log=work / "gunicorn.log")
            stack.callback(server.stop)
            rounds = []
            for number in range(args.rounds):
                rounds.append({name: run_variant(name, env, server.port, database, questions,
                                                 1000 * (2 * number + offset), work, args)
                               for offset, name in enumerate(VARIANTS)})
            result["rounds"] = rounds
            result["summary"] = summary(rounds)
        return result
    finally:  # keep the logs, not the database and index
        for bulky in (work / "articles.jsonl", database, work / "index"):
            shutil.rmtree(bulky, ignore_errors=True) if bulky.is_dir() else bulky.unlink(missing_ok=True)


def summary(rounds: list[dict[str, dict]]) -> dict[str, object]:
    """The last round's answered figures side by side, and ours over the baseline."""
    last = rounds[-1]
    figures = {name: {key: last[name]["answered"][key] for key in
                      ("max_child_rss_mb", "max_child_pss_mb", "max_child_uss_mb", "total_pss_mb")}
               | {"celery_main_rss_mb": last[name]["answered"]["celery_main"]["rss_mb"],
                  "celery_main_pss_mb": last[name]["answered"]["celery_main"]["pss_mb"]}
               for name in VARIANTS}
    ours, base = figures["ours_shared"], figures["baseline_each_child_loads"]
    return {**figures, "ratio_ours_over_baseline": {key: round(ours[key] / base[key], 2) for key in base if base[key]}}


# -- where the memory goes, in one process ----------------------------------------------
def profile(args: argparse.Namespace) -> dict[str, object]:
    """Load what a pool child loads, one part at a time, and report each part's RSS
    delta (a fresh process; the knowledge base imported as in the measurement)."""
    work = Path(tempfile.mkdtemp(prefix="sb-bench-memory-profile-"))
    database = work / "switchboard.db"
    env = base_env(f"sqlite:///{database}", work)
    write_jsonl(args.articles, work / "articles.jsonl")
    try:
        run_cli(["kb", "import", str(work / "articles.jsonl")], env)
        done = subprocess.run([sys.executable, __file__, "--profile-child"], cwd=ROOT, env=_clean_env(env),
                              capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(done.stderr[-3000:])
        return json.loads(done.stdout)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def profile_child() -> dict[str, object]:
    stages: list[dict[str, object]] = []
    previous = memory(os.getpid())["rss_mb"]

    def mark(what: str) -> None:
        nonlocal previous
        now = memory(os.getpid())
        stages.append({"stage": what, "rss_mb": now["rss_mb"], "added_mb": round(now["rss_mb"] - previous, 1)})
        previous = now["rss_mb"]

    mark("python")
    from switchboard.app import create_app

    app = create_app()
    mark("create_app (Flask, Celery, SQLAlchemy, vendor SDKs)")
    from switchboard.core.intents.store import intent_model
    from switchboard.core.knowledge.service import KnowledgeBase
    from switchboard.core.store.models import Account
    from switchboard.core.understanding.enrichment import detect_language, sentiment_score
    from switchboard.intake.db import get_db

    settings = app.config["SETTINGS"]
    with app.app_context(), get_db(app).session() as session:
        account_id = session.query(Account.id).filter_by(slug="default").scalar()
        detect_language("How long does delivery take to reach me?")
        mark("language detector (lingua, 10 languages)")
        sentiment_score("How long does delivery take?")
        mark("sentiment (VADER)")
        intent_model(session, settings.data_dir, account_id).predict(["where is my parcel"])
        mark("intent model")
        kb = KnowledgeBase.of(session, account_id, settings)
        retriever = kb.retriever()
        mark("knowledge index loaded (passages, lexicon, bm25s, vector maps)")
        retriever.search("how do I track my delivery", k=5)
        mark("first search (query encoder, vectors paged in)")
        retriever.search("how do I recieve my refnud", k=5)
        mark("a misspelt search (English dictionary, fuzzy choices)")
    return {"stages": stages}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=2, help="prefork pool children")
    parser.add_argument("--messages", type=int, default=24, help="signed webhooks at least, per variant")
    parser.add_argument("--rounds", type=int, default=1, help="baseline and ours, this many times in turn")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--profile", action="store_true", help="what each loaded part adds (one process)")
    parser.add_argument("--profile-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.profile_child:
        print(json.dumps(profile_child()))
        return
    if args.profile:
        print(json.dumps({"benchmark": "memory_profile", "articles": args.articles, **profile(args)}, indent=2))
        return
    started = time.monotonic()
    result = measure(args)
    print(json.dumps({"benchmark": "memory", "machine_cpus": os.cpu_count(), "articles": args.articles,
                      "pool_children": args.concurrency, "seconds": round(time.monotonic() - started),
                      "load_average": os.getloadavg(), **result}, indent=2))


if __name__ == "__main__":
    main()
