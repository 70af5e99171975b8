"""A web visitor proves a phone or email with a one-time code, and chooses how an
agent's reply reaches them once they have left the page (issue 21; the contract is
webchat-contract.md): ``POST /chat/<slug>/identify``, ``POST /chat/<slug>/verify``,
``PUT /chat/<slug>/preferences``.

A second blueprint beside ``api.py``, screened the same way: the account by slug, the
origin allow-list and CORS, JSON bodies only, the visitor's Bearer token, the same
error shapes (its handlers and helpers are imported, not copied). The code is sent and
checked by Twilio Verify through ``core.customers.address_verification``; a proven address joins the
visitor to the customer who owns it (their SMS and WhatsApp history becomes one
timeline with the web chat).
"""
from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from switchboard.apps.webchat import api, limits
from switchboard.apps.webchat.schemas import BadRequest
from switchboard.core import ports
from switchboard.core.channels import webchat, webchat_away
from switchboard.core.customers import address_verification
from switchboard.core.customers.identity import company_region
from switchboard.core.store.models import Customer, WebVisitor
from switchboard.intake import db

log = logging.getLogger(__name__)
blueprint = Blueprint("webchat_identity", __name__, url_prefix="/chat")
api.guard(blueprint)  # the web chat API's screening, CORS and JSON errors
METHODS = "GET, POST, PUT, OPTIONS"


@blueprint.after_request
def _allow_put(response: Response) -> Response:
    """A preflight here may ask for PUT (preferences)."""
    if request.method == "OPTIONS" and "Access-Control-Allow-Methods" in response.headers:
        response.headers["Access-Control-Allow-Methods"] = METHODS
    return response


def _visitor() -> tuple[WebVisitor, Customer]:
    visitor = api.require_visitor()
    webchat.seen(visitor)
    customer = db.session().get(Customer, visitor.customer_id)
    assert customer is not None
    return visitor, customer


def _target(body: dict[str, object]) -> address_verification.Target:
    account = api.current_account()
    region = company_region(current_app.config["SETTINGS"], account.twilio_phone_number)
    try:
        return address_verification.normalise(body.get("kind"), body.get("value"), region=region)
    except address_verification.InvalidTarget as exc:
        raise BadRequest(str(exc)) from None


def _vendor_failed(exc: Exception, doing: str) -> api.WebChatError:
    """A Twilio Verify failure, in words for the visitor; what to fix is in the log."""
    db.session().commit()  # the attempt stays on record (and counts towards the limits)
    if isinstance(exc, ports.VendorRateLimited):
        return api.WebChatError(429, f"too many codes were asked for just now: wait a few minutes before {doing}",
                                {"Retry-After": str(int(exc.retry_after))})
    log.warning("webchat: Twilio Verify failed while %s: %s", doing, exc)
    if isinstance(exc, ports.VendorUnavailable):
        return api.WebChatError(503, f"the code service is not answering: try {doing} again in a minute",
                                {"Retry-After": "60"})
    return api.WebChatError(502, f"the code service refused {doing}: check the address, or continue the chat "
                                 "without it")


@blueprint.post("/<slug>/identify")
def identify(slug: str) -> tuple[Response, int]:
    body = api.json_body()
    visitor, customer = _visitor()
    target = _target(body)
    session, account = db.session(), api.current_account()
    locale = (customer.locale or "").split("-")[0] or None
    try:
        address_verification.send_code(session, account, current_app.config["SETTINGS"],
                                       subject=f"visitor:{visitor.id}", target=target, locale=locale)
    except address_verification.TooManySends as exc:
        raise api.WebChatError(429, str(exc), {"Retry-After": str(int(exc.retry_after))}) from None
    except address_verification.Busy as exc:
        raise api.WebChatError(409, str(exc)) from None
    except (ports.VendorError, ports.VendorUnavailable) as exc:
        raise _vendor_failed(exc, "asking for a code") from None
    session.commit()
    return jsonify(masked=target.masked), 202


@blueprint.post("/<slug>/verify")
def verify(slug: str) -> Response:
    body = api.json_body()
    visitor, customer = _visitor()
    target = _target(body)
    session, account = db.session(), api.current_account()
    settings = current_app.config["SETTINGS"]
    try:
        address_verification.check_code(session, account, settings, subject=f"visitor:{visitor.id}", target=target,
                                code=body.get("code"))
    except address_verification.WrongCode as exc:
        session.commit()  # the wrong try counts
        raise api.WebChatError(400, str(exc)) from None
    except address_verification.TooManyTries as exc:
        session.commit()
        raise api.WebChatError(429, str(exc)) from None
    except address_verification.NoCodeSent as exc:
        raise api.WebChatError(400, str(exc)) from None
    except address_verification.Busy as exc:
        raise api.WebChatError(409, str(exc)) from None
    except (ports.VendorError, ports.VendorUnavailable) as exc:
        raise _vendor_failed(exc, "checking the code") from None
    own = customer.id
    joined = address_verification.join_verified(session, account.id, own, target, actor=f"visitor:{visitor.id}")
    if joined != own:
        # The visitor's open stream reads the customer it was merged away from: wake it, so it
        # ends at once and the widget reconnects to the joined timeline.
        webchat.wake_after_commit(session, settings, account.id, own)
    session.commit()
    return jsonify(verified={"kind": target.kind, "masked": target.masked})


@blueprint.put("/<slug>/preferences")
def preferences(slug: str) -> Response:
    body = api.json_body()
    visitor, customer = _visitor()
    notify = body.get("notify")
    if notify not in webchat.NOTIFY_CHOICES:
        raise BadRequest(f"notify must be one of {', '.join(webchat.NOTIFY_CHOICES)}")
    kind = {"sms": "phone", "email": "email"}.get(str(notify))
    if kind and address_verification.verified_identity(db.session(), customer, kind) is None:
        raise api.WebChatError(400, f"notify {notify!r} needs a verified {kind}: verify one first "
                                    f"(POST /chat/{slug}/identify, then /verify)")
    visitor.notify = str(notify)
    if notify == "email":
        # Zendesk emails agents' replies to the requester: give the ticket's requester
        # the email now, so the next reply is emailed (a failure is retried at that reply).
        try:
            webchat_away.ensure_requester_email(db.session(), api.current_account(), current_app.config["SETTINGS"],
                                                customer)
        except (ports.VendorError, ports.VendorUnavailable) as exc:
            log.warning("webchat: the requester's email could not be set in Zendesk yet: %s", exc)
    db.session().commit()
    return jsonify(notify=visitor.notify)


def init_app(app: Flask) -> None:
    """Registered after the web chat API (``apps.webchat.init_app``), whose limiter it uses."""
    app.register_blueprint(blueprint)
    limiter = app.extensions[limits.EXTENSION]
    limits.apply(app, limiter, "webchat_identity.identify", ("identify_per_visitor", limits.visitor_key),
                 ("messages_per_ip", limits.ip_key))
