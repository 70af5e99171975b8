"""What happens when a recorded event is processed, in the domain's terms, and which
handler processes each kind.

Each vendor's package (``vendors/<vendor>/events.py``, ``apps/slack/interactions.py``)
owns its table from event kind to handler: the handler reads the stored payload with the
schema its webhook checked it with, and calls the functions here with plain values.
``create_app`` registers the tables in an :class:`EventHandlers`; an unknown kind is an
error named in the event row, not a silent drop.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

from sqlalchemy.orm import Session

from switchboard.core.channels import webchat
from switchboard.core.conversation.inbound import Inbound, handle_inbound
from switchboard.core.customers import identity, timeline
from switchboard.core.helpdesk import assist as assist_core
from switchboard.core.helpdesk import handoff, tickets
from switchboard.core.knowledge import phrasings
from switchboard.core.knowledge_loop import drafts as kb_drafts
from switchboard.core.outcomes import metrics
from switchboard.core.outreach.sending import on_status as outreach_on_status
from switchboard.core.outreach.triggers import from_zendesk_ticket
from switchboard.core.pii import vault
from switchboard.core.pii.redaction import Redacted, redact
from switchboard.core.quality import rejudge
from switchboard.core.quality.agent_replies import check_sent_reply
from switchboard.core.quality.scoring import score_conversation
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.inbox import Handler
from switchboard.core.store.models import Account, Conversation, Customer, InboxEvent, Message, WebVisitor
from switchboard.core.store.rows import write_now

#: Twilio's error code for a number that replied STOP: nothing may be sent there again.
OPTED_OUT_ERROR = 21610


@dataclass(frozen=True)
class CustomerMessage:
    """An SMS or WhatsApp message from a customer, as the messaging vendor delivered it."""

    external_id: str
    sender: str  # the vendor's address form: "+14155550100" or "whatsapp:+14155550100"
    to: str
    body: str
    media: list[str] = field(default_factory=list)
    wa_id: str | None = None
    profile_name: str | None = None


def _account_of(session: Session, event: InboxEvent) -> Account:
    """The account an inbox event was recorded for: the intake stored it only for an
    account it had found, and accounts are never deleted, so a miss is a bug."""
    account = session.get(Account, event.account_id)
    assert account is not None, f"inbox event {event.id} names account {event.account_id}, which does not exist"
    return account


def customer_message(session: Session, event: InboxEvent, settings: Settings, message: CustomerMessage) -> None:
    """An inbound SMS/WhatsApp message joins its customer's timeline, redacted, and
    self-service answers it (or hands it to a person)."""
    address = identity.parse_twilio_address(message.sender)
    customer = identity.resolve_customer(
        session, event.account_id, address, wa_id=message.wa_id, profile_name=message.profile_name,
    )
    # National-format numbers ("020 7946 0958") are only recognisable with a region: the
    # sender's own is the best guess for the numbers they write; the company's country
    # (SWITCHBOARD_COUNTRY, else the region of our number they wrote to) is searched too,
    # so a number is redacted even from a sender whose region says nothing.
    region = identity.region_of(address.e164)
    redacted = redact(message.body, default_region=region,
                      also_regions=(identity.company_region(settings, message.to),))
    # The number's country (not the number) goes with the message: its languages are
    # ones the customer may write in (core/conversation/inbound.py chooses the language).
    _take_in(session, event, settings, customer, channel=address.channel, original=message.body, redacted=redacted,
             external_id=message.external_id, payload_field="Body",
             meta={"media": message.media, **({"region": region} if region else {})})


def _take_in(session: Session, event: InboxEvent, settings: Settings, customer: Customer, *, channel: str,
             original: str, redacted: Redacted, external_id: str, payload_field: str, meta: dict[str, Any]) -> None:
    """What every written channel does with a customer's message once it knows who
    wrote it: the rating of a solved ticket, or the open conversation's next message,
    stored with what was redacted kept encrypted behind a token ([PHONE_1]) that an
    allowed agent can reveal; then the rating is recorded or self-service answers."""
    rated = tickets.pending_csat(session, customer, original)
    conversation = rated or timeline.current_conversation(session, customer, channel)
    body = vault.tokenize(session, vault.vault_for(settings), account_id=event.account_id, customer_id=customer.id,
                          conversation_id=conversation.id, original=original, redacted=redacted)
    stored = timeline.append(
        session, conversation, direction="inbound", channel=channel, author="customer", body=body,
        external_id=external_id, status="received",
        meta={"redactions": redacted.kinds, **meta, "inbox_event_id": event.id},
    )
    # The raw delivery was kept only until it was processed: keep the tokenized text.
    write_now(session, event, payload={**event.payload, payload_field: body})
    account = _account_of(session, event)
    if rated is not None:
        tickets.record_csat(session, account, settings, rated, stored)
        return
    handle_inbound(session, Inbound(account, customer, conversation, stored), settings)


@dataclass(frozen=True)
class WebMessage:
    """A message a visitor typed in the web chat widget, as its request recorded it."""

    visitor: str
    client_id: str
    text: str
    locale: str | None = None


def web_message(session: Session, event: InboxEvent, settings: Settings, message: WebMessage) -> None:
    """What :func:`customer_message` does for SMS, for a web chat visitor: their
    customer's timeline gets the message redacted (values in the vault), and
    self-service answers it (or hands it to a person) on the widget."""
    visitor = session.get(WebVisitor, message.visitor)
    if visitor is None or visitor.account_id != event.account_id:
        recorded_only(session, event, settings)  # erased between the request and now: nothing to answer
        return
    customer = session.get(Customer, visitor.customer_id)
    assert customer is not None
    redacted = redact(message.text, also_regions=(identity.company_region(settings, None),))
    webchat.seen(visitor)
    webchat.wake_after_commit(session, settings, event.account_id, customer.id)
    _take_in(session, event, settings, customer, channel=webchat.CHANNEL, original=message.text, redacted=redacted,
             external_id=webchat.external_id(visitor.id, message.client_id), payload_field="text",
             meta={"client_id": message.client_id})


def delivery_status(session: Session, event: InboxEvent, settings: Settings, *, external_id: str, status: str,
                    error_code: int | None) -> None:
    """A delivery status moves our outbound message forward, never back; a campaign
    recipient's status follows its message's."""
    account = _account_of(session, event)
    outreach_on_status(session, account, settings, sid=external_id, status=status,
                       error_code=None if error_code is None else str(error_code))
    message = timeline.by_external_id(session, event.account_id, external_id)
    if message is None:
        return  # a message we did not send from this deployment (e.g. from the console)
    if timeline.advance_status(message, status) and error_code is not None:
        message.meta = {**message.meta, "error_code": str(error_code)}
    if error_code == OPTED_OUT_ERROR:
        _mark_opted_out(session, message)


def _mark_opted_out(session: Session, message: Message) -> None:
    """The vendor says the number opted out: record it so nothing is sent there again."""
    conversation = session.get(Conversation, message.conversation_id)
    customer = session.get(Customer, conversation.customer_id) if conversation else None
    if customer is not None and customer.opted_out_at is None:
        customer.opted_out_at = datetime.now(UTC)
        audit(session, account_id=customer.account_id, actor="twilio", action="consent.opt_out",
              subject_type="customer", subject_id=customer.id, detail={"error_code": str(OPTED_OUT_ERROR)})


def agent_comment(session: Session, event: InboxEvent, settings: Settings, reply: handoff.AgentReply) -> None:
    """An agent's public reply goes to the customer; internal notes never do. A public
    comment from the requester (a ticket from any channel) is enriched like a message."""
    account = _account_of(session, event)
    outcome = handoff.deliver_agent_reply(session, account, reply, settings)
    if outcome == "delivered":
        assist_core.record_sent_reply(session, account.id, reply.ticket_id, agent=f"zendesk:{reply.author_id}",
                                      sent=reply.body)
        conversation = handoff.conversation_for_ticket(session, account.id, reply.ticket_id)
        if conversation is not None:
            check_sent_reply(session, account, settings, conversation, comment_id=reply.comment_id,
                             agent=f"zendesk:{reply.author_id}")
        _learn_from_links(session, account, reply, settings)
    elif outcome in ("from_customer", "unknown_ticket") and reply.public and not reply.author_is_staff:
        tickets.on_ticket_changed(session, account, settings, ticket_id=reply.ticket_id, text=reply.body,
                                  write_back=True)
    audit(session, account_id=event.account_id, actor=f"zendesk:{reply.author_id}", action="zendesk.comment",
          subject_type="ticket", subject_id=reply.ticket_id,
          detail={"outcome": outcome, "comment_id": reply.comment_id,
                  # An agent's name as Zendesk gave it, for the QA report (core/quality/agents.py).
                  **({"agent": {"id": reply.author_id, "name": reply.author_name}}
                     if reply.author_is_staff and reply.author_id and reply.author_name else {})})


def _learn_from_links(session: Session, account: Account, reply: handoff.AgentReply, settings: Settings) -> None:
    """An agent's reply that links help-center articles vouches for them as answers to
    the customer's question on the ticket (its redacted words on our record)."""
    if "http" not in reply.body:
        return
    conversation = handoff.conversation_for_ticket(session, account.id, reply.ticket_id)
    question, _ = tickets.ticket_question(session, conversation, "")
    if question:
        phrasings.learned_from_reply(session, account.id, question=question, reply=reply.body,
                                     agent=f"zendesk:{reply.author_id}", comment_id=reply.comment_id,
                                     conversation_id=conversation.id if conversation else None, settings=settings)


