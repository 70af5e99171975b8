"""Outreach approval in Slack: the Block Kit request, Approve / Edit / Reject, the
edit modal, refusals for non-approvers, and the thread with sending progress.

Clicks and modal submissions arrive as recorded inbox events (``outreach:`` prefix,
routed by Bolt in the worker, see interactions.py). The one exception is opening the Edit modal: Slack's
trigger_id is only valid for 3 seconds, so the Bolt listener opens it while answering
the click (``open_edit_modal``), and the recorded event is only audited.

Every Slack call goes through the connector and the outbox, under a key that makes a
retried event repeat nothing.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.apps.slack.client import SlackConnector, decision_buttons, escape
from switchboard.core.outreach import campaigns, drafts
from switchboard.core.outreach.audience import Member
from switchboard.core.outreach.errors import InvalidCampaign
from switchboard.core.outreach.options import options_for, require_channel
from switchboard.core.outreach.spec import from_json
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import (
    Account,
    Customer,
    InboxEvent,
    OutreachCampaign,
    OutreachRecipient,
    OutreachSegment,
)
from switchboard.intake import enqueue

PREFIX = "outreach:"
APPROVE, EDIT, REJECT = "outreach:approve", "outreach:edit", "outreach:reject"
EDIT_VIEW = "outreach:edit"
#: A message holds at most 50 blocks; header, facts, actions and a note take 4.
MAX_SEGMENTS_SHOWN = 40
DECISION_MARK = {"approved": "✅ Approved", "rejected": "❌ Rejected",
                 "expired": "⌛ Expired unapproved — nothing was sent"}


def _slack(session: Session, account: Account, settings: Settings) -> SlackConnector:
    return SlackConnector(session, account, settings)


def _segments(session: Session, campaign_id: int) -> list[OutreachSegment]:
    return list(session.scalars(select(OutreachSegment).where(OutreachSegment.campaign_id == campaign_id)
                                .order_by(OutreachSegment.id)))


def _preview(session: Session, segment: OutreachSegment, detail: str, company: str) -> str:
    """The segment's text as its first customer would receive it."""
    row = session.execute(
        select(OutreachRecipient.phone, Customer).join(Customer, Customer.id == OutreachRecipient.customer_id)
        .where(OutreachRecipient.segment_id == segment.id).order_by(OutreachRecipient.id).limit(1)).first()
    text = segment.edited_text or segment.draft
    if row is None:
        return text
    phone, customer = row
    member = Member(customer.id, phone, customer.display_name, customer.tier, customer.locale,
                    customer.attributes or {}, None)
    return drafts.render(text, member, detail, company)


def campaign_blocks(session: Session, account: Account, settings: Settings,
                    campaign: OutreachCampaign) -> list[dict[str, Any]]:
    options = options_for(account, settings)
    spec = from_json(campaign.spec)
    tally = campaigns.counts(session, campaign.id)
    total = sum(v for k, v in tally.items() if ":" not in k)
    expires = campaign.expires_at or datetime.now(UTC)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Outreach: {campaign.name}"[:150]}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*Trigger*\n{campaign.trigger} ({escape(campaign.created_by)[:80]})"},
            {"type": "mrkdwn", "text": f"*Customers*\n{total}"},
            {"type": "mrkdwn", "text": f"*Skipped, opted out*\n{tally.get('skipped:opted_out', 0)}"},
            {"type": "mrkdwn", "text": f"*Decide by*\n<!date^{int(expires.timestamp())}^{{date_short_pretty}} "
                                       f"{{time}}|{expires.isoformat(timespec='minutes')}>"},
        ]},
    ]
    segments = _segments(session, campaign.id)
    for segment in segments[:MAX_SEGMENTS_SHOWN]:
        edited = " · _edited_" if segment.edited_text else ""
        template = f" · WhatsApp template `{segment.content_sid}`" if segment.content_sid else ""
        preview = _preview(session, segment, spec.detail, options.company)
        blocks.append({"type": "section", "block_id": f"segment:{segment.id}", "text": {
            "type": "mrkdwn", "text": f"*{escape(segment.key)}* · {segment.size} customers{edited}{template}\n"
                                      f">{escape(preview)[:2800]}"}})
    if len(segments) > MAX_SEGMENTS_SHOWN:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text":
                       f"…and {len(segments) - MAX_SEGMENTS_SHOWN} more segments (see the API)."}]})
    if campaign.status == "pending_approval":
        blocks.append(decision_buttons("outreach:decision", str(campaign.id), APPROVE, EDIT, REJECT))
    elif campaign.status in DECISION_MARK or campaign.decided_by:
        mark = DECISION_MARK.get(campaign.status, DECISION_MARK["approved"])
        who = f" by <@{campaign.decided_by}>" if campaign.decided_by else ""
        at = campaign.decided_at or datetime.now(UTC)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text":
                       f"{mark}{who} on <!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|"
                       f"{at.isoformat(timespec='seconds')}>"}]})
    return blocks


