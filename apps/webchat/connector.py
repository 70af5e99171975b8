"""The web chat "messenger": delivery of a message to the widget.

There is no vendor to call: the widget reads the timeline, where the caller puts the
message it sends. What this connector does is what every connector does first: record
the delivery in the outbox under its idempotency key (so a retried task sees it was
delivered, and the outbox shows every message a customer was sent, on any channel),
and ask that the visitor's open streams wake up once the transaction commits. It
answers like a vendor, with a stand-in message id the timeline stores as the
message's external id, and the status "delivered".
"""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from switchboard.core.channels import webchat
from switchboard.core.settings import Settings
from switchboard.core.store.models import Account, WebVisitor
from switchboard.vendors.outbound import CallResult, Connector


class WebChatConnector(Connector):
    vendor = "webchat"

    def __init__(self, session: Session, account: Account, settings: Settings) -> None:
        super().__init__(session, account, settings)

    @classmethod
    def configured(cls, account: Account, settings: Settings) -> bool:
        return True

    def has_credentials(self) -> bool:
        return True

    @property
    def sandboxed(self) -> bool:
        """Nothing leaves the deployment, so nothing is held back in sandbox mode: the
        widget is where a sandboxed deployment is tried out."""
        return False

    def perform(self, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
        return {"sid": payload["sid"], "status": "delivered", "to": payload["to"]}

    def send_message(self, *, to: str, channel: str = webchat.CHANNEL, idempotency_key: str | None = None,
                     body: str | None = None, content_sid: str | None = None,
                     content_variables: dict[str, Any] | None = None, media_url: list[str] | None = None,
                     status_callback: str | None = None, vault_conversation_id: int | None = None,
                     vault_tokens: Sequence[str] = ()) -> CallResult:
        """Deliver ``body`` to visitor ``to`` (a visitor id). Templates and media are
        WhatsApp's and Twilio's: the widget shows text. ``body`` is recorded with its
        tokens: the widget opens those the message's ``meta["opened"]`` names when it
        shows the message (core.channels.webchat.message_json), so nothing is opened here."""
        if channel != webchat.CHANNEL:
            raise ValueError(f"channel={channel!r}: the web chat connector delivers on 'web' only.")
        if body is None:
            raise ValueError("nothing to deliver: pass body (the widget shows text).")
        key = idempotency_key or f"webchat:{secrets.token_hex(16)}"
        sid = "WC" + hashlib.sha256(f"{self.account.id}:{key}".encode()).hexdigest()[:32]
        result = self.call("messages.deliver", {"to": to, "channel": channel, "body": body, "sid": sid},
                           idempotency_key=idempotency_key)
        visitor = self.session.get(WebVisitor, to)
        if visitor is not None:
            webchat.wake_after_commit(self.session, self.settings, self.account.id, visitor.customer_id)
        return result
