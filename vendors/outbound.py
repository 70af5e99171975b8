"""What every outbound connector shares: the outbox record before the call, sandbox
mode, and one error for "the vendor asked us to wait".

A connector never sleeps through a rate limit: it raises ``VendorRateLimited`` with the
vendor's Retry-After, and the Celery task retries with that countdown, so a worker is
never held hostage by a vendor.
"""
from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import requests
from sqlalchemy.orm import Session
from urllib3.exceptions import ConnectTimeoutError

from switchboard.core.outcomes import metrics
from switchboard.core.ports import (  # noqa: F401 - re-exported: the connectors raise them
    CallResult,
    VendorError,
    VendorOutcomeUnknown,
    VendorRateLimited,
    VendorUnavailable,
    _RedactedMessage,
)
from switchboard.core.settings import Settings
from switchboard.core.store import outbox
from switchboard.core.store.models import Account, OutboxCall

log = logging.getLogger(__name__)


def retry_after_seconds(header: str | None, default: float, *, milliseconds: str | None = None,
                        minimum: float = 0.0) -> float:
    """The wait a vendor asked for, in seconds: ``retry-after-ms`` (OpenAI's) when given,
    else Retry-After as delta-seconds or an HTTP date (RFC 9110). An absent, unreadable,
    past or non-finite value means ``default``; the result is at least ``minimum``."""
    for value, divisor in ((milliseconds, 1000.0), (header, 1.0)):
        if value is None or not value.strip():
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            if divisor != 1.0:
                continue
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                continue
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            seconds = (when - datetime.now(UTC)).total_seconds()
        if math.isfinite(seconds) and seconds > 0:
            return max(minimum, seconds)
    return max(minimum, default)


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
            limited = exc if isinstance(exc, VendorRateLimited) else None
            metrics.vendor_failed(self.session, self.account.id, self.vendor,
                                  "vendor.unavailable" if limited is None else "vendor.rate_limited",
                                  retry_after=None if limited is None else limited.retry_after, operation=operation)
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
        # Live, a new row is committed already claimed before the vendor is called (the
        # record-before-send exactly-once needs, in one commit). In the sandbox the row is
        # the whole call: it commits once, with its response (finish below).
        sandboxed = self.sandboxed
        record, created = outbox.record_call(
            self.session, account_id=self.account.id, vendor=self.vendor, operation=operation,
            payload=payload, idempotency_key=idempotency_key, attempting=not sandboxed, commit=not sandboxed,
        )
        if not created and record.status in ("sent", "sandboxed"):
            return CallResult(record, record.response or {}, repeated=True)
        if not created and record.status == "failed":
            # A permanent failure (opted out, invalid number…) is not retried under the
            # same key: the same call would fail the same way, or worse, succeed twice.
            raise VendorError(f"{self.vendor} {operation} failed earlier under key {idempotency_key!r}: "
                              f"{record.error}")
        if sandboxed:
            response = self.sandbox_response(record)
            outbox.finish(self.session, record, status="sandboxed", response=response)
            return CallResult(record, response, repeated=False)
        attempt = outbox.Attempt() if created else outbox.claim(self.session, record)
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
            limited = exc if isinstance(exc, VendorRateLimited) else None
            metrics.vendor_failed(self.session, self.account.id, self.vendor,
                                  "vendor.unavailable" if limited is None else "vendor.rate_limited",
                                  retry_after=None if limited is None else limited.retry_after, operation=operation)
            outbox.finish(self.session, record, status="pending", error=str(exc))
            raise
        except Exception as exc:
            metrics.vendor_failed(self.session, self.account.id, self.vendor, "vendor.error", operation=operation)
            outbox.finish(self.session, record, status="failed", error=f"{type(exc).__name__}: {exc}")
            raise
        outbox.finish(self.session, record, status="sent", response=response)
        return CallResult(record, response, repeated=False)
