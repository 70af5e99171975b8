"""Sending an approved campaign: one claimed recipient at a time, paced by the rate
limiter, each under the outbox idempotency key ``outreach:<campaign>:<customer>``.

Why each customer gets the message at most once, whatever happens:
- the recipient row (unique per campaign and customer) existed before approval;
- a recipient is claimed by a conditional UPDATE with a lease, so two workers (a
  redelivered task and beat's resume) never hold it together;
- the outbox row under the recipient's key is written before Twilio is called, so a
  worker killed after the call finds it on retry instead of sending again.

A run stops after ``budget_seconds`` (the Celery task then re-enqueues itself), so a
campaign of any size is sent in chunks well inside the task time limit.
"""
from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, SQLColumnExpression, and_, func, or_, select, update
from sqlalchemy.orm import Session

from switchboard.core import ports
from switchboard.core.customers import timeline
from switchboard.core.outcomes import metrics
from switchboard.core.outreach import drafts, quiet_hours, supervisors
from switchboard.core.outreach.audience import Member
from switchboard.core.outreach.options import OutreachOptions, options_for
from switchboard.core.outreach.ratelimit import RateLimiter, limiter_for
from switchboard.core.outreach.spec import CampaignSpec, from_json
from switchboard.core.outreach.status import counts, move
from switchboard.core.ports import RecipientOptedOut, VendorError, VendorUnavailable
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import (
    Account,
    Conversation,
    Customer,
    IdentityKind,
    Message,
    OutreachCampaign,
    OutreachRecipient,
    OutreachSegment,
)

log = logging.getLogger(__name__)
WHATSAPP_WINDOW = timedelta(hours=24)
BATCH = 200
#: Statuses after which nothing more will happen to a recipient.
FINAL = {"delivered", "undelivered", "failed", "read", "skipped", "canceled"}
IN_FLIGHT = ("pending", "deferred", "sending")


def idempotency_key(campaign_id: int, customer_id: int) -> str:
    return f"outreach:{campaign_id}:{customer_id}"


def _due(settings: Settings, campaign_id: int | SQLColumnExpression[int], now: datetime) -> ColumnElement[bool]:
    """Recipients due to be sent: of campaign ``campaign_id``, or of any campaign when given the column itself."""
    lease = timedelta(seconds=settings.outreach_lease_seconds)
    return and_(OutreachRecipient.campaign_id == campaign_id, or_(
        OutreachRecipient.status == "pending",
        and_(OutreachRecipient.status == "deferred", OutreachRecipient.send_after <= now),
        and_(OutreachRecipient.status == "sending", OutreachRecipient.claimed_at < now - lease)))


def has_due_work(session: Session, settings: Settings, campaign_id: int, *, now: datetime) -> bool:
    return session.scalar(select(OutreachRecipient.id).where(_due(settings, campaign_id, now)).limit(1)) is not None


def more_to_send(session: Session, settings: Settings, campaign_id: int, *, now: datetime) -> bool:
    """Whether a sender should run again: the campaign is still being sent and some
    recipient is due (a rejected or expired campaign's pending rows never are)."""
    status = session.scalar(select(OutreachCampaign.status).where(OutreachCampaign.id == campaign_id))
    return status in ("approved", "sending") and has_due_work(session, settings, campaign_id, now=now)


def sender_active(session: Session, settings: Settings, campaign_id: int, *, now: datetime) -> bool:
    """A sender is at work on the campaign: it claimed a recipient within the lease.
    Every claim stamps ``claimed_at`` and sending keeps it, so the newest stamp tells
    whether a worker is (or, its chunk done, has just re-enqueued) the campaign's sender."""
    lease = timedelta(seconds=settings.outreach_lease_seconds)
    latest = session.scalar(select(func.max(OutreachRecipient.claimed_at)).where(
        OutreachRecipient.campaign_id == campaign_id))
    if latest is None:
        return False
    latest = latest if latest.tzinfo else latest.replace(tzinfo=UTC)
    return latest > now - lease


