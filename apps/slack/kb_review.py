"""Drafted knowledge-base articles reviewed in Slack: the card (the draft, its sources,
its proof, an edit's diff, Approve / Edit / Reject), the edit modal, refusals for
whoever is not an approver, and the card updated with each version and the decision.
The pattern is outreach approval's (``outreach.py``).

Clicks and modal submissions arrive as recorded inbox events (``kbdraft:`` prefix,
routed by Bolt in the worker, see interactions.py); only opening the Edit modal happens
while Slack waits for the click's answer (its trigger_id lives 3 s, ``open_edit_modal``).
Every Slack call goes through the connector and its outbox under a key of draft and
version, so a retried event posts nothing twice and a new version of a draft (merged or
edited) updates the card it already has.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from switchboard.apps.slack.client import SlackConnector, decision_buttons, escape
from switchboard.core.knowledge_loop import drafts as kb_drafts
from switchboard.core.outreach.options import options_for
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import Account, InboxEvent, KbDraft

PREFIX = "kbdraft:"
APPROVE, EDIT, REJECT = "kbdraft:approve", "kbdraft:edit", "kbdraft:reject"
EDIT_VIEW = "kbdraft:edit"
BODY_CHARS = 2500
#: Slack's plain_text_input holds at most 3,000 characters; a longer draft is edited in
#: the dashboard or with `switchboard kb drafts edit`.
MODAL_BODY_CHARS = 3000
DIFF_LINES = 12
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


def _diff_block(draft: KbDraft) -> list[dict[str, Any]]:
    """An edit's change to the live article: removed sentences struck, added ones bold."""
    lines = kb_drafts.diff(draft)
    if not lines:
        return []
    shown = [f"~{escape(line[2:])[:300]}~" if line.startswith("- ") else f"*+* {escape(line[2:])[:300]}"
             for line in lines[:DIFF_LINES]]
    if len(lines) > DIFF_LINES:
        shown.append(f"_and {len(lines) - DIFF_LINES} more changed sentences_")
    return [{"type": "section", "block_id": "kbdraft:diff", "text": {"type": "mrkdwn", "text": (
        f"*Edits article* `{escape(draft.target_article_id or '')}` — the change:\n" + "\n".join(shown))[:3000]}}]


def draft_blocks(draft: KbDraft) -> list[dict[str, Any]]:
    sources = ", ".join(f"ticket #{s.get('ticket_id')}" for s in draft.sources[:MAX_SOURCES])
    if len(draft.sources) > MAX_SOURCES:
        sources += f" and {len(draft.sources) - MAX_SOURCES} more"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": (
            f"Edit of article: {draft.title}" if draft.kind == kb_drafts.EDIT else f"Knowledge draft: {draft.title}"
        )[:150]}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*Draft*\n#{draft.id} · version {draft.version}"},
            {"type": "mrkdwn", "text": f"*Asked*\n{len(draft.questions)} times"},
            {"type": "mrkdwn", "text": f"*From agents' answers on*\n{sources or 'none'}"},
        ]},
        {"type": "section", "block_id": "kbdraft:body",
         "text": {"type": "mrkdwn", "text": ">" + escape(draft.body)[:BODY_CHARS].replace("\n", "\n>")}},
        *_diff_block(draft),
        {"type": "section", "block_id": "kbdraft:proof", "text": {"type": "mrkdwn", "text": _proof_line(draft.proof)}},
    ]
    if draft.status == kb_drafts.PENDING:
        blocks.append(decision_buttons("kbdraft:decision", str(draft.id), APPROVE, EDIT, REJECT))
    else:
        at = draft.decided_at or datetime.now(UTC)
        decider = draft.decided_by or ""
        who = (f" by <@{decider.removeprefix('slack:')}>" if decider.startswith("slack:")
               else f" by {escape(decider)}" if decider else "")
        when = f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{at.isoformat(timespec='seconds')}>"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text":
                       f"{DECISION_MARK.get(draft.status, draft.status)}{who} "
                       f"(version {draft.approved_version or draft.version}) on {when}"}]})
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
    """Approve / Reject (and the audit of Edit, whose modal was opened when Slack sent
    the click), by an approver only; a decided draft stays as it was."""
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
    if verdict == "edit":
        return _edit_clicked(session, account, settings, event, draft, user)
    if verdict not in ("approve", "reject"):
        return
    decision = kb_drafts.decide(session, account, settings, draft.id, verdict, actor=f"slack:{user}")
    if decision.outcome.startswith("already:"):
        _refuse(session, account, settings, event, draft, user,
                f"This draft is already {draft.status} (by {draft.decided_by}): nothing changed.")


