"""What every outbound connector shares: the outbox record before the call, sandbox
mode, and one error for "the vendor asked us to wait".

A connector never sleeps through a rate limit: it raises ``VendorRateLimited`` with the
vendor's Retry-After, and the Celery task retries with that countdown, so a worker is
never held hostage by a vendor.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import requests
from sqlalchemy.orm import Session
from urllib3.exceptions import ConnectTimeoutError

from switchboard.config import Settings
from switchboard.core import metrics, outbox
from switchboard.models import Account, OutboxCall

log = logging.getLogger(__name__)


class _RedactedMessage(Exception):
    """Vendors quote the request in their errors ("The 'To' number +1415… is not valid"):
    the message is redacted, because it is logged, retried by Celery and stored."""

    def __init__(self, message: object = "", *args: object) -> None:
        from switchboard.core.redaction import redact

        super().__init__(redact(str(message)).text, *args)


class VendorError(_RedactedMessage):
    """A vendor API call failed in a way a retry will not fix (4xx other than 429)."""


class VendorUnavailable(_RedactedMessage):
    """A vendor API call failed in a way a later retry may fix (5xx, timeout)."""


class VendorOutcomeUnknown(VendorUnavailable):
    """The request left, but no answer came back (read timeout, connection dropped after
    sending): the vendor may have acted on it. The outbox row stays an attempt in flight,
    so the retry waits for its lease to run out and asks the vendor (``reconcile``)
    before calling again, instead of calling blindly as after a refused connection."""

    #: Retrying sooner only finds the attempt still in flight.
    retry_after = outbox.ATTEMPT_LEASE.total_seconds()


class VendorRateLimited(VendorUnavailable):
    def __init__(self, vendor: str, retry_after: float) -> None:
        self.vendor = vendor
        self.retry_after = retry_after
        super().__init__(f"{vendor} rate limit: retry after {retry_after:.0f}s")


def may_have_reached_vendor(exc: requests.RequestException) -> bool:
    """False only when the request certainly never left: the connection was refused or
    timed out, the name did not resolve, the proxy or TLS handshake failed. Anything
    else (a read timeout, a connection dropped mid-exchange) may have reached the
    vendor, and a blind retry could send twice."""
    if isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.ProxyError,
                        requests.exceptions.SSLError)):
        return False
    # requests wraps urllib3's MaxRetryError; a refused connection (NewConnectionError)
    # or failed name lookup is a ConnectTimeoutError there, never a plain Timeout.
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return not isinstance(reason, ConnectTimeoutError)


@dataclass(frozen=True)
class CallResult:
    """What the caller needs back: the vendor's response (or the sandbox's stand-in)
    and whether it came from an earlier call under the same idempotency key."""

    call: OutboxCall
    response: dict[str, Any]
    repeated: bool


class Connector:
    vendor: ClassVar[str]

    def __init__(self, session: Session, account: Account, settings: Settings) -> None:
        self.session = session
        self.account = account
        self.settings = settings

    @property
    def sandboxed(self) -> bool:
        """Sandbox when asked to, or when this vendor's credentials are absent."""
        return self.settings.sandbox or not self.has_credentials()

    def has_credentials(self) -> bool:
        raise NotImplementedError

    def perform(self, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Make the real API call; returns the vendor's response as a dict."""
        raise NotImplementedError

    def sandbox_response(self, call: OutboxCall) -> dict[str, Any]:
        """What the sandbox answers instead of the vendor (ids the caller can store)."""
        return {"sandbox": True, "id": call.id}

    def reconcile(self, operation: str, payload: dict[str, Any], attempted_at: datetime) -> dict[str, Any] | None:
        """Ask the vendor whether an attempt begun at ``attempted_at`` went through.

        Called only when an attempt's lease ran out (its worker may have died after the
        vendor accepted the call), never on a first attempt. Return the vendor's
        response for the earlier call to finish it without calling again; None means
        "cannot tell", and the call is made again. Raise ``VendorUnavailable`` when the
        vendor cannot be asked now: the attempt is retried later instead of risking a
        duplicate.
        """
        return None

    def _reconciled(self, record: OutboxCall, attempt: outbox.Attempt, operation: str,
                    payload: dict[str, Any]) -> CallResult | None:
        """The earlier attempt's result if the vendor has it; None to call again."""
        assert attempt.taken_over_from is not None
        try:
            response = self.reconcile(operation, payload, attempt.taken_over_from)
        except VendorUnavailable as exc:
            limited = isinstance(exc, VendorRateLimited)
            metrics.vendor_failed(self.session, self.account.id, self.vendor,
                                  "vendor.rate_limited" if limited else "vendor.unavailable",
                                  retry_after=exc.retry_after if limited else None, operation=operation)
            outbox.give_back(self.session, record, attempt, error=str(exc))
            raise
        except Exception as exc:
            # Not knowing whether the first attempt went through is no reason to fail
            # the row for good: keep it reconcilable, and let the error say what to fix.
            metrics.vendor_failed(self.session, self.account.id, self.vendor, "vendor.error", operation=operation)
            outbox.give_back(self.session, record, attempt, error=f"{type(exc).__name__}: {exc}")
            raise
        if response is None:
            return None
        log.info("%s %s: the attempt begun at %s had reached the vendor; not calling again (outbox %s)",
                 self.vendor, operation, attempt.taken_over_from.isoformat(), record.id)
        outbox.finish(self.session, record, status="sent", response=response)
        return CallResult(record, response, repeated=True)

    def call(self, operation: str, payload: dict[str, Any], *, idempotency_key: str | None = None) -> CallResult:
        record, created = outbox.record_call(
            self.session, account_id=self.account.id, vendor=self.vendor, operation=operation,
            payload=payload, idempotency_key=idempotency_key,
        )
        if not created and record.status in ("sent", "sandboxed"):
            return CallResult(record, record.response or {}, repeated=True)
        if not created and record.status == "failed":
            # A permanent failure (opted out, invalid number…) is not retried under the
            # same key: the same call would fail the same way, or worse, succeed twice.
            raise VendorError(f"{self.vendor} {operation} failed earlier under key {idempotency_key!r}: "
                              f"{record.error}")
        if self.sandboxed:
            response = self.sandbox_response(record)
            outbox.finish(self.session, record, status="sandboxed", response=response)
            return CallResult(record, response, repeated=False)
        attempt = outbox.claim(self.session, record)
        if attempt is None:
            if record.status in ("sent", "sandboxed"):
                return CallResult(record, record.response or {}, repeated=True)
            raise VendorUnavailable(f"{self.vendor} {operation} under key {idempotency_key!r} is in flight (another "
                                    "worker is sending it, or an earlier answer was lost and the vendor is asked "
                                    "once its lease runs out); retry later")
        if attempt.taken_over_from is not None:
            earlier = self._reconciled(record, attempt, operation, payload)
            if earlier is not None:
                return earlier
        try:
            response = self.perform(operation, payload)
        except VendorOutcomeUnknown as exc:
            metrics.vendor_failed(self.session, self.account.id, self.vendor, "vendor.unavailable",
                                  operation=operation)
            outbox.leave_in_flight(self.session, record, error=str(exc))
            raise
        except VendorUnavailable as exc:
            limited = isinstance(exc, VendorRateLimited)
            metrics.vendor_failed(self.session, self.account.id, self.vendor,
                                  "vendor.rate_limited" if limited else "vendor.unavailable",
                                  retry_after=exc.retry_after if limited else None, operation=operation)
            outbox.finish(self.session, record, status="pending", error=str(exc))
            raise
        except Exception as exc:
            metrics.vendor_failed(self.session, self.account.id, self.vendor, "vendor.error", operation=operation)
            outbox.finish(self.session, record, status="failed", error=f"{type(exc).__name__}: {exc}")
            raise
        outbox.finish(self.session, record, status="sent", response=response)
        return CallResult(record, response, repeated=False)
