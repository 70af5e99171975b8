"""POST /slack/events: one URL for events, interactivity and commands, as Slack's app
manifest expects."""
from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from flask import Blueprint, Flask, current_app, request
from flask.typing import ResponseReturnValue
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_sdk.signature import SignatureVerifier

from switchboard.core.errors import BadSignature, MalformedPayload, NotConfigured
from switchboard.intake.payloads import UnsafeJson, loads_json

blueprint = Blueprint("slack", __name__)
#: Where the Slack app installs its Bolt request handler (``apps/slack/receiver.py``'s
#: ``init_app``): this door screens the body and hands it on, the app verifies and records.
HANDLER = "switchboard.slack"

#: Fields Bolt's context extraction reads as text or as an object with an "id" (it
#: evaluates ``"id" in value``, which fails on a number or a list).
TEXT_OR_OBJECT = ("enterprise", "team", "user", "channel")
#: Fields Bolt descends into when they are objects; anything but an object or null is
#: a shape Slack never sends.
OBJECTS = ("message", "previous_message", "item", "assistant_thread", "function_data")
#: Fields Bolt reads as ``body.get(name, {}).get(...)``: present, they must be objects
#: (null included: Slack omits them rather than sending null).
PRESENT_OBJECTS = ("event", "view", "tokens", "function")
#: Fields Bolt indexes into as lists of objects.
LISTS_OF_OBJECTS = ("authorizations", "actions", "response_urls")
#: Fields Bolt's listener matchers compare with our patterns: text only.
TEXT = ("type", "command", "callback_id", "action_id")
#: Per request type, the paths Bolt's matchers read without checking they exist.
REQUIRED_TEXT = {
    "event_callback": ("event.type",),
    "block_actions": ("actions.0.action_id",),
    "view_submission": ("view.callback_id",),
    "view_closed": ("view.callback_id",),
    "shortcut": ("callback_id",),
    "message_action": ("callback_id",),
    "interactive_message": ("callback_id",),
    "block_suggestion": ("action_id",),
}


@blueprint.post("/slack/events")
def events() -> ResponseReturnValue:
    handler: SlackRequestHandler | None = current_app.extensions.get(HANDLER)
    if handler is None:
        raise NotConfigured("Slack", "SLACK_SIGNING_SECRET")
    _screen()
    # No blanket except here: _screen refused every shape Bolt trips on, so an error
    # from now on is ours (a listener bug) and must show as one, not as a 400.
    return handler.handle(request)


def _screen() -> None:
    """Refuse what Bolt would answer with a 500 (a timestamp that is not a number, a body
    of a shape it indexes blindly) or a misleading 401 (a body that is not UTF-8, decoded
    lossily before its signature check). A badly shaped body is described only to a
    caller who signed it: anyone else is refused as unsigned."""
    try:
        text = request.get_data().decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedPayload("the body is not valid UTF-8") from None
    stamp = request.headers.get("X-Slack-Request-Timestamp", "")
    if stamp and not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise BadSignature(f"X-Slack-Request-Timestamp {stamp[:20]!r} is not a Unix time: only Slack may call this URL")
    try:
        check_shape(parse_body(text, request.mimetype))
    except UnsafeJson:
        raise  # too deep or a NUL: a property of the text, not of Slack's shapes
    except MalformedPayload:
        # Bolt builds its context from the body before it checks the signature, so the
        # shape is judged for every request; only a signed one learns what is wrong.
        verifier = SignatureVerifier(current_app.config["SETTINGS"].slack_signing_secret)
        if not verifier.is_valid_request(text, dict(request.headers)):
            raise BadSignature("the request is not signed with SLACK_SIGNING_SECRET: only Slack may call "
                               "this URL") from None
        raise


def parse_body(text: str, mimetype: str) -> Any:
    """The body as Bolt parses it (slack_bolt.request.internals.parse_body): JSON, a
    form whose ``payload`` field is JSON (interactivity), or form fields (commands)."""
    if not text:
        return {}
    if mimetype == "application/json" or text.startswith("{"):
        return _json(text, "the body")
    if "payload" in text:
        payload = dict(parse_qsl(text, keep_blank_values=True)).get("payload")
        return {} if payload is None else _json(payload, "the form field 'payload'")
    return dict(parse_qsl(text, keep_blank_values=True))


def _json(text: str, what: str) -> Any:
    try:
        return loads_json(text, what, nul_allowed=True)  # signed deliveries are stored scrubbed
    except ValueError as exc:
        raise MalformedPayload(f"{what} is not JSON: {exc}") from None


def check_shape(body: Any) -> None:
    """Every field Bolt reads has the type Slack documents, or a 400 names the field."""
    if not isinstance(body, dict):
        raise MalformedPayload(f"a Slack request is a JSON object, got {_type_name(body)}")
    _check_fields(body, "")
    for name in ("event", "message", "previous_message", "item"):
        nested = body.get(name)
        if isinstance(nested, dict):
            _check_fields(nested, f"{name}.")
            for inner in ("message", "previous_message", "item"):
                if isinstance(nested.get(inner), dict):
                    _check_fields(nested[inner], f"{name}.{inner}.")
    if body.get("authorizations"):
        _check_fields(body["authorizations"][0], "authorizations.0.")
    for path in REQUIRED_TEXT.get(body.get("type", ""), ()):
        if not isinstance(_at(body, path), str):
            raise MalformedPayload(f"a {body['type']} request needs {path} as text, got {_type_name(_at(body, path))}")


def _check_fields(body: dict[str, Any], prefix: str) -> None:
    for name in TEXT_OR_OBJECT:
        if body.get(name) is not None and not isinstance(body[name], str | dict):
            raise MalformedPayload(f"{prefix}{name} must be text or an object, got {_type_name(body[name])}")
    for name in OBJECTS:
        if body.get(name) is not None and not isinstance(body[name], dict):
            raise MalformedPayload(f"{prefix}{name} must be an object, got {_type_name(body[name])}")
    for name in PRESENT_OBJECTS:
        if name in body and not isinstance(body[name], dict):
            raise MalformedPayload(f"{prefix}{name} must be an object, got {_type_name(body[name])}")
    for name in LISTS_OF_OBJECTS:
        value = body.get(name)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, dict) for v in value)):
            raise MalformedPayload(f"{prefix}{name} must be an array of objects, got {_type_name(value)}")
    for name in TEXT:
        if name in body and not isinstance(body[name], str):
            raise MalformedPayload(f"{prefix}{name} must be text, got {_type_name(body[name])}")
    if body.get("type") == "event_callback" and "event" not in body:
        raise MalformedPayload(f"{prefix}event is missing: an event_callback carries the event as an object")


def _at(body: dict[str, Any], path: str) -> Any:
    value: Any = body
    for part in path.split("."):
        if isinstance(value, list) and part.isdigit():
            value = value[int(part)] if int(part) < len(value) else None
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value


def _type_name(value: Any) -> str:
    return "null" if value is None else {dict: "object", list: "array", str: "text", bool: "a boolean"}.get(
        type(value), type(value).__name__)


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
