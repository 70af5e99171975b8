"""The JSON API for people and tools (not vendors): authenticated with account keys.

Every query below is filtered by the authenticated account's id; there is no code path
that takes an account id from the request.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import cache, wraps
from typing import Any

from flask import Blueprint, Flask, abort, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from switchboard import db
from switchboard.core import accounts, outbox, timeline
from switchboard.models import Account, Conversation
from switchboard.resources import package_path

blueprint = Blueprint("api", __name__, url_prefix="/api")


def _refuse_nul_bytes() -> ResponseReturnValue | None:
    """PostgreSQL text and JSONB cannot hold U+0000: a query parameter or a JSON string
    carrying one would reach the driver and fail as a 500, so every ``/api/`` request
    (this blueprint's and the other API blueprints') is refused at the door, by name."""
    if not request.path.startswith("/api/"):
        return None
    for name, value in request.args.items(multi=True):
        if "\x00" in name or "\x00" in value:
            return jsonify(error=f"query parameter {name!r} contains a NUL byte; remove it"), 400
    if request.is_json and _holds_nul(request.get_json(silent=True)):
        return jsonify(error="the JSON body contains a NUL byte (\\u0000) in a name or value; remove it"), 400
    return None


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def require_account(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        header = request.headers.get("Authorization", "")
        key = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        account = accounts.account_for_api_key(db.session(), key) if key else None
        if account is None:
            current_app.logger.warning("API request refused on %s: bad or missing key", request.path)
            return jsonify(error="send an account API key as 'Authorization: Bearer sb_…' "
                                 "(create one with `switchboard accounts key`)"), 401
        g.account = account
        return view(*args, **kwargs)

    return wrapper


def _account() -> Account:
    return g.account


@blueprint.get("/sandbox/outbox")
@require_account
def sandbox_outbox() -> ResponseReturnValue:
    from switchboard.wiring import sandboxed_vendors

    if not sandboxed_vendors(_account(), current_app.config["SETTINGS"]):
        abort(404, "the outbox is only served in sandbox mode (SWITCHBOARD_SANDBOX=1, or a "
                   "vendor without credentials)")
    return jsonify([outbox.as_json(call) for call in outbox.calls(db.session(), _account().id)])


@blueprint.get("/conversations")
@require_account
def list_conversations() -> ResponseReturnValue:
    rows = timeline.conversations(db.session(), _account().id)
    return jsonify([_conversation_json(c, with_messages=False) for c in rows])


@blueprint.get("/conversations/<int:conversation_id>")
@require_account
def get_conversation(conversation_id: int) -> ResponseReturnValue:
    conversation = db.session().get(Conversation, conversation_id)
    if conversation is None or conversation.account_id != _account().id:
        abort(404, f"no conversation {conversation_id} in this account")
    return jsonify(_conversation_json(conversation, with_messages=True))


@blueprint.get("/audit")
@require_account
def audit_export() -> ResponseReturnValue:
    """The account's audit trail, filtered by ticket or conversation, as JSON Lines
    (default) or CSV: every AI suggestion and what people did with it."""
    from flask import Response

    from switchboard.core.audit import export

    fmt = request.args.get("format", "jsonl")
    if fmt not in ("jsonl", "csv"):
        abort(400, "format must be jsonl or csv")
    subject_type, subject_id = None, None
    for kind in ("ticket", "conversation", "customer"):
        if request.args.get(kind):
            subject_type, subject_id = kind, request.args[kind]
            if not subject_id.isascii() or not subject_id.isdigit():
                abort(400, f"{kind} must be a number (the Zendesk ticket's, or our conversation's or customer's id)")
    body = export(db.session(), _account().id, fmt=fmt, subject_type=subject_type, subject_id=subject_id)
    mimetype = "text/csv" if fmt == "csv" else "application/x-ndjson"
    return Response(body, mimetype=mimetype)


@blueprint.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    """The OpenAPI description of this API (switchboard/openapi.yaml); no key needed."""
    return jsonify(_openapi_document())


@cache
def _openapi_document() -> dict[str, Any]:
    import yaml

    return yaml.safe_load((package_path("openapi.yaml")).read_text(encoding="utf-8"))


def _conversation_json(conversation: Conversation, *, with_messages: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": conversation.id,
        "customer_id": conversation.customer_id,
        "status": conversation.status,
        "channel": conversation.channel,
        "zendesk_ticket_id": conversation.zendesk_ticket_id,
        "last_message_at": conversation.last_message_at.isoformat(),
    }
    if with_messages:
        data["messages"] = [
            {"id": m.id, "direction": m.direction, "channel": m.channel, "author": m.author,
             "body": m.body, "status": m.status, "created_at": m.created_at.isoformat()}
            for m in conversation.messages
        ]
    return data


def init_app(app: Flask) -> None:
    app.before_request(_refuse_nul_bytes)
    app.register_blueprint(blueprint)
