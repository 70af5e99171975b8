"""The parameters Twilio posts to our URLs, as Twilio documents them
(https://www.twilio.com/docs/messaging/guides/webhook-request,
https://www.twilio.com/docs/usage/webhooks/voice-webhooks): every other parameter is
kept as sent."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from switchboard.intake.payloads import INCLUDE, Schema, WholeNumber, loads_json, type_name

_PRESENT = validate.Length(min=1, error="is empty")
#: Speech turns in one call: far more than any caller takes with the bot (the policy
#: hands over after a few), so a turn number beyond it is not one of our URLs.
MAX_TURNS = 99


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


class Probability(fields.Field):
    """Twilio's speech-recognition Confidence: "0.9197" from 0 to 1; an empty or absent
    one (nothing was said) is None."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> float | None:
        if value in ("", None):
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if not 0.0 <= number <= 1.0:  # also refuses NaN and infinities
            raise ValidationError(f"must be a number from 0 to 1, got {str(value)[:30]!r}")
        return number


class _VoiceRequest(Schema):
    """The parameters of every voice request
    (https://www.twilio.com/docs/usage/webhooks/voice-webhooks)."""

    class Meta:
        unknown = INCLUDE

    CallSid = fields.String(required=True, validate=_PRESENT)
    AccountSid = fields.String(required=True, validate=_PRESENT)
    #: The caller: "+14155550100", or "Anonymous"/"client:…" when there is no number.
    From = fields.String(required=True, validate=_PRESENT)
    To = fields.String(required=True, validate=_PRESENT)
    CallStatus = fields.String(required=True, validate=_PRESENT)


class IncomingCall(_VoiceRequest):
    """A call to one of our numbers (POST /webhooks/twilio/voice)."""


class SpeechResult(_VoiceRequest):
    """What the caller said, from <Gather input="speech"> (POST /webhooks/twilio/voice/gather?turn=N).
    ``switchboard_turn`` is the turn number from our own action URL, stored with the payload."""

    SpeechResult = fields.String(load_default="")
    Confidence = Probability(load_default=None)
    switchboard_turn = WholeNumber(minimum=1, maximum=MAX_TURNS, required=True)


class CallStatusCallback(_VoiceRequest):
    """A call's status (POST /webhooks/twilio/voice/status): completed, busy, no-answer…"""

    CallDuration = WholeNumber(minimum=0, maximum=10**7, load_default=None)


INCOMING_CALL = IncomingCall()
SPEECH_RESULT = SpeechResult()
CALL_STATUS = CallStatusCallback()


#: The events a real-time transcription posts to its statusCallbackUrl.
TRANSCRIPTION_EVENTS = ("transcription-started", "transcription-content", "transcription-stopped",
                        "transcription-error")
TRANSCRIPTION_TRACKS = ("inbound_track", "outbound_track")


class TranscriptionCallback(Schema):
    """A live transcription's callback (<Start><Transcription statusCallbackUrl=…>,
    POST /webhooks/twilio/voice/transcription): started, one per utterance
    (``TranscriptionData`` a JSON text with ``transcript`` and ``confidence``), stopped.
    No From or To: the account is found by AccountSid, the call by CallSid."""

    class Meta:
        unknown = INCLUDE

    AccountSid = fields.String(required=True, validate=_PRESENT)
    CallSid = fields.String(required=True, validate=_PRESENT)
    TranscriptionSid = fields.String(required=True, validate=validate.Length(min=1, max=40))
    TranscriptionEvent = fields.String(required=True, validate=validate.OneOf(
        TRANSCRIPTION_EVENTS, error="must be one of " + ", ".join(TRANSCRIPTION_EVENTS) + ", got {input!r}"))
    SequenceId = WholeNumber(minimum=0, maximum=10**9, required=True)
    #: both_tracks on the started event; the track an utterance was heard on in a content one.
    Track = fields.String(validate=validate.OneOf((*TRANSCRIPTION_TRACKS, "both_tracks"),
                                                  error="must be inbound_track, outbound_track or both_tracks, "
                                                        "got {input!r}"))
    Final = fields.String(validate=validate.OneOf(("true", "false"), error="must be true or false, got {input!r}"))
    TranscriptionData = fields.String()

    @validates_schema
    def _content_has_its_text(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        if data.get("TranscriptionEvent") != "transcription-content":
            return
        problems: dict[str, list[str]] = {}
        if data.get("Track") not in TRANSCRIPTION_TRACKS:
            problems["Track"] = ["must be inbound_track or outbound_track in a transcription-content event"]
        if "TranscriptionData" not in data:
            problems["TranscriptionData"] = ["is missing"]
        else:
            try:
                transcript_of(data["TranscriptionData"])
            except ValueError as exc:
                problems["TranscriptionData"] = [str(exc)]
        if problems:
            raise ValidationError(problems)


def transcript_of(data: str) -> tuple[str, float | None]:
    """The text and confidence of a TranscriptionData JSON text; ValueError saying what is wrong."""
    try:
        value = loads_json(data, "TranscriptionData")
    except ValueError as exc:
        raise ValueError(f"must be a JSON object like {{\"transcript\": \"…\", \"confidence\": 0.9}} ({exc})") from None
    if not isinstance(value, dict) or not isinstance(value.get("transcript"), str):
        raise ValueError(f"must be a JSON object with a transcript text, got {type_name(value)}")
    confidence = value.get("confidence")
    if confidence is not None and (isinstance(confidence, bool) or not isinstance(confidence, int | float)
                                   or not 0.0 <= confidence <= 1.0):
        raise ValueError("confidence must be a number from 0 to 1")
    return value["transcript"], (float(confidence) if confidence is not None else None)


TRANSCRIPTION_CALLBACK = TranscriptionCallback()
