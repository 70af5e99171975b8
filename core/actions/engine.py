"""The policy engine: every governed action goes request → checks → (verification,
confirmation, approval) → execution, on the record at each step.

What may run is decided here, in code, from verified data: the action's declared
schema (unknown fields refused), the policy file (roles, limits, windows, approval),
the order record from the company's system and the customer's earlier actions. A
customer's words, an article or a model's tool call only ever *ask*.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from marshmallow import ValidationError
from sqlalchemy import CursorResult, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from switchboard.core import ports, timeline
from switchboard.core.actions import otp
from switchboard.core.actions.config import ActionsConfig, load_actions_config
from switchboard.core.actions.executors import Context
from switchboard.core.actions.policy import ActionPolicy, History, load_action_policy
from switchboard.core.actions.registry import REGISTRY, ActionSpec
from switchboard.core.actions.schemas import dump
from switchboard.core.ports import NotFound, VendorUnavailable
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import Account, ActionExecution, Conversation, Customer
from switchboard.core.store.rows import insert_or_fetch
from switchboard.core.texts.i18n import ENGLISH, N_, Texts, texts_for, texts_of_conversation
from switchboard.core.vault import unknown_tokens

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
AGENT = "Reply AGENT to reach a person."
#: The one-time code SMS, in the conversation's language (core/texts/i18n.py).
VERIFICATION_CODE = N_("verification_code", "Your verification code is {code}. It expires in {minutes} minutes. "
                       "Never share it: we will not ask for it in any other way.")

#: Why a request was not done, as the customer (or agent) is told; in the conversation's
#: language for self-service requests (core/texts/i18n.py).
REASONS = {
    "unknown_action": N_("refusal_unknown_action", "I can't do that here. Reply AGENT to reach a person."),
    "invalid_input": N_("refusal_invalid_input",
                        "I couldn't use the details of that request. Reply AGENT to reach a person."),
    "role_not_allowed": N_("refusal_role_not_allowed",
                           "That isn't something I'm allowed to do here. Reply AGENT to reach a person."),
    "no_customer": N_("refusal_no_customer", "I couldn't tell whose account this is. Reply AGENT to reach a person."),
    "order_not_found": N_("refusal_order_not_found", "I couldn't find order {order_id} on your account. Check the "
                          "number, or reply AGENT to reach a person."),
    "outside_window": N_("refusal_outside_window", "I can't refund order {order_id}: for your membership a refund is "
                         "possible within {window} days of delivery, and it has been longer. Reply AGENT to reach "
                         "a person."),
    "no_purchase_date": N_("refusal_no_purchase_date", "I can't refund order {order_id} automatically because I "
                           "can't see when it was delivered. Reply AGENT to reach a person."),
    "over_limit": N_("refusal_over_limit", "I can't issue this refund automatically: it would go over the refund "
                     "limit for your account in this period. Reply AGENT to reach a person."),
    "count_limit": N_("refusal_count_limit", "I can't issue another refund automatically: your account has reached "
                      "the number of refunds allowed in this period. Reply AGENT to reach a person."),
    "verification_failed": N_("refusal_verification_failed", "That code didn't match, so I haven't changed anything "
                              "on your account. Reply AGENT to reach a person."),
    "verification_expired": N_("refusal_verification_expired",
                               "That code has expired, so I haven't changed anything. Ask again for a new code."),
    "approval_rejected": N_("refusal_approval_rejected", "A supervisor didn't approve this request ({preview}), so "
                            "nothing was changed. Reply AGENT to reach a person."),
    "approval_expired": N_("refusal_approval_expired", "Your request ({preview}) wasn't approved in time, so nothing "
                           "was changed. Reply AGENT to reach a person."),
    "prompt_injection": N_("refusal_prompt_injection", "I can't act on that message. Reply AGENT to reach a person."),
    "unknown_token": N_("refusal_unknown_token", "This conversation holds no value for {tokens} (it may belong to "
                        "another conversation, or have been erased), so nothing was changed. Use a token shown on "
                        "this ticket, or reply AGENT to reach a person."),
    "failed": N_("refusal_failed",
                 "Something went wrong while doing that, and nothing was changed. Reply AGENT to reach a person."),
    "target_not_found": N_("refusal_target_not_found", "I couldn't find that in our system, so nothing was changed. "
                           "Check the number, or reply AGENT to reach a person."),
    "not_confirmed": N_("refusal_not_confirmed", "OK, I haven't changed anything."),
    "confirmation_expired": N_("refusal_confirmation_expired",
                               "That request ({preview}) wasn't confirmed in time, so nothing was changed."),
    "too_many_codes": N_("refusal_too_many_codes", "I've already texted you several codes in the last hour, so I "
                         "can't send another one yet. Please try again later, or reply AGENT to reach a person."),
    "not_your_confirmation": N_("refusal_not_your_confirmation", "That request isn't waiting for your confirmation."),
}
CONFIRM_PROMPT = N_("action_confirm", "Reply YES to {preview}. If you don't, nothing will be changed.")
CODE_SENT = N_("action_code_sent", "To keep your account safe I've texted a {digits}-digit code to the phone number "
               "we have on file (ending {ending}). Reply with the code to continue.")
CODE_WRONG = N_("action_code_wrong", "That code doesn't match. Please check the text we sent and try again "
                "({left} left).")
APPROVAL_ASKED = N_("action_approval_asked", "I've asked a supervisor to approve this ({preview}). I'll message you "
                    "here as soon as they decide.")
#: When the company's system is down: the request is kept under its idempotency key.
UNAVAILABLE = N_("action_unavailable", "The company's system isn't answering right now, so nothing was changed yet. "
                 "The request is kept: retry it (the same button, or the same request) in a minute and it will "
                 "run once.")
#: Where a repeated request stands (describe): said again in the customer's language.
WAITING_APPROVAL = N_("action_waiting_approval", "This request ({preview}) is waiting for a supervisor's approval.")
WAITING_CODE = N_("action_waiting_code", "Reply with the code we texted to the phone number on file to continue.")
WAITING_YES = N_("action_waiting_yes", "Reply YES to {preview}.")
UNDER_WAY = N_("action_under_way", "This request is already under way. I'll message you here when it's done.")
#: An agent's own previewed request, on a repeat: agents read English (core/texts/translation.py).
AGENT_CONFIRM = "Confirm to {preview}."


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

    # -- entry points ---------------------------------------------------------------
    def request(self, req: ActionRequest) -> Outcome:
        existing = self._by_key(req.idempotency_key)
        if existing is not None:
            return self.resume(existing, actor=req.principal.actor, confirmed=req.confirmed)
        execution = ActionExecution(
            account_id=self.account.id, action=req.action[:64], idempotency_key=req.idempotency_key[:200],
            role=req.principal.role, actor=req.principal.actor[:200], customer_id=req.customer_id,
            conversation_id=req.conversation_id, zendesk_ticket_id=req.ticket_id, params={}, facts={},
            status="requested", reasons=[], created_at=datetime.now(UTC))
        execution, new = insert_or_fetch(self.session, execution, lambda: self._by_key(req.idempotency_key))
        if not new:  # the same key, committed by a concurrent delivery
            return Outcome(execution, self.describe(execution), repeated=True)
        self._audit(execution, "action.requested", detail={"params": _safe(req.params)})
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
            self._audit(execution, "action.reclaimed", actor=actor, detail={"after": "running lease expired"})
        if execution.status not in RESUMABLE:
            self._audit(execution, "action.duplicate", actor=actor)
            return Outcome(execution, self.describe(execution), repeated=True)
        self._audit(execution, "action.resumed", actor=actor)
        if execution.status == "approved":
            return self._execute(execution)
        return self._admit(execution, confirmed=confirmed)

    def _admit(self, execution: ActionExecution, *, confirmed: bool) -> Outcome:
        """Who may ask, for whom, and proof of identity; then the policy checks."""
        rule = self.policy.rule(execution.action)
        if rule is None or execution.role not in rule.allowed:
            return self._refuse(execution, ["role_not_allowed"])
        customer = self._customer(execution)
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
        self._audit(execution, f"action.verification_{result}", subject=("customer", customer.id),
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
            self._audit(execution, "action.confirmation_denied", actor=principal.actor)
            return Outcome(execution, self.texts(execution)(REASONS["not_your_confirmation"]), repeated=True)
        if execution.expires_at is not None and datetime.now(UTC) >= execution.expires_at:
            return self._refuse(execution, ["confirmation_expired"])
        self._audit(execution, "action.confirmed", actor=principal.actor)
        return self._proceed(execution, confirmed=True)

    def decline(self, execution: ActionExecution, principal: Principal, reason: str = "not_confirmed") -> Outcome:
        """The customer said no (or moved on, or the preview expired): nothing runs."""
        if execution.status != "awaiting_confirmation":
            return Outcome(execution, self.describe(execution), repeated=True)
        self._audit(execution, "action.confirmation_declined", actor=principal.actor, detail={"reason": reason})
        return self._refuse(execution, [reason])

    def awaiting_customer(self, customer: Customer) -> list[ActionExecution]:
        """Self-service previews waiting for this customer's YES, oldest first."""
        return list(self.session.scalars(_AWAITING_CUSTOMER, {"account": self.account.id, "customer": customer.id}))

    def expire(self, execution: ActionExecution, *, actor: str) -> Outcome | None:
        """An approval or a preview nobody answered in time: expired, on the record.
        None when it was decided meanwhile."""
        if execution.status == "awaiting_confirmation":
            return self.decline(execution, Principal("system", actor), "confirmation_expired")
        if not self._transition(execution, ("awaiting_approval",), "expired"):
            return None
        execution.reasons, execution.decided_by = ["approval_expired"], actor
        execution.finished_at = datetime.now(UTC)
        self._audit(execution, "action.approval_expired", actor=actor)
        return self._finish_message(execution, self._reason_text(execution, "approval_expired"))

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
        if not self._transition(execution, ("awaiting_approval",), target):
            return Outcome(execution, self.describe(execution), repeated=True)
        execution.decided_by = approver
        self._audit(execution, f"action.{target}", actor=approver)
        if not approve:
            execution.reasons, execution.finished_at = ["approval_rejected"], now
            return self._finish_message(execution, self._reason_text(execution, "approval_rejected"))
        return self._execute(execution)

    # -- the checks -----------------------------------------------------------------
    def _proceed(self, execution: ActionExecution, *, confirmed: bool) -> Outcome:
        spec = REGISTRY[execution.action]
        rule = self.policy.rule(spec.name)
        assert rule is not None
        customer = self._customer(execution)
        if spec.gather is not None:
            if not execution.facts:  # gathered once per execution: a confirmation decides on what was shown
                # On record before the company's system is called (the outbox's own
                # bookkeeping may roll back whatever is still uncommitted).
                self.session.commit()
                try:
                    execution.facts = spec.gather(self._context(execution, customer))
                except Exception as exc:
                    return self._fail(execution, exc, prior=execution.status)
            reasons = self._owned_order(execution, customer)
            if reasons:
                return self._refuse(execution, reasons)
        amount = _amount(execution)
        execution.amount_cents = None if amount is None else round(amount * 100)
        since = _since(execution.facts)
        reasons = self.policy.eligibility(
            rule, tier=self._tier(execution, customer), since=since,
            now=datetime.now(UTC), amount=amount, history=self._history(execution))
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
        if self.policy.needs_approval(rule, execution.role, amount):
            return self._await_approval(execution, spec)
        return self._execute(execution)

    def _tier(self, execution: ActionExecution, customer: Customer | None) -> str:
        """The membership tier from verified data: the customer record the company's
        system returned with the (owned) order, kept on the customer for next time;
        otherwise what we already hold. Never from anything a customer wrote."""
        reported = ((execution.facts or {}).get("order") or {}).get("customer_tier")
        if customer is not None and isinstance(reported, str) and reported.strip():
            tier = reported.strip().lower()[:32]
            if customer.tier != tier:
                self._audit(execution, "customer.tier_updated", detail={"from": customer.tier, "to": tier,
                                                                        "source": "order_lookup"})
                customer.tier = tier
        return self.policy.tier(customer.tier if customer else None)

    def _await_confirmation(self, execution: ActionExecution, message: str, *, minutes: int | None) -> Outcome:
        execution.status = "awaiting_confirmation"
        execution.expires_at = datetime.now(UTC) + timedelta(minutes=minutes) if minutes else None
        self._audit(execution, "action.awaiting_confirmation", detail={"preview": self.preview(execution),
                                                                       "by": "customer" if minutes else "agent"})
        return Outcome(execution, message)

    def _owned_order(self, execution: ActionExecution, customer: Customer | None) -> list[str]:
        """The order must exist and belong to this customer's phone on file; a missing
        and a foreign order read the same to the customer, so nothing leaks."""
        order = (execution.facts or {}).get("order") or {}
        if order.get("not_found") or not order:
            return ["order_not_found"]
        phone = self._context(execution, customer).phone() if customer else None
        owner = str(order.get("customer_phone") or "")
        if phone is None or owner.replace(" ", "") != phone:
            self._audit(execution, "action.order_not_owned", detail={"order_id": execution.params.get("order_id")})
            return ["order_not_found"]
        return []

    def _history(self, execution: ActionExecution) -> History | None:
        rule = self.policy.rule(execution.action)
        if rule is None or rule.limits is None or execution.customer_id is None:
            return None
        now = datetime.now(UTC)
        since = now - timedelta(days=rule.limits.period_days)
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
        self._audit(execution, "action.verification_sent", detail={"verification_id": issued.verification.id,
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
        self._audit(execution, "action.awaiting_approval", detail={"preview": preview,
                                                                   "channel": self.policy.approvals.slack_channel})
        self.session.commit()  # the request is on record before Slack is called
        poster = self._post_approval or ports.current().supervisor_flows.request_action_approval
        poster(self.session, self.account, self.settings, execution, self.policy, preview)
        texts = self.texts(execution)
        return Outcome(execution, texts(APPROVAL_ASKED, preview=self.preview(execution, texts)))

    def _execute(self, execution: ActionExecution) -> Outcome:
        prior = execution.status
        if not self._transition(execution, ("requested", "awaiting_verification", "awaiting_confirmation",
                                            "approved"), "running", expires_at=datetime.now(UTC) + RUN_LEASE):
            return Outcome(execution, self.describe(execution), repeated=True)
        spec = REGISTRY[execution.action]
        try:
            result = spec.execute(self._context(execution, self._customer(execution)))
        except Exception as exc:
            return self._fail(execution, exc, prior=prior)
        execution.expires_at = None
        execution.status, execution.result, execution.finished_at = "succeeded", result, datetime.now(UTC)
        self._audit(execution, "action.succeeded", detail={"result": _safe(result), "risk": spec.risk,
                                                           "connector": spec.connector})
        return self._finish_message(execution, spec.done(execution.params, result, self.texts(execution)))

    def _refuse(self, execution: ActionExecution, reasons: list[str], detail: dict[str, Any] | None = None) -> Outcome:
        execution.status, execution.reasons, execution.finished_at = "refused", reasons, datetime.now(UTC)
        self._audit(execution, "action.refused", detail={"reasons": reasons, **(detail or {})})
        return self._finish_message(execution, self._reason_text(execution, reasons[0]))

    def _fail(self, execution: ActionExecution, exc: Exception, *, prior: str) -> Outcome:
        if isinstance(exc, VendorUnavailable):  # a retry may work: put it back, let the caller retry
            self._interrupt(execution, exc, prior)
            raise exc
        reason = "target_not_found" if isinstance(exc, NotFound) else "failed"
        execution.status, execution.error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
        execution.reasons, execution.finished_at, execution.expires_at = [reason], datetime.now(UTC), None
        self._audit(execution, "action.failed", detail={"error": execution.error})
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
        self._audit(execution, "action.interrupted", detail={"error": execution.error, "back_to": back})
        self.session.commit()
        self.session.refresh(execution)

    def _reclaim(self, execution: ActionExecution) -> bool:
        """A "running" row past its lease (a worker died mid-call) goes back to
        approved/requested; the outbox keeps the resumed vendor call from repeating."""
        back = "approved" if execution.decided_by else "requested"
        return self._transition(execution, ("running",), back, expires_at=None,
                                where=ActionExecution.expires_at < datetime.now(UTC))

    def _finish_message(self, execution: ActionExecution, message: str) -> Outcome:
        """The outcome on the conversation's timeline, where the agent sees it."""
        conversation = self.session.get(Conversation, execution.conversation_id) if execution.conversation_id else None
        if conversation is not None:
            timeline.append(self.session, conversation, direction="internal", channel="action", author="system",
                            body=f"{execution.action}: {execution.status} — {message}",
                            external_id=f"action:{execution.id}:{execution.status}",
                            meta={"action_execution": execution.id, "status": execution.status,
                                  "reasons": execution.reasons})
        return Outcome(execution, message)

    # -- helpers ----------------------------------------------------------------------
    def preview(self, execution: ActionExecution, texts: Texts = ENGLISH) -> str:
        """The change in a few words: in English for agents and supervisors, in the
        customer's language (``texts``) inside what the customer is told."""
        spec = REGISTRY.get(execution.action)
        if spec is None:
            return execution.action
        try:
            return spec.preview(execution.params, execution.facts.get("order") or {}, texts)
        except (KeyError, TypeError, ValueError):
            return execution.action.replace("_", " ")

    def describe(self, execution: ActionExecution) -> str:
        """What to say about an execution already under way or finished (a repeat)."""
        if execution.status == "succeeded" and execution.result is not None:
            return REGISTRY[execution.action].done(execution.params, execution.result, self.texts(execution))
        if execution.status in ("refused", "rejected", "expired", "failed") and execution.reasons:
            return self._reason_text(execution, execution.reasons[0])
        texts = self.texts(execution)
        if execution.status == "awaiting_approval":
            return texts(WAITING_APPROVAL, preview=self.preview(execution, texts))
        if execution.status == "awaiting_verification":
            return texts(WAITING_CODE)
        if execution.status == "awaiting_confirmation":
            if execution.role in SELF_SERVICE:
                return texts(WAITING_YES, preview=self.preview(execution, texts))
            return AGENT_CONFIRM.format(preview=self.preview(execution))
        if execution.role in SELF_SERVICE:
            return texts(UNDER_WAY)
        return f"This request is {execution.status.replace('_', ' ')}."  # an agent reads the status itself

    def _reason_text(self, execution: ActionExecution, reason: str) -> str:
        rule = self.policy.rule(execution.action)
        customer = self._customer(execution)
        window = None
        if rule is not None and rule.windows_days:
            window = rule.windows_days.get(self.policy.tier(customer.tier if customer else None))
        texts = self.texts(execution)
        values = {"order_id": execution.params.get("order_id", ""), "window": window,
                  "preview": self.preview(execution, texts),
                  "tokens": ", ".join((execution.facts or {}).get("unknown_tokens") or ())}
        return texts(REASONS.get(reason, REASONS["failed"]), **values)

    def texts(self, execution: ActionExecution | None) -> Texts:
        """The customer's language for a self-service request; an agent's request is
        answered in English, the agents' language (core/texts/translation.py)."""
        if execution is None or execution.role not in SELF_SERVICE or execution.conversation_id is None:
            return ENGLISH
        customer = self._customer(execution)
        return texts_of_conversation(self.session, self.account.id, execution.conversation_id,
                                     customer.locale if customer else None)

    def _transition(self, execution: ActionExecution, sources: tuple[str, ...], target: str, *,
                    where: Any = None, **values: Any) -> bool:
        self.session.flush()
        condition = and_(ActionExecution.id == execution.id, ActionExecution.status.in_(sources))
        result = cast("CursorResult[Any]", self.session.execute(update(ActionExecution).where(
            condition if where is None else and_(condition, where)).values(status=target, **values)
            .execution_options(synchronize_session=False)))
        self.session.commit()
        self.session.refresh(execution)
        return result.rowcount == 1

    def by_key(self, key: str) -> ActionExecution | None:
        return self._by_key(key)

    def _by_key(self, key: str) -> ActionExecution | None:
        return self.session.scalar(select(ActionExecution).where(
            ActionExecution.account_id == self.account.id, ActionExecution.idempotency_key == key[:200]))

    def _customer(self, execution: ActionExecution) -> Customer | None:
        if execution.customer_id is None:
            return None
        customer = self.session.get(Customer, execution.customer_id)
        return customer if customer is not None and customer.account_id == self.account.id else None

    def _context(self, execution: ActionExecution, customer: Customer | None) -> Context:
        return Context(self.session, self.account, self.settings, execution, customer, self.config)

    def _audit(self, execution: ActionExecution | None, action: str, *, actor: str | None = None,
               subject: tuple[str, Any] | None = None, detail: dict[str, Any] | None = None) -> None:
        if execution is not None:
            self.session.flush()
        subject_type, subject_id = subject or ("action_execution", execution.id if execution else None)
        base = {"action": execution.action, "status": execution.status, "role": execution.role,
                "customer_id": execution.customer_id, "conversation_id": execution.conversation_id,
                "ticket_id": execution.zendesk_ticket_id} if execution is not None else {}
        audit(self.session, account_id=self.account.id, actor=actor or (execution.actor if execution else "system"),
              action=action, subject_type=subject_type, subject_id=subject_id, detail={**base, **(detail or {})})


def _amount(execution: ActionExecution) -> float | None:
    if execution.action != "refund":
        return None
    total = ((execution.facts or {}).get("order") or {}).get("total")
    try:
        return float(total) if total is not None else None
    except (TypeError, ValueError):
        return None


def _since(facts: dict[str, Any]) -> datetime | None:
    order = (facts or {}).get("order") or {}
    raw = order.get("delivered_at") or order.get("placed_at")
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


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
