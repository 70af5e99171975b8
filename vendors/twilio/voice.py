"""Twilio Voice: the URLs set on the number for calls, answered with TwiML.

Unlike a message, a call waits for our answer: Twilio plays what we return. So these
views do one thing more than the messaging ones. Each still verifies the signature,
checks the parameters and records the turn in the inbox first (keyed by CallSid and
turn, so Twilio's retry is one event); then it decides in-process what the caller
hears (core/calls/voice.py: our database and the local engine only) and returns it as
TwiML made by twilio's own VoiceResponse. The slow half (the Zendesk ticket, an SMS)
is the same inbox event's work in the worker, so an outage there never holds up a call.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from flask import Flask, Response, current_app, request
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

from switchboard.core.calls import voice
from switchboard.core.customers.identity import InvalidAddress, to_e164
from switchboard.core.errors import MalformedPayload
from switchboard.core.store import inbox
from switchboard.core.store.models import Account, InboxEvent
from switchboard.core.warmup import warm_up
from switchboard.intake import db, enqueue
from switchboard.intake.inbox import accept, storable
from switchboard.intake.payloads import load
from switchboard.vendors.twilio.schemas import CALL_STATUS, INCOMING_CALL, MAX_TURNS, SPEECH_RESULT
from switchboard.vendors.twilio.transcription import callback_url, start_transcription
from switchboard.vendors.twilio.view import _form, _verified_account, blueprint

log = logging.getLogger("switchboard.vendors.webhooks.voice")
GATHER_PATH = "/webhooks/twilio/voice/gather"
#: Accounts whose models this process has started loading (see _warm_up).
_warming: set[int] = set()
_warming_lock = threading.Lock()
WARM_UP_DELAY_SECONDS = 0.5


def _warm_up(app: Flask, account_id: int) -> None:
    """Load the models a turn needs while the caller listens to the greeting.

    A web process that never answered a message has not loaded the language models,
    the account's intent model and its knowledge index: the first turn would wait
    ~9.5 s for them (bench/voice_turn.py), close to Twilio's 15 s. The greeting and the
    caller's answer take about that long, so loading starts on a thread at the first
    call. It holds up this process's other requests while it loads, once per process;
    `switchboard serve` loads everything before it starts instead. Off under TESTING
    unless VOICE_WARM_UP is set (tests share one database file)."""
    if not app.config.get("VOICE_WARM_UP", not app.testing):
        return
    with _warming_lock:
        if account_id in _warming:
            return
        _warming.add(account_id)

    def load() -> None:
        with app.app_context(), db.get_db(app).session() as session:
            try:
                for loaded in warm_up(session, account_id, app.config["SETTINGS"]):
                    log.info("voice warm-up: %s loaded in %.1f s", loaded.what, loaded.seconds)
            except Exception as exc:  # noqa: BLE001 - the turn loads what it needs itself
                log.warning("voice warm-up failed, the first turn will load the models: %s", type(exc).__name__)

    # Some of the loading holds the GIL for seconds (the language detector is built in
    # Rust): starting a moment later lets the greeting's response go out first.
    timer = threading.Timer(WARM_UP_DELAY_SECONDS, load)
    timer.name, timer.daemon = "switchboard-voice-warm-up", True
    timer.start()


def render(reply: voice.VoiceReply, transcription_url: str | None = None) -> str:
    """The reply as TwiML: speak and listen (<Gather input="speech">, whose result
    comes back to the gather URL with the next turn number, even when nothing was said),
    speak and put through (<Dial><Number> to the support line, or <Enqueue> into a
    TaskRouter/queue, which is how a caller joins a queue; <Dial><Queue> is the agent's
    side), or speak and hang up. With ``transcription_url``, a caller put through to the
    support line is transcribed live for the agent's sidebar (transcription.py)."""
    response = VoiceResponse()
    say = {"voice": reply.voice_name, "language": reply.language}
    if reply.then == "gather":
        gather = response.gather(input="speech", action=f"{GATHER_PATH}?turn={reply.next_turn}", method="POST",
                                 language=reply.language, speech_timeout="auto", action_on_empty_result=True)
        gather.say(reply.say, **say)
    elif reply.then == "connect":
        response.say(reply.say, **say)
        if transcription_url and (reply.support_number or reply.support_queue):
            # On the caller's leg: whoever answers (the number dialled, or the agent who
            # takes the call off the queue) is its other track.
            start_transcription(response, url=transcription_url, language=reply.language)
        if reply.support_number:
            response.dial().number(reply.support_number)
        elif reply.support_queue:
            response.enqueue(reply.support_queue)
    else:
        response.say(reply.say, **say)
        response.hangup()
    return str(response)


