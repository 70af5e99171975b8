"""What each kind of inbox event does once it is processed.

A dispatch table of small functions, one per event kind; an unknown kind is an error
named in the event row, not a silent drop.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.config import Settings
from switchboard.models import Account, InboxEvent, Message

from . import identity, timeline
from .audit import audit
from .inbox import Handler
from .redaction import redact
from .replies import Inbound, handle_inbound


def twilio_message(session: Session, event: InboxEvent, settings: Settings) -> None:
    """An inbound SMS/WhatsApp message joins its customer's timeline, redacted, and
    self-service answers it (or hands it to a person)."""
    form = event.payload
    address = identity.parse_twilio_address(form["From"])
    customer = identity.resolve_customer(
        session, event.account_id, address,
        wa_id=form.get("WaId"), profile_name=form.get("ProfileName"),
    )
    conversation = timeline.current_conversation(session, customer, address.channel)
    # National-format numbers ("020 7946 0958") are only recognisable with a region:
    # the sender's own is the best guess for the numbers they write.
    redacted = redact(form.get("Body", ""), default_region=identity.region_of(address.e164))
    media = [form[f"MediaUrl{i}"] for i in range(int(form.get("NumMedia") or 0)) if f"MediaUrl{i}" in form]
    timeline.append(
        session, conversation, direction="inbound", channel=address.channel, author="customer",
        body=redacted.text, external_id=form["MessageSid"], status="received",
        meta={"redactions": redacted.kinds, "media": media, "inbox_event_id": event.id},
    )
    # The raw delivery was kept only until it was processed: keep the redacted text.
    event.payload = {**form, "Body": redacted.text}
    account = session.get(Account, event.account_id)
    assert account is not None
    message = session.scalar(select(Message).where(
        Message.account_id == event.account_id, Message.external_id == form["MessageSid"]))
    assert message is not None
    handle_inbound(session, Inbound(account, customer, conversation, message), settings)


def twilio_status(session: Session, event: InboxEvent, settings: Settings) -> None:
    """A delivery status callback moves our outbound message forward, never back."""
    form = event.payload
    message = session.scalar(
        select(Message).where(
            Message.account_id == event.account_id, Message.external_id == form["MessageSid"]
        )
    )
    if message is None:
        return  # a message we did not send from this deployment (e.g. from the console)
    if timeline.advance_status(message, form["MessageStatus"]):
        if form.get("ErrorCode"):
            message.meta = {**message.meta, "error_code": form["ErrorCode"]}


def recorded_only(session: Session, event: InboxEvent, settings: Settings) -> None:
    """Zendesk and Slack events the foundation keeps in the audit trail; the handoff,
    agent-assist and outreach capabilities register richer handlers for their kinds."""
    audit(
        session, account_id=event.account_id, actor=event.vendor, action="webhook.received",
        subject_type="inbox_event", subject_id=event.id, detail={"kind": event.kind},
    )


VendorHandler = Callable[[Session, InboxEvent, Settings], None]

HANDLERS: dict[str, VendorHandler] = {
    "twilio.message": twilio_message,
    "twilio.status": twilio_status,
}


def handler_for(kind: str) -> VendorHandler | None:
    if kind in HANDLERS:
        return HANDLERS[kind]
    if kind.startswith(("zendesk.", "slack.")):
        return recorded_only
    return None


class Registry(Mapping[str, Handler]):
    """The handlers bound to the running service's settings, as inbox.process expects."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __getitem__(self, kind: str) -> Handler:
        handler = handler_for(kind)
        if handler is None:
            raise KeyError(kind)
        return partial(handler, settings=self.settings)

    def __iter__(self) -> Iterator[str]:
        return iter(HANDLERS)

    def __len__(self) -> int:
        return len(HANDLERS)
