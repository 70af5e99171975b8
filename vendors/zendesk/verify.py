"""Zendesk's webhook signature: base64(HMAC-SHA256(secret, timestamp + raw body)).

Each account's webhook has its own signing secret, so the secret that verifies a
delivery is also what tells us which account it belongs to. The timestamp must be
within WINDOW of now in either direction, so a captured delivery cannot be replayed.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from switchboard.core.accounts import secret
from switchboard.core.errors import BadSignature, NotConfigured
from switchboard.core.settings import Settings
from switchboard.core.store.models import Account

SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
WINDOW = timedelta(minutes=5)


def sign(secret_value: str, timestamp: str, body: bytes) -> str:
    """The signature Zendesk sends; used by verify() and by tests that play Zendesk."""
    digest = hmac.new(secret_value.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _parse_timestamp(raw: str) -> datetime:
    try:
        stamp = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadSignature(f"{TIMESTAMP_HEADER} {raw[:40]!r} is not an ISO 8601 time") from None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def verify(
    headers: dict[str, str], body: bytes, candidates: Sequence[Account], settings: Settings,
    *, now: datetime | None = None,
) -> Account:
    secrets = [(a, secret(a, "zendesk_webhook_secret", settings)) for a in candidates]
    configured = [(a, s) for a, s in secrets if s]
    if not configured:
        raise NotConfigured("Zendesk", "ZENDESK_WEBHOOK_SECRET")
    signature, timestamp = headers.get(SIGNATURE_HEADER, ""), headers.get(TIMESTAMP_HEADER, "")
    if not signature or not timestamp:
        raise BadSignature(f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER}: only Zendesk may call this URL")
    try:
        given = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise BadSignature(f"{SIGNATURE_HEADER} is not base64") from None
    now = now or datetime.now(UTC)
    if abs(now - _parse_timestamp(timestamp)) > WINDOW:
        raise BadSignature(f"{TIMESTAMP_HEADER} is more than {WINDOW} away from now: replayed or clock skew")
    for account, secret_value in configured:
        expected = base64.b64decode(sign(secret_value, timestamp, body))
        if hmac.compare_digest(expected, given):
            return account
    raise BadSignature(
        f"{SIGNATURE_HEADER} does not match: check that ZENDESK_WEBHOOK_SECRET is the webhook's "
        "current signing secret (Admin Center → Webhooks → your webhook → Reveal secret)"
    )
