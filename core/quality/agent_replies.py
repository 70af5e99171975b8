"""An agent's reply, once sent from Zendesk, checked against the guardrails: the
findings (words, fix) are kept on the reply's record for the QA score and the reviewer,
and the audit trail says which rules it broke (never the reply's words)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from switchboard.core.customers import timeline
from switchboard.core.quality.guardrails import Finding
from switchboard.core.quality.screen import check_reply
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import Account, Conversation
from switchboard.core.store.rows import write_now


def check_sent_reply(session: Session, account: Account, settings: Settings, conversation: Conversation, *,
                     comment_id: str, agent: str) -> list[Finding]:
    """Check the agent's reply (the timeline's entry for ``comment_id``) and record it."""
    recent = timeline.recent(session, conversation.id, limit=timeline.TURN_WINDOW)
    sent = next((m for m in reversed(recent) if m.author == "agent" and m.meta.get("zendesk_comment_id") == comment_id),
                None)
    if sent is None:
        return []
    intent = next((m.meta["enrichment"]["intent"] for m in reversed(recent) if m.author == "customer"
                   and (m.meta.get("enrichment") or {}).get("intent")), None)
    findings = check_reply(settings, sent.body, intent, account=account)
    write_now(session, sent, meta={**sent.meta, "agent": agent, "guardrails": [f.as_json() for f in findings]})
    if findings:
        audit(session, account_id=account.id, actor=agent, action="quality.agent_reply_flagged",
              subject_type="conversation", subject_id=conversation.id,
              detail={"message_id": sent.id, "comment_id": comment_id,
                      "rules": [f"{f.guardrail}.{f.rule}" for f in findings]})
    return findings
