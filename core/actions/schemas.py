"""Input schemas of the built-in actions. Unknown fields are refused, not ignored: a
request carrying ``amount`` or ``customer_id`` is trying to decide something the
policy decides from verified data, and is refused for it."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

ORDER_ID = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9-]{2,31}$",
                           error="is not an order number (letters, digits and dashes, like A1001)")
#: A phone number in international form, or the vault token of one the customer wrote
#: ("[PHONE_1]"): the token is what is checked, stored and shown; the connector swaps
#: in the number only as it calls the company's system (vendors/http_action.py).
PHONE = validate.Regexp(r"^(?:\+[1-9][0-9 ().-]{6,20}[0-9]|\[PHONE_[0-9]{1,6}\])$",
                        error="is not a phone number in international form (+14155550123) or a phone token "
                              "of this conversation like [PHONE_1]")
TAG = validate.Regexp(r"^[a-z0-9_:-]{1,50}$", error="is not a Zendesk tag (lower case, digits, _ : -)")


class ActionInput(Schema):
    class Meta:
        unknown = RAISE


class OrderStatusInput(ActionInput):
    order_id = fields.String(required=True, validate=ORDER_ID, metadata={"description": "the order number"})


class RefundInput(ActionInput):
    order_id = fields.String(required=True, validate=ORDER_ID, metadata={"description": "the order number"})
    reason = fields.String(load_default="customer request", validate=validate.Length(max=200),
                           metadata={"description": "why the customer wants a refund"})


class UpdateAddressInput(ActionInput):
    line1 = fields.String(required=True, validate=validate.Length(min=3, max=200))
    city = fields.String(required=True, validate=validate.Length(min=1, max=100))
    postcode = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9 -]{2,12}$",
                                                                      error="is not a postcode"))
    country = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{2}$",
                                                                     error="must be a 2-letter code like US"))


class RescheduleInput(ActionInput):
    appointment_id = fields.String(required=True, validate=ORDER_ID)
    date = fields.Date(required=True, metadata={"description": "the new date, YYYY-MM-DD"})
    slot = fields.String(load_default="any", validate=validate.OneOf(["morning", "afternoon", "evening", "any"]))

    @validates("date")
    def _future(self, value: Any, **_: Any) -> None:
        if value <= datetime.now(UTC).date():
            raise ValidationError("must be a future date")


class UpdateContactPhoneInput(ActionInput):
    phone = fields.String(required=True, validate=PHONE, metadata={
        "description": "the new contact number, +14155550123, or the token of one the customer wrote, [PHONE_1]"})


class AddNoteInput(ActionInput):
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    tags = fields.List(fields.String(validate=TAG), load_default=list, validate=validate.Length(max=10))


_JSON_TYPES = {fields.String: "string", fields.Date: "string", fields.Integer: "integer",
               fields.Float: "number", fields.Boolean: "boolean", fields.List: "array"}


def json_schema(schema: type[ActionInput]) -> dict[str, Any]:
    """The OpenAI tool ``parameters`` for a schema: enough for a model to fill it in;
    the marshmallow schema remains the one that decides what is valid."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, field in schema().fields.items():
        kind = next((t for cls, t in _JSON_TYPES.items() if isinstance(field, cls)), "string")
        prop: dict[str, Any] = {"type": kind}
        if kind == "array":
            prop["items"] = {"type": "string"}
        if isinstance(field, fields.Date):
            prop["format"] = "date"  # the sidebar shows a date picker, a model writes YYYY-MM-DD
        choices = next((v.choices for v in field.validators if isinstance(v, validate.OneOf)), None)
        if choices is not None:
            prop["enum"] = list(choices)
        if field.metadata.get("description"):
            prop["description"] = field.metadata["description"]
        properties[name] = prop
        if field.required:
            required.append(name)
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def dump(params: dict[str, Any]) -> dict[str, Any]:
    """Loaded params as JSON (dates as ISO strings) for storage and templates."""
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in params.items()}
