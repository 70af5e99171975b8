"""Outreach at scale: time to segment, draft and queue N recipients (default 100,000),
and the send rate actually held against the configured limit.

    python bench/outreach.py [--customers 100000] [--send 300 --rate 100] [--redis redis://127.0.0.1:6379/0]

Prints JSON. The baseline queues the same recipients the plain ORM way (one object per
row through the unit of work) instead of batched INSERTs, side by side in the same run.
Sending goes through the sandboxed Twilio connector (the outbox records each call), so
the measured rate is the pacing of our limiter, not Twilio's.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from switchboard.core.accounts import ensure_default_account
from switchboard.core.outreach import audience, campaigns, drafts, sending
from switchboard.core.outreach.ratelimit import LocalRateLimiter, RedisRateLimiter
from switchboard.core.outreach.spec import parse
from switchboard.core.settings import load_settings
from switchboard.core.store.models import (
    Customer,
    Identity,
    IdentityKind,
    OutboxCall,
    OutreachCampaign,
    OutreachRecipient,
    OutreachSegment,
)
from switchboard.intake.db import make_engine, upgrade

REGIONS = ["north", "south", "east", "west"]
TIERS = ["standard"] * 8 + ["gold", "platinum"]


def seed(session: Session, account_id: int, n: int, rng: random.Random) -> None:
    """n customers, 1 in 50 opted out; everyone has a phone number."""
    now = datetime.now(UTC)
    rows = [{"account_id": account_id, "display_name": f"Customer {i}", "tier": rng.choice(TIERS), "timezone": "UTC",
             "attributes": {"region": rng.choice(REGIONS), "order_id": f"A-{i:07d}"},
             "opted_out_at": now if i % 50 == 0 else None, "created_at": now} for i in range(n)]
    for start in range(0, n, 10_000):
        session.execute(insert(Customer), rows[start:start + 10_000])
    ids = session.scalars(select(Customer.id).where(Customer.account_id == account_id).order_by(Customer.id)).all()
    identities = [{"account_id": account_id, "customer_id": cid, "kind": IdentityKind.PHONE,
                   "value": f"+1415{i:07d}"} for i, cid in enumerate(ids)]
    for start in range(0, n, 10_000):
        session.execute(insert(Identity), identities[start:start + 10_000])
    session.commit()


def baseline_queue(session: Session, account_id: int, campaign_id: int, criteria: dict, segment_by: str) -> float:  # type: ignore[type-arg]
    """The same selection, segmentation and drafting, queued one ORM object per row."""
    started = time.perf_counter()
    groups = audience.segment(audience.select_members(session, account_id, criteria), segment_by)
    for key, group in groups.items():
        segment = OutreachSegment(account_id=account_id, campaign_id=campaign_id, key=f"baseline-{key}",
                                  size=len(group), draft=drafts.with_compliance("Hi {first_name}.", "Acme"))
        session.add(segment)
        session.flush()
        session.add_all([OutreachRecipient(account_id=account_id, campaign_id=campaign_id, segment_id=segment.id,
                                           customer_id=m.customer_id, phone=m.phone, status="pending")
                         for m in group])
    session.commit()
    return time.perf_counter() - started


def max_in_window(times: list[datetime], window: float = 1.0) -> int:
    best = 0
    for i, start in enumerate(times):
        best = max(best, sum(1 for t in times[i:] if (t - start).total_seconds() < window))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    parser.add_argument("--send", type=int, default=300, help="how many recipients to actually send to")
    parser.add_argument("--rate", type=float, default=100.0, help="configured messages per second")
    parser.add_argument("--redis", help="measure the Redis-backed limiter instead of the in-process one")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="sb-bench-outreach-"))
    url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
    settings = load_settings({"SWITCHBOARD_DATA_DIR": str(folder), "SWITCHBOARD_DATABASE_URL": url,
                              "SWITCHBOARD_SANDBOX": "1", "SWITCHBOARD_SLACK_APPROVAL_CHANNEL": "C0BENCH",
                              "SWITCHBOARD_OUTREACH_APPROVERS": "U0BENCH", "SWITCHBOARD_OUTREACH_QUIET_HOURS": "off",
                              "SWITCHBOARD_OUTREACH_RATE": str(args.rate), "SWITCHBOARD_COMPANY_NAME": "Acme"})
    engine = make_engine(settings.database_url)
    upgrade(engine)
    rng = random.Random(6)
    with Session(engine, expire_on_commit=False) as session:
        account = ensure_default_account(session, settings)
        seed(session, account.id, args.customers, rng)
        spec = parse({"name": "Bench", "criteria": {"all": True}, "segment_by": "tier",
                      "template": "Hi {first_name}, your order {order_id} is late."})

        started = time.perf_counter()
        campaign, _ = campaigns.create(session, account, settings, spec, trigger="api", created_by="bench")
        ours = time.perf_counter() - started
        tally = campaigns.counts(session, campaign.id)

        # The baseline needs its own campaign row (recipients are unique per campaign).
        other = OutreachCampaign(account_id=account.id, name="Baseline", trigger="api", status="pending_approval",
                                 spec=spec.to_json(), created_by="bench")
        session.add(other)
        session.commit()
        baseline = baseline_queue(session, account.id, other.id, spec.criteria, "tier")

        # Send: keep only --send recipients pending, approve, and let the limiter pace.
        keep = session.scalars(select(OutreachRecipient.id).where(OutreachRecipient.campaign_id == campaign.id,
                                                                  OutreachRecipient.status == "pending")
                               .order_by(OutreachRecipient.id).limit(args.send)).all()
        session.execute(delete(OutreachRecipient).where(OutreachRecipient.campaign_id == campaign.id,
                                                        OutreachRecipient.id.not_in(keep)))
        session.commit()
        campaigns.decide(session, account, campaign.id, "approve", user="U0BENCH")
        limiter = RedisRateLimiter(args.redis) if args.redis else LocalRateLimiter()
        before = datetime.now(UTC) - timedelta(seconds=1)
        started = time.perf_counter()
        sending.run(session, settings, campaign.id, limiter=limiter)
        elapsed = time.perf_counter() - started
        times = [c.created_at for c in session.scalars(select(OutboxCall).where(
            OutboxCall.operation == "messages.create", OutboxCall.created_at >= before
        ).order_by(OutboxCall.created_at))]

    total = sum(v for k, v in tally.items() if ":" not in k)
    print(json.dumps({
        "database": url.split(":")[0], "customers": args.customers, "recipients_queued": total,
        "opted_out_skipped": tally.get("skipped:opted_out", 0), "segments": 3,
        "segment_draft_queue_seconds": round(ours, 2),
        "recipients_per_second": round(total / ours),
        "baseline_orm_unit_of_work_seconds": round(baseline, 2),
        "speedup_vs_baseline": round(baseline / ours, 2),
        "send": {"limiter": "redis" if args.redis else "in-process", "configured_rate": args.rate,
                 "messages": len(times), "seconds": round(elapsed, 2),
                 "measured_rate": round(len(times) / elapsed, 2),
                 "max_in_any_1s_window": max_in_window(times),
                 "limit_held": max_in_window(times) <= args.rate + 1},
    }, indent=2))


if __name__ == "__main__":
    sys.exit(main())
