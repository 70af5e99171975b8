"""Every governed action, declared once: its input schema, what executes it, its risk,
and how its outcome is said to a customer. Self-service, the agent sidebar and the
LLM's tools all read this table."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from switchboard.core.actions import executors, schemas
from switchboard.core.texts.i18n import N_, Texts

if TYPE_CHECKING:
    from switchboard.core.actions.executors import Context

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
    #: (params, result, texts) → what the customer is told; texts: their language.
    done: Callable[[dict[str, Any], dict[str, Any], Texts], str] = lambda params, result, texts: "Done."
    #: (params, facts, texts) → the change in a few words, as it is confirmed or approved.
    preview: Callable[[dict[str, Any], dict[str, Any], Texts], str] = lambda params, facts, texts: ""
    read_only: bool = False  # discloses, changes nothing: no customer confirmation needed
    operations: tuple[str, ...] = ()  # the actions.yaml operations it calls, checked at start-up


#: The outcomes and previews customers read, in their language (core/texts/i18n.py). A
#: status or a date from the company's system is quoted as the system gives it.
DONE_ORDER_STATUS = N_("done_order_status", "Order {order_id} is {status}.")
DONE_ORDER_STATUS_ETA = N_("done_order_status_eta", "Order {order_id} is {status}; expected delivery {eta}.")
ORDER_PROCESSING = N_("order_processing", "being processed")
DONE_REFUND = N_("done_refund", "Done: a refund of {amount} for order {order_id} is on its way to your original "
                 "payment method.")
DONE_ADDRESS = N_("done_update_address", "Done: your address is now {line1}, {city} {postcode}.")
DONE_RESCHEDULE = N_("done_reschedule", "Done: your visit {appointment_id} is now on {date}.")
DONE_RESCHEDULE_SLOT = N_("done_reschedule_slot", "Done: your visit {appointment_id} is now on {date} ({slot}).")
PREVIEW_ORDER_STATUS = N_("preview_order_status", "look up order {order_id}")
PREVIEW_REFUND = N_("preview_refund", "refund {amount} for order {order_id}")
PREVIEW_ADDRESS = N_("preview_update_address", "change the address to {line1}, {city} {postcode}, {country}")
PREVIEW_RESCHEDULE = N_("preview_reschedule", "move visit {appointment_id} to {date}")


def _order_status(p: dict[str, Any], r: dict[str, Any], t: Texts) -> str:
    status = r.get("status") or t(ORDER_PROCESSING)
    if r.get("eta"):
        return t(DONE_ORDER_STATUS_ETA, order_id=p["order_id"], status=status, eta=r["eta"])
    return t(DONE_ORDER_STATUS, order_id=p["order_id"], status=status)


def _rescheduled(p: dict[str, Any], r: dict[str, Any], t: Texts) -> str:
    if p.get("slot") not in (None, "any"):
        return t(DONE_RESCHEDULE_SLOT, appointment_id=p["appointment_id"], date=p["date"], slot=p["slot"])
    return t(DONE_RESCHEDULE, appointment_id=p["appointment_id"], date=p["date"])


REGISTRY: dict[str, ActionSpec] = {spec.name: spec for spec in (
    ActionSpec(
        "order_status", "Look up the status and expected delivery of one of the customer's orders.",
        schemas.OrderStatusInput, "http_action", "low", executors.order_status, gather=executors.order_facts,
        done=_order_status,
        preview=lambda p, f, t: t(PREVIEW_ORDER_STATUS, order_id=p["order_id"]), read_only=True,
        operations=("order_lookup",)),
    ActionSpec(
        "refund", "Refund one of the customer's orders in full; the amount comes from the order record.",
        schemas.RefundInput, "http_action", "high", executors.refund, gather=executors.order_facts,
        done=lambda p, r, t: t(DONE_REFUND, amount=r["amount_text"], order_id=p["order_id"]),
        preview=lambda p, f, t: t(PREVIEW_REFUND, amount=executors.amount_text(f), order_id=p["order_id"]),
        operations=("order_lookup", "refund_create")),
    ActionSpec(
        "update_address", "Change the customer's postal address (Zendesk profile and the company's system).",
        schemas.UpdateAddressInput, "http_action+zendesk", "medium", executors.update_address,
        done=lambda p, r, t: t(DONE_ADDRESS, line1=p["line1"], city=p["city"], postcode=p["postcode"]),
        preview=lambda p, f, t: t(PREVIEW_ADDRESS, line1=p["line1"], city=p["city"], postcode=p["postcode"],
                                          country=p["country"]),
        operations=("address_update",)),
    ActionSpec(
        "reschedule", "Move an appointment or technician visit to another date.",
        schemas.RescheduleInput, "http_action", "medium", executors.reschedule,
        done=_rescheduled,
        preview=lambda p, f, t: t(PREVIEW_RESCHEDULE, appointment_id=p["appointment_id"], date=p["date"]),
        operations=("appointment_reschedule",)),
    ActionSpec(
        "update_contact_phone", "Change the phone number the company's system calls and texts the customer on. "
        "For a number the customer wrote, give its token ([PHONE_1]): the system receives the number, the "
        "ticket, the audit and the approvals only ever show the token.",
        schemas.UpdateContactPhoneInput, "http_action", "medium", executors.update_contact_phone,
        # Agents only (the policy allows no self-service change of it yet): English.
        done=lambda p, r, t: f"Done: the contact phone is now {p['phone']}.",
        preview=lambda p, f, t: f"change the contact phone to {p['phone']}",
        operations=("contact_phone_update",)),
    ActionSpec(
        "add_note", "Add an internal note and tags to the Zendesk ticket.",
        schemas.AddNoteInput, "zendesk", "low", executors.add_note,
        # Agents only (the policy allows no self-service note): their language, English.
        done=lambda p, r, t: "The note was added to the ticket.",
        preview=lambda p, f, t: "add an internal note to the ticket"),
)}


def tool_definitions(names: list[str]) -> list[dict[str, Any]]:
    """OpenAI ``tools`` for the actions ``names`` (those the policy lets the LLM ask for)."""
    return [{"type": "function", "function": {
        "name": name, "description": REGISTRY[name].description,
        "parameters": schemas.json_schema(REGISTRY[name].schema)}} for name in names if name in REGISTRY]