def _twiml(reply: voice.VoiceReply, *, transcribe: bool) -> Response:
    return Response(render(reply, callback_url() if transcribe else None), status=200, mimetype="text/xml")


def _answer(account: Account, event: InboxEvent, created: bool,
            decide: Callable[[Session], voice.VoiceReply], *, transcribe: bool = True) -> Response:
    """Decide what the caller hears, commit it, then hand the event to the worker.
    The caller is listening: if deciding fails, they are put through to a person (or
    promised a call back) rather than hearing Twilio's error message, and the worker
    retries the recorded turn."""
    session = db.session()
    try:
        reply = decide(session)
        session.commit()
    except Exception as exc:  # noqa: BLE001 - any failure must still give the caller an answer
        session.rollback()
        log.warning("voice turn %s could not be answered in-process, putting the caller through: %s",
                    event.id, type(exc).__name__)
        options = voice.options_for(account, current_app.config["SETTINGS"])
        reply = voice.fallback_reply(options)
    if created:
        enqueue.event(event.id)
    return _twiml(reply, transcribe=transcribe)


def _record(account: Account, kind: str, key: str, payload: dict[str, str]) -> tuple[InboxEvent, bool]:
    return inbox.record(db.session(), account_id=account.id, vendor="twilio", kind=kind,
                        dedupe_key=storable(key), payload=storable(payload))


@blueprint.post("/voice")
def incoming_call() -> Response:
    form = _form()
    account = _verified_account(form)
    payload = form.to_dict(flat=True)
    load(INCOMING_CALL, payload)
    event, created = _record(account, "twilio.voice", payload["CallSid"], payload)
    settings = current_app.config["SETTINGS"]
    call = voice.Call(call_sid=payload["CallSid"], caller=payload["From"], called=payload["To"])
    try:
        to_e164(call.caller)
    except InvalidAddress:
        # A hidden caller has no conversation for a transcript to join: not transcribed.
        return _answer(account, event, created, lambda _: voice.hidden_number_reply(voice.options_for(account,
                                                                                                      settings)),
                       transcribe=False)
    answer = _answer(account, event, created, lambda session: voice.call_started(session, event, settings, call))
    _warm_up(current_app._get_current_object(), account.id)  # type: ignore[attr-defined]  # after: not in its way
    return answer


@blueprint.post("/voice/gather")
def speech() -> Response:
    form = _form()
    account = _verified_account(form)
    turn = request.args.get("turn", "")
    if not (turn.isascii() and turn.isdigit() and 1 <= int(turn) <= MAX_TURNS):
        raise MalformedPayload(f"turn: must be the turn number from 1 to {MAX_TURNS} that Switchboard put in the "
                               f"<Gather> action URL, got {turn[:20]!r}")
    payload = {**form.to_dict(flat=True), "switchboard_turn": turn}
    checked = load(SPEECH_RESULT, payload)
    try:
        to_e164(checked["From"])
    except InvalidAddress as exc:
        raise MalformedPayload(f"From: {exc}; only calls from a number are gathered") from None
    event, created = _record(account, "twilio.voice.speech", f"{checked['CallSid']}:{turn}", payload)
    settings = current_app.config["SETTINGS"]
    said = voice.SpeechTurn(call=voice.Call(call_sid=checked["CallSid"], caller=checked["From"], called=checked["To"]),
                            turn=int(turn), speech=checked["SpeechResult"], confidence=checked["Confidence"])
    return _answer(account, event, created, lambda session: voice.speech_turn(session, event, settings, said))


@blueprint.post("/voice/status")
def call_status() -> Response:
    form = _form()
    account = _verified_account(form)
    payload = form.to_dict(flat=True)
    load(CALL_STATUS, payload)
    accept(account, vendor="twilio", kind="twilio.voice.status",
           dedupe_key=f"{payload['CallSid']}:{payload['CallStatus']}", payload=payload)
    return Response(status=204)
