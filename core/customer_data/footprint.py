"""What ties a stored row to one customer when it has no customer_id column to say so.

A customer's words travel further than the tables that name them: a follow-up relayed
to Zendesk is an outbox row that knows only the ticket id, an agent's reply quoting
them is a Zendesk event about that ticket, a prompt sent to the model is linked by its
idempotency key (``handoff-summary:<conversation>``), an audit entry by its subject.
Erasure (core/customer_data/subject_requests.py) reads the customer's footprint *before* it removes anything
(identities first of all), then asks of each vendor record and audit entry whether it
is theirs. The links are explicit, so a new kind of record is theirs by what it names
(an address, a ticket, one of their ids), not by an accident of its text.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from switchboard.core.store.models import ActionExecution, Conversation, Customer, IdentityKind, Message

#: Idempotency-key prefixes and the kind of id their first field is (the keys the core
#: sends under: ``reply:<message id>``, ``summary:<ticket id>:<conversation id>``…).
KEY_LINKS: Mapping[str, str] = {
    **dict.fromkeys(("reply", "relay", "trend", "handoff-ack", "action-tools"), "message"),
    **dict.fromkeys(("handoff", "handoff-summary", "recap", "csat-thanks"), "conversation"),
    **dict.fromkeys(("enrich", "summary"), "ticket"),
    **dict.fromkeys(("action", "action-approval", "action-decided", "action-result", "action-agent-result", "otp"),
                    "execution"),
    "user": "customer",
}
#: Payload keys that hold a helpdesk ticket's id, or a helpdesk user's (Zendesk's names;
#: an ``id`` counts under a parent of these names).
TICKET_KEYS = frozenset({"ticket_id"})
TICKET_PARENTS = frozenset({"ticket", "detail"})
USER_KEYS = frozenset({"requester_id", "author_id", "user_id", "submitter_id", "external_id"})
USER_PARENTS = frozenset({"requester", "author", "user"})
_ZENDESK_TICKET = re.compile(r"zen:ticket:([0-9]+)")
#: Audit-detail keys naming a conversation, a ticket or a message.
_DETAIL_LINKS = {"conversation_id": "conversation", "ticket_id": "ticket", "message_id": "message",
                 "reply_id": "message"}


@dataclass(frozen=True)
class Footprint:
    """The customer's ids and addresses, as other records name them."""

    customer_id: int
    conversations: frozenset[int]
    messages: frozenset[int]
    tickets: frozenset[int]
    executions: frozenset[int]
    events: frozenset[int]
    #: Phone (E.164, WhatsApp's "whatsapp:+…" and WaId digits), email (lower case),
    #: web chat visitor id: compared with whole values, never searched inside text.
    addresses: frozenset[str]
    #: Helpdesk user ids, and the external id Switchboard gives their helpdesk user.
    helpdesk_users: frozenset[str]

    @classmethod
    def of(cls, session: Session, account_id: int, customer: Customer) -> Footprint:
        """Read before anything is erased: the identities are what names them elsewhere."""
        conversations = frozenset(session.scalars(select(Conversation.id).where(
            Conversation.customer_id == customer.id)))
        tickets = frozenset(t for t in session.scalars(select(Conversation.zendesk_ticket_id).where(
            Conversation.customer_id == customer.id)) if t is not None)
        messages: dict[int, dict[str, Any]] = {
            row.id: row.meta or {} for row in session.execute(select(Message.id, Message.meta).where(
                Message.conversation_id.in_(conversations)))}
        events = frozenset(meta["inbox_event_id"] for meta in messages.values()
                           if isinstance(meta.get("inbox_event_id"), int))
        executions = frozenset(session.scalars(select(ActionExecution.id).where(
            ActionExecution.account_id == account_id, or_(
                ActionExecution.customer_id == customer.id, ActionExecution.conversation_id.in_(conversations),
                ActionExecution.zendesk_ticket_id.in_(tickets)))))
        addresses: set[str] = set()
        users = {f"switchboard-{account_id}-{customer.id}"}
        for identity in customer.identities:
            value = identity.value.strip()
            if identity.kind == IdentityKind.ZENDESK_USER:
                users.add(value)
            elif identity.kind in (IdentityKind.PHONE, IdentityKind.WHATSAPP):
                e164 = value if value.startswith("+") else f"+{value}"
                addresses.update((e164, f"whatsapp:{e164}", e164.lstrip("+")))
            else:
                addresses.add(value.lower())
        return cls(customer.id, conversations, frozenset(messages), tickets, executions, events,
                   frozenset(addresses), frozenset(users))

    # -- is it theirs? ------------------------------------------------------------------

    def owns_key(self, key: str | None) -> bool:
        """An idempotency key the core sent one of their calls under."""
        prefix, _, rest = (key or "").partition(":")
        first = rest.split(":", 1)[0]
        kind = KEY_LINKS.get(prefix)
        return kind is not None and first.isdigit() and int(first) in self._ids(kind)

    def names(self, value: Any) -> bool:
        """A vendor payload addressed to them, about their ticket or their helpdesk user."""
        for parent, key, scalar in _scalars(value):
            text = scalar.strip()
            if text.lower() in self.addresses:
                return True
            if (key in TICKET_KEYS or (key == "id" and parent in TICKET_PARENTS)) and _int(text) in self.tickets:
                return True
            if (found := _ZENDESK_TICKET.fullmatch(text)) and int(found.group(1)) in self.tickets:
                return True
            if (key in USER_KEYS or (key == "id" and parent in USER_PARENTS)) and text in self.helpdesk_users:
                return True
        return False

    def about(self, subject_type: str | None, subject_id: str | None, detail: Mapping[str, Any]) -> bool:
        """An audit entry whose subject is theirs, or whose detail names one of their
        conversations, tickets or messages."""
        kind = {"customer": "customer", "conversation": "conversation", "ticket": "ticket", "message": "message",
                "action_execution": "execution", "inbox_event": "event"}.get(subject_type or "")
        if kind is not None and _int(subject_id or "") in self._ids(kind):
            return True
        return any(_int(str(detail.get(key, ""))) in self._ids(kind) for key, kind in _DETAIL_LINKS.items())

    def _ids(self, kind: str) -> frozenset[int]:
        return {"message": self.messages, "conversation": self.conversations, "ticket": self.tickets,
                "execution": self.executions, "event": self.events,
                "customer": frozenset({self.customer_id})}[kind]


def _int(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() else None


def _scalars(value: Any, parent: str = "", key: str = "") -> Iterator[tuple[str, str, str]]:
    """(parent key, key, value as text) of every scalar in a JSON value."""
    if isinstance(value, Mapping):
        for name, item in value.items():
            yield from _scalars(item, key, str(name))
    elif isinstance(value, list):
        for item in value:
            yield from _scalars(item, parent, key)
    elif isinstance(value, (str, int)) and not isinstance(value, bool):
        yield parent, key, str(value)
