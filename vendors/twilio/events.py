"""What each kind of Twilio event (messages and calls) does once processed: the stored form, read with the
schema the webhook checked it with, handed to the core in its own terms."""
from __future__ import annotations

import json

from sqlalchemy.orm import Session

from switchboard.core import use_cases
from switchboard.core.calls import after_call, transcript, voice
from switchboard.core.customers.identity import InvalidAddress
from switchboard.core.settings import Settings
from switchboard.core.store.models import InboxEvent
from switchboard.core.use_cases import CustomerMessage, VendorHandler
from switchboard.intake.payloads import load
from switchboard.vendors.twilio.schemas import (
    CALL_STATUS,
    INBOUND_MESSAGE,
    INCOMING_CALL,
    SPEECH_RESULT,
    STATUS_CALLBACK,
    TRANSCRIPTION_CALLBACK,
    transcript_of,
)


def on_message(session: Session, event: InboxEvent, settings: Settings) -> None:
    form = load(INBOUND_MESSAGE, event.payload, context=event.kind)
    media = [form[f"MediaUrl{i}"] for i in range(form["NumMedia"] or 0) if f"MediaUrl{i}" in form]
    use_cases.customer_message(session, event, settings, CustomerMessage(
        external_id=form["MessageSid"], sender=form["From"], to=form["To"], body=form["Body"], media=media,
        wa_id=form.get("WaId"), profile_name=form.get("ProfileName")))


def on_status(session: Session, event: InboxEvent, settings: Settings) -> None:
    form = load(STATUS_CALLBACK, event.payload, context=event.kind)
    use_cases.delivery_status(session, event, settings, external_id=form["MessageSid"],
                               status=form["MessageStatus"], error_code=form.get("ErrorCode"))


def _call(form: dict[str, str]) -> voice.Call:
    return voice.Call(call_sid=form["CallSid"], caller=form["From"], called=form["To"])


def on_call(session: Session, event: InboxEvent, settings: Settings) -> None:
    """The greeting was decided in the request (voice.py): this finds it and does the
    slow half (a note on the ticket of a caller already with a person)."""
    call = _call(load(INCOMING_CALL, event.payload, context=event.kind))
    try:
        voice.call_started(session, event, settings, call)
    except InvalidAddress:
        use_cases.recorded_only(session, event, settings)  # a hidden number: put through, nothing to link
        return
    voice.follow_through(session, event, settings, call.call_sid, 0)


def on_speech(session: Session, event: InboxEvent, settings: Settings) -> None:
    """What the caller said, answered in the request; the handoff ticket, callback
    request and SMS link go out from here, through the outbox."""
    form = load(SPEECH_RESULT, event.payload, context=event.kind)
    turn = voice.SpeechTurn(call=_call(form), turn=form["switchboard_turn"], speech=form["SpeechResult"],
                            confidence=form["Confidence"])
    voice.speech_turn(session, event, settings, turn)
    voice.follow_through(session, event, settings, turn.call.call_sid, turn.turn)


def on_call_status(session: Session, event: InboxEvent, settings: Settings) -> None:
    form = load(CALL_STATUS, event.payload, context=event.kind)
    voice.call_ended(session, event, call_sid=form["CallSid"], status=form["CallStatus"],
                     duration=form["CallDuration"])
    if form["CallStatus"] == "completed":
        after_call.after_call(session, event, settings, call_sid=form["CallSid"], status=form["CallStatus"],
                              duration=form["CallDuration"])


def on_transcription(session: Session, event: InboxEvent, settings: Settings) -> None:
    """A live transcription's callback, redacted at the door, joins the call's timeline."""
    form = load(TRANSCRIPTION_CALLBACK, event.payload, context=event.kind)
    text, confidence = transcript_of(form["TranscriptionData"]) if "TranscriptionData" in form else ("", None)
    redactions = json.loads(form.get("switchboard_redactions") or "{}")
    transcript.take_line(session, event, settings, transcript.TranscriptLine(
        call_sid=form["CallSid"], transcription_sid=form["TranscriptionSid"], sequence=form["SequenceId"],
        event=form["TranscriptionEvent"], track=form.get("Track"), text=text, confidence=confidence,
        final=form.get("Final", "true") == "true", redactions=redactions))


#: Registered in create_app.
HANDLERS: dict[str, VendorHandler] = {
    "twilio.message": on_message,
    "twilio.status": on_status,
    "twilio.voice": on_call,
    "twilio.voice.speech": on_speech,
    "twilio.voice.status": on_call_status,
    "twilio.voice.transcription": on_transcription,
}
