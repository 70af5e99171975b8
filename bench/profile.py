"""What one webhook and one message cost, in SQL statements (deterministic) and time
(this machine, now), with an optional pyinstrument profile of where the time goes.

    python bench/profile.py [--messages 200] [--customers 1000] [--profile intake|processing] [--calls N]

intake: signed Twilio deliveries through the Flask app in-process, recorded and
enqueued on a private redis-server (no worker: nothing is processed), as a web process
does. processing: the same deliveries processed inline (tasks run before the response,
as the test suite does), minus the intake's share, as a worker does. Needs PostgreSQL
on 127.0.0.1:5432 (database `test`; a schema of its own is created and dropped) and
redis-server. --profile needs pyinstrument (`pip install -e ".[bench]"`). Prints JSON,
then the profile's text if asked.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).parent))
from harness import (  # noqa: E402
    MESSAGES_PATH,
    ROOT,
    base_env,
    counting_statements,
    distinct,
    private_redis,
    signed_message,
    stop,
)

from switchboard.app import create_app  # noqa: E402
from switchboard.core.knowledge.loaders import load_articles  # noqa: E402
from switchboard.core.knowledge.service import KnowledgeBase  # noqa: E402
from switchboard.core.settings import load_settings  # noqa: E402
from switchboard.intake.db import get_db, make_engine, upgrade  # noqa: E402

PG_SERVER = os.environ.get("SWITCHBOARD_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
QUESTIONS = ("how long does delivery take?", "where is my parcel", "when will I get my refund?",
             "my card was declined", "can I change my delivery address", "do you sell garden furniture?",
             "I was charged twice for one order", "what does the warranty cover", "I want to talk to a human",
             "how do I return an item")
WARM = 30


def _counting_calls() -> tuple[list[int], Any]:
    """A profile hook that counts every Python and C function call: a figure that does
    not move with the machine's load, unlike CPU time on this shared 2-core VM."""
    counted = [0]

    def hook(_frame: Any, what: str, _arg: Any) -> None:
        if what in ("call", "c_call"):
            counted[0] += 1
    return counted, hook


def run(url: str, env: dict[str, str], *, inline: bool, count: int, profile: bool,
        calls: int = 0, customers: int = 1000) -> tuple[dict[str, float], str]:
    app = create_app(load_settings(env), config={"TASKS_INLINE": True} if inline else None)
    with get_db(app).session() as session:
        KnowledgeBase(session, app.config["DEFAULT_ACCOUNT_ID"], app.config["SETTINGS"].data_dir).import_articles(
            load_articles(ROOT / "switchboard" / "data" / "sample_kb.json"))
    client = app.test_client()
    prefix = "p" if inline else "i"
    deliveries = [signed_message(f"SM{prefix}{uuid.uuid4().hex[1:]}", f"+1415555{i % customers:04d}",
                                 distinct(QUESTIONS[i % 10], i))
                  for i in range(count + WARM)]
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
    # The sessions' engine and the webhooks' own, counting from before the warm-up, so
    # the connections the timed messages use are open and their statements prepared.
    with counting_statements((get_db(app).engine, get_db(app).intake)) as statements:
        for body, headers in deliveries[:WARM]:  # models and index loaded, as in a running process
            assert client.post(MESSAGES_PATH, data=body, headers=headers).status_code == 200
        warm = statements.count
        if profiler is not None:
            profiler.start()
        wall, cpu = time.perf_counter(), time.process_time()
        for body, headers in deliveries[WARM:]:
            assert client.post(MESSAGES_PATH, data=body, headers=headers).status_code == 200
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if profiler is not None:
            profiler.stop()
        timed = statements.count - warm
    report = "" if profiler is None else profiler.output_text(unicode=False, color=False)
    figures = {"statements": round(timed / count, 1), "wall_ms": round(wall * 1000 / count, 2),
               "cpu_ms": round(cpu * 1000 / count, 2)}
    if calls:
        counted, hook = _counting_calls()
        # The same numbers in turn, carrying on where the timed messages stopped.
        more = [signed_message(f"SM{prefix}c{uuid.uuid4().hex[2:]}", f"+1415555{(count + WARM + i) % customers:04d}",
                               distinct(QUESTIONS[i % 10], count + WARM + i)) for i in range(calls)]
        sys.setprofile(hook)
        try:
            for body, headers in more:
                assert client.post(MESSAGES_PATH, data=body, headers=headers).status_code == 200
        finally:
            sys.setprofile(None)
        figures["python_calls"] = round(counted[0] / calls)
    get_db(app).dispose()
    return figures, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--profile", choices=("intake", "processing"))
    parser.add_argument("--customers", type=int, default=1000, metavar="N",
                        help="messages come from N numbers in turn: the default 1000 makes each of up to 1000 "
                             "messages a new customer's first; 50 makes them returning customers' (with the warm-up)")
    parser.add_argument("--calls", type=int, default=0, metavar="N",
                        help="also count Python function calls over N more messages (deterministic, unlike time)")
    args = parser.parse_args()
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_SERVER)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    work = Path(tempfile.mkdtemp(prefix="switchboard-profile-"))
    redis, broker = private_redis(work)
    try:
        url = f"{PG_SERVER}?options=-csearch_path%3D{schema}"
        upgrade(make_engine(url))
        intake, intake_report = run(url, {**base_env(url, work), "SWITCHBOARD_REDIS_URL": broker}, inline=False,
                                    count=args.messages, profile=args.profile == "intake", calls=args.calls,
                                    customers=args.customers)
        both, both_report = run(url, base_env(url, work), inline=True, count=args.messages,
                                profile=args.profile == "processing", calls=args.calls, customers=args.customers)
    finally:
        stop(redis)
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
    processing = {key: round(both[key] - intake[key], 2) for key in both}
    print(json.dumps({"benchmark": "profile", "messages": args.messages, "customers": args.customers,
                      "load_average": [round(x, 2) for x in os.getloadavg()],
                      "per_webhook_intake": intake, "per_message_processing": processing,
                      "note": "processing = inline (intake + processing) minus intake; time on a shared machine"},
                     indent=2))
    if intake_report or both_report:
        print(intake_report or both_report)


if __name__ == "__main__":
    main()
