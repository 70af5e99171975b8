"""The record of governed actions: their rows, the moves between states, the audit
trail and the line an agent sees on the conversation's timeline.

Apart from the decisions (:mod:`.engine`) because every step of the state machine
writes the same way (a conditional UPDATE so of two deliveries exactly one moves a row,
an audit entry carrying the execution's facts), and the wording (:mod:`.wording`) and
the policy checks (:mod:`.eligibility`) read the same rows without deciding anything.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from switchboard.core.actions.policy import History, Limits
from switchboard.core.customers import timeline
from switchboard.core.store.audit import audit
from switchboard.core.store.models import Account, ActionExecution, Conversation, Customer

PENDING = ("requested", "awaiting_verification", "awaiting_confirmation", "awaiting_approval", "approved", "running")
#: Executions that count towards a customer's limits (issued, or on their way); a
#: "running" one counts only while its lease lasts, so a row stuck by a crash does not.
COUNTED = ("succeeded", "approved", "awaiting_approval")
#: How long an execution may stay "running" before it is taken for stuck and may be
#: resumed (the outbox keys make the resumed call a no-op if the first one landed).
RUN_LEASE = timedelta(minutes=5)
#: States a request under the same idempotency key picks up again instead of
#: answering "already done": put back there by an outage, or never got further.
RESUMABLE = ("requested", "approved")
SELF_SERVICE = ("bot", "llm")
#: Asked on every message a customer sends: built once, not per message.
_AWAITING_CUSTOMER = select(ActionExecution).where(
    ActionExecution.account_id == bindparam("account"), ActionExecution.customer_id == bindparam("customer"),
    ActionExecution.status == "awaiting_confirmation", ActionExecution.role.in_(SELF_SERVICE)
).order_by(ActionExecution.id)


class Ledger:
    """One account's action executions, read and moved on the record."""

    def __init__(self, session: Session, account: Account) -> None:
        self.session, self.account = session, account

    def by_key(self, key: str) -> ActionExecution | None:
        return self.session.scalar(select(ActionExecution).where(
            ActionExecution.account_id == self.account.id, ActionExecution.idempotency_key == key[:200]))

    def customer(self, execution: ActionExecution) -> Customer | None:
        """The execution's customer, and only if they are this account's."""
        if execution.customer_id is None:
            return None
        customer = self.session.get(Customer, execution.customer_id)
        return customer if customer is not None and customer.account_id == self.account.id else None

    def awaiting_customer(self, customer: Customer) -> list[ActionExecution]:
        """Self-service previews waiting for this customer's YES, oldest first."""
        return list(self.session.scalars(_AWAITING_CUSTOMER, {"account": self.account.id, "customer": customer.id}))

    def transition(self, execution: ActionExecution, sources: tuple[str, ...], target: str, *,
                   where: Any = None, **values: Any) -> bool:
        """Move ``execution`` from one of ``sources`` to ``target``, committed; False when
        another delivery moved it first."""
        self.session.flush()
        condition = and_(ActionExecution.id == execution.id, ActionExecution.status.in_(sources))
        result = cast("CursorResult[Any]", self.session.execute(update(ActionExecution).where(
            condition if where is None else and_(condition, where)).values(status=target, **values)
            .execution_options(synchronize_session=False)))
        self.session.commit()
        self.session.refresh(execution)
        return result.rowcount == 1

    def history(self, execution: ActionExecution, limits: Limits) -> History:
        """The customer's earlier executions of the same action that count towards
        ``limits`` (this one left out)."""
        now = datetime.now(UTC)
        since = now - timedelta(days=limits.period_days)
        counted = or_(ActionExecution.status.in_(COUNTED),
                      and_(ActionExecution.status == "running", ActionExecution.expires_at > now))
        row = self.session.execute(select(func.coalesce(func.sum(ActionExecution.amount_cents), 0),
                                          func.count(ActionExecution.id)).where(
            ActionExecution.account_id == self.account.id, ActionExecution.customer_id == execution.customer_id,
            ActionExecution.action == execution.action, counted,
            ActionExecution.id != execution.id, ActionExecution.created_at >= since)).one()
        total_cents, count = row
        assert total_cents is not None  # coalesce(sum, 0)
        return History(total=float(total_cents) / 100, count=int(count))

    def on_timeline(self, execution: ActionExecution, message: str) -> None:
        """The outcome on the conversation's timeline, where the agent sees it."""
        conversation = self.session.get(Conversation, execution.conversation_id) if execution.conversation_id else None
        if conversation is not None:
            timeline.append(self.session, conversation, direction="internal", channel="action", author="system",
                            body=f"{execution.action}: {execution.status} — {message}",
                            external_id=f"action:{execution.id}:{execution.status}",
                            meta={"action_execution": execution.id, "status": execution.status,
                                  "reasons": execution.reasons})

    def audit(self, execution: ActionExecution | None, action: str, *, actor: str | None = None,
              subject: tuple[str, Any] | None = None, detail: dict[str, Any] | None = None) -> None:
        """An audit entry carrying the execution's facts (never the customer's words)."""
        if execution is not None:
            self.session.flush()
        subject_type, subject_id = subject or ("action_execution", execution.id if execution else None)
        base = {"action": execution.action, "status": execution.status, "role": execution.role,
                "customer_id": execution.customer_id, "conversation_id": execution.conversation_id,
                "ticket_id": execution.zendesk_ticket_id} if execution is not None else {}
        audit(self.session, account_id=self.account.id, actor=actor or (execution.actor if execution else "system"),
              action=action, subject_type=subject_type, subject_id=subject_id, detail={**base, **(detail or {})})