def _summary(campaign: OutreachCampaign) -> str:
    """The message's fallback text (notifications, screen readers). Slack parses it as it
    parses mrkdwn: an incident ticket's subject like "<!channel> down" would notify the
    whole channel, "<https://x|click>" become a link, unless escaped."""
    return f"Outreach campaign “{escape(campaign.name)}” ({campaign.status.replace('_', ' ')})"


def request_approval(session: Session, account: Account, settings: Settings, campaign: OutreachCampaign) -> None:
    """Post the approval request once (the idempotency key makes a re-post a no-op)."""
    channel = require_channel(options_for(account, settings), account)
    _slack(session, account, settings).post_card(
        campaign, channel=channel, text=_summary(campaign) + " needs approval",
        blocks=campaign_blocks(session, account, settings, campaign),
        idempotency_key=f"outreach:approval:{campaign.id}")
    session.commit()


def _update(session: Session, account: Account, settings: Settings, campaign: OutreachCampaign, *, key: str) -> None:
    _slack(session, account, settings).update_card(campaign, text=_summary(campaign),
                                                   blocks=campaign_blocks(session, account, settings, campaign),
                                                   key=f"outreach:update:{campaign.id}:{key}")


def show_decision(session: Session, account: Account, settings: Settings, campaign: OutreachCampaign) -> None:
    """Replace the buttons with who decided what, and when."""
    _update(session, account, settings, campaign, key=campaign.status)


def post_in_thread(session: Session, account: Account, settings: Settings, campaign: OutreachCampaign, *,
                   text: str, key: str) -> None:
    if not (campaign.slack_channel and campaign.slack_ts):
        return
    _slack(session, account, settings).post_message(
        channel=campaign.slack_channel, thread_ts=campaign.slack_ts, text=text,
        idempotency_key=f"outreach:thread:{campaign.id}:{key}"[:200])


def is_approver(account: Account, settings: Settings, user_id: str | None) -> bool:
    return bool(user_id) and user_id in options_for(account, settings).approvers


def _refuse(session: Session, account: Account, settings: Settings, event: InboxEvent,
            campaign: OutreachCampaign, user: str, why: str) -> None:
    channel = ((event.payload.get("channel") or {}).get("id")) or campaign.slack_channel
    audit(session, account_id=account.id, actor=f"slack:{user}", action="outreach.decision_refused",
          subject_type="campaign", subject_id=campaign.id, detail={"why": why, "inbox_event_id": event.id})
    session.commit()
    if channel:
        _slack(session, account, settings).post_ephemeral(
            channel=channel, user=user, text=why, thread_ts=None,
            idempotency_key=f"outreach:refusal:{event.id}")


NOT_APPROVER = ("Only outreach approvers can decide on this campaign. Ask one of them, or an admin to add "
                "you to SWITCHBOARD_OUTREACH_APPROVERS.")


def _campaign(session: Session, account_id: int, raw: Any) -> OutreachCampaign | None:
    try:
        campaign = session.get(OutreachCampaign, int(raw))
    except (TypeError, ValueError):
        return None
    return campaign if campaign is not None and campaign.account_id == account_id else None


