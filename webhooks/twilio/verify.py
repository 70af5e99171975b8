"""X-Twilio-Signature, checked with twilio's own RequestValidator.

Twilio signs the exact URL it called. Behind a proxy or tunnel the URL Flask sees
differs (scheme, host, port), so it is rebuilt from SWITCHBOARD_PUBLIC_URL.
"""
from __future__ import annotations

from collections.abc import Sequence

from flask import Request
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)
from werkzeug.datastructures import MultiDict

from switchboard.config import Settings
from switchboard.core.accounts import secret
from switchboard.errors import BadSignature, NotConfigured
from switchboard.models import Account


def called_url(request: Request, settings: Settings) -> str:
    if settings.public_url:
        query = request.query_string.decode("latin-1")
        return settings.public_url + request.path + (f"?{query}" if query else "")
    return request.url


def verify(
    request: Request, form: MultiDict[str, str], candidates: Sequence[Account], settings: Settings
) -> Account:
    """The account whose auth token signed this request; raises otherwise."""
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not signature:
        raise BadSignature(f"missing {SIGNATURE_HEADER} header: only Twilio may call this URL")
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    url = called_url(request, settings)
    configured = [(a, secret(a, "twilio_auth_token", settings)) for a in candidates]
    configured = [(a, token) for a, token in configured if token]
    if not configured:
        raise NotConfigured("Twilio", "TWILIO_AUTH_TOKEN")
    for account, token in configured:
        if RequestValidator(token).validate(url, form, signature, algorithm=algorithm):
            return account
    raise BadSignature(
        f"{SIGNATURE_HEADER} does not match {url}: check that SWITCHBOARD_PUBLIC_URL is the "
        "URL configured in Twilio and that the auth token is the account's current one"
    )
