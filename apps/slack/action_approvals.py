"""Supervisor approval of governed actions in Slack: a Block Kit message with Approve
and Reject in the approval channel; the click comes back as a recorded
``slack.block_actions`` inbox event and is handled here (prefix ``action:``).

Only listed approvers may decide: the policy's ``approvals.approvers``, else
SWITCHBOARD_OUTREACH_APPROVERS; with neither, nobody can approve and the click is
answered with what to configure. A click by someone else is answered privately and
audited. The first decision wins: the execution's status moves with a conditional
update, so a double click or two approvers clicking at once decide once. Requests
nobody decides expire (``expire_overdue``, called by the periodic tick), and the
customer or agent is told.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.apps.slack.client import SlackConnector, escape
from switchboard.core.actions.engine import Governor, Outcome
from switchboard.core.actions.policy import ActionPolicy
from switchboard.core.customers import timeline
from switchboard.core.customers.identity import reachable_address
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import Account, ActionExecution, Conversation, Customer, InboxEvent
from switchboard.vendors.twilio.connector import TwilioConnector
from switchboard.vendors.zendesk.connector import ZendeskConnector

PREFIX = "action:"
APPROVE = "action:approve"
REJECT = "action:reject"


def _blocks(execution: ActionExecution, preview: str, *, decided: str | None = None) -> list[dict[str, Any]]:
    who = f"customer #{execution.customer_id}" if execution.customer_id else "no customer"
    summary = (f"*Approval needed:* {escape(preview)}\nRequested by `{escape(execution.actor)}` "
               f"({escape(execution.role)}) for {who}"
               + (f", ticket #{execution.zendesk_ticket_id}" if execution.zendesk_ticket_id else "")
               + f".\nAction #{execution.id} · risk checks passed; amount from the order record.")
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": summary}}]
    if decided:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": decided}]})
    else:
        blocks.append({"type": "actions", "block_id": f"action-approval-{execution.id}", "elements": [
            {"type": "button", "action_id": APPROVE, "style": "primary", "value": str(execution.id),
             "text": {"type": "plain_text", "text": "Approve"}},
            {"type": "button", "action_id": REJECT, "style": "danger", "value": str(execution.id),
             "text": {"type": "plain_text", "text": "Reject"}}]})
    return blocks


def post_request(session: Session, account: Account, settings: Settings, execution: ActionExecution,
                 policy: ActionPolicy, preview: str) -> None:
    """Post the Approve/Reject message (once: the outbox key is the execution's)."""
    channel = policy.approvals.slack_channel or "support-approvals"
    result = SlackConnector(session, account, settings).post_message(
        channel=channel, text=f"Approval needed: {escape(preview)}", blocks=_blocks(execution, preview),
        idempotency_key=f"action-approval:{execution.id}")
    execution.approval_channel = str(result.response.get("channel") or channel)[:32]
    execution.approval_ts = str(result.response.get("ts") or "")[:32] or None
    session.commit()


def on_click(session: Session, event: InboxEvent, settings: Settings, action: dict[str, Any]) -> None:
    account = session.get(Account, event.account_id)
    assert account is not None
    user = str((event.payload.get("user") or {}).get("id") or "")
    channel = str((event.payload.get("channel") or {}).get("id") or
                  (event.payload.get("container") or {}).get("channel_id") or "")
    try:
        execution_id = int(str(action.get("value") or ""))
    except ValueError:
        execution_id = -1
    execution = session.get(ActionExecution, execution_id)
    if execution is None or execution.account_id != account.id or action.get("action_id") not in (APPROVE, REJECT):
        audit(session, account_id=account.id, actor=f"slack:{user}", action="action.approval_unknown",
              subject_type="inbox_event", subject_id=event.id, detail={"value": action.get("value"),
                                                                       "action_id": action.get("action_id")})
        return
    governor = Governor(session, account, settings)
    slack = SlackConnector(session, account, settings)
    approvers = governor.policy.approvals.approvers_or(settings.outreach_approvers)
    if not governor.policy.approvals.may_decide(user, settings.outreach_approvers):
        text = ("Only the listed approvers can decide on this request; nothing was changed." if approvers else
                "Nobody is allowed to approve actions yet, so nothing was changed: list the approvers' Slack user "
                f"ids under approvals.approvers in {governor.policy.source} (or set "
                "SWITCHBOARD_OUTREACH_APPROVERS) and restart.")
        audit(session, account_id=account.id, actor=f"slack:{user}", action="action.approval_denied",
              subject_type="action_execution", subject_id=execution.id,
              detail={"reason": "not an approver" if approvers else "no approvers configured",
                      "clicked": action.get("action_id")})
        slack.post_ephemeral(channel=channel or execution.approval_channel or "", user=user, text=text,
                             idempotency_key=f"action-denied:{event.id}")
        return
    outcome = governor.decide(execution, approve=action["action_id"] == APPROVE, approver=f"slack:{user}")
    if outcome.repeated:
        slack.post_ephemeral(channel=channel or execution.approval_channel or "", user=user,
                             text=f"Action #{execution.id} was already decided ({execution.status}).",
                             idempotency_key=f"action-already:{event.id}")
        return
    _close_message(slack, execution, governor.preview(execution), user)
    _tell_customer(session, account, settings, outcome)
    _tell_agent(session, account, settings, outcome)


def expire_overdue(session: Session, settings: Settings, *, now: datetime | None = None) -> list[int]:
    """Expire approvals nobody decided in time (and customers' unanswered YES
    previews): closed in Slack, the customer or agent told. Safe to call often and
    twice: each expiry is a conditional update, each message has its own key.
    Called by the periodic tick (``switchboard.outreach_tick`` / the embedded sweeper)."""
    now = now or datetime.now(UTC)
    overdue = session.scalars(select(ActionExecution).where(
        ActionExecution.status.in_(("awaiting_approval", "awaiting_confirmation")),
        ActionExecution.expires_at.is_not(None), ActionExecution.expires_at < now)
        .order_by(ActionExecution.id).limit(500)).all()
    expired: list[int] = []
    for execution in overdue:
        account = session.get(Account, execution.account_id)
        assert account is not None
        was_approval = execution.status == "awaiting_approval"
        outcome = Governor(session, account, settings).expire(execution, actor="system:expiry")
        if outcome is None:
            continue
        expired.append(execution.id)
        if was_approval:
            preview = Governor(session, account, settings).preview(execution)
            _close_message(SlackConnector(session, account, settings), execution, preview, None)
            _tell_customer(session, account, settings, outcome)
            _tell_agent(session, account, settings, outcome)
        session.commit()
    return expired


def _close_message(slack: SlackConnector, execution: ActionExecution, preview: str, user: str | None) -> None:
    if not (execution.approval_channel and execution.approval_ts):
        return
    verdict = {"succeeded": "Approved and done", "failed": "Approved, but it failed",
               "rejected": "Rejected", "expired": "Expired before a decision"}.get(execution.status, execution.status)
    slack.update_message(channel=execution.approval_channel, ts=execution.approval_ts,
                         text=f"{verdict}: {escape(preview)}",
                         blocks=_blocks(execution, preview,
                                        decided=f"{verdict} by <@{user}>." if user else f"{verdict}."),
                         idempotency_key=f"action-decided:{execution.id}")


def _tell_agent(session: Session, account: Account, settings: Settings, outcome: Outcome) -> None:
    """An agent's request that waited for a supervisor: an internal note on its ticket
    says how it ended (the sidebar timeline shows it too)."""
    execution = outcome.execution
    if execution.role != "agent" or execution.zendesk_ticket_id is None:
        return
    ZendeskConnector(session, account, settings).add_comment(
        execution.zendesk_ticket_id, body=f"Governed action #{execution.id} ({execution.action}): "
                                          f"{execution.status.replace('_', ' ')}. {outcome.message}",
        public=False, tags=(), idempotency_key=f"action-agent-result:{execution.id}")


def _tell_customer(session: Session, account: Account, settings: Settings, outcome: Outcome) -> None:
    """A self-service request waited for the supervisor: tell the customer the result
    on their channel (an agent-run request is the agent's to tell)."""
    execution = outcome.execution
    if execution.role not in ("bot", "llm") or execution.conversation_id is None:
        return
    conversation = session.get(Conversation, execution.conversation_id)
    customer = session.get(Customer, execution.customer_id) if execution.customer_id else None
    if conversation is None or customer is None or customer.opted_out_at is not None:
        return
    phone = reachable_address(customer, "sms")
    if phone is None:
        return
    result = TwilioConnector(session, account, settings).send_message(
        to=phone, body=outcome.message, channel="whatsapp" if conversation.channel == "whatsapp" else "sms",
        idempotency_key=f"action-result:{execution.id}")
    timeline.append(session, conversation, direction="outbound", channel=conversation.channel, author="bot",
                    body=outcome.message, external_id=result.response.get("sid"),
                    status=result.response.get("status"), meta={"action_execution": execution.id})
