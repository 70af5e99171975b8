"""One-time codes through Twilio Verify (the vendor's own OTP service).

``POST https://verify.twilio.com/v2/Services/{ServiceSid}/Verifications`` (To, Channel)
sends a code Twilio makes; ``.../VerificationCheck`` (VerificationSid, Code) checks the
code the person typed: 200 with ``status`` "approved" and ``valid`` true, or "pending"
and false for a wrong code; 404 once the verification is over (expired, approved, or
its checks used up) and 429 with error 60202 (too many checks) or 60203 (too many sends
to one number).

Sandbox (the default offline run, or Twilio not configured): the call is recorded in the
outbox as every other, and the connector makes the code itself. A developer reads it in
the recorded send's payload (``switchboard outbox --json`` or ``GET
/api/sandbox/outbox``: ``"sandbox_code"``); only sandboxed rows ever hold a code. A
check's payload never holds the code typed: only a digest of it.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import cached_property
from typing import Any

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from switchboard.core.accounts import secret, secret_variable
from switchboard.core.ports import VerificationGone
from switchboard.core.settings import Settings
from switchboard.core.store.models import Account, OutboxCall
from switchboard.vendors.outbound import (
    CallResult,
    Connector,
    VendorError,
    VendorRateLimited,
    VendorUnavailable,
    retry_after_seconds,
)
from switchboard.vendors.twilio.connector import TwilioConnector

SEND = "verifications.create"
CHECK = "verification_checks.create"
CHANNELS = ("sms", "email")
#: Twilio Verify's own limits: too many checks of one verification, too many sends to one number.
MAX_CHECKS_REACHED = 60202
MAX_SENDS_REACHED = 60203
#: Twilio gives no Retry-After for Verify's limits; its send limit counts over 10 minutes.
DEFAULT_RETRY_AFTER = 600.0
TIMEOUT_SECONDS = 20.0
CODE_DIGITS = 6
#: The languages Twilio Verify writes its SMS and email in; another locale would be
#: refused (error 60200), so the message goes in the service's default language instead.
LOCALES = frozenset((
    "af ar ca zh zh-CN zh-HK hr cs da nl en en-GB et fi fr de el he hi hu id it ja kn ko lt ms mr nb pl pt pt-BR "
    "ro ru sk es sv tl te th tr uk vi").split())


class VerifyNotConfigured(VendorError):
    """Twilio is live but has no Verify service to send codes with."""


def code_digest(verification_sid: str, code: str) -> str:
    """What a check records instead of the code typed."""
    return hashlib.sha256(f"{verification_sid}:{code.strip()}".encode()).hexdigest()


class TwilioVerifyConnector(Connector):
    vendor = "twilio_verify"

    def __init__(self, session: Session, account: Account, settings: Settings) -> None:
        super().__init__(session, account, settings)
        self._retry_after: str | None = None
        self._code: str | None = None

    @classmethod
    def configured(cls, account: Account, settings: Settings) -> bool:
        """Live whenever Twilio is: a missing Verify service is then an error to fix, not
        a sandbox that silently never delivers a code."""
        return TwilioConnector.configured(account, settings)

    def has_credentials(self) -> bool:
        return self.configured(self.account, self.settings)

    @property
    def service_sid(self) -> str:
        sid = secret(self.account, "twilio_verify_service_sid", self.settings)
        if not sid:
            where = secret_variable(self.account, "twilio_verify_service_sid")
            raise VerifyNotConfigured(f"cannot send a one-time code for account {self.account.slug!r}: no Twilio "
                                      f"Verify service. Create one in Twilio Console → Verify → Services (with the "
                                      f"SMS and Email channels) and set {where} to its SID (VA…).")
        return sid

    def start(self, *, to: str, channel: str, idempotency_key: str, locale: str | None = None) -> CallResult:
        if channel not in CHANNELS:
            raise ValueError(f"channel={channel!r} is not supported: use one of {', '.join(CHANNELS)}.")
        payload: dict[str, Any] = {"to": to, "channel": channel}
        if locale in LOCALES:
            payload["locale"] = locale
        if self.sandboxed:
            # Nobody sends it: the developer reads it in the recorded call (outbox listings show payloads).
            payload["sandbox_code"] = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
        else:
            payload["service_sid"] = self.service_sid
        return self.call(SEND, payload, idempotency_key=idempotency_key)

    def check(self, *, verification_sid: str, code: str, idempotency_key: str) -> CallResult:
        self._code = code.strip()
        payload = {"verification_sid": verification_sid, "code_sha256": code_digest(verification_sid, code)}
        if not self.sandboxed:
            payload["service_sid"] = self.service_sid
        try:
            return self.call(CHECK, payload, idempotency_key=idempotency_key)
        finally:
            self._code = None

    # -- sandbox -------------------------------------------------------------------------

    def sandbox_response(self, call: OutboxCall) -> dict[str, Any]:
        if call.operation == SEND:
            digest = hashlib.sha256(f"sandbox:{call.account_id}:{call.id}".encode()).hexdigest()[:32]
            return {"sid": f"VE{digest}", "status": "pending", "channel": call.payload["channel"], "sandbox": True}
        sid = call.payload["verification_sid"]
        sent = self.session.scalar(select(OutboxCall).where(
            OutboxCall.account_id == self.account.id, OutboxCall.vendor == self.vendor,
            OutboxCall.operation == SEND, OutboxCall.status == "sandboxed",
            OutboxCall.response["sid"].as_string() == sid))
        if sent is None or "sandbox_code" not in sent.payload:
            raise VerificationGone(f"the sandbox sent no code under verification {sid}: ask for a new code")
        valid = self._code is not None and hmac.compare_digest(self._code, str(sent.payload["sandbox_code"]))
        return {"sid": sid, "status": "approved" if valid else "pending", "valid": valid, "sandbox": True}

    # -- live ----------------------------------------------------------------------------

    @cached_property
    def client(self) -> Client:
        http_client = TwilioHttpClient(timeout=TIMEOUT_SECONDS,
                                       request_hooks={"response": [self._remember_retry_after]})
        return Client(self.account.twilio_account_sid, secret(self.account, "twilio_auth_token", self.settings),
                      http_client=http_client)

    def _remember_retry_after(self, response: requests.Response, **_: Any) -> None:
        self._retry_after = response.headers.get("Retry-After")

    def perform(self, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
        service = self.client.verify.v2.services(payload["service_sid"])
        try:
            if operation == SEND:
                extra = {"locale": payload["locale"]} if payload.get("locale") else {}
                sent = service.verifications.create(to=payload["to"], channel=payload["channel"], **extra)
                return {"sid": sent.sid, "status": sent.status, "channel": sent.channel}
            if operation == CHECK:
                if self._code is None:
                    raise VendorError("a one-time code check is never replayed: the code typed is not stored")
                checked = service.verification_checks.create(verification_sid=payload["verification_sid"],
                                                             code=self._code)
                return {"sid": checked.sid, "status": checked.status, "valid": bool(checked.valid)}
        except TwilioRestException as exc:
            raise self._translate(exc, operation) from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            # A code sent twice is harmless (the newest counts): no reconciliation needed.
            raise VendorUnavailable(f"Twilio Verify could not be reached ({exc}); try again in a moment.") from exc
        raise ValueError(f"TwilioVerifyConnector cannot perform {operation!r}.")

    def _translate(self, exc: TwilioRestException, operation: str) -> Exception:
        status, code = exc.status, exc.code
        if status == 429 and code == MAX_CHECKS_REACHED:
            return VerificationGone(f"Twilio Verify: too many checks of this code (error {code}); ask for a new code.")
        if status == 429:
            return VendorRateLimited(self.vendor, retry_after_seconds(self._retry_after, DEFAULT_RETRY_AFTER))
        if status >= 500:
            return VendorUnavailable(f"Twilio Verify failed with HTTP {status} ({exc.msg}); try again in a moment.")
        if status == 404 and operation == CHECK:
            return VerificationGone("Twilio Verify no longer has this verification (expired, already approved, "
                                    "or its checks used up); ask for a new code.")
        if status in (401, 403):
            return VendorError(f"Twilio refused the credentials (HTTP {status}): check the Account SID and "
                               f"{secret_variable(self.account, 'twilio_auth_token')}. Twilio: {exc.msg}")
        if status == 404:
            return VendorError(f"Twilio Verify has no service {self.service_sid} (HTTP 404): check "
                               "TWILIO_VERIFY_SERVICE_SID (or the account's twilio_verify_service_sid).")
        return VendorError(f"Twilio Verify refused the request (HTTP {status}, error {code}): {exc.msg}")