def ticket_status_changed(session: Session, event: InboxEvent, settings: Settings, *, ticket_id: int,
                          current: str, previous: str, at: datetime | None) -> None:
    """Solved closes the conversation; solved back to open (an agent reopening the
    ticket, or the customer answering a solved ticket) is recorded as a reopen, at the
    time the helpdesk says it happened (else now)."""
    current, previous = current.lower(), previous.lower()
    account = _account_of(session, event)
    if current in ("solved", "closed"):
        if handoff.close_solved(session, account, ticket_id):
            tickets.after_solved(session, account, settings, ticket_id=ticket_id)
            if (solved := handoff.conversation_for_ticket(session, account.id, ticket_id)) is not None:
                score_conversation(session, account, settings, solved, ended_by="solved")
            kb_drafts.on_solved(session, account, settings, ticket_id=ticket_id)
    elif previous == "solved" and current in ("new", "open", "pending", "hold"):
        conversation = handoff.conversation_for_ticket(session, account.id, ticket_id)
        if conversation is None:
            return
        metrics.ticket_reopened(session, conversation, at=at or datetime.now(UTC),
                                dedupe_key=f"reopened:{conversation.id}:{event.id}")
        rejudge.on_reopened(session, account, settings, conversation, at=at)


def ticket_created(session: Session, event: InboxEvent, settings: Settings, *, ticket_id: int, text: str,
                   ticket: Mapping[str, Any]) -> None:
    """A new ticket (ours from a handoff, or from any channel): enrich it and have
    suggestions ready before an agent opens it; an incident ticket starts outreach."""
    account = _account_of(session, event)
    tickets.on_ticket_changed(session, account, settings, ticket_id=ticket_id, text=text, write_back=True)
    from_zendesk_ticket(session, account, settings, dict(ticket))


