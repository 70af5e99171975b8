"""POST /webhooks/zendesk: verify, check the ticket event's shape (schemas.py), record, 200."""
from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from switchboard.core.accounts import all_accounts
from switchboard.core.errors import MalformedPayload
from switchboard.intake import db
from switchboard.intake.inbox import accept
from switchboard.intake.payloads import load, loads_json
from switchboard.vendors.zendesk.events import HANDLERS
from switchboard.vendors.zendesk.schemas import TICKET_EVENT
from switchboard.vendors.zendesk.verify import verify

blueprint = Blueprint("zendesk", __name__, url_prefix="/webhooks")
INVOCATION_HEADER = "X-Zendesk-Webhook-Invocation-Id"
EVENT_PREFIX = "zen:event-type:"
def _payload(body: bytes) -> dict[str, Any]:
    try:
        payload = loads_json(body.decode("utf-8"), "the body", nul_allowed=True)
    except UnicodeDecodeError:
        raise MalformedPayload("the body is not valid UTF-8") from None
    except json.JSONDecodeError as exc:
        raise MalformedPayload(f"the body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:  # NaN or Infinity, which JSON (and PostgreSQL's JSONB) does not have
        raise MalformedPayload(f"the body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise MalformedPayload(f"expected a JSON object, got {type(payload).__name__}")
    return payload


def kind_of(payload: dict[str, Any]) -> str:
    """"zen:event-type:ticket.comment_added" → "zendesk.ticket.comment_added"; trigger
    webhooks (our manifests' templates) name their event in "event"."""
    raw = payload.get("type")
    if raw is not None:
        if not isinstance(raw, str) or not raw.startswith(EVENT_PREFIX):
            raise MalformedPayload(f"type {raw!r} is not a Zendesk event type (zen:event-type:…)")
        return "zendesk." + raw.removeprefix(EVENT_PREFIX)
    event = payload.get("event")
    if isinstance(event, str) and event:
        return "zendesk." + event
    raise MalformedPayload("the payload names no event: expected 'type' (event subscription) "
                           "or 'event' (trigger webhook from manifests/zendesk)")


def check_ticket_event(kind: str, payload: dict[str, Any]) -> None:
    """Refuse, at the door and by name, a ticket event its handler could not read."""
    if kind in HANDLERS:
        load(TICKET_EVENT, payload, context=kind)


def dedupe_key(payload: dict[str, Any], body: bytes) -> str:
    """The event id when there is one; otherwise the invocation id, which Zendesk keeps
    across retries of one delivery; the body's hash as a last resort."""
    if isinstance(payload.get("id"), str | int) and "type" in payload:
        return f"event:{payload['id']}"
    invocation = request.headers.get(INVOCATION_HEADER)
    if invocation:
        return f"invocation:{invocation}"
    return "sha256:" + hashlib.sha256(body).hexdigest()


@blueprint.post("/zendesk")
def receive() -> ResponseReturnValue:
    body = request.get_data()
    account = verify(dict(request.headers), body, all_accounts(db.session()),
                     current_app.config["SETTINGS"])
    payload = _payload(body)
    kind = kind_of(payload)
    check_ticket_event(kind, payload)
    created = accept(account, vendor="zendesk", kind=kind,
                     dedupe_key=dedupe_key(payload, body), payload=payload)
    return jsonify(status="accepted" if created else "duplicate"), 200
