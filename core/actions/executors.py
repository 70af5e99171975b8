"""What each built-in action does, through the connectors (the outbox records every
call under a key derived from the execution, so running it again calls nothing)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from switchboard.core import ports
from switchboard.core.actions.config import ActionsConfig
from switchboard.core.customers.identity import reachable_address
from switchboard.core.settings import Settings
from switchboard.core.store.models import Account, ActionExecution, Customer


class ActionFailed(Exception):
    """The company's system or Zendesk refused the action; the message says why."""


@dataclass
class Context:
    session: Session
    account: Account
    settings: Settings
    execution: ActionExecution
    customer: Customer | None
    config: ActionsConfig

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.execution.params)

    @property
    def facts(self) -> dict[str, Any]:
        return dict(self.execution.facts or {})

    def phone(self) -> str | None:
        if self.customer is None:
            return None
        return reachable_address(self.customer, "sms")

    def customer_ref(self) -> str | None:
        """The id the company's systems and Zendesk know this customer by (the same
        external id the handoff gives the Zendesk user)."""
        return f"switchboard-{self.account.id}-{self.customer.id}" if self.customer else None

    def http(self, operation: str, variables: dict[str, Any], step: str) -> dict[str, Any]:

        op = self.config.operation(operation)
        connector = ports.current().business_system(self.session, self.account, self.settings,
                                        system=self.config.systems[op.system])
        # Vault tokens in the variables ([PHONE_1]) stay tokens in everything stored; the
        # connector opens them, from this conversation's vault only, as it sends.
        return connector.run(op, variables, idempotency_key=f"action:{self.execution.id}:{step}",
                             vault_conversation_id=self.execution.conversation_id)


def order_facts(ctx: Context) -> dict[str, Any]:
    """The order as the order system has it: the amount, dates and owner the policy
    decides on come from here, never from the request."""
    order = ctx.http("order_lookup", {"order_id": ctx.params["order_id"], "customer_phone": ctx.phone() or ""},
                     "lookup")
    return {"order": order}


def amount_text(order: dict[str, Any]) -> str:
    """An order's total as the customer reads it, in the refund's preview and its outcome."""
    amount = float(order["total"])  # no total, no amount: KeyError (preview() falls back to the action's name)
    currency = str(order.get("currency") or "USD").upper()
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency)
    return f"{symbol}{amount:.2f}" if symbol else f"{amount:.2f} {currency}"


def order_status(ctx: Context) -> dict[str, Any]:
    order = ctx.facts["order"]
    return {"status": order.get("status"), "eta": order.get("eta")}


def refund(ctx: Context) -> dict[str, Any]:
    order = ctx.facts["order"]
    amount = float(order["total"])
    response = ctx.http("refund_create", {"order_id": ctx.params["order_id"], "amount": amount,
                                          "currency": order.get("currency") or "USD",
                                          "reason": ctx.params.get("reason") or ""}, "refund")
    return {**response, "amount": amount, "amount_text": amount_text(order)}


def update_address(ctx: Context) -> dict[str, Any]:

    if ctx.customer is None:
        raise ActionFailed("no customer is linked to this conversation or ticket")
    p = ctx.params
    user = {"name": ctx.customer.display_name or "Customer", "external_id": ctx.customer_ref(),
            "user_fields": {"address_line1": p["line1"], "address_city": p["city"],
                            "address_postcode": p["postcode"], "address_country": p["country"]}}
    zendesk = ports.current().helpdesk(ctx.session, ctx.account, ctx.settings).call(
        "users.create_or_update", {"user": user}, idempotency_key=f"action:{ctx.execution.id}:zendesk")
    system = ctx.http("address_update", {**p, "customer_ref": ctx.customer_ref()}, "address")
    return {"zendesk_user_id": zendesk.response.get("user_id"), **system}


def reschedule(ctx: Context) -> dict[str, Any]:
    return ctx.http("appointment_reschedule", ctx.params, "reschedule")


def update_contact_phone(ctx: Context) -> dict[str, Any]:
    if ctx.customer is None:
        raise ActionFailed("no customer is linked to this conversation or ticket")
    return ctx.http("contact_phone_update", {"phone": ctx.params["phone"], "customer_ref": ctx.customer_ref()},
                    "phone")


def add_note(ctx: Context) -> dict[str, Any]:

    ticket_id = ctx.execution.zendesk_ticket_id
    if ticket_id is None:
        raise ActionFailed("a note needs a Zendesk ticket; run it from the ticket's sidebar")
    result = ports.current().helpdesk(ctx.session, ctx.account, ctx.settings).add_comment(
        ticket_id, body=ctx.params["note"], public=False, tags=ctx.params.get("tags") or (),
        idempotency_key=f"action:{ctx.execution.id}:note")
    return {"ticket_id": ticket_id, "audit_id": result.response.get("audit_id")}