def run(session: Session, settings: Settings, campaign_id: int, *, limiter: RateLimiter | None = None,
        budget_seconds: float | None = None) -> dict[str, int]:
    """Send every recipient that is due now; safe to run twice or concurrently.

    With ``budget_seconds`` the run stops claiming once that much time has passed
    (after at least one recipient, so every run makes progress) and leaves the rest
    due: the caller re-enqueues while ``more_to_send`` says so."""
    deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
    campaign = session.get(OutreachCampaign, campaign_id)
    if campaign is None or campaign.status not in ("approved", "sending"):
        return {}
    account = session.get(Account, campaign.account_id)
    assert account is not None
    options = options_for(account, settings)
    limiter = limiter or limiter_for(settings.redis_url)
    if campaign.status == "approved":
        started = move(session, campaign_id, "approved", status="sending")
        session.commit()
        if started:
            pending = session.scalar(select(func.count()).where(
                OutreachRecipient.campaign_id == campaign_id, OutreachRecipient.status == "pending")) or 0
            supervisors.post_progress(session, account, settings, campaign, key="start",
                                       text=f"Sending to {pending} customers at most {options.rate:g} per second…")
    spec = from_json(campaign.spec)
    segments = {s.id: s for s in session.scalars(select(OutreachSegment).where(
        OutreachSegment.campaign_id == campaign_id))}
    attempted = 0
    while True:
        now = datetime.now(UTC)
        ids = session.scalars(select(OutreachRecipient.id).where(_due(settings, campaign_id, now))
                              .order_by(OutreachRecipient.id).limit(BATCH)).all()
        if not ids:
            break
        for recipient_id in ids:
            if attempted and deadline is not None and time.monotonic() >= deadline:
                return counts_now(session, campaign_id)  # the rest is left due for the next chunk
            if _claim(session, settings, recipient_id):
                attempted += 1
                _deliver(session, account, settings, options, campaign, spec, segments, recipient_id, limiter)
    return _after_run(session, account, settings, campaign)


def counts_now(session: Session, campaign_id: int) -> dict[str, int]:
    return counts(session, campaign_id)


def _claim(session: Session, settings: Settings, recipient_id: int) -> bool:
    now = datetime.now(UTC)
    result = cast("CursorResult[Any]", session.execute(
        update(OutreachRecipient)
        .where(OutreachRecipient.id == recipient_id, _due(settings, OutreachRecipient.campaign_id, now))
        .values(status="sending", claimed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)))
    session.commit()
    return result.rowcount == 1


def _mark(session: Session, recipient: OutreachRecipient, status: str, reason: str | None = None,
          **extra: object) -> None:
    recipient.status, recipient.reason, recipient.updated_at = status, reason, datetime.now(UTC)
    for key, value in extra.items():
        setattr(recipient, key, value)
    session.commit()


def preferred_channel(customer: Customer) -> str:
    """WhatsApp only for a customer who prefers it and consented (wrote to us there,
    or opted in explicitly); SMS otherwise."""
    attributes = customer.attributes or {}
    if str(attributes.get("preferred_channel", "")).lower() != "whatsapp":
        return "sms"
    consented = str(attributes.get("whatsapp_opt_in", "")).lower() in ("1", "true", "yes")
    on_whatsapp = any(i.kind == IdentityKind.WHATSAPP for i in customer.identities)
    return "whatsapp" if consented or on_whatsapp else "sms"


def inside_whatsapp_window(session: Session, customer_id: int, now: datetime) -> bool:
    last = session.scalar(select(func.max(Message.created_at))
                          .join(Conversation, Message.conversation_id == Conversation.id)
                          .where(Conversation.customer_id == customer_id, Message.author == "customer",
                                 Message.channel == "whatsapp"))
    if last is None:
        return False
    last = last if last.tzinfo else last.replace(tzinfo=UTC)
    return now - last < WHATSAPP_WINDOW


