"""How fast are the dashboard's figures over 100,000 conversations? SQLite or PostgreSQL.

Seeds a fresh database (migrated like production) with ``--conversations``
conversations over ``--days`` days: customers of mixed tiers, one outcome row per
conversation as the metric hooks keep it, the metric events those hooks record
(inbound, bot reply, handoff, agent reply, solved), a customer message and a bot reply
each (5 % with a clarifying question first, which feeds the knowledge-gap list),
suggestions with agent feedback on escalated conversations, proactive outreach
(sent, delivered or failed, and the contacts, opt-outs and replies linked to their
delivery), vendor errors and task retries, processed inbox events, and audit entries:
every query the dashboard, the report and /metrics run has rows to read. Then times,
median of ``--repeat`` runs:

- ``figures_s``: ``metrics_figures.figures`` for the whole period (totals, per day, per
  automation level, channel, tier, reasons, suggestions, outreach);
- ``figures_filtered_s``: the same with a channel, tier and intent filter;
- ``page_s``: GET /dashboard signed in, i.e. figures + knowledge gaps (last 31 days) +
  audit trail + the Jinja render, through the Flask test client;
- ``metrics_scrape_s``: GET /metrics (the database collector);
- ``baseline_replay_s``: the side-by-side baseline, containment and escalation counted
  the way one would without the outcome table: loading the period's bot replies from
  the message timeline and folding them per conversation in Python.

    python bench/dashboard.py [--conversations 100000] [--days 90] [--repeat 5]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

With ``--database-url`` pointing at PostgreSQL, the run gets a schema of its own in
that database, dropped afterwards. Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text

from switchboard.app import create_app
from switchboard.core import accounts
from switchboard.core.outcomes.figures import Filters, figures
from switchboard.core.settings import load_settings
from switchboard.core.store.models import (
    AuditEntry,
    Conversation,
    ConversationOutcome,
    Customer,
    InboxEvent,
    Message,
    MetricEvent,
    Suggestion,
    SuggestionFeedback,
)
from switchboard.intake.db import get_db, make_engine, upgrade

REASONS = ("explicit_request", "low_confidence", "negative_sentiment", "out_of_scope", "repeat_contact")
QUESTIONS = ("where is my parcel", "can I change my delivery address", "my voucher code does not work",
             "do you ship to norway", "how do I return a gift", "is the blue jacket back in stock")
TIERS = ("standard", "standard", "standard", "silver", "gold", "vip")
INTENTS = ("delivery", "returns", "billing", None)
BATCH = 5000


class Rows:
    """Rows to bulk-insert, per model, with ids we choose (events link to each other)."""

    def __init__(self) -> None:
        self.by_model: dict[Any, list[dict[str, Any]]] = {}
        self.next_event_id = 0

    def add(self, model: Any, row: dict[str, Any]) -> None:
        self.by_model.setdefault(model, []).append(row)

    def event(self, account_id: int, kind: str, at: datetime, **values: Any) -> int:
        self.next_event_id += 1
        self.add(MetricEvent, {"id": self.next_event_id, "account_id": account_id, "kind": kind, "occurred_at": at,
                               "conversation_id": values.pop("conversation_id", None),
                               "customer_id": values.pop("customer_id", None), "channel": values.pop("channel", None),
                               "label": values.pop("label", None), "value": values.pop("value", None),
                               "dedupe_key": None, "attrs": values})
        return self.next_event_id


def seed(app: Any, conversations: int, days: int, rng: random.Random) -> None:
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    account_id = app.config["DEFAULT_ACCOUNT_ID"]
    customers = max(1, conversations // 5)
    tiers = [rng.choice(TIERS) for _ in range(customers)]
    rows = Rows()
    for i in range(customers):
        rows.add(Customer, {"id": i + 1, "account_id": account_id, "tier": tiers[i], "attributes": {}})
    # Ids grow with time, as they do when conversations are created as they start.
    starts = sorted(start + timedelta(seconds=rng.randrange(days * 86400)) for _ in range(conversations))
    for n, at in enumerate(starts, 1):
        _conversation(rows, rng, account_id, n, at, customer=rng.randrange(1, customers + 1), tiers=tiers)
    _outreach(rows, rng, account_id, start, days, customers)
    _operations(rows, rng, account_id, start, days)
    with get_db(app).session() as session:
        for model in (Customer, Conversation, ConversationOutcome, Message, MetricEvent, Suggestion,
                      SuggestionFeedback, InboxEvent, AuditEntry):
            batch = rows.by_model.get(model, [])
            for offset in range(0, len(batch), BATCH):
                session.execute(insert(model.__table__), batch[offset:offset + BATCH])  # Core: no ORM per row
        session.commit()
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("ANALYZE"))
            session.commit()


def _conversation(rows: Rows, rng: random.Random, account_id: int, n: int, at: datetime, *, customer: int,
                  tiers: list[str]) -> None:
    channel = rng.choice(("sms", "sms", "whatsapp"))
    escalated = rng.random() < 0.3
    answered = not escalated
    clarify = rng.random() < 0.05
    rows.add(Conversation, {"id": n, "account_id": account_id, "customer_id": customer, "channel": channel,
                            "status": "closed" if escalated else "open", "started_at": at, "last_message_at": at})
    reply_at = at + timedelta(seconds=rng.uniform(1, 30))
    handoff = at + timedelta(seconds=rng.uniform(30, 300)) if escalated else None
    resolved = (handoff + timedelta(seconds=rng.uniform(600, 86400))) if handoff else reply_at
    reason = rng.choice(REASONS) if escalated else None
    intent = rng.choice(INTENTS)
    rows.add(ConversationOutcome, {
        "conversation_id": n, "account_id": account_id, "customer_id": customer, "day": f"{at:%Y-%m-%d}",
        "started_at": at, "channel": channel, "tier": tiers[customer - 1], "intent": intent,
        "automation": ("ai_then_human" if clarify else "human_only") if escalated else "ai_only",
        "bot_answers": int(answered) + int(clarify), "bot_replies": 1, "agent_replies": int(escalated),
        "first_response_seconds": (reply_at - at).total_seconds(), "ai_seconds": (reply_at - at).total_seconds(),
        "agent_seconds": rng.uniform(60, 900) if escalated else 0.0, "last_activity_at": resolved,
        "handoff_at": handoff, "handoff_reason": reason, "resolved_at": resolved,
        "resolution": "agent" if escalated else "bot", "resolution_seconds": (resolved - at).total_seconds(),
        "reopened": int(rng.random() < 0.04), "csat_score": rng.randint(1, 5) if rng.random() < 0.2 else None,
        "tokens": rng.choice((0, 0, 350, 900)), "package_opened": int(escalated and rng.random() < 0.7),
        "suggestion_used": int(escalated and rng.random() < 0.4)})
    where = {"conversation_id": n, "customer_id": customer, "channel": channel}
    rows.event(account_id, "message.inbound", at, **where, new_conversation=True)
    rows.event(account_id, "bot.reply", reply_at, **where, label="handoff" if escalated else "answer",
               value=(reply_at - at).total_seconds(), intent=intent, tokens=0)
    if handoff is not None:
        rows.event(account_id, "handoff", handoff, **where, label=reason)
        rows.event(account_id, "agent.reply", handoff + timedelta(seconds=300), **where)
        rows.event(account_id, "ticket.solved", resolved, **where)
        _suggestion(rows, rng, account_id, n, handoff)
    rows.add(Message, {"id": 3 * n - 2, "account_id": account_id, "conversation_id": n, "direction": "inbound",
                       "channel": channel, "author": "customer", "body": rng.choice(QUESTIONS), "meta": {},
                       "created_at": at})
    if clarify:  # a clarifying question first: a knowledge gap
        rows.add(Message, {"id": 3 * n - 1, "account_id": account_id, "conversation_id": n,
                           "direction": "outbound", "channel": channel, "author": "bot", "body": "…",
                           "created_at": at + timedelta(seconds=1),
                           "meta": {"action": "clarify", "reason": "low_confidence", "in_reply_to": 3 * n - 2}})
    rows.add(Message, {"id": 3 * n, "account_id": account_id, "conversation_id": n, "direction": "outbound",
                       "channel": channel, "author": "bot", "body": "…", "created_at": reply_at,
                       "meta": {"action": "handoff" if escalated else "answer", "in_reply_to": 3 * n - 2}})
    rows.add(InboxEvent, {"account_id": account_id, "vendor": "twilio", "kind": "twilio.message",
                          "dedupe_key": f"SM{n:032x}", "payload": {}, "status": "done", "attempts": 1,
                          "duplicates": 0, "received_at": at, "processed_at": at})
    if n % 20 == 0:
        rows.add(AuditEntry, {"account_id": account_id, "actor": "bot", "action": "handoff.created",
                              "subject_type": "conversation", "subject_id": str(n), "detail": {},
                              "created_at": at})


def _suggestion(rows: Rows, rng: random.Random, account_id: int, conversation_id: int, at: datetime) -> None:
    suggestion_id = len(rows.by_model.get(Suggestion, [])) + 1
    rows.add(Suggestion, {"id": suggestion_id, "account_id": account_id, "zendesk_ticket_id": conversation_id,
                          "conversation_id": conversation_id, "query": "…", "text": "…", "sources": [],
                          "engine": "local", "rank": 0, "status": "ready", "created_at": at})
    if rng.random() < 0.4:
        rows.add(SuggestionFeedback, {"account_id": account_id, "suggestion_id": suggestion_id, "agent": "ava",
                                      "kind": "inserted", "created_at": at + timedelta(seconds=30)})
        rows.add(SuggestionFeedback, {"account_id": account_id, "suggestion_id": suggestion_id, "agent": "ava",
                                      "kind": "sent", "edit_distance": rng.random() * 0.5,
                                      "created_at": at + timedelta(seconds=300)})


def _outreach(rows: Rows, rng: random.Random, account_id: int, start: datetime, days: int, customers: int) -> None:
    """One proactive message per customer over the period: sent, then delivered (or
    failed); some recipients then write in, reply or opt out, linked to the delivery."""
    for customer in range(1, customers + 1):
        at = start + timedelta(seconds=rng.randrange(days * 86400))
        channel = rng.choice(("sms", "sms", "whatsapp"))
        rows.event(account_id, "outreach.sent", at, customer_id=customer, channel=channel)
        if rng.random() < 0.05:
            rows.event(account_id, "outreach.failed", at + timedelta(seconds=5), customer_id=customer,
                       channel=channel)
            continue
        delivered = rows.event(account_id, "outreach.delivered", at + timedelta(seconds=5), customer_id=customer,
                               channel=channel)
        for kind, share in (("outreach.contacted", 0.2), ("outreach.reply", 0.1), ("outreach.opted_out", 0.02)):
            if rng.random() < share:
                rows.event(account_id, kind, at + timedelta(hours=rng.uniform(1, 72)), customer_id=customer,
                           channel=channel, delivery_event_id=delivered)


def _operations(rows: Rows, rng: random.Random, account_id: int, start: datetime, days: int) -> None:
    """Vendor rate limits and task retries (what /metrics counts), a few queued events."""
    for _ in range(500):
        at = start + timedelta(seconds=rng.randrange(days * 86400))
        rows.event(account_id, "vendor.rate_limited", at, label=rng.choice(("twilio", "zendesk", "slack")),
                   value=float(rng.randint(1, 30)))
        rows.event(account_id, "task.retry", at, label="switchboard.process_inbox_event", error="VendorRateLimited")
    for n in range(20):
        rows.add(InboxEvent, {"account_id": account_id, "vendor": "twilio", "kind": "twilio.message",
                              "dedupe_key": f"queued-{n}", "payload": {}, "status": "received", "attempts": 0,
                              "duplicates": 0, "received_at": datetime.now(UTC)})


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


@contextmanager
def database(url: str | None, tmp: Path) -> Iterator[str]:
    """The URL to run against: a SQLite file in ``tmp``, or a private schema in the
    given PostgreSQL database, migrated, and dropped afterwards."""
    if url is None or url.startswith("sqlite"):
        yield url or f"sqlite:///{tmp / 'bench.db'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    private = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    try:
        engine = make_engine(private)
        upgrade(engine)
        engine.dispose()
        yield private
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url", help="PostgreSQL URL to run on (a private schema is created and "
                        "dropped); default: a SQLite file in a temporary folder")
    args = parser.parse_args(argv)
    rng = random.Random(8)
    with tempfile.TemporaryDirectory() as tmp, database(args.database_url, Path(tmp)) as url:
        env = {"SWITCHBOARD_DATABASE_URL": url, "SWITCHBOARD_DATA_DIR": tmp, "SWITCHBOARD_SANDBOX": "1"}
        app = create_app(load_settings(env), config={"TASKS_INLINE": True, "LOG_LEVEL": "WARNING"})
        try:
            result = run(app, args, rng)
        finally:
            get_db(app).dispose()
    print(json.dumps(result, indent=2))
    return 0


def run(app: Any, args: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    began = time.perf_counter()
    seed(app, args.conversations, args.days, rng)
    seeded = time.perf_counter() - began
    account_id = app.config["DEFAULT_ACCOUNT_ID"]
    today = datetime.now(UTC).date()
    period = Filters(today - timedelta(days=args.days), today)
    narrow = Filters(period.start, period.end, channel="whatsapp", tier="vip", intent="returns")

    def run_figures(filters: Filters) -> dict[str, Any]:
        with get_db(app).session() as session:
            return figures(session, account_id, filters)

    with get_db(app).session() as session:
        key = accounts.create_api_key(session, session.get(accounts.Account, account_id), "bench")  # type: ignore[attr-defined,arg-type]
        events = session.scalar(select(func.count()).select_from(MetricEvent))
    client = app.test_client()
    assert client.post("/dashboard/login", data={"key": key}).status_code == 302
    url = f"/dashboard?from={period.start.isoformat()}&to={period.end.isoformat()}"

    def page() -> None:
        response = client.get(url)
        assert response.status_code == 200 and b"chart-volume" in response.data

    def scrape() -> None:
        response = client.get("/metrics")
        assert response.status_code == 200 and b"switchboard_task_retries_total" in response.data

    data = run_figures(period)
    contained, escalated = baseline_replay(app, period)
    assert (contained, escalated) == (data["totals"]["contained"], data["totals"]["escalated"]), \
        "the baseline and the outcome table disagree"
    assert data["outreach"]["delivered"] and data["outreach"]["contacted"] and data["suggestions"]["inserted"], \
        "the seed left a figure without rows: the benchmark would not exercise its query"
    assert run_figures(narrow)["totals"]["conversations"], "the filtered view matched nothing"
    result = {
        "conversations": data["totals"]["conversations"], "metric_events": events, "days": args.days,
        "database": get_db(app).engine.dialect.name, "seed_s": round(seeded, 1), "repeat": args.repeat,
        "figures_s": timed(lambda: run_figures(period), args.repeat),
        "figures_filtered_s": timed(lambda: run_figures(narrow), args.repeat),
        "page_s": timed(page, args.repeat),
        "metrics_scrape_s": timed(scrape, args.repeat),
        "baseline_replay_s": timed(lambda: baseline_replay(app, period), args.repeat),
    }
    result["figures_vs_baseline_speedup"] = round(result["baseline_replay_s"] / result["figures_s"], 1)
    return result


if __name__ == "__main__":
    sys.exit(main())
