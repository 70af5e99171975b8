"""A campaign's life: created by a trigger, built (audience, segments, drafts, one
recipient row per customer), approved or rejected in Slack, edited, expired, sent.

Every transition is a conditional UPDATE from the state it leaves, so two beats, two
workers or two Approve clicks cannot both make it: the loser sees rowcount 0.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from switchboard.core.outreach import audience, drafts, supervisors
from switchboard.core.outreach.options import options_for, require_channel
from switchboard.core.outreach.sending import finish_if_final, has_due_work, sender_active
from switchboard.core.outreach.spec import CampaignSpec, check_template, from_json
from switchboard.core.outreach.status import (
    counts as counts,  # re-exported: the API, Slack and the benchmarks read the tally here
)
from switchboard.core.outreach.status import move
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import Account, OutreachCampaign, OutreachRecipient, OutreachSegment
from switchboard.core.store.rows import insert_or_fetch

log = logging.getLogger(__name__)
INSERT_BATCH = 5000


def create(session: Session, account: Account, settings: Settings, spec: CampaignSpec, *, trigger: str,
           created_by: str, dedupe_key: str | None = None,
           now: datetime | None = None) -> tuple[OutreachCampaign, bool]:
    """Record the campaign; build it now unless it is scheduled for later. Returns
    (campaign, False) when ``dedupe_key`` already started one."""
    now = now or datetime.now(UTC)
    require_channel(options_for(account, settings), account)
    scheduled = spec.start_at is not None and spec.start_at > now
    campaign = OutreachCampaign(
        account_id=account.id, name=spec.name, trigger="schedule" if scheduled else trigger,
        dedupe_key=dedupe_key, status="scheduled" if scheduled else "building", spec=spec.to_json(),
        created_by=created_by, start_at=spec.start_at, created_at=now)
    campaign, new = insert_or_fetch(session, campaign, lambda: session.scalar(select(OutreachCampaign).where(
        OutreachCampaign.account_id == account.id, OutreachCampaign.dedupe_key == dedupe_key)))
    if not new:
        return campaign, False
    audit(session, account_id=account.id, actor=created_by, action="outreach.created", subject_type="campaign",
          subject_id=campaign.id, detail={"trigger": campaign.trigger, "name": spec.name,
                                          "start_at": spec.start_at.isoformat() if spec.start_at else None})
    session.commit()
    if not scheduled:
        build(session, account, settings, campaign, now=now)
    return campaign, True


def build(session: Session, account: Account, settings: Settings, campaign: OutreachCampaign, *,
          now: datetime | None = None) -> None:
    """Select, segment, draft and queue the recipients, then ask for approval. Nothing
    is sent here: recipients wait as ``pending`` until someone approves."""
    now = now or datetime.now(UTC)
    spec = from_json(campaign.spec)
    options = options_for(account, settings)
    members = audience.select_members(session, account.id, spec.criteria)
    groups = audience.segment(members, spec.segment_by)
    opted_out = 0
    for key, group in groups.items():
        template = spec.templates.get(key) or spec.template or drafts.DEFAULT_TEMPLATES[
            campaign.trigger if campaign.trigger in drafts.DEFAULT_TEMPLATES else "api"]
        draft = drafts.draft_for(session, account, settings, template=template, key=key, campaign_id=campaign.id)
        segment = OutreachSegment(account_id=account.id, campaign_id=campaign.id, key=key, size=len(group),
                                  draft=draft.text, engine=draft.engine,
                                  content_sid=spec.whatsapp.get("content_sid"),
                                  content_variables=spec.whatsapp.get("variables") or {})
        session.add(segment)
        session.flush()
        rows = []
        for member in group:
            skipped = member.opted_out_at is not None
            opted_out += skipped
            rows.append({"account_id": account.id, "campaign_id": campaign.id, "segment_id": segment.id,
                         "customer_id": member.customer_id, "phone": member.phone,
                         "status": "skipped" if skipped else "pending",
                         "reason": "opted_out" if skipped else None, "updated_at": now})
        for start in range(0, len(rows), INSERT_BATCH):
            session.execute(insert(OutreachRecipient), rows[start:start + INSERT_BATCH])
    campaign.status = "pending_approval"
    campaign.expires_at = now + timedelta(hours=options.approval_hours)
    audit(session, account_id=account.id, actor="outreach", action="outreach.built", subject_type="campaign",
          subject_id=campaign.id, detail={"recipients": len(members), "opted_out": opted_out,
                                          "segments": {k: len(v) for k, v in groups.items()}})
    session.commit()
    supervisors.request_approval(session, account, settings, campaign)


def decide(session: Session, account: Account, campaign_id: int, decision: str, *, user: str,
           at: datetime | None = None) -> str:
    """Approve or reject once. Returns the new status, or ``already:<status>`` when the
    campaign was decided (or expired) before this click."""
    at = at or datetime.now(UTC)
    new = {"approve": "approved", "reject": "rejected"}[decision]
    decided = move(session, campaign_id, "pending_approval", OutreachCampaign.account_id == account.id,
                   OutreachCampaign.expires_at > at, status=new, decided_by=user, decided_at=at)
    campaign = session.get(OutreachCampaign, campaign_id, populate_existing=True)
    assert campaign is not None
    if not decided:
        audit(session, account_id=account.id, actor=f"slack:{user}", action="outreach.decision_ignored",
              subject_type="campaign", subject_id=campaign_id, detail={"decision": decision, "status": campaign.status})
        session.commit()
        return f"already:{campaign.status}"
    audit(session, account_id=account.id, actor=f"slack:{user}", action=f"outreach.{new}", subject_type="campaign",
          subject_id=campaign_id, detail={"at": at.isoformat(), "texts": _texts(session, campaign_id)})
    session.commit()
    return new


def edit(session: Session, account: Account, settings: Settings, campaign_id: int, texts: dict[int, str], *,
         user: str) -> bool:
    """Replace segment drafts before approval; the edited text is what will be sent
    (the disclosure and opt-out wording are put back if the editor removed them)."""
    campaign = session.get(OutreachCampaign, campaign_id)
    if campaign is None or campaign.account_id != account.id or campaign.status != "pending_approval":
        return False
    company = options_for(account, settings).company
    changes = {}
    for segment in session.scalars(select(OutreachSegment).where(OutreachSegment.campaign_id == campaign_id)):
        if segment.id not in texts:
            continue
        before = segment.edited_text or segment.draft
        after = drafts.with_compliance(check_template(texts[segment.id], f"segment {segment.key}"), company)
        if after != before:
            segment.edited_text = after
            changes[segment.key] = {"before": before, "after": after}
    audit(session, account_id=account.id, actor=f"slack:{user}", action="outreach.edited", subject_type="campaign",
          subject_id=campaign_id, detail={"segments": changes})
    session.commit()
    return True


def _texts(session: Session, campaign_id: int) -> dict[str, str]:
    return {s.key: s.edited_text or s.draft for s in session.scalars(
        select(OutreachSegment).where(OutreachSegment.campaign_id == campaign_id))}


def expire_due(session: Session, settings: Settings, *, now: datetime | None = None) -> list[int]:
    """Unapproved campaigns past their deadline expire: nothing of theirs is ever sent."""
    now = now or datetime.now(UTC)
    due = session.scalars(select(OutreachCampaign.id).where(
        OutreachCampaign.status == "pending_approval", OutreachCampaign.expires_at <= now)).all()
    expired = []
    for campaign_id in due:
        if not move(session, campaign_id, "pending_approval", status="expired", decided_at=now):
            continue
        campaign = session.get(OutreachCampaign, campaign_id, populate_existing=True)
        assert campaign is not None
        audit(session, account_id=campaign.account_id, actor="outreach", action="outreach.expired",
              subject_type="campaign", subject_id=campaign_id, detail={"expires_at": now.isoformat()})
        session.commit()
        account = session.get(Account, campaign.account_id)
        assert account is not None
        supervisors.show_decision(session, account, settings, campaign)
        expired.append(campaign_id)
    return expired


def start_due(session: Session, settings: Settings, *, now: datetime | None = None) -> list[int]:
    """The schedule dispatcher: builds each scheduled campaign whose time has come,
    exactly once however many beats or workers run it."""
    now = now or datetime.now(UTC)
    due = session.scalars(select(OutreachCampaign.id).where(
        OutreachCampaign.status == "scheduled", OutreachCampaign.start_at <= now)).all()
    started = []
    for campaign_id in due:
        taken = move(session, campaign_id, "scheduled", status="building")
        session.commit()
        if not taken:
            continue
        campaign = session.get(OutreachCampaign, campaign_id, populate_existing=True)
        account = session.get(Account, campaign.account_id) if campaign else None
        assert campaign is not None and account is not None
        build(session, account, settings, campaign, now=now)
        started.append(campaign_id)
    return started


#: How long after approval beat still looks for a sent campaign's last delivery
#: statuses (Twilio gives up on a message within hours; quiet hours defer at most a day).
FINISH_WINDOW = timedelta(days=3)


def tick(session: Session, settings: Settings, *, enqueue: Callable[[int], object],
         now: datetime | None = None) -> dict[str, list[int]]:
    """What beat runs: start due schedules, expire unapproved campaigns, re-post lost
    approval requests, hand campaigns with due recipients (deferred past quiet hours,
    or left behind by a killed worker) back to the senders unless a sender is at work
    on them, and post the results of sent campaigns whose deliveries are all final."""
    now = now or datetime.now(UTC)
    report: dict[str, list[int]] = {"started": start_due(session, settings, now=now),
                                    "expired": expire_due(session, settings, now=now), "resumed": [], "reposted": [],
                                    "finished": []}
    unposted = session.scalars(select(OutreachCampaign).where(
        OutreachCampaign.status == "pending_approval", OutreachCampaign.slack_ts.is_(None))).all()
    for campaign in unposted:
        account = session.get(Account, campaign.account_id)
        assert account is not None
        supervisors.request_approval(session, account, settings, campaign)
        report["reposted"].append(campaign.id)
    report["resumed"] = _resume(session, settings, enqueue=enqueue, now=now)
    report["finished"] = _finish(session, settings, now=now)
    return report


def _resume(session: Session, settings: Settings, *, enqueue: Callable[[int], object], now: datetime) -> list[int]:
    """One sender per campaign: a campaign whose sender claimed a recipient within the
    lease is left to it (it re-enqueues itself between chunks); a dead one's lease runs
    out and the campaign is handed on."""
    resumed = []
    active = session.scalars(select(OutreachCampaign.id).where(
        or_(OutreachCampaign.status == "approved", OutreachCampaign.status == "sending"))).all()
    for campaign_id in active:
        if has_due_work(session, settings, campaign_id, now=now) and not sender_active(
                session, settings, campaign_id, now=now):
            enqueue(campaign_id)
            resumed.append(campaign_id)
    return resumed


def _finish(session: Session, settings: Settings, *, now: datetime) -> list[int]:
    """Sent campaigns approved within FINISH_WINDOW whose recipients are all final get
    their delivery results (older ones are not scanned on every beat forever)."""
    finished = []
    sent = session.scalars(select(OutreachCampaign).where(
        OutreachCampaign.status == "sent", OutreachCampaign.decided_at >= now - FINISH_WINDOW)).all()
    for campaign in sent:
        account = session.get(Account, campaign.account_id)
        assert account is not None
        try:
            if finish_if_final(session, account, settings, campaign):
                finished.append(campaign.id)
        except Exception:  # Slack down or refusing: this campaign waits for the next beat, the others go on
            session.rollback()
            log.warning("delivery results of outreach campaign %s not posted yet; the next tick retries",
                        campaign.id, exc_info=True)
    return finished
