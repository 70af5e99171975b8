"""What each kind of Twilio event does once processed: the stored form, read with the
schema the webhook checked it with, handed to the core in its own terms."""
from __future__ import annotations

from sqlalchemy.orm import Session

from switchboard.config import Settings
from switchboard.core import processing
from switchboard.core.processing import CustomerMessage, VendorHandler
from switchboard.models import InboxEvent

from ..payloads import load
from .schemas import INBOUND_MESSAGE, STATUS_CALLBACK


def on_message(session: Session, event: InboxEvent, settings: Settings) -> None:
    form = load(INBOUND_MESSAGE, event.payload, context=event.kind)
    media = [form[f"MediaUrl{i}"] for i in range(form["NumMedia"] or 0) if f"MediaUrl{i}" in form]
    processing.customer_message(session, event, settings, CustomerMessage(
        external_id=form["MessageSid"], sender=form["From"], to=form["To"], body=form["Body"], media=media,
        wa_id=form.get("WaId"), profile_name=form.get("ProfileName")))


def on_status(session: Session, event: InboxEvent, settings: Settings) -> None:
    form = load(STATUS_CALLBACK, event.payload, context=event.kind)
    processing.delivery_status(session, event, settings, external_id=form["MessageSid"],
                               status=form["MessageStatus"], error_code=form.get("ErrorCode"))


#: Registered in create_app.
HANDLERS: dict[str, VendorHandler] = {
    "twilio.message": on_message,
    "twilio.status": on_status,
}