def _deliver(session: Session, account: Account, settings: Settings, options: OutreachOptions,
             campaign: OutreachCampaign, spec: CampaignSpec, segments: dict[int, OutreachSegment],
             recipient_id: int, limiter: RateLimiter) -> None:
    recipient = session.get(OutreachRecipient, recipient_id, populate_existing=True)
    assert recipient is not None
    customer = session.get(Customer, recipient.customer_id, populate_existing=True)
    assert customer is not None
    now = datetime.now(UTC)
    if customer.opted_out_at is not None:
        return _mark(session, recipient, "skipped", "opted_out")
    later = quiet_hours.next_allowed(now, quiet_hours.zone(customer.timezone, recipient.phone), options.quiet_hours)
    if later is not None:
        return _mark(session, recipient, "deferred", "quiet_hours", send_after=later)
    segment = segments[recipient.segment_id]
    member = Member(customer.id, recipient.phone, customer.display_name, customer.tier or "standard",
                    customer.locale, customer.attributes or {}, None)
    channel = preferred_channel(customer)
    text = drafts.render(segment.edited_text or segment.draft, member, spec.detail, options.company)
    kwargs: ports.MessageContent = {"body": text}
    if channel == "whatsapp" and not inside_whatsapp_window(session, customer.id, now):
        if not segment.content_sid:
            return _mark(session, recipient, "skipped", "outside_whatsapp_window", channel=channel)
        kwargs = {"content_sid": segment.content_sid,
                  "content_variables": drafts.content_variables(segment.content_variables, member, spec.detail,
                                                                options.company)}
    limiter.acquire(f"account:{account.id}", options.rate)
    try:
        result = ports.current().messenger(session, account, settings).send_message(
            to=recipient.phone, channel=channel, status_callback=settings.twilio_status_callback,
            idempotency_key=idempotency_key(campaign.id, customer.id), **kwargs)
    except RecipientOptedOut:
        customer.opted_out_at = customer.opted_out_at or now
        audit(session, account_id=account.id, actor="twilio", action="consent.opt_out", subject_type="customer",
              subject_id=customer.id, detail={"error_code": "21610", "campaign_id": campaign.id})
        return _mark(session, recipient, "skipped", "opted_out", channel=channel)
    except VendorUnavailable:
        _mark(session, recipient, "pending", None, claimed_at=None)
        raise
    except VendorError as exc:
        return _mark(session, recipient, "failed", str(exc)[:200], channel=channel)
    sid = result.response.get("sid")
    # Twilio accepted it (or the sandbox recorded it in Twilio's place): one "sent" per recipient.
    metrics.record(session, account.id, "outreach.sent", customer_id=customer.id, channel=channel,
                   dedupe_key=f"outreach.sent:{recipient.id}", campaign_id=campaign.id)
    conversation = timeline.current_conversation(session, customer, channel)
    body = text if "body" in kwargs else f"[WhatsApp template {kwargs['content_sid']}] {kwargs['content_variables']}"
    timeline.append(session, conversation, direction="outbound", channel=channel, author="bot", body=body,
                    external_id=sid, status=result.response.get("status") or "queued",
                    meta={"outreach_campaign_id": campaign.id, "template": "content_sid" in kwargs})
    _mark(session, recipient, "queued", None, channel=channel, message_sid=sid)


def _after_run(session: Session, account: Account, settings: Settings, campaign: OutreachCampaign) -> dict[str, int]:
    tally = counts(session, campaign.id)
    left = sum(tally.get(s, 0) for s in IN_FLIGHT)
    if left == tally.get("deferred", 0):  # nothing more this run can do
        if left == 0:
            move(session, campaign.id, "sending", status="sent")
            session.commit()
            session.refresh(campaign)
        supervisors.post_progress(session, account, settings, campaign, key=_tally_key(tally),
                                   text=progress_text(session, campaign.id, tally))
        _report_if_final(session, account, settings, campaign, tally)
    return tally


def _tally_key(tally: dict[str, int]) -> str:
    return "progress:" + ",".join(f"{k}={v}" for k, v in sorted(tally.items()))


