"""What a governed action's customer (or agent) is told: the fixed texts, in the
conversation's language for a self-service request (core/texts/i18n.py) and in English,
the agents' language, for an agent's; the change previewed in a few words; where a
repeated request stands; why one was refused.

Apart from the state machine (:mod:`.engine`) because saying where a request stands is
read-only: the Slack approval card and the sidebar word an execution without moving it.
"""
from __future__ import annotations

from switchboard.core.actions.ledger import SELF_SERVICE, Ledger
from switchboard.core.actions.policy import ActionPolicy
from switchboard.core.actions.registry import REGISTRY
from switchboard.core.store.models import ActionExecution
from switchboard.core.texts.i18n import ENGLISH, N_, Texts, texts_of_conversation

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


class Wording:
    """The words for one account's executions."""

    def __init__(self, ledger: Ledger, policy: ActionPolicy) -> None:
        self.ledger, self.policy = ledger, policy

    def texts(self, execution: ActionExecution | None) -> Texts:
        """The customer's language for a self-service request; an agent's request is
        answered in English, the agents' language (core/texts/translation.py)."""
        if execution is None or execution.role not in SELF_SERVICE or execution.conversation_id is None:
            return ENGLISH
        customer = self.ledger.customer(execution)
        return texts_of_conversation(self.ledger.session, self.ledger.account.id, execution.conversation_id,
                                     customer.locale if customer else None)

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
            return self.reason(execution, execution.reasons[0])
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

    def reason(self, execution: ActionExecution, reason: str) -> str:
        """Why ``execution`` was not done, with its order, window and preview filled in."""
        rule = self.policy.rule(execution.action)
        customer = self.ledger.customer(execution)
        window = None
        if rule is not None and rule.windows_days:
            window = rule.windows_days.get(self.policy.tier(customer.tier if customer else None))
        texts = self.texts(execution)
        values = {"order_id": execution.params.get("order_id", ""), "window": window,
                  "preview": self.preview(execution, texts),
                  "tokens": ", ".join((execution.facts or {}).get("unknown_tokens") or ())}
        return texts(REASONS.get(reason, REASONS["failed"]), **values)
