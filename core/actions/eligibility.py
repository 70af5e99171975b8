"""May this execution run: the policy's checks, made on verified data only.

The order must be the customer's own (the company's system says whose it is), the
membership tier is the one that system reported, the amount and the delivery date come
from the order record, and the customer's earlier actions come from the ledger. What a
customer wrote never enters here. Apart from the state machine (:mod:`.engine`) because
these are the rules a reviewer of the policy reads, without the moves between states.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from switchboard.core.actions.ledger import Ledger
from switchboard.core.actions.policy import ActionPolicy, ActionRule
from switchboard.core.store.models import ActionExecution, Customer

#: The customer's phone on file, as the company's system knows it (``Context.phone``).
PhoneOnFile = Callable[[ActionExecution, Customer], "str | None"]


class Eligibility:
    def __init__(self, ledger: Ledger, policy: ActionPolicy, phone_on_file: PhoneOnFile) -> None:
        self.ledger, self.policy, self._phone = ledger, policy, phone_on_file

    def owned_order(self, execution: ActionExecution, customer: Customer | None) -> list[str]:
        """The order must exist and belong to this customer's phone on file; a missing
        and a foreign order read the same to the customer, so nothing leaks."""
        order = (execution.facts or {}).get("order") or {}
        if order.get("not_found") or not order:
            return ["order_not_found"]
        phone = self._phone(execution, customer) if customer else None
        owner = str(order.get("customer_phone") or "")
        if phone is None or owner.replace(" ", "") != phone:
            self.ledger.audit(execution, "action.order_not_owned",
                              detail={"order_id": execution.params.get("order_id")})
            return ["order_not_found"]
        return []

    def refusals(self, execution: ActionExecution, rule: ActionRule, customer: Customer | None) -> list[str]:
        """The policy's reasons against running (empty: it may), with the execution's
        amount recorded for the limits of later requests."""
        amount = refund_amount(execution)
        execution.amount_cents = None if amount is None else round(amount * 100)
        tier = self.tier(execution, customer)
        history = (self.ledger.history(execution, rule.limits)
                   if rule.limits is not None and execution.customer_id is not None else None)
        return self.policy.eligibility(rule, tier=tier, since=_since(execution.facts), now=datetime.now(UTC),
                                       amount=amount, history=history)

    def tier(self, execution: ActionExecution, customer: Customer | None) -> str:
        """The membership tier from verified data: the customer record the company's
        system returned with the (owned) order, kept on the customer for next time;
        otherwise what we already hold. Never from anything a customer wrote."""
        reported = ((execution.facts or {}).get("order") or {}).get("customer_tier")
        if customer is not None and isinstance(reported, str) and reported.strip():
            tier = reported.strip().lower()[:32]
            if customer.tier != tier:
                self.ledger.audit(execution, "customer.tier_updated", detail={"from": customer.tier, "to": tier,
                                                                              "source": "order_lookup"})
                customer.tier = tier
        return self.policy.tier(customer.tier if customer else None)


def refund_amount(execution: ActionExecution) -> float | None:
    """A refund's amount, from the order record the company's system returned."""
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
