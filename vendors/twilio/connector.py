"""SMS and WhatsApp sends through Twilio's Messages API.

The outbox payload is the keyword arguments of ``client.messages.create``, so a sandbox
record shows what would have been sent, and a retried task replays it without
re-deriving anything. A body naming vault tokens the customer may read back ([PHONE_1])
is recorded with the tokens and which conversation's vault opens them; they are opened
in the request to Twilio only, never stored.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.base import values
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from twilio.rest.api.v2010.account.message import MessageInstance

from switchboard.core.accounts import DEFAULT_SLUG, secret, secret_variable
from switchboard.core.pii import vault
from switchboard.core.ports import OutsideWhatsAppWindow, RecipientOptedOut  # noqa: F401 - raised here
from switchboard.core.settings import Settings
from switchboard.core.store.models import Account, OutboxCall
from switchboard.vendors.outbound import (
    CallResult,
    Connector,
    VendorError,
    VendorOutcomeUnknown,
    VendorRateLimited,
    VendorUnavailable,
    may_have_reached_vendor,
    retry_after_seconds,
)

WHATSAPP_PREFIX = "whatsapp:"
#: Twilio does not promise a Retry-After on 429 (error 20429); its advice is "back
#: off and retry", and a few seconds clears a concurrency spike.
DEFAULT_RETRY_AFTER = 5.0
#: Without a timeout requests waits forever, and a hung socket would hold a worker
#: until Celery's hard time limit kills it.
TIMEOUT_SECONDS = 20.0
OPTED_OUT = 21610
OUTSIDE_WHATSAPP_WINDOW = 63016
#: Our clock (which stamped the attempt) and Twilio's (which stamps DateCreated, to
#: the second) may disagree; a message created this much before the attempt still
#: counts as the attempt's own.
RECONCILE_CLOCK_SKEW = timedelta(seconds=30)
#: How many of the newest messages to the recipient from our sender the check reads:
#: one page, so a stale takeover costs one GET. An earlier attempt older than these
#: cannot be recognised, and the message is sent again (as it was before this check).
RECONCILE_SCAN = 100
#: Outbox payload keys that are not ``messages.create`` arguments: which conversation's
#: vault opens which tokens of the body, at send time only.
VAULT_CONVERSATION, VAULT_TOKENS = "vault_conversation_id", "vault_tokens"


class SenderNotConfigured(VendorError):
    """No sending number for the channel: a retry cannot fix configuration."""


class TwilioConnector(Connector):
    vendor = "twilio"

    def __init__(self, session: Session, account: Account, settings: Settings) -> None:
        super().__init__(session, account, settings)
        self._retry_after: str | None = None

    @classmethod
    def configured(cls, account: Account, settings: Settings) -> bool:
        """A classmethod so the registry can tell sandboxed vendors without a session."""
        return bool(account.twilio_account_sid and secret(account, "twilio_auth_token", settings))

    def has_credentials(self) -> bool:
        return self.configured(self.account, self.settings)

    def send_message(
        self,
        *,
        to: str,
        body: str | None = None,
        channel: str = "sms",
        content_sid: str | None = None,
        content_variables: dict[str, Any] | None = None,
        media_url: list[str] | None = None,
        status_callback: str | None = None,
        idempotency_key: str | None = None,
        vault_conversation_id: int | None = None,
        vault_tokens: Sequence[str] = (),
    ) -> CallResult:
        """Send ``body`` (or an approved template, ``content_sid``) to ``to`` (E.164).

        On WhatsApp outside the 24-hour window only a template goes through: pass
        ``content_sid`` and ``content_variables`` (e.g. ``{"1": "Ada"}``) instead of text.
        ``vault_tokens`` of ``body`` are opened from ``vault_conversation_id``'s vault
        in ``perform`` only: the outbox records the tokens, never the values.
        """
        if channel not in ("sms", "whatsapp"):
            raise ValueError(f"channel={channel!r} is not supported: use 'sms' or 'whatsapp'.")
        if body is None and content_sid is None and not media_url:
            raise ValueError("nothing to send: pass body, content_sid or media_url.")
        sender = self._sender(channel)
        if channel == "whatsapp":
            to = _whatsapp_address(to)
        arguments: dict[str, Any] = {
            "to": to,
            "from_": sender,
            "body": body,
            "content_sid": content_sid,
            # Twilio takes the variables as one JSON-encoded form field.
            "content_variables": None if content_variables is None else json.dumps(content_variables),
            "media_url": list(media_url) if media_url else None,
            "status_callback": status_callback,
        }
        payload = {key: value for key, value in arguments.items() if value is not None}
        if body is not None and vault_conversation_id is not None and vault_tokens:
            payload[VAULT_CONVERSATION], payload[VAULT_TOKENS] = vault_conversation_id, list(vault_tokens)
        return self.call("messages.create", payload, idempotency_key=idempotency_key)

    def _sender(self, channel: str) -> str | None:
        """The number to send from; missing is only an error when a real send would
        need it, so a newcomer's sandbox works before any number is bought."""
        if channel == "whatsapp":
            number = self.account.twilio_whatsapp_number
            sender = _whatsapp_address(number) if number else None
            variable = "TWILIO_WHATSAPP_NUMBER"
        else:
            sender = self.account.twilio_phone_number
            variable = "TWILIO_PHONE_NUMBER"
        if sender is None and not self.sandboxed:
            where = variable if self.account.slug == DEFAULT_SLUG else (
                f"the {channel} number of account {self.account.slug!r} (switchboard accounts)"
            )
            raise SenderNotConfigured(
                f"cannot send {channel} for account {self.account.slug!r}: no sending number. "
                f"Set {where} to a number from your Twilio Console."
            )
        return sender

    def sandbox_response(self, call: OutboxCall) -> dict[str, Any]:
        # Shaped like Twilio's SIDs (SM + 32 hex) but derived from the account and outbox
        # row, so it can never collide with a real SID of a message the customer sent.
        payload = call.payload
        digest = hashlib.sha256(f"sandbox:{call.account_id}:{call.id}".encode()).hexdigest()[:32]
        return {"sid": f"SM{digest}", "status": "queued", "to": payload["to"], "from": payload.get("from_"),
                "outbox_id": call.id}

    @cached_property
    def client(self) -> Client:
        """Built on first live use only: the sandbox never needs credentials."""
        http_client = TwilioHttpClient(
            timeout=TIMEOUT_SECONDS, request_hooks={"response": [self._remember_retry_after]}
        )
        return Client(
            self.account.twilio_account_sid,
            secret(self.account, "twilio_auth_token", self.settings),
            http_client=http_client,
        )

    def _remember_retry_after(self, response: requests.Response, **_: Any) -> None:
        # TwilioRestException does not carry the response headers; a requests hook
        # (which TwilioHttpClient takes for this purpose) is where they are still visible.
        self._retry_after = response.headers.get("Retry-After")

    def perform(self, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
        if operation != "messages.create":
            raise ValueError(f"TwilioConnector cannot perform {operation!r}.")
        try:
            message = self.client.messages.create(**self._arguments(payload))
        except (TwilioRestException, TwilioServiceException) as exc:
            raise self._translate(exc, payload) from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            if may_have_reached_vendor(exc):
                raise VendorOutcomeUnknown(
                    f"Twilio did not answer the send ({exc}) and may have accepted it; once the attempt's lease runs "
                    "out Twilio is asked whether the message exists before it is sent again.") from exc
            raise VendorUnavailable(f"Twilio could not be reached ({exc}); the send will be retried.") from exc
        return {"sid": message.sid, "status": str(message.status), "to": message.to, "from": message.from_}

    def _arguments(self, payload: dict[str, Any]) -> dict[str, Any]:
        """``messages.create``'s arguments from a recorded payload: the vault tokens it
        names opened in the body. The one moment the values exist outside the vault is
        this request; the response we store carries no body."""
        arguments = {key: value for key, value in payload.items() if key not in (VAULT_CONVERSATION, VAULT_TOKENS)}
        if payload.get(VAULT_TOKENS) and "body" in arguments:
            arguments["body"] = vault.opened(self.session, vault.vault_for(self.settings), account_id=self.account.id,
                                             conversation_id=int(payload[VAULT_CONVERSATION]),
                                             text=str(arguments["body"]), tokens=payload[VAULT_TOKENS])
        return arguments

    def reconcile(self, operation: str, payload: dict[str, Any], attempted_at: datetime) -> dict[str, Any] | None:
        """Find the message a dead worker's attempt may have created, before sending again.

        The Messages list filters by To and From only by date *sent*, which a queued or
        scheduled message does not have yet; so the newest messages to the recipient
        from our sender are read and matched here on DateCreated, then on the body for
        free text. Templates cannot be matched on ContentSid (the Message resource does
        not expose it): any new message counts. A message another outbox row already
        recorded is never claimed for this one.
        """
        if operation != "messages.create":
            return None
        since = attempted_at - RECONCILE_CLOCK_SKEW
        sent = self._arguments(payload)
        candidates = [message for message in self._recent_messages(payload)
                      if _could_be_attempt_of(message, sent, since)]
        owned = self._recorded_sids({str(message.sid) for message in candidates}, since)
        unowned = sorted((message for message in candidates if message.sid not in owned),
                         key=lambda message: message.date_created)
        if not unowned:
            return None
        return _response_of(unowned[0])

    def _recent_messages(self, payload: dict[str, Any]) -> list[MessageInstance]:
        """One page of the newest messages to the recipient from our sender."""
        try:
            return self.client.messages.list(to=payload["to"], from_=payload.get("from_", values.unset),
                                             limit=RECONCILE_SCAN, page_size=RECONCILE_SCAN)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise VendorUnavailable(
                f"Twilio could not be reached ({exc}) to check whether an earlier attempt of this message went "
                "through; it will be checked again later rather than sent twice.") from exc
        except TwilioException as exc:
            raise self._lookup_error(exc) from exc

    def _recorded_sids(self, sids: set[str], since: datetime) -> set[str]:
        """Which of ``sids`` other outbox rows of this account already sent."""
        if not sids:
            return set()
        sid = OutboxCall.response["sid"].as_string()
        return set(self.session.scalars(
            select(sid).where(OutboxCall.account_id == self.account.id, OutboxCall.vendor == self.vendor,
                              OutboxCall.status == "sent", OutboxCall.sent_at >= since - RECONCILE_CLOCK_SKEW,
                              sid.in_(sids))))

    def _lookup_error(self, exc: TwilioException) -> Exception:
        """A failed Messages list, sorted like a failed send. Its pages raise a bare
        TwilioException carrying the HTTP response, not a TwilioRestException."""
        status = _status_of(exc)
        if status == 429:
            return VendorRateLimited(self.vendor, retry_after_seconds(self._retry_after, DEFAULT_RETRY_AFTER))
        if status is None or status >= 500:
            return VendorUnavailable(
                f"Twilio failed (HTTP {status}) while we checked whether an earlier attempt of this message went "
                "through; it will be checked again later rather than sent twice.")
        if status in (401, 403):
            return VendorError(
                f"Twilio refused to list messages (HTTP {status}), which is needed to tell whether an interrupted "
                "send went through: check the Account SID and "
                f"{secret_variable(self.account, 'twilio_auth_token')}, and that an API key used has read access "
                "to Messages. The message is not sent again until this check succeeds.")
        return VendorError(f"Twilio refused to list messages (HTTP {status}): {exc}")

    def _translate(self, exc: TwilioRestException | TwilioServiceException, payload: dict[str, Any]) -> Exception:
        status, code = exc.status, exc.code
        if isinstance(exc, TwilioServiceException):
            message = exc.detail or exc.title
        else:
            message = exc.msg
        if status == 429:
            return VendorRateLimited(self.vendor, retry_after_seconds(self._retry_after, DEFAULT_RETRY_AFTER))
        if status >= 500:
            return VendorUnavailable(f"Twilio failed with HTTP {status} ({message}); the send will be retried.")
        if code == OPTED_OUT:
            return RecipientOptedOut(
                f"{payload['to']} has opted out (replied STOP): do not message them until they "
                f"reply START. Twilio: {message}"
            )
        if code == OUTSIDE_WHATSAPP_WINDOW:
            return OutsideWhatsAppWindow(
                f"{payload['to']} last wrote more than 24 h ago: send an approved template "
                f"(content_sid, content_variables) instead of free text. Twilio: {message}"
            )
        if status in (401, 403):
            return VendorError(
                f"Twilio refused the credentials (HTTP {status}): check the Account SID and "
                f"{secret_variable(self.account, 'twilio_auth_token')}. Twilio: {message}"
            )
        return VendorError(f"Twilio refused the message (HTTP {status}, error {code}): {message}")


def _could_be_attempt_of(message: MessageInstance, payload: dict[str, Any], since: datetime) -> bool:
    """An outbound message created since the attempt began, with the attempt's text
    (or any, for templates and media alone, whose rendered body we do not know)."""
    if not str(message.direction or "").startswith("outbound"):
        return False
    if not isinstance(message.date_created, datetime) or message.date_created < since:
        return False
    if "content_sid" in payload or "body" not in payload:
        return True
    return (message.body or "").strip() == str(payload["body"]).strip()


def _response_of(message: MessageInstance) -> dict[str, Any]:
    """The same shape ``perform`` stores for a message it created."""
    return {"sid": message.sid, "status": str(message.status), "to": message.to, "from": message.from_}


def _status_of(exc: TwilioException) -> int | None:
    """The HTTP status of a Twilio SDK error, wherever that SDK path put it."""
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        return status
    response = exc.args[1] if len(exc.args) > 1 else None
    code = getattr(response, "status_code", None)
    return code if isinstance(code, int) else None


def _whatsapp_address(number: str) -> str:
    return number if number.startswith(WHATSAPP_PREFIX) else WHATSAPP_PREFIX + number

