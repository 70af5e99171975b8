"""The parameters Twilio posts to our URLs, as Twilio documents them
(https://www.twilio.com/docs/messaging/guides/webhook-request): every other parameter is
kept as sent."""
from __future__ import annotations

from marshmallow import fields, validate

from ..payloads import INCLUDE, Schema, WholeNumber

_PRESENT = validate.Length(min=1, error="is empty")


class _TwilioRequest(Schema):
    class Meta:
        unknown = INCLUDE

    MessageSid = fields.String(required=True, validate=_PRESENT)
    AccountSid = fields.String(required=True, validate=_PRESENT)
    #: Error codes are numbers of up to 5 digits (30008, 21610).
    ErrorCode = WholeNumber(minimum=0, maximum=999_999)


class InboundMessage(_TwilioRequest):
    """An SMS or WhatsApp message to one of our numbers (POST /webhooks/twilio/messages)."""

    From = fields.String(required=True, validate=_PRESENT)
    To = fields.String(required=True, validate=_PRESENT)
    Body = fields.String(load_default="")
    #: At most 10 media per message; MediaUrl0… name them.
    NumMedia = WholeNumber(minimum=0, maximum=10, load_default=0)
    WaId = fields.String()
    ProfileName = fields.String()


class StatusCallback(_TwilioRequest):
    """A delivery status of a message we sent (POST /webhooks/twilio/status)."""

    MessageStatus = fields.String(required=True, validate=_PRESENT)


INBOUND_MESSAGE = InboundMessage()
STATUS_CALLBACK = StatusCallback()
