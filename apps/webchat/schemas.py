"""What the widget posts, checked field by field: a wrong shape is a 400 naming the
field, and the worker reads the recorded message with the same schema."""
from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from switchboard.core.channels import webchat


def _stripped(low: int, high: int, what: str) -> validate.Validator:
    def check(value: str) -> None:
        if "\x00" in value:
            raise ValidationError("must not contain a NUL character")
        size = len(value.strip())
        if not low <= size <= high:
            raise ValidationError(f"must be {low} to {high} characters of {what} (got {size})")
    return check  # type: ignore[return-value]


class _Strict(Schema):
    class Meta:
        unknown = EXCLUDE


class SessionRequest(_Strict):
    token = fields.String(load_default=None, allow_none=True)
    locale = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=35))


class MessageRequest(_Strict):
    text = fields.String(required=True, validate=_stripped(1, webchat.MAX_TEXT, "text"))
    client_id = fields.String(required=True, validate=_stripped(1, webchat.MAX_CLIENT_ID, "id"))


class RecordedMessage(MessageRequest):
    """The inbox payload of a ``webchat.message`` event."""

    visitor = fields.String(required=True, validate=validate.Length(min=1, max=32))
    locale = fields.String(load_default=None, allow_none=True)
    ip = fields.String(load_default=None, allow_none=True)


SESSION_REQUEST = SessionRequest()
MESSAGE_REQUEST = MessageRequest()
RECORDED_MESSAGE = RecordedMessage()


class BadRequest(ValueError):
    """A request body of the wrong shape; the message names the field."""


def load(schema: Schema, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    try:
        return schema.load(data)
    except ValidationError as exc:
        problems = []
        for field, messages in sorted(exc.normalized_messages().items()):
            for message in messages if isinstance(messages, list) else [messages]:
                text = "is missing" if message == "Missing data for required field." else str(message)
                problems.append(f"{field} {text}")
        raise BadRequest("; ".join(problems)) from None
