"""The JSON API for people and tools (not vendors): authenticated with account keys.

Every query below is filtered by the authenticated account's id; there is no code path
that takes an account id from the request.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import cache, wraps
from typing import Any

import yaml
from flask import Blueprint, Flask, Response, abort, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from switchboard.core import accounts
from switchboard.core.customers import timeline
from switchboard.core.resources import package_path
from switchboard.core.store import outbox
from switchboard.core.store.audit import export
from switchboard.core.store.models import Account, Conversation
from switchboard.intake import db
from switchboard.wiring import sandboxed_vendors

blueprint = Blueprint("api", __name__, url_prefix="/api")


def require_account(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        header = request.headers.get("Authorization", "")
        key = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        row = accounts.api_key_row(db.session(), key) if key else None
        account = db.session().get(Account, row.account_id) if row else None
        if row is None or account is None:
            current_app.logger.warning("API request refused on %s: bad or missing key", request.path)
            return jsonify(error="send an account API key as 'Authorization: Bearer sb_…' "
                                 "(create one with `switchboard accounts key`)"), 401
        g.account, g.api_key = account, row
        return view(*args, **kwargs)

    return wrapper


def _account() -> Account:
    return g.account


@blueprint.get("/sandbox/outbox")
@require_account
def sandbox_outbox() -> ResponseReturnValue:
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
    fmt = request.args.get("format", "jsonl")
    if fmt not in ("jsonl", "csv"):
        abort(400, "format must be jsonl or csv")
    subject_type, subject_id = None, None
    for kind in ("ticket", "conversation", "customer"):
        if request.args.get(kind):
            subject_type, subject_id = kind, request.args[kind]
            if not subject_id.isascii() or not subject_id.isdigit() or int(subject_id[:30]) > db.MAX_ID:
                abort(400, f"{kind} must be a number from 0 to {db.MAX_ID} (the Zendesk ticket's, or our "
                           f"conversation's or customer's id); {subject_id[:30]!r} is out of range or not a number")
    body = export(db.session(), _account().id, fmt=fmt, subject_type=subject_type, subject_id=subject_id)
    mimetype = "text/csv" if fmt == "csv" else "application/x-ndjson"
    return Response(body, mimetype=mimetype)


@blueprint.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    """The OpenAPI description of this API (switchboard/openapi.yaml); no key needed."""
    return jsonify(_openapi_document())


@cache
def _openapi_document() -> dict[str, Any]:
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
    app.register_blueprint(blueprint)
