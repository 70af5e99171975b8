"""What each kind of inbox event does once it is processed.

A dispatch table of small functions, one per event kind; an unknown kind is an error
named in the event row, not a silent drop.
"""
from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.models import InboxEvent, Message

from . import identity, timeline
from .audit import audit
from .inbox import Handler
from .redaction import redact


def twilio_message(session: Session, event: InboxEvent) -> None:
    """An inbound SMS/WhatsApp message joins its customer's timeline, redacted."""
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


def twilio_status(session: Session, event: InboxEvent) -> None:
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


def recorded_only(session: Session, event: InboxEvent) -> None:
    """Zendesk and Slack events the foundation keeps in the audit trail; the handoff,
    agent-assist and outreach capabilities register richer handlers for their kinds."""
    audit(
        session, account_id=event.account_id, actor=event.vendor, action="webhook.received",
        subject_type="inbox_event", subject_id=event.id, detail={"kind": event.kind},
    )


HANDLERS: dict[str, Handler] = {
    "twilio.message": twilio_message,
    "twilio.status": twilio_status,
}


def handler_for(kind: str) -> Handler | None:
    if kind in HANDLERS:
        return HANDLERS[kind]
    if kind.startswith(("zendesk.", "slack.")):
        return recorded_only
    return None


class _Registry(Mapping[str, Handler]):
    """HANDLERS plus the vendor-wide fallbacks, as the mapping inbox.process expects."""

    def __getitem__(self, kind: str) -> Handler:
        handler = handler_for(kind)
        if handler is None:
            raise KeyError(kind)
        return handler

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(HANDLERS)

    def __len__(self) -> int:
        return len(HANDLERS)


REGISTRY: Mapping[str, Handler] = _Registry()