def ticket_tags_changed(session: Session, event: InboxEvent, settings: Settings, *,
                        ticket: Mapping[str, Any]) -> None:
    """An incident/outage tag added after creation starts outreach too."""
    account = _account_of(session, event)
    from_zendesk_ticket(session, account, settings, dict(ticket))


def recorded_only(session: Session, event: InboxEvent, settings: Settings) -> None:
    """Events a vendor sends that nothing acts on yet: kept in the audit trail."""
    audit(
        session, account_id=event.account_id, actor=event.vendor, action="webhook.received",
        subject_type="inbox_event", subject_id=event.id, detail={"kind": event.kind},
    )


class VendorHandler(Protocol):
    """A vendor's handler of one kind of event; :class:`Bound` passes ``settings`` by name."""

    def __call__(self, session: Session, event: InboxEvent, settings: Settings) -> None: ...


class EventHandlers:
    """Which handler processes each kind of inbox event. Each vendor's package hands
    its table to :meth:`register` in ``create_app``; a vendor may ask that its other
    kinds be kept in the audit trail (``record_others``) rather than parked as unknown."""

    def __init__(self) -> None:
        self._handlers: dict[str, VendorHandler] = {}
        self._recorded_prefixes: list[str] = []

    def register(self, handlers: Mapping[str, VendorHandler], *, record_others: str | None = None) -> None:
        taken = set(handlers) & set(self._handlers)
        if taken:
            raise ValueError(f"event kinds registered twice: {', '.join(sorted(taken))}")
        self._handlers.update(handlers)
        if record_others:
            self._recorded_prefixes.append(record_others)

    def kinds(self) -> frozenset[str]:
        return frozenset(self._handlers)

    def handler_for(self, kind: str) -> VendorHandler | None:
        if kind in self._handlers:
            return self._handlers[kind]
        if kind.startswith(tuple(self._recorded_prefixes)):
            return recorded_only
        return None

    def bound(self, settings: Settings) -> Bound:
        return Bound(self, settings)


class Bound(Mapping[str, Handler]):
    """The handlers bound to the running service's settings, as inbox.process expects."""

    def __init__(self, handlers: EventHandlers, settings: Settings) -> None:
        self.handlers, self.settings = handlers, settings

    def __getitem__(self, kind: str) -> Handler:
        handler = self.handlers.handler_for(kind)
        if handler is None:
            raise KeyError(kind)
        return partial(handler, settings=self.settings)

    def __iter__(self) -> Iterator[str]:
        return iter(self.handlers.kinds())

    def __len__(self) -> int:
        return len(self.handlers.kinds())
