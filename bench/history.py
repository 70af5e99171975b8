"""What one customer message costs as history grows: a customer whose conversation
already holds 1, 100 and 1,000 messages, in an account that stores ``--account-messages``
other messages (1,000,000 by default), side by side in one run. The 1-message customer
is the baseline (each measured message comes from a customer of its own with exactly
that history); the figure that matters is each size's ratio to it (goal: within 20 %).

    python bench/history.py [--messages 20] [--rounds 3] [--account-messages 1000000] [--sizes 1,100,1000]

Each message is a signed Twilio delivery through the Flask app in-process with tasks
run inline (verify, record, process, reply: what a worker does for one message, plus the
intake), so the figure is the whole cost of one message, not of a queue. Reported per
size: median and p90 wall time, CPU time of this process (the Python side), and the
SQL statements and rows read per message (deterministic, unlike time).

The account's filler history is built in PostgreSQL itself (INSERT ... SELECT
generate_series: 1,000 conversations of 1,000 messages by default) and ANALYZEd, so
the planner sees a big account. The escalation policy used is the shipped one with
the two limits a long conversation reaches by itself (too_many_turns,
too_long_with_bot) turned off, so every message takes the same path (an answer).

Needs PostgreSQL on 127.0.0.1:5432 (database `test`); a schema of its own is created
and dropped. Prints JSON.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import Engine, insert, select, text

sys.path.insert(0, str(Path(__file__).parent))
from harness import MESSAGES_PATH, ROOT, Statements, base_env, counting_statements, signed_message  # noqa: E402

from switchboard.app import create_app  # noqa: E402
from switchboard.core.knowledge.loaders import load_articles  # noqa: E402
from switchboard.core.knowledge.service import KnowledgeBase  # noqa: E402
from switchboard.core.resources import data_file  # noqa: E402
from switchboard.core.settings import load_settings  # noqa: E402
from switchboard.core.store.models import Conversation, Message  # noqa: E402
from switchboard.intake.db import get_db, make_engine, upgrade  # noqa: E402

PG_SERVER = os.environ.get("SWITCHBOARD_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SAMPLE_KB = ROOT / "switchboard" / "data" / "sample_kb.json"
QUESTIONS = ("how long does delivery take to Canada?", "how do I return an item I bought",
             "when will I get my refund for the return?", "what does the warranty cover for my kettle")
_sid = itertools.count(1)


@contextmanager
def schema() -> Iterator[str]:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_SERVER)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {name}"))
    try:
        yield f"{PG_SERVER}?options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {name} CASCADE"))
        admin.dispose()


def policy_without_turn_limits(directory: Path) -> Path:
    text_ = data_file("escalation_policy.yaml").read_text()
    for name in ("too_many_turns:", "too_long_with_bot:"):
        text_ = text_.replace(f"  {name}\n", f"  {name}\n    enabled: false\n")
    path = directory / "policy.yaml"
    path.write_text(text_)
    return path


def post(app: Flask, body: str, phone: str) -> None:
    payload, headers = signed_message(f"SM{next(_sid):032d}", phone, body)
    response = app.test_client().post(MESSAGES_PATH, data=payload, headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"the webhook answered {response.status_code}: {response.get_data(as_text=True)[:300]}")


def fill_account(engine: Engine, account_id: int, messages: int, per_conversation: int = 1000) -> float:
    """``messages`` other messages in the account (customers of their own), built by
    PostgreSQL; returns the seconds it took."""
    started = time.monotonic()
    conversations = max(1, messages // per_conversation)
    with engine.begin() as connection:
        base_customer = connection.execute(text(
            "INSERT INTO customers (account_id, display_name, tier, attributes, created_at) "
            "SELECT :a, 'filler ' || g, 'standard', '{}', now() FROM generate_series(1, :n) g RETURNING id"),
            {"a": account_id, "n": conversations}).scalars().all()
        first = min(base_customer)
        connection.execute(text(
            "INSERT INTO conversations (account_id, customer_id, status, channel, started_at, last_message_at) "
            "SELECT :a, :first + g - 1, 'closed', 'sms', now() - interval '30 days', now() - interval '30 days' "
            "FROM generate_series(1, :n) g"), {"a": account_id, "first": first, "n": conversations})
        first_conversation = connection.execute(text(
            "SELECT min(id) FROM conversations WHERE customer_id >= :first"), {"first": first}).scalar_one()
        connection.execute(text(
            "INSERT INTO messages (account_id, conversation_id, direction, channel, author, body, status, meta, "
            "created_at) SELECT :a, :c + (g - 1) / :per, CASE WHEN g % 2 = 0 THEN 'outbound' ELSE 'inbound' END, "
            "'sms', CASE WHEN g % 2 = 0 THEN 'bot' ELSE 'customer' END, 'filler message ' || g, 'received', "
            "CASE WHEN g % 2 = 0 THEN '{\"action\": \"answer\"}'::jsonb "
            "ELSE '{\"enrichment\": {\"sentiment\": 0.1}}'::jsonb END, now() - interval '30 days' "
            "FROM generate_series(1, :n) g"),
            {"a": account_id, "c": first_conversation, "per": per_conversation, "n": messages})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE"))
    return round(time.monotonic() - started, 1)


def add_history(app: Flask, phone: str, earlier: int) -> None:
    """The customer's first message (a real delivery), then ``earlier`` more messages in
    their conversation, customer and bot in turn, an hour ago."""
    post(app, "how long does delivery take?", phone)
    with get_db(app).session() as session:
        conversation = session.scalars(select(Conversation).order_by(Conversation.id.desc())).first()
        assert conversation is not None
        at = datetime.now(UTC) - timedelta(hours=1)
        rows: list[dict[str, Any]] = [{
            "account_id": conversation.account_id, "conversation_id": conversation.id,
            "direction": "inbound" if i % 2 == 0 else "outbound", "channel": "sms",
            "author": "customer" if i % 2 == 0 else "bot", "body": f"earlier message {i}", "status": "received",
            "meta": ({"enrichment": {"sentiment": 0.1, "intent": "other"}} if i % 2 == 0
                     else {"action": "answer", "reason": None, "sources": []}),
            "created_at": at + timedelta(milliseconds=i)} for i in range(earlier - 1)]
        if rows:
            session.execute(insert(Message), rows)
        session.commit()


def measure(app: Flask, phones: list[str], statements: Statements) -> dict[str, float]:
    """One message from each of ``phones`` (customers with the same history), timed;
    ``statements`` counts what the app's connections send."""
    walls, cpus = [], []
    sent, read = statements.count, statements.rows_read
    for i, phone in enumerate(phones):
        wall, cpu = time.perf_counter(), time.process_time()
        post(app, QUESTIONS[i % len(QUESTIONS)], phone)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    sent, read = statements.count - sent, statements.rows_read - read
    walls.sort()
    count = len(phones)
    return {"median_ms": round(statistics.median(walls) * 1000, 2),
            "p90_ms": round(walls[int(0.9 * (len(walls) - 1))] * 1000, 2),
            "cpu_ms": round(statistics.median(cpus) * 1000, 2),
            "statements": round(sent / count, 1), "rows_read": round(read / count, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20, help="messages timed per history size and round")
    parser.add_argument("--sizes", default="1,100,1000", help="earlier messages in the customer's conversation")
    parser.add_argument("--account-messages", type=int, default=1_000_000,
                        help="other messages stored in the account (0: none)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="sizes are measured in turn this many times (interleaved, so a busy moment on a "
                             "shared machine falls on every size alike); medians over rounds are reported")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with schema() as url, tempfile.TemporaryDirectory(prefix="switchboard-history-") as tmp:
        engine = make_engine(url)
        upgrade(engine)
        env = {**base_env(url, Path(tmp)), "SWITCHBOARD_POLICY_FILE": str(policy_without_turn_limits(Path(tmp)))}
        app = create_app(load_settings(env), config={"TASKS_INLINE": True})
        account_id = app.config["DEFAULT_ACCOUNT_ID"]
        with get_db(app).session() as session:
            KnowledgeBase(session, account_id, app.config["SETTINGS"].data_dir).import_articles(
                load_articles(SAMPLE_KB))
        fill_seconds = fill_account(engine, account_id, args.account_messages) if args.account_messages else 0.0
        # A customer of its own for each measured message, so each has exactly the
        # history its size says (a customer's measured message would add to it).
        phones = {size: [f"+1415{n:01d}{r:02d}{i:04d}" for r in range(args.rounds) for i in range(args.messages)]
                  for n, size in enumerate(sizes)}
        # Counting from here (the sessions' engine and the webhooks' own), so the
        # connections the measured messages use are open and warm.
        with counting_statements((get_db(app).engine, get_db(app).intake)) as statements:
            for size in sizes:
                for phone in phones[size]:
                    add_history(app, phone, size)
            post(app, QUESTIONS[0], "+14159999999")  # warm: models and index loaded once, as in a worker
            runs: dict[int, list[dict[str, float]]] = {size: [] for size in sizes}
            for r in range(args.rounds):
                for size in sizes:
                    runs[size].append(measure(app, phones[size][r * args.messages:(r + 1) * args.messages],
                                              statements))
        figures = {size: {key: round(statistics.median(r[key] for r in runs[size]), 2) for key in runs[size][0]}
                   for size in sizes}
        base = figures[sizes[0]]
        for size in sizes:
            figures[size]["ratio_to_baseline"] = round(figures[size]["median_ms"] / base["median_ms"], 3)
            figures[size]["cpu_ratio_to_baseline"] = round(figures[size]["cpu_ms"] / base["cpu_ms"], 3)
        get_db(app).dispose()
        engine.dispose()
    print(json.dumps({
        "benchmark": "history", "baseline": f"a customer with {sizes[0]} earlier message(s), same run",
        "account_messages": args.account_messages, "account_fill_seconds": fill_seconds,
        "messages_per_size": args.messages, "rounds": args.rounds, "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "by_earlier_messages": {str(size): figures[size] for size in sizes},
    }, indent=2))


if __name__ == "__main__":
    main()