def progress_text(session: Session, campaign_id: int, tally: dict[str, int]) -> str:
    sent = sum(tally.get(s, 0) for s in ("queued", "sent", "delivered", "undelivered", "read", "failed"))
    parts = [f"Sent {sent - tally.get('failed', 0)}", f"failed {tally.get('failed', 0)}",
             f"skipped (opted out) {tally.get('skipped:opted_out', 0)}"]
    if tally.get("skipped:outside_whatsapp_window"):
        parts.append(f"skipped (WhatsApp window, no template) {tally['skipped:outside_whatsapp_window']}")
    if tally.get("deferred"):
        earliest = session.scalar(select(func.min(OutreachRecipient.send_after)).where(
            OutreachRecipient.campaign_id == campaign_id, OutreachRecipient.status == "deferred"))
        when = earliest.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if earliest else "later"
        parts.append(f"deferred for quiet hours {tally['deferred']} (from {when})")
    return "; ".join(parts) + "."


#: Status callbacks that count as a delivery outcome on the dashboard ("read" implies
#: delivered; "undelivered" is a failure like "failed").
OUTCOME_METRIC = {"delivered": "outreach.delivered", "read": "outreach.delivered",
                  "undelivered": "outreach.failed", "failed": "outreach.failed"}


def on_status(session: Session, account: Account, settings: Settings, *, sid: str, status: str,
              error_code: str | None) -> bool:
    """A Twilio status callback moves the recipient forward, never back; when the last
    recipient reaches a final status, the delivery results go to the Slack thread (and
    beat's tick posts them if two last callbacks raced and neither saw the other)."""
    recipient = session.scalar(select(OutreachRecipient).where(
        OutreachRecipient.account_id == account.id, OutreachRecipient.message_sid == sid))
    if recipient is None:
        return False
    new_rank = timeline.STATUS_ORDER.get(status)
    old_rank = timeline.STATUS_ORDER.get(recipient.status, -1)
    if new_rank is None or new_rank <= old_rank:
        return False
    recipient.status, recipient.updated_at = status, datetime.now(UTC)
    if error_code:
        recipient.reason = f"twilio error {error_code}"
    _record_outcome(session, account, recipient, status)
    session.flush()
    campaign = session.get(OutreachCampaign, recipient.campaign_id)
    assert campaign is not None
    _report_if_final(session, account, settings, campaign, counts(session, campaign.id))
    return True


def _record_outcome(session: Session, account: Account, recipient: OutreachRecipient, status: str) -> None:
    """delivered / failed for the dashboard, once per recipient and kind whatever order
    and how many times the callbacks arrive."""
    kind = OUTCOME_METRIC.get(status)
    if kind is None:
        return
    metrics.record(session, account.id, kind, customer_id=recipient.customer_id, channel=recipient.channel,
                   dedupe_key=f"{kind}:{recipient.id}", campaign_id=recipient.campaign_id, status=status)


def finish_if_final(session: Session, account: Account, settings: Settings, campaign: OutreachCampaign) -> bool:
    """Post the delivery results of a sent campaign whose recipients are all final.
    Beat calls it: it needs no callback, so results raced away by two last callbacks
    (each seeing the other still in flight) are still posted. True when finished now."""
    return _report_if_final(session, account, settings, campaign, counts(session, campaign.id))


def _report_if_final(session: Session, account: Account, settings: Settings, campaign: OutreachCampaign,
                     tally: dict[str, int]) -> bool:
    statuses = {k for k in tally if ":" not in k}
    if campaign.status not in ("sent", "done") or not statuses <= FINAL:
        return False
    parts = [f"{name} {tally[name]}" for name in ("delivered", "read", "undelivered", "failed", "skipped")
             if tally.get(name)]
    # Keyed: however many callbacks and ticks get here, the thread gets it once. Posted
    # before "done" is recorded, so a Slack outage leaves the campaign for the next tick.
    supervisors.post_progress(session, account, settings, campaign, key="report",
                               text="Delivery results: " + (", ".join(parts) or "nothing to deliver") + ".")
    finished = move(session, campaign.id, "sent", status="done")
    session.commit()
    session.refresh(campaign)
    return finished
