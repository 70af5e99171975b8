"""Twilio calls these URLs; each view verifies, checks the parameters against the
schema (schemas.py), records, and answers at once."""
from __future__ import annotations

import time
from collections.abc import Sequence

from flask import Blueprint, Response, current_app, request
from werkzeug.datastructures import MultiDict

from switchboard.core.accounts import accounts_for_twilio
from switchboard.core.customers.identity import InvalidAddress, parse_twilio_address
from switchboard.core.errors import BadSignature, MalformedPayload, UnknownAccount
from switchboard.core.store.models import Account
from switchboard.intake import db
from switchboard.intake.inbox import accept
from switchboard.intake.payloads import load
from switchboard.vendors.twilio.schemas import INBOUND_MESSAGE, STATUS_CALLBACK
from switchboard.vendors.twilio.verify import verify

blueprint = Blueprint("twilio", __name__, url_prefix="/webhooks/twilio")
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def _form() -> MultiDict[str, str]:
    if request.mimetype != "application/x-www-form-urlencoded":
        raise MalformedPayload(
            f"expected an application/x-www-form-urlencoded body, got {request.mimetype or 'none'}"
        )
    body = request.get_data()
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedPayload("the body is not valid UTF-8") from None
    # Percent-decoding is all a form body goes through, so a NUL reaches a name or value
    # exactly when the body holds a NUL byte or "%00": two scans of the bytes instead of
    # a walk over every parameter.
    if b"\x00" in body or b"%00" in body:
        raise MalformedPayload("a parameter contains a NUL character, which Twilio never sends")
    return request.form


#: How long a process reuses the accounts that matched a (Account SID, number) pair
#: instead of reading them for every delivery. A signature they fail sends the lookup to
#: the database again, so a rotated auth token works at once; the old token, or a number
#: moved between two accounts of one Twilio account, is honoured at most this long.
ACCOUNT_CACHE_SECONDS = 10.0


def _candidates(form: MultiDict[str, str], *, fresh: bool) -> Sequence[Account]:
    """The accounts that may own this delivery, from this app's short-lived cache (one
    per app, so two apps in one process never share accounts) unless ``fresh``."""
    cache: dict[tuple[str, str], tuple[float, Sequence[Account]]] = current_app.extensions.setdefault(
        "switchboard.twilio_accounts", {})
    key = (form.get("AccountSid", ""), form.get("To", ""))
    cached = cache.get(key)
    if not fresh and cached is not None and time.monotonic() - cached[0] < ACCOUNT_CACHE_SECONDS:
        return cached[1]
    candidates = accounts_for_twilio(db.session(), *key)
    if candidates:  # an unknown number is not remembered: the account may be added any moment
        cache[key] = (time.monotonic(), candidates)
    return candidates


def _verified_account(form: MultiDict[str, str]) -> Account:
    settings = current_app.config["SETTINGS"]
    candidates = _candidates(form, fresh=False)
    if candidates:
        try:
            return verify(request, form, candidates, settings)
        except BadSignature:
            candidates = _candidates(form, fresh=True)  # the token may have been rotated since
    if not candidates:
        raise UnknownAccount(
            f"no account owns Twilio number {form.get('To')!r} or Account SID "
            f"{form.get('AccountSid')!r}: set TWILIO_PHONE_NUMBER / TWILIO_ACCOUNT_SID"
        )
    return verify(request, form, candidates, settings)


def _twiml() -> Response:
    return Response(EMPTY_TWIML, status=200, mimetype="text/xml")


@blueprint.post("/messages")
def messages() -> Response:
    form = _form()
    account = _verified_account(form)
    payload = form.to_dict(flat=True)  # what is checked is what is stored
    load(INBOUND_MESSAGE, payload)
    try:
        parse_twilio_address(payload["From"])
    except InvalidAddress as exc:
        raise MalformedPayload(f"From: {exc}") from None
    accept(account, vendor="twilio", kind="twilio.message", dedupe_key=payload["MessageSid"], payload=payload)
    return _twiml()


@blueprint.post("/status")
def status() -> Response:
    form = _form()
    account = _verified_account(form)
    payload = form.to_dict(flat=True)
    load(STATUS_CALLBACK, payload)
    key = f"{payload['MessageSid']}:{payload['MessageStatus']}"
    accept(account, vendor="twilio", kind="twilio.status", dedupe_key=key, payload=payload)
    return Response(status=204)
