"""The policy engine: every governed action goes request → checks → (verification,
confirmation, approval) → execution, on the record at each step.

What may run is decided here, in code, from verified data: the action's declared
schema (unknown fields refused), the policy file (roles, limits, windows, approval),
the order record from the company's system and the customer's earlier actions. A
customer's words, an article or a model's tool call only ever *ask*.

This module holds the state machine (``Governor``: which state comes next, and who may
move an execution there); the policy's checks on verified data are in
:mod:`.eligibility`, the rows, their moves and the audit trail in :mod:`.ledger`, and
what the customer or agent is told in :mod:`.wording`.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import update
from sqlalchemy.orm import Session

from switchboard.core import ports
from switchboard.core.actions import otp
from switchboard.core.actions.config import ActionsConfig, load_actions_config
from switchboard.core.actions.eligibility import Eligibility, refund_amount
from switchboard.core.actions.executors import Context
from switchboard.core.actions.ledger import RESUMABLE, RUN_LEASE, SELF_SERVICE, Ledger
from switchboard.core.actions.policy import ActionPolicy, load_action_policy
from switchboard.core.actions.registry import REGISTRY, ActionSpec
from switchboard.core.actions.schemas import dump
from switchboard.core.actions.wording import (
    APPROVAL_ASKED,
    CODE_SENT,
    CODE_WRONG,
    CONFIRM_PROMPT,
    REASONS,
    VERIFICATION_CODE,
    Wording,
)
from switchboard.core.pii.vault import unknown_tokens
from switchboard.core.ports import NotFound, VendorUnavailable
from switchboard.core.settings import Settings
from switchboard.core.store.models import Account, ActionExecution, Customer
from switchboard.core.store.rows import insert_or_fetch
from switchboard.core.texts.i18n import ENGLISH, Texts, texts_for, texts_of_conversation


@dataclass(frozen=True)
class Principal:
    role: str  # bot, llm, agent, supervisor
    actor: str  # "bot", "llm:gpt-4o-mini", "zendesk:123", "slack:U0123"


@dataclass(frozen=True)
class ActionRequest:
    action: str
    params: dict[str, Any]
    principal: Principal
    idempotency_key: str
    customer_id: int | None = None
    conversation_id: int | None = None
    ticket_id: int | None = None
    confirmed: bool = False


@dataclass
class Outcome:
    execution: ActionExecution
    message: str  # what the customer (or agent) is told, in plain words
    repeated: bool = False

    @property
    def status(self) -> str:
        return self.execution.status


ApprovalPoster = Callable[[Session, Account, Settings, ActionExecution, ActionPolicy, str], None]


class Governor:
    def __init__(self, session: Session, account: Account, settings: Settings, *,
                 post_approval: ApprovalPoster | None = None,
                 send_code: Callable[[Customer, str, ActionExecution], None] | None = None) -> None:
        self.session, self.account, self.settings = session, account, settings
        self.policy: ActionPolicy = load_action_policy(getattr(settings, "action_policy_file", None))
        self.config: ActionsConfig = load_actions_config(getattr(settings, "actions_file", None))
        self._post_approval = post_approval
        self._send_code = send_code
        self.ledger = Ledger(session, account)
        self.wording = Wording(self.ledger, self.policy)
        self.eligibility = Eligibility(self.ledger, self.policy, self._phone_on_file)

    # -- entry points ---------------------------------------------------------------
    def request(self, req: ActionRequest) -> Outcome:
        existing = self.ledger.by_key(req.idempotency_key)
        if existing is not None:
            return self.resume(existing, actor=req.principal.actor, confirmed=req.confirmed)
        execution = ActionExecution(
            account_id=self.account.id, action=req.action[:64], idempotency_key=req.idempotency_key[:200],
            role=req.principal.role, actor=req.principal.actor[:200], customer_id=req.customer_id,
            conversation_id=req.conversation_id, zendesk_ticket_id=req.ticket_id, params={}, facts={},
            status="requested", reasons=[], created_at=datetime.now(UTC))
        execution, new = insert_or_fetch(self.session, execution, lambda: self.ledger.by_key(req.idempotency_key))
        if not new:  # the same key, committed by a concurrent delivery
            return Outcome(execution, self.describe(execution), repeated=True)
        self.ledger.audit(execution, "action.requested", detail={"params": _safe(req.params)})
        spec = REGISTRY.get(req.action)
        if spec is None:
            return self._refuse(execution, ["unknown_action"])
        try:
            execution.params = dump(spec.schema().load(req.params or {}))
        except ValidationError as exc:
            return self._refuse(execution, ["invalid_input"], detail={"errors": exc.messages,
                                                                      "params": _safe(req.params)})
        unknown = unknown_tokens(self.session, account_id=self.account.id, conversation_id=req.conversation_id,
                                 text=json.dumps(execution.params))
        if unknown:
            execution.facts = {"unknown_tokens": unknown}
            return self._refuse(execution, ["unknown_token"], detail={"tokens": unknown})
        return self._admit(execution, confirmed=req.confirmed)

    def resume(self, execution: ActionExecution, *, actor: str, confirmed: bool = False) -> Outcome:
        """The same request again (a retried task, the agent's retry after an outage,
        a duplicate delivery): carry on where it stopped if an outage put it back or it
        is stuck past its lease; otherwise say where it stands and run nothing."""
        if execution.status == "running" and self._reclaim(execution):
            self.ledger.audit(execution, "action.reclaimed", actor=actor, detail={"after": "running lease expired"})
        if execution.status not in RESUMABLE:
            self.ledger.audit(execution, "action.duplicate", actor=actor)
            return Outcome(execution, self.describe(execution), repeated=True)
        self.ledger.audit(execution, "action.resumed", actor=actor)
        if execution.status == "approved":
            return self._execute(execution)
        return self._admit(execution, confirmed=confirmed)

    def _admit(self, execution: ActionExecution, *, confirmed: bool) -> Outcome:
        """Who may ask, for whom, and proof of identity; then the policy checks."""
        rule = self.policy.rule(execution.action)
        if rule is None or execution.role not in rule.allowed:
            return self._refuse(execution, ["role_not_allowed"])
        customer = self.ledger.customer(execution)
        if customer is None and execution.action != "add_note":
            return self._refuse(execution, ["no_customer"])
        if customer is not None and self.policy.needs_verification(rule, execution.role) \
                and not otp.is_verified(self.session, customer, self.policy.verification):
            return self._start_verification(execution, customer)
        return self._proceed(execution, confirmed=confirmed)

    def verify(self, customer: Customer, code: str) -> Outcome | None:
        """A reply that looks like a code: check it against the customer's pending one
        and, when right, carry on with the action that asked for it."""
        pending = otp.pending(self.session, customer)
        if pending is None:
            return None
        execution = self.session.get(ActionExecution, pending.execution_id) if pending.execution_id else None
        result = otp.check(pending, code, self.policy.verification)
        self.ledger.audit(execution, f"action.verification_{result}", subject=("customer", customer.id),
                    detail={"attempts": pending.attempts, "verification_id": pending.id})
        if execution is None or execution.status != "awaiting_verification":
            return None
        if result == "wrong":
            left = self.policy.verification.max_attempts - pending.attempts
            texts = self.texts(execution)
            # English counts in words ("1 try left"); the catalogs say "attempts left: 2".
            tries = f"{left} {'try' if left == 1 else 'tries'}" if texts.language == "en" else str(left)
            return Outcome(execution, texts(CODE_WRONG, left=tries))
        if result in ("failed", "expired"):
            return self._refuse(execution, ["verification_failed" if result == "failed" else "verification_expired"])
        # Proving who you are is not agreeing to a change the model proposed: a
        # confirmation, where the policy needs one, still comes after this.
        return self._proceed(execution, confirmed=False)

    def confirm(self, execution: ActionExecution, principal: Principal) -> Outcome:
        """A confirmation of a previewed action: the agent's confirm button for an
        agent's request, the customer's YES for a self-service one (never the other
        way round: an agent cannot say yes on the customer's behalf)."""
        if execution.status != "awaiting_confirmation":
            return Outcome(execution, self.describe(execution), repeated=True)
        customer_side = execution.role in SELF_SERVICE
        if customer_side != (principal.role == "customer"):
            self.ledger.audit(execution, "action.confirmation_denied", actor=principal.actor)
            return Outcome(execution, self.texts(execution)(REASONS["not_your_confirmation"]), repeated=True)
        if execution.expires_at is not None and datetime.now(UTC) >= execution.expires_at:
            return self._refuse(execution, ["confirmation_expired"])
        self.ledger.audit(execution, "action.confirmed", actor=principal.actor)
        return self._proceed(execution, confirmed=True)

    def decline(self, execution: ActionExecution, principal: Principal, reason: str = "not_confirmed") -> Outcome:
        """The customer said no (or moved on, or the preview expired): nothing runs."""
        if execution.status != "awaiting_confirmation":
            return Outcome(execution, self.describe(execution), repeated=True)
        self.ledger.audit(execution, "action.confirmation_declined", actor=principal.actor, detail={"reason": reason})
        return self._refuse(execution, [reason])

    def awaiting_customer(self, customer: Customer) -> list[ActionExecution]:
        """Self-service previews waiting for this customer's YES, oldest first."""
        return self.ledger.awaiting_customer(customer)

    def expire(self, execution: ActionExecution, *, actor: str) -> Outcome | None:
        """An approval or a preview nobody answered in time: expired, on the record.
        None when it was decided meanwhile."""
        if execution.status == "awaiting_confirmation":
            return self.decline(execution, Principal("system", actor), "confirmation_expired")
        if not self.ledger.transition(execution, ("awaiting_approval",), "expired"):
            return None
        execution.reasons, execution.decided_by = ["approval_expired"], actor
        execution.finished_at = datetime.now(UTC)
        self.ledger.audit(execution, "action.approval_expired", actor=actor)
        return self._finish_message(execution, self.wording.reason(execution, "approval_expired"))

    def decide(self, execution: ActionExecution, *, approve: bool, approver: str) -> Outcome:
        """A supervisor's Approve/Reject. The status moves with a conditional UPDATE,
        so of two clicks (or two deliveries) exactly one decides."""
        now = datetime.now(UTC)
        if execution.status == "approved" and approve:  # approved, then an outage: run it now
            return self.resume(execution, actor=approver)
        if execution.status == "awaiting_approval" and execution.expires_at is not None \
                and now >= execution.expires_at:
            return self.expire(execution, actor=approver) or Outcome(execution, self.describe(execution),
                                                                      repeated=True)
        target = "approved" if approve else "rejected"
        if not self.ledger.transition(execution, ("awaiting_approval",), target):
            return Outcome(execution, self.describe(execution), repeated=True)
        execution.decided_by = approver
        self.ledger.audit(execution, f"action.{target}", actor=approver)
        if not approve:
            execution.reasons, execution.finished_at = ["approval_rejected"], now
            return self._finish_message(execution, self.wording.reason(execution, "approval_rejected"))
        return self._execute(execution)

    # -- the checks, then the next state -----------------------------------------------------------------
    def _proceed(self, execution: ActionExecution, *, confirmed: bool) -> Outcome:
        spec = REGISTRY[execution.action]
        rule = self.policy.rule(spec.name)
        assert rule is not None
        customer = self.ledger.customer(execution)
        if spec.gather is not None:
            if not execution.facts:  # gathered once per execution: a confirmation decides on what was shown
                # On record before the company's system is called (the outbox's own
                # bookkeeping may roll back whatever is still uncommitted).
                self.session.commit()
                try:
                    execution.facts = spec.gather(self._context(execution, customer))
                except Exception as exc:
                    return self._fail(execution, exc, prior=execution.status)
            reasons = self.eligibility.owned_order(execution, customer)
            if reasons:
                return self._refuse(execution, reasons)
        reasons = self.eligibility.refusals(execution, rule, customer)
        if reasons:
            return self._refuse(execution, reasons)
        if not confirmed and self.policy.needs_customer_confirmation(execution.role, read_only=spec.read_only):
            texts = self.texts(execution)
            return self._await_confirmation(execution, texts(CONFIRM_PROMPT, preview=self.preview(execution, texts)),
                                            minutes=self.policy.confirmations.expires_after_minutes)
        # The agent sees (and confirms) the preview first; only a confirmed request
        # goes on to a supervisor, so Slack never holds a request the agent dropped.
        if rule.agent_confirmation and execution.role == "agent" and not confirmed:
            return self._await_confirmation(execution, f"Confirm to {self.preview(execution)}.", minutes=None)
        if self.policy.needs_approval(rule, execution.role, refund_amount(execution)):
            return self._await_approval(execution, spec)
        return self._execute(execution)

    def _await_confirmation(self, execution: ActionExecution, message: str, *, minutes: int | None) -> Outcome:
        execution.status = "awaiting_confirmation"
        execution.expires_at = datetime.now(UTC) + timedelta(minutes=minutes) if minutes else None
        self.ledger.audit(execution, "action.awaiting_confirmation", detail={"preview": self.preview(execution),
                                                                       "by": "customer" if minutes else "agent"})
        return Outcome(execution, message)

    # -- the states -----------------------------------------------------------------
    def _start_verification(self, execution: ActionExecution, customer: Customer) -> Outcome:
        phone = self._context(execution, customer).phone()
        if phone is None:
            return self._refuse(execution, ["no_customer"])
        if otp.issued_within(self.session, customer, timedelta(hours=1)) >= self.policy.verification.max_codes_per_hour:
            return self._refuse(execution, ["too_many_codes"])
        execution.status = "awaiting_verification"
        issued = otp.issue(self.session, customer, execution, self.policy.verification)
        (self._send_code or self._sms_code)(customer, issued.code, execution)
        self.ledger.audit(execution, "action.verification_sent", detail={"verification_id": issued.verification.id,
                                                                   "to": "phone on file", "channel": "sms"})
        return Outcome(execution, self.texts(execution)(CODE_SENT, digits=len(issued.code), ending=phone[-4:]))

    def _sms_code(self, customer: Customer, code: str, execution: ActionExecution) -> None:

        phone = self._context(execution, customer).phone()
        assert phone is not None
        verification = otp.pending(self.session, customer)
        assert verification is not None  # otp.issue() has just stored it
        minutes = self.policy.verification.expires_after_minutes
        texts = (texts_of_conversation(self.session, self.account.id, execution.conversation_id, customer.locale)
                 if execution.conversation_id else texts_for(self.session, self.account.id, customer.locale))
        ports.current().messenger(self.session, self.account, self.settings).send_message(
            to=phone, channel="sms", body=texts(VERIFICATION_CODE, code=code, minutes=minutes),
            idempotency_key=f"otp:{execution.id}:{verification.id}")

    def _await_approval(self, execution: ActionExecution, spec: ActionSpec) -> Outcome:
        execution.status = "awaiting_approval"
        execution.expires_at = datetime.now(UTC) + timedelta(minutes=self.policy.approvals.expires_after_minutes)
        preview = self.preview(execution)
        self.ledger.audit(execution, "action.awaiting_approval", detail={"preview": preview,
                                                                   "channel": self.policy.approvals.slack_channel})
        self.session.commit()  # the request is on record before Slack is called
        poster = self._post_approval or ports.current().supervisor_flows.request_action_approval
        poster(self.session, self.account, self.settings, execution, self.policy, preview)
        texts = self.texts(execution)
        return Outcome(execution, texts(APPROVAL_ASKED, preview=self.preview(execution, texts)))

    def _execute(self, execution: ActionExecution) -> Outcome:
        prior = execution.status
        if not self.ledger.transition(execution, ("requested", "awaiting_verification", "awaiting_confirmation",
                                            "approved"), "running", expires_at=datetime.now(UTC) + RUN_LEASE):
            return Outcome(execution, self.describe(execution), repeated=True)
        spec = REGISTRY[execution.action]
        try:
            result = spec.execute(self._context(execution, self.ledger.customer(execution)))
        except Exception as exc:
            return self._fail(execution, exc, prior=prior)
        execution.expires_at = None
        execution.status, execution.result, execution.finished_at = "succeeded", result, datetime.now(UTC)
        self.ledger.audit(execution, "action.succeeded", detail={"result": _safe(result), "risk": spec.risk,
                                                           "connector": spec.connector})
        return self._finish_message(execution, spec.done(execution.params, result, self.texts(execution)))

    def _refuse(self, execution: ActionExecution, reasons: list[str], detail: dict[str, Any] | None = None) -> Outcome:
        execution.status, execution.reasons, execution.finished_at = "refused", reasons, datetime.now(UTC)
        self.ledger.audit(execution, "action.refused", detail={"reasons": reasons, **(detail or {})})
        return self._finish_message(execution, self.wording.reason(execution, reasons[0]))

    def _fail(self, execution: ActionExecution, exc: Exception, *, prior: str) -> Outcome:
        if isinstance(exc, VendorUnavailable):  # a retry may work: put it back, let the caller retry
            self._interrupt(execution, exc, prior)
            raise exc
        reason = "target_not_found" if isinstance(exc, NotFound) else "failed"
        execution.status, execution.error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
        execution.reasons, execution.finished_at, execution.expires_at = [reason], datetime.now(UTC), None
        self.ledger.audit(execution, "action.failed", detail={"error": execution.error})
        return self._finish_message(execution, self.texts(execution)(REASONS[reason]))

    def _interrupt(self, execution: ActionExecution, exc: Exception, prior: str) -> None:
        """Back to where the same request (same idempotency key) picks it up again, and
        committed, so the caller's rollback cannot leave it "running". A consumed
        one-time code does not come back: after it the request is simply "requested"."""
        back = "requested" if prior == "awaiting_verification" else prior
        expires = (datetime.now(UTC) + timedelta(minutes=self.policy.confirmations.expires_after_minutes)
                   if back == "awaiting_confirmation" and execution.role in SELF_SERVICE else None)
        execution.error = f"{type(exc).__name__}: {exc}"[:2000]
        self.session.flush()
        # Conditional: a concurrent delivery that meanwhile finished the work keeps its result.
        self.session.execute(update(ActionExecution).where(
            ActionExecution.id == execution.id, ActionExecution.status.in_(("running", prior)))
            .values(status=back, expires_at=expires).execution_options(synchronize_session=False))
        self.ledger.audit(execution, "action.interrupted", detail={"error": execution.error, "back_to": back})
        self.session.commit()
        self.session.refresh(execution)

    def _reclaim(self, execution: ActionExecution) -> bool:
        """A "running" row past its lease (a worker died mid-call) goes back to
        approved/requested; the outbox keeps the resumed vendor call from repeating."""
        back = "approved" if execution.decided_by else "requested"
        return self.ledger.transition(execution, ("running",), back, expires_at=None,
                                where=ActionExecution.expires_at < datetime.now(UTC))

    def _finish_message(self, execution: ActionExecution, message: str) -> Outcome:
        """The outcome on the conversation's timeline, where the agent sees it."""
        self.ledger.on_timeline(execution, message)
        return Outcome(execution, message)

    # -- what is said, and the record (wording.py, ledger.py) -------------------------
    def preview(self, execution: ActionExecution, texts: Texts = ENGLISH) -> str:
        """The change in a few words (:meth:`.wording.Wording.preview`)."""
        return self.wording.preview(execution, texts)

    def describe(self, execution: ActionExecution) -> str:
        """What to say about an execution already under way or finished (a repeat)."""
        return self.wording.describe(execution)

    def texts(self, execution: ActionExecution | None) -> Texts:
        """The language an execution is answered in (:meth:`.wording.Wording.texts`)."""
        return self.wording.texts(execution)

    def by_key(self, key: str) -> ActionExecution | None:
        return self.ledger.by_key(key)

    def _context(self, execution: ActionExecution, customer: Customer | None) -> Context:
        return Context(self.session, self.account, self.settings, execution, customer, self.config)

    def _phone_on_file(self, execution: ActionExecution, customer: Customer) -> str | None:
        return self._context(execution, customer).phone()


def _safe(value: Any) -> Any:
    """Requests as audited: strings cut short, so an audit row cannot be flooded."""
    if isinstance(value, dict):
        return {str(k)[:64]: _safe(v) for k, v in list(value.items())[:20]}
    if isinstance(value, list):
        return [_safe(v) for v in value[:20]]
    if isinstance(value, str):
        return value[:300]
    return value


__all__ = ["ActionRequest", "Governor", "Outcome", "Principal"]