def _edit_clicked(session: Session, account: Account, settings: Settings, event: InboxEvent, draft: KbDraft,
                  user: str) -> None:
    """The modal opened already (or could not): say why when it could not."""
    if draft.status != kb_drafts.PENDING:
        return _refuse(session, account, settings, event, draft, user,
                       f"This draft is already {draft.status} (by {draft.decided_by}): it can no longer be edited.")
    if len(draft.body) > MODAL_BODY_CHARS:
        return _refuse(session, account, settings, event, draft, user, TOO_LONG.format(id=draft.id))
    audit(session, account_id=account.id, actor=f"slack:{user}", action="kb.draft_edit_opened",
          subject_type="kb_draft", subject_id=draft.id, detail={"version": draft.version})
    session.commit()


TOO_LONG = ("This draft is longer than Slack's editor holds (3,000 characters): edit it on the dashboard's "
            "Knowledge page or with `switchboard kb drafts edit {id} --body-file FILE`.")


def edit_view(draft: KbDraft) -> dict[str, Any]:
    """The modal: the title and body as they are, the version they edit in its metadata."""
    return {"type": "modal", "callback_id": EDIT_VIEW, "private_metadata": f"{draft.id}:{draft.version}",
            "title": {"type": "plain_text", "text": "Edit knowledge draft"},
            "submit": {"type": "plain_text", "text": "Save"}, "close": {"type": "plain_text", "text": "Cancel"},
            "blocks": [
                {"type": "context", "elements": [{"type": "mrkdwn", "text": (
                    f"Draft #{draft.id}, version {draft.version}. Saving makes version {draft.version + 1}, "
                    "tries it again on the questions that asked for it and updates the card; nothing is "
                    "published until it is approved. Leave personal data out: every customer reads it.")}]},
                {"type": "input", "block_id": "title", "label": {"type": "plain_text", "text": "Title"},
                 "element": {"type": "plain_text_input", "action_id": "text", "max_length": kb_drafts.TITLE_CHARS,
                             "initial_value": draft.title}},
                {"type": "input", "block_id": "body", "label": {"type": "plain_text", "text": "Body"},
                 "element": {"type": "plain_text_input", "action_id": "text", "multiline": True,
                             "max_length": MODAL_BODY_CHARS, "initial_value": draft.body}},
            ]}


def open_edit_modal(session: Session, account: Account, settings: Settings, body: dict[str, Any]) -> bool:
    """Called by the receiving Bolt listener while Slack waits (trigger_id lives 3 s).
    Opens nothing for a non-approver, a decided draft or one too long for the modal:
    the recorded click tells them why."""
    user = str((body.get("user") or {}).get("id") or "")
    action = next((a for a in body.get("actions") or [] if a.get("action_id") == EDIT), None)
    trigger_id = body.get("trigger_id")
    if action is None or not trigger_id or user not in kb_drafts.approvers(account, settings):
        return False
    try:
        draft = kb_drafts.get(session, account.id, int(action.get("value") or 0))
    except (kb_drafts.DraftNotFound, ValueError):
        return False
    if draft.status != kb_drafts.PENDING or len(draft.body) > MODAL_BODY_CHARS:
        return False
    _slack(session, account, settings).call("views.open", {"trigger_id": trigger_id, "view": edit_view(draft)},
                                            idempotency_key=f"kbdraft:views.open:{trigger_id}"[:200])
    return True


def _submitted(view: dict[str, Any], block: str) -> str:
    value = (((view.get("state") or {}).get("values") or {}).get(block) or {}).get("text") or {}
    return str(value.get("value") or "") if isinstance(value, dict) else ""


def on_edit_submitted(session: Session, event: InboxEvent, settings: Settings, view: dict[str, Any]) -> None:
    """The modal's Save: a new version by an approver, proven again, the card updated."""
    account = session.get(Account, event.account_id)
    assert account is not None
    user = str((event.payload.get("user") or {}).get("id") or "")
    draft_id, _, edited_version = str(view.get("private_metadata") or "").partition(":")
    try:
        draft = kb_drafts.get(session, account.id, int(draft_id or 0))
    except (kb_drafts.DraftNotFound, ValueError):
        return _refuse(session, account, settings, event, None, user, "That draft no longer exists.")
    if not user or user not in kb_drafts.approvers(account, settings):
        return _refuse(session, account, settings, event, draft, user, NOT_APPROVER)
    try:
        decision = kb_drafts.edit(session, account, settings, draft.id, title=_submitted(view, "title"),
                                  body=_submitted(view, "body"), actor=f"slack:{user}")
    except kb_drafts.InvalidEdit as exc:
        return _refuse(session, account, settings, event, draft, user, f"The edit was not saved: {exc}.")
    if decision.outcome.startswith("already:"):
        return _refuse(session, account, settings, event, draft, user,
                       f"The edit was not saved: the draft is already {draft.status} (by {draft.decided_by}).")
    if decision.outcome == "edited" and edited_version.isdigit() and int(edited_version) != decision.draft.version - 1:
        _refuse(session, account, settings, event, draft, user,
                f"Saved as version {decision.draft.version}, over version {decision.draft.version - 1}, which came "
                f"after the version {edited_version} you opened: check the card.")
