"""POST /webhooks/zendesk: verify, record, 200."""
from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from switchboard import db
from switchboard.core.accounts import all_accounts
from switchboard.errors import MalformedPayload

from ..intake import accept
from .verify import verify

blueprint = Blueprint("zendesk", __name__, url_prefix="/webhooks")
INVOCATION_HEADER = "X-Zendesk-Webhook-Invocation-Id"
EVENT_PREFIX = "zen:event-type:"
#: Kinds whose handlers (core/processing.py) act on one ticket: ``detail`` must be the
#: ticket and ``detail.id`` its number, or the handler would fail after our 200.
TICKET_EVENTS = frozenset({"zendesk.ticket.comment_added", "zendesk.ticket.status_changed",
                           "zendesk.ticket.created", "zendesk.ticket.tags_changed"})
#: Zendesk numbers each account's tickets from 1; our zendesk_ticket_id columns are
#: INTEGER (32-bit on PostgreSQL), so a larger id could not be looked up or stored.
MAX_TICKET_ID = 2**31 - 1


def _payload(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body.decode("utf-8"), parse_constant=_not_json)
    except UnicodeDecodeError:
        raise MalformedPayload("the body is not valid UTF-8") from None
    except json.JSONDecodeError as exc:
        raise MalformedPayload(f"the body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(payload, dict):
        raise MalformedPayload(f"expected a JSON object, got {type(payload).__name__}")
    return payload


def _not_json(constant: str) -> Any:
    """Python's json accepts NaN and Infinity; JSON (and PostgreSQL's JSONB) does not."""
    raise MalformedPayload(f"the body is not JSON: {constant} is not a JSON value")


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


def _type_name(value: Any) -> str:
    return "null" if value is None else {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), type(value).__name__)


def _ticket_id(value: Any) -> int | None:
    """Zendesk sends ticket ids as strings of digits ("5158"); trigger templates may send
    numbers. Anything else (a bool, a float, "abc", a 30-digit number) is no ticket."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        value = int(value)
    return value if isinstance(value, int) and 0 < value <= MAX_TICKET_ID else None


def _object_or_empty(path: str, value: Any) -> None:
    if value and not isinstance(value, dict):
        raise MalformedPayload(f"{path} must be an object, got {_type_name(value)}")


def check_ticket_event(kind: str, payload: dict[str, Any]) -> None:
    """Refuse, at the door and by name, a ticket event its handler could not read: a 400
    tells whoever built the payload what is wrong; a 200 followed by a crash in the
    worker tells no one (and the sweep would retry it forever)."""
    if kind not in TICKET_EVENTS:
        return
    detail = payload.get("detail")
    if not isinstance(detail, dict):
        raise MalformedPayload(f"{kind}: 'detail' must be an object describing the ticket, got {_type_name(detail)}")
    if _ticket_id(detail.get("id")) is None:
        raise MalformedPayload(f"{kind}: detail.id must be the ticket's number (e.g. \"5158\"), "
                               f"got {_type_name(detail.get('id'))} {str(detail.get('id'))[:30]!r}")
    if detail.get("tags") and not isinstance(detail["tags"], list):
        raise MalformedPayload(f"{kind}: detail.tags must be an array of tag names, got {_type_name(detail['tags'])}")
    event = payload.get("event", {})
    if not isinstance(event, dict):
        raise MalformedPayload(f"{kind}: 'event' must be an object (the event subscription's shape), got "
                               f"{_type_name(event)}; a trigger webhook must name its event something other "
                               "than a ticket event type, e.g. \"agent_reply\"")
    comment = event.get("comment")
    _object_or_empty("event.comment", comment)
    if isinstance(comment, dict):
        _object_or_empty("event.comment.author", comment.get("author"))


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
