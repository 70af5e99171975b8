"""Every governed action, declared once: its input schema, what executes it, its risk,
and how its outcome is said to a customer. Self-service, the agent sidebar and the
LLM's tools all read this table."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from . import executors, schemas

if TYPE_CHECKING:
    from .executors import Context

Risk = Literal["low", "medium", "high"]


@dataclass(frozen=True)
class ActionSpec:
    name: str
    description: str
    schema: type[schemas.ActionInput]
    connector: str  # which connector executes it: "http_action", "zendesk", "http_action+zendesk"
    risk: Risk
    execute: Callable[[Context], dict[str, Any]]
    gather: Callable[[Context], dict[str, Any]] | None = None  # verified facts the policy decides on
    done: Callable[[dict[str, Any], dict[str, Any]], str] = lambda params, result: "Done."
    preview: Callable[[dict[str, Any], dict[str, Any]], str] = lambda params, facts: ""
    read_only: bool = False  # discloses, changes nothing: no customer confirmation needed
    operations: tuple[str, ...] = ()  # the actions.yaml operations it calls, checked at start-up


def _money(facts: dict[str, Any]) -> str:
    amount = float(facts["total"])  # no total, no amount: KeyError (preview() falls back to the action's name)
    currency = str(facts.get("currency") or "USD").upper()
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency)
    return f"{symbol}{amount:.2f}" if symbol else f"{amount:.2f} {currency}"


REGISTRY: dict[str, ActionSpec] = {spec.name: spec for spec in (
    ActionSpec(
        "order_status", "Look up the status and expected delivery of one of the customer's orders.",
        schemas.OrderStatusInput, "http_action", "low", executors.order_status, gather=executors.order_facts,
        done=lambda p, r: f"Order {p['order_id']} is {r.get('status') or 'being processed'}"
                          + (f"; expected delivery {r['eta']}." if r.get("eta") else "."),
        preview=lambda p, f: f"look up order {p['order_id']}", read_only=True, operations=("order_lookup",)),
    ActionSpec(
        "refund", "Refund one of the customer's orders in full; the amount comes from the order record.",
        schemas.RefundInput, "http_action", "high", executors.refund, gather=executors.order_facts,
        done=lambda p, r: f"Done: a refund of {r['amount_text']} for order {p['order_id']} is on its way to "
                          "your original payment method.",
        preview=lambda p, f: f"refund {_money(f)} for order {p['order_id']}",
        operations=("order_lookup", "refund_create")),
    ActionSpec(
        "update_address", "Change the customer's postal address (Zendesk profile and the company's system).",
        schemas.UpdateAddressInput, "http_action+zendesk", "medium", executors.update_address,
        done=lambda p, r: f"Done: your address is now {p['line1']}, {p['city']} {p['postcode']}.",
        preview=lambda p, f: f"change the address to {p['line1']}, {p['city']} {p['postcode']}, {p['country']}",
        operations=("address_update",)),
    ActionSpec(
        "reschedule", "Move an appointment or technician visit to another date.",
        schemas.RescheduleInput, "http_action", "medium", executors.reschedule,
        done=lambda p, r: f"Done: your visit {p['appointment_id']} is now on {p['date']}"
                          + (f" ({p['slot']})." if p.get("slot") not in (None, "any") else "."),
        preview=lambda p, f: f"move visit {p['appointment_id']} to {p['date']}",
        operations=("appointment_reschedule",)),
    ActionSpec(
        "add_note", "Add an internal note and tags to the Zendesk ticket.",
        schemas.AddNoteInput, "zendesk", "low", executors.add_note,
        done=lambda p, r: "The note was added to the ticket.",
        preview=lambda p, f: "add an internal note to the ticket"),
)}


def tool_definitions(names: list[str]) -> list[dict[str, Any]]:
    """OpenAI ``tools`` for the actions ``names`` (those the policy lets the LLM ask for)."""
    return [{"type": "function", "function": {
        "name": name, "description": REGISTRY[name].description,
        "parameters": schemas.json_schema(REGISTRY[name].schema)}} for name in names if name in REGISTRY]
