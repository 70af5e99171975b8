"""How fast are the dashboard's figures over 100,000 conversations? SQLite, one process.

Seeds a fresh SQLite database (migrated like production) with ``--conversations``
conversations over ``--days`` days: customers, one outcome row per conversation as the
metric hooks keep it, a customer message and a bot reply each (5 % with a clarifying
question first, which feeds the knowledge-gap list), and audit entries. Then times, median of
``--repeat`` runs:

- ``figures_s``: ``metrics_figures.figures`` for the whole period (totals, per day, per
  automation level, channel, tier, reasons, suggestions, outreach);
- ``figures_filtered_s``: the same with a channel and tier filter;
- ``page_s``: GET /dashboard signed in, i.e. figures + knowledge gaps (last 31 days) +
  audit trail + the Jinja render, through the Flask test client;
- ``baseline_replay_s``: the side-by-side baseline, containment and escalation counted
  the way one would without the outcome table: loading the period's bot replies from
  the message timeline and folding them per conversation in Python.

    python bench/dashboard.py [--conversations 100000] [--days 90] [--repeat 5]

Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from switchboard.app import create_app
from switchboard.config import load_settings
from switchboard.core import accounts
from switchboard.core.metrics_figures import Filters, figures
from switchboard.db import get_db
from switchboard.models import AuditEntry, Conversation, ConversationOutcome, Customer, Message

REASONS = ("explicit_request", "low_confidence", "negative_sentiment", "out_of_scope", "repeat_contact")
QUESTIONS = ("where is my parcel", "can I change my delivery address", "my voucher code does not work",
             "do you ship to norway", "how do I return a gift", "is the blue jacket back in stock")


def seed(app: Any, conversations: int, days: int, rng: random.Random) -> None:
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    account_id = app.config["DEFAULT_ACCOUNT_ID"]
    customers = max(1, conversations // 5)
    with get_db(app).session() as session:
        session.execute(insert(Customer), [{"id": i + 1, "account_id": account_id, "tier": rng.choice(
            ("standard", "standard", "standard", "vip")), "attributes": {}} for i in range(customers)])
        conv_rows, outcome_rows, message_rows, audit_rows = [], [], [], []
        # Ids grow with time, as they do when conversations are created as they start.
        starts = sorted(start + timedelta(seconds=rng.randrange(days * 86400)) for _ in range(conversations))
        for n, at in enumerate(starts, 1):
            channel = rng.choice(("sms", "sms", "whatsapp"))
            customer = rng.randrange(1, customers + 1)
            escalated = rng.random() < 0.3
            answered = not escalated
            clarify = rng.random() < 0.05
            conv_rows.append({"id": n, "account_id": account_id, "customer_id": customer, "channel": channel,
                              "status": "closed" if escalated else "open", "started_at": at, "last_message_at": at})
            reply_at = at + timedelta(seconds=rng.uniform(1, 30))
            handoff = at + timedelta(seconds=rng.uniform(30, 300)) if escalated else None
            resolved = (handoff + timedelta(seconds=rng.uniform(600, 86400))) if escalated else reply_at
            outcome_rows.append({
                "conversation_id": n, "account_id": account_id, "customer_id": customer, "day": f"{at:%Y-%m-%d}",
                "started_at": at, "channel": channel, "tier": "standard", "intent": rng.choice(
                    ("delivery", "returns", "billing", None)),
                "automation": ("ai_then_human" if clarify else "human_only") if escalated else "ai_only",
                "bot_answers": int(answered) + int(clarify), "bot_replies": 1, "agent_replies": int(escalated),
                "first_response_seconds": (reply_at - at).total_seconds(), "ai_seconds": (reply_at - at).total_seconds(),
                "agent_seconds": rng.uniform(60, 900) if escalated else 0.0, "last_activity_at": resolved,
                "handoff_at": handoff, "handoff_reason": rng.choice(REASONS) if escalated else None,
                "resolved_at": resolved, "resolution": "agent" if escalated else "bot",
                "resolution_seconds": (resolved - at).total_seconds(), "reopened": int(rng.random() < 0.04),
                "csat_score": rng.randint(1, 5) if rng.random() < 0.2 else None, "tokens": 0,
                "package_opened": int(escalated and rng.random() < 0.7), "suggestion_used": 0})
            message_rows.append({"id": 3 * n - 2, "account_id": account_id, "conversation_id": n,
                                 "direction": "inbound", "channel": channel, "author": "customer",
                                 "body": rng.choice(QUESTIONS), "meta": {}, "created_at": at})
            if clarify:  # a clarifying question first: a knowledge gap
                message_rows.append({"id": 3 * n - 1, "account_id": account_id, "conversation_id": n,
                                     "direction": "outbound", "channel": channel, "author": "bot", "body": "…",
                                     "created_at": at + timedelta(seconds=1),
                                     "meta": {"action": "clarify", "reason": "low_confidence",
                                              "in_reply_to": 3 * n - 2}})
            message_rows.append({"id": 3 * n, "account_id": account_id, "conversation_id": n, "direction": "outbound",
                                 "channel": channel, "author": "bot", "body": "…", "created_at": reply_at,
                                 "meta": {"action": "handoff" if escalated else "answer", "in_reply_to": 3 * n - 2}})
            if n % 20 == 0:
                audit_rows.append({"account_id": account_id, "actor": "bot", "action": "handoff.created",
                                   "subject_type": "conversation", "subject_id": str(n), "detail": {},
                                   "created_at": at})
        for model, rows in ((Conversation, conv_rows), (ConversationOutcome, outcome_rows), (Message, message_rows),
                            (AuditEntry, audit_rows)):
            for offset in range(0, len(rows), 5000):
                session.execute(insert(model), rows[offset:offset + 5000])
        session.commit()


def timed(run: Callable[[], Any], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        samples.append(time.perf_counter() - began)
    return round(statistics.median(samples), 4)


def baseline_replay(app: Any, filters: Filters) -> tuple[int, int]:
    """Containment and escalation from the message timeline, without the outcome rows."""
    with get_db(app).session() as session:
        rows = session.execute(select(Message.conversation_id, Message.meta).where(
            Message.author == "bot", Message.created_at >= filters.start_at, Message.created_at < filters.end_at))
        seen: dict[int, tuple[bool, bool]] = {}
        for conversation_id, meta in rows:
            answered, escalated = seen.get(conversation_id, (False, False))
            seen[conversation_id] = (answered or meta.get("action") == "answer",
                                     escalated or meta.get("action") == "handoff")
    return sum(1 for a, e in seen.values() if a and not e), sum(1 for _, e in seen.values() if e)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    rng = random.Random(8)
    with tempfile.TemporaryDirectory() as tmp:
        env = {"SWITCHBOARD_DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.db'}", "SWITCHBOARD_DATA_DIR": tmp,
               "SWITCHBOARD_SANDBOX": "1"}
        app = create_app(load_settings(env), config={"TASKS_INLINE": True, "LOG_LEVEL": "WARNING"})
        began = time.perf_counter()
        seed(app, args.conversations, args.days, rng)
        seeded = time.perf_counter() - began
        account_id = app.config["DEFAULT_ACCOUNT_ID"]
        today = datetime.now(UTC).date()
        period = Filters(today - timedelta(days=args.days), today)
        narrow = Filters(period.start, period.end, channel="whatsapp", tier="standard")

        def run_figures(filters: Filters) -> dict[str, Any]:
            with get_db(app).session() as session:
                return figures(session, account_id, filters)

        with get_db(app).session() as session:
            key = accounts.create_api_key(session, session.get(accounts.Account, account_id), "bench")  # type: ignore[attr-defined,arg-type]
        client = app.test_client()
        assert client.post("/dashboard/login", data={"key": key}).status_code == 302
        url = f"/dashboard?from={period.start.isoformat()}&to={period.end.isoformat()}"

        def page() -> None:
            response = client.get(url)
            assert response.status_code == 200 and b"chart-volume" in response.data

        data = run_figures(period)
        contained, escalated = baseline_replay(app, period)
        assert (contained, escalated) == (data["totals"]["contained"], data["totals"]["escalated"]), \
            "the baseline and the outcome table disagree"
        result = {
            "conversations": data["totals"]["conversations"], "days": args.days, "database": "sqlite",
            "seed_s": round(seeded, 1), "repeat": args.repeat,
            "figures_s": timed(lambda: run_figures(period), args.repeat),
            "figures_filtered_s": timed(lambda: run_figures(narrow), args.repeat),
            "page_s": timed(page, args.repeat),
            "baseline_replay_s": timed(lambda: baseline_replay(app, period), args.repeat),
        }
        result["figures_vs_baseline_speedup"] = round(result["baseline_replay_s"] / result["figures_s"], 1)
        get_db(app).dispose()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