def on_click(session: Session, event: InboxEvent, settings: Settings, action: dict[str, Any]) -> None:
    """Approve / Reject (and the audit of Edit, whose modal Bolt already opened)."""
    account = session.get(Account, event.account_id)
    assert account is not None
    user = str((event.payload.get("user") or {}).get("id") or "")
    campaign = _campaign(session, account.id, action.get("value"))
    if campaign is None:
        audit(session, account_id=account.id, actor=f"slack:{user}", action="outreach.unknown_campaign",
              subject_type="inbox_event", subject_id=event.id, detail={"value": action.get("value")})
        return
    if not is_approver(account, settings, user):
        return _refuse(session, account, settings, event, campaign, user, NOT_APPROVER)
    kind = str(action.get("action_id", "")).removeprefix(PREFIX)
    if kind == "edit":
        audit(session, account_id=account.id, actor=f"slack:{user}", action="outreach.edit_opened",
              subject_type="campaign", subject_id=campaign.id, detail={"trigger_id": event.payload.get("trigger_id")})
        return
    if kind not in ("approve", "reject"):
        return
    outcome = campaigns.decide(session, account, campaign.id, kind, user=user)
    session.refresh(campaign)
    if outcome.startswith("already:"):
        return _refuse(session, account, settings, event, campaign, user,
                       f"This campaign is already {campaign.status.replace('_', ' ')}"
                       f"{f' (by <@{campaign.decided_by}>)' if campaign.decided_by else ''}: nothing changed.")
    show_decision(session, account, settings, campaign)
    if outcome == "approved":
        session.commit()
        enqueue.outreach_send(campaign.id)


def edit_view(session: Session, account: Account, settings: Settings, campaign: OutreachCampaign) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [{"type": "context", "elements": [{"type": "mrkdwn", "text":
               "Placeholders such as {first_name} are filled in per customer. The disclosure and "
               "“Reply STOP to opt out.” are added back if removed."}]}]
    for segment in _segments(session, campaign.id)[:MAX_SEGMENTS_SHOWN]:
        blocks.append({"type": "input", "block_id": f"segment:{segment.id}",
                       "label": {"type": "plain_text", "text": f"{segment.key} ({segment.size} customers)"[:2000]},
                       "element": {"type": "plain_text_input", "action_id": "text", "multiline": True,
                                   "max_length": 1200, "initial_value": segment.edited_text or segment.draft}})
    return {"type": "modal", "callback_id": EDIT_VIEW, "private_metadata": str(campaign.id),
            "title": {"type": "plain_text", "text": "Edit outreach"},
            "submit": {"type": "plain_text", "text": "Save"}, "close": {"type": "plain_text", "text": "Cancel"},
            "blocks": blocks}


def open_edit_modal(session: Session, account: Account, settings: Settings, body: dict[str, Any]) -> bool:
    """Called by the Bolt listener while Slack waits (trigger_id lives 3 s). Opens
    nothing for a non-approver or a decided campaign: the recorded click answers them."""
    user = str((body.get("user") or {}).get("id") or "")
    action = next((a for a in body.get("actions") or [] if a.get("action_id") == EDIT), None)
    trigger_id = body.get("trigger_id")
    if action is None or not trigger_id or not is_approver(account, settings, user):
        return False
    campaign = _campaign(session, account.id, action.get("value"))
    if campaign is None or campaign.status != "pending_approval":
        return False
    _slack(session, account, settings).call(
        "views.open", {"trigger_id": trigger_id, "view": edit_view(session, account, settings, campaign)},
        idempotency_key=f"outreach:views.open:{trigger_id}"[:200])
    return True


def on_edit_submitted(session: Session, event: InboxEvent, settings: Settings, view: dict[str, Any]) -> None:
    account = session.get(Account, event.account_id)
    assert account is not None
    user = str((event.payload.get("user") or {}).get("id") or "")
    campaign = _campaign(session, account.id, view.get("private_metadata"))
    if campaign is None:
        return
    if not is_approver(account, settings, user):
        return _refuse(session, account, settings, event, campaign, user, NOT_APPROVER)
    texts: dict[int, str] = {}
    for block_id, inputs in ((view.get("state") or {}).get("values") or {}).items():
        if block_id.startswith("segment:") and isinstance((inputs or {}).get("text"), dict):
            texts[int(block_id.split(":", 1)[1])] = str(inputs["text"].get("value") or "")
    try:
        changed = campaigns.edit(session, account, settings, campaign.id, texts, user=user)
    except InvalidCampaign as exc:
        return _refuse(session, account, settings, event, campaign, user, f"The edit was not saved: {exc}")
    if not changed:
        return _refuse(session, account, settings, event, campaign, user,
                       f"The edit was not saved: the campaign is already {campaign.status.replace('_', ' ')}.")
    session.refresh(campaign)
    _update(session, account, settings, campaign, key=f"edited:{event.id}")
