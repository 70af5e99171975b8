"""What a recorded web chat message does once processed: the stored request, read with
the schema the API checked it with, handed to the core in its own terms."""
from __future__ import annotations

from sqlalchemy.orm import Session

from switchboard.apps.webchat.schemas import RECORDED_MESSAGE, load
from switchboard.core import use_cases
from switchboard.core.settings import Settings
from switchboard.core.store.models import InboxEvent
from switchboard.core.use_cases import VendorHandler, WebMessage


def on_message(session: Session, event: InboxEvent, settings: Settings) -> None:
    payload = load(RECORDED_MESSAGE, event.payload)
    use_cases.web_message(session, event, settings, WebMessage(
        visitor=payload["visitor"], client_id=payload["client_id"], text=payload["text"], locale=payload["locale"]))


#: Registered in create_app.
HANDLERS: dict[str, VendorHandler] = {
    "webchat.message": on_message,
}
