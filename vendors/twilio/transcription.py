"""Live transcription of a call put through to a person: the TwiML that starts it, and
the URL its callbacks arrive at.

When the bot puts a caller through (<Dial>), the TwiML first starts Twilio's real-time
transcription of both tracks of the caller's leg, in the caller's language, final
results only. Each callback is verified like every Twilio request, checked, redacted
here (the inbox never holds what the caller read out), recorded once per transcription
and sequence number, and left to the worker (vendors/twilio/events.py, core/calls/).
"""
from __future__ import annotations

import json

from flask import Response, current_app, request
from twilio.twiml.voice_response import VoiceResponse

from switchboard.core.calls.transcript import redact_utterance
from switchboard.core.customers.identity import company_region
from switchboard.core.settings import Settings
from switchboard.core.store.models import Account
from switchboard.intake.inbox import accept
from switchboard.intake.payloads import load
from switchboard.vendors.twilio.schemas import TRANSCRIPTION_CALLBACK, transcript_of
from switchboard.vendors.twilio.view import _form, _verified_account, blueprint

TRANSCRIPTION_PATH = "/webhooks/twilio/voice/transcription"
KIND = "twilio.voice.transcription"


def callback_url() -> str:
    """The absolute URL Twilio posts transcriptions to: the public one when configured
    (the URL signatures are checked against), else the one this request came in on."""
    base = current_app.config["SETTINGS"].public_url or request.host_url.rstrip("/")
    return base + TRANSCRIPTION_PATH


def start_transcription(response: VoiceResponse, *, url: str, language: str) -> None:
    """<Start><Transcription> of both tracks, before the <Dial>: Twilio keeps going to
    the next verb at once, so the caller is put through without waiting for it."""
    response.start().transcription(status_callback_url=url, status_callback_method="POST", track="both_tracks",
                                   partial_results=False, language_code=language,
                                   inbound_track_label="customer", outbound_track_label="agent")


@blueprint.post("/voice/transcription")
def transcription() -> Response:
    form = _form()
    account = _verified_account(form)
    payload = form.to_dict(flat=True)
    key, stored = storable_callback(payload, account, current_app.config["SETTINGS"])
    accept(account, vendor="twilio", kind=KIND, dedupe_key=key, payload=stored)
    return Response(status=204)


def storable_callback(payload: dict[str, str], account: Account, settings: Settings) -> tuple[str, dict[str, str]]:
    """The callback checked (MalformedPayload naming the field), its dedupe key, and
    what may be stored of it: the utterance redacted, with the kinds removed. The
    signature was checked on what Twilio sent; nothing keeps the original."""
    checked = load(TRANSCRIPTION_CALLBACK, payload)
    stored = dict(payload)
    if checked["TranscriptionEvent"] == "transcription-content":
        text, confidence = transcript_of(checked["TranscriptionData"])
        redacted = redact_utterance(text, regions=(company_region(settings, account.twilio_phone_number),))
        stored["TranscriptionData"] = json.dumps({"transcript": redacted.text, "confidence": confidence})
        stored["switchboard_redactions"] = json.dumps(redacted.kinds)
    return f"{checked['TranscriptionSid']}:{checked['TranscriptionEvent']}:{checked['SequenceId']}", stored
