"""Drafted knowledge-base articles reviewed in Slack: the card (the draft, its sources,
its proof, Approve / Reject), refusals for whoever is not an approver, and the card
updated with the decision. The pattern is outreach approval's (``outreach.py``).

Clicks arrive as recorded inbox events (``kbdraft:`` prefix, routed by Bolt in the
worker, see interactions.py). Every Slack call goes through the connector and its
outbox under a key of draft and version, so a retried event posts nothing twice and a
merged version of a draft updates the card it already has.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from switchboard.apps.slack.client import SlackConnector, escape
from switchboard.config import Settings
from switchboard.core import kb_drafts
from switchboard.core.audit import audit
from switchboard.core.outreach.options import options_for
from switchboard.models import Account, InboxEvent, KbDraft

PREFIX = "kbdraft:"
APPROVE, REJECT = "kbdraft:approve", "kbdraft:reject"
BODY_CHARS = 2500
MAX_SOURCES = 10
DECISION_MARK = {"approved": "✅ Approved and published", "rejected": "❌ Rejected — nothing was published"}
NOT_APPROVER = ("Only knowledge-base approvers can decide on drafted articles. Ask one of them, or an admin to "
                "add you to SWITCHBOARD_KB_APPROVERS.")


def _slack(session: Session, account: Account, settings: Settings) -> SlackConnector:
    return SlackConnector(session, account, settings)


def _proof_line(proof: dict[str, Any]) -> str:
    """The eval's verdict on the gap's own questions, before → after, and any theft."""
    before, after = proof.get("before") or {}, proof.get("after") or {}
    if not after:
        return "_no proof computed_"
    line = (f"On the {after.get('questions', 0)} questions that asked for it, with the live articles plus this "
            f"draft: *{after.get('answered', 0)} answered outright* (before {before.get('answered', 0)}), "
            f"{after.get('menu', 0)} by menu (before {before.get('menu', 0)}), {after.get('not_answered', 0)} "
            f"still not (before {before.get('not_answered', 0)}).")
    others = proof.get("others") or {}
    if proof.get("steals"):
        stolen = proof.get("stolen") or []
        examples = "; ".join(f"“{escape(str(s.get('question')))[:80]}” ({escape(str(s.get('expected')))})"
                             for s in stolen[:3])
        line += f"\n:warning: *Takes other articles' questions*: {len(stolen)} now answered wrongly: {examples}"
    elif others:
        line += (f"\nOther articles' questions: {others.get('right_after', 0)}/{others.get('questions', 0)} "
                 "still right; none taken.")
    return line


def draft_blocks(draft: KbDraft) -> list[dict[str, Any]]:
    sources = ", ".join(f"ticket #{s.get('ticket_id')}" for s in draft.sources[:MAX_SOURCES])
    if len(draft.sources) > MAX_SOURCES:
        sources += f" and {len(draft.sources) - MAX_SOURCES} more"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Knowledge draft: {draft.title}"[:150]}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*Draft*\n#{draft.id} · version {draft.version}"},
            {"type": "mrkdwn", "text": f"*Asked*\n{len(draft.questions)} times"},
            {"type": "mrkdwn", "text": f"*From agents' answers on*\n{sources or 'none'}"},
        ]},
        {"type": "section", "block_id": "kbdraft:body",
         "text": {"type": "mrkdwn", "text": ">" + escape(draft.body)[:BODY_CHARS].replace("\n", "\n>")}},
        {"type": "section", "block_id": "kbdraft:proof", "text": {"type": "mrkdwn", "text": _proof_line(draft.proof)}},
    ]
    if draft.status == kb_drafts.PENDING:
        value = str(draft.id)
        blocks.append({"type": "actions", "block_id": "kbdraft:decision", "elements": [
            {"type": "button", "action_id": APPROVE, "style": "primary", "value": value,
             "text": {"type": "plain_text", "text": "Approve"}},
            {"type": "button", "action_id": REJECT, "style": "danger", "value": value,
             "text": {"type": "plain_text", "text": "Reject"}},
        ]})
    else:
        at = draft.decided_at or datetime.now(UTC)
        decider = draft.decided_by or ""
        who = (f" by <@{decider.removeprefix('slack:')}>" if decider.startswith("slack:")
               else f" by {escape(decider)}" if decider else "")
        when = f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{at.isoformat(timespec='seconds')}>"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text":
                       f"{DECISION_MARK.get(draft.status, draft.status)}{who} (version {draft.version}) on {when}"}]})
    return blocks


def _summary(draft: KbDraft) -> str:
    return f"Knowledge draft “{escape(draft.title)}” ({draft.status})"


def request_review(session: Session, account: Account, settings: Settings, draft: KbDraft) -> None:
    """Post the card once; a merged version updates the card already posted."""
    if draft.slack_channel and draft.slack_ts:
        return _update(session, account, settings, draft, key=f"v{draft.version}")
    channel = options_for(account, settings).approval_channel
    if not channel:
        audit(session, account_id=account.id, actor="bot", action="kb.draft_review_not_posted",
              subject_type="kb_draft", subject_id=draft.id,
              detail={"why": "no approval channel: set SWITCHBOARD_SLACK_APPROVAL_CHANNEL"})
        session.commit()
        return
    _slack(session, account, settings).post_card(
        draft, channel=channel, text=_summary(draft) + " needs review", blocks=draft_blocks(draft),
        idempotency_key=f"kbdraft:review:{draft.id}")
    session.commit()


def _update(session: Session, account: Account, settings: Settings, draft: KbDraft, *, key: str) -> None:
    _slack(session, account, settings).update_card(draft, text=_summary(draft), blocks=draft_blocks(draft),
                                                   key=f"kbdraft:update:{draft.id}:{key}")


def show_decision(session: Session, account: Account, settings: Settings, draft: KbDraft) -> None:
    _update(session, account, settings, draft, key=draft.status)


def _refuse(session: Session, account: Account, settings: Settings, event: InboxEvent, draft: KbDraft | None,
            user: str, why: str) -> None:
    channel = ((event.payload.get("channel") or {}).get("id")) or (draft.slack_channel if draft else None)
    audit(session, account_id=account.id, actor=f"slack:{user}", action="kb.draft_decision_refused",
          subject_type="kb_draft", subject_id=draft.id if draft else None,
          detail={"why": why, "inbox_event_id": event.id})
    session.commit()
    if channel:
        _slack(session, account, settings).post_ephemeral(
            channel=channel, user=user, text=why, thread_ts=None, idempotency_key=f"kbdraft:refusal:{event.id}")


def on_click(session: Session, event: InboxEvent, settings: Settings, action: dict[str, Any]) -> None:
    """Approve / Reject, by an approver only; a decided draft stays as it was."""
    account = session.get(Account, event.account_id)
    assert account is not None
    user = str((event.payload.get("user") or {}).get("id") or "")
    try:
        draft = kb_drafts.get(session, account.id, int(action.get("value") or 0))
    except (kb_drafts.DraftNotFound, ValueError):
        return _refuse(session, account, settings, event, None, user, "That draft no longer exists.")
    if not user or user not in kb_drafts.approvers(account, settings):
        return _refuse(session, account, settings, event, draft, user, NOT_APPROVER)
    verdict = str(action.get("action_id", "")).removeprefix(PREFIX)
    if verdict not in ("approve", "reject"):
        return
    decision = kb_drafts.decide(session, account, settings, draft.id, verdict, actor=f"slack:{user}")
    if decision.outcome.startswith("already:"):
        _refuse(session, account, settings, event, draft, user,
                f"This draft is already {draft.status} (by {draft.decided_by}): nothing changed.")
