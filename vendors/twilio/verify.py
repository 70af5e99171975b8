"""X-Twilio-Signature, checked with twilio's own signature algorithm.

Twilio signs the exact URL it called. Behind a proxy or tunnel the URL Flask sees
differs (scheme, host, port), so it is rebuilt from SWITCHBOARD_PUBLIC_URL.

``RequestValidator.validate`` accepts a signature made for the URL with its port or
without it (Twilio's signing is inconsistent there), and always computes both HMACs.
``signed_by`` accepts exactly the same signatures, computed by the same
``RequestValidator.compute_signature`` over the same two URL forms (the SDK's
``remove_port``/``add_port``), but tries the form of the configured URL first and the
other only when that one fails: one HMAC for a genuine delivery instead of two.
"""
from __future__ import annotations

import hmac
from collections.abc import Sequence
from functools import lru_cache
from urllib.parse import urlparse

from flask import Request
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    add_port,
    get_signature_algorithm,
    remove_port,
)
from werkzeug.datastructures import MultiDict

from switchboard.core.accounts import secret
from switchboard.core.errors import BadSignature, NotConfigured
from switchboard.core.settings import Settings
from switchboard.core.store.models import Account


def called_url(request: Request, settings: Settings) -> str:
    if settings.public_url:
        query = request.query_string.decode("latin-1")
        return settings.public_url + request.path + (f"?{query}" if query else "")
    return request.url


@lru_cache(maxsize=256)
def url_forms(url: str) -> tuple[str, str]:
    """The two URLs a signature may have been made for, as RequestValidator.validate
    builds them: the form ``url`` is in (with its port, or without one) first.
    Remembered: every delivery to a URL has the same two (parsing them was a quarter
    of the signature check), and a few hundred query strings are a few kilobytes."""
    parsed = urlparse(url)
    with_port, without_port = add_port(parsed), remove_port(parsed)
    return (with_port, without_port) if parsed.port else (without_port, with_port)


def signed_by(validator: RequestValidator, forms: tuple[str, str], params: MultiDict[str, str], signature: str,
              algorithm: str) -> bool:
    """Whether ``signature`` is ``validator``'s for either URL form (see the module's
    docstring); compared in constant time, as bytes (a header may hold any Latin-1
    text, which ``hmac.compare_digest`` refuses as str)."""
    sent = signature.encode("utf-8")
    return any(hmac.compare_digest(validator.compute_signature(url, params, algorithm).encode("utf-8"), sent)
               for url in forms)


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
    forms = url_forms(url)
    for account, token in configured:
        try:
            if signed_by(RequestValidator(token), forms, form, signature, algorithm):
                return account
        except ValueError:  # compute_signature's refusal of an algorithm it does not know
            raise BadSignature(
                f"{SIGNATURE_SETTINGS_HEADER} names algorithm {algorithm!r}, which this twilio library "
                "cannot check: upgrade the twilio package if Twilio added it"
            ) from None
    raise BadSignature(
        f"{SIGNATURE_HEADER} does not match {url}: check that SWITCHBOARD_PUBLIC_URL is the "
        "URL configured in Twilio and that the auth token is the account's current one"
    )
