"""`switchboard calls`: play a phone call put through to an agent, as Twilio would
deliver it, so the live call card can be watched in `switchboard zendesk preview`.

A played call takes the real path: the incoming call, the caller asking for a person
(the bot puts them through and opens the ticket), the live transcription's callbacks
one utterance at a time, and the completed call's status (the after-call note). With a
Twilio auth token configured, each is posted to the running Switchboard signed with it,
exactly as Twilio signs. Without one (the sandboxed default, which no real Twilio can
reach), there is no signature to check: the deliveries are recorded in the inbox and
processed here, as the playground does, after the same checks and redaction.
"""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import click
from twilio.request_validator import RequestValidator

from switchboard.cli.base import ACCOUNT_OPTION, account_named, main, open_app
from switchboard.core.resources import data_file

if TYPE_CHECKING:  # imported where used: `switchboard --help` need not load the models
    from flask import Flask

    from switchboard.core.store.models import Account

SAMPLE_CALL = data_file("sample_call.txt")
SPEAKERS = {"caller": "inbound_track", "customer": "inbound_track", "agent": "outbound_track"}
VOICE = "/webhooks/twilio/voice"
#: (URL path, parameters, event kind, dedupe key) of one delivery.
Post = Callable[[str, dict[str, str], str, str], None]


class ScriptFileError(click.ClickException):
    """A line of the call file that is not "caller: …" or "agent: …"."""

@dataclass(frozen=True)
class Utterance:
    track: str
    text: str


def read_call(path: Path) -> list[Utterance]:
    """The utterances of a call file: "caller: …" / "agent: …" a line; # comments."""
    said = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        speaker, sep, text = line.partition(":")
        if not sep or speaker.strip().lower() not in SPEAKERS or not text.strip():
            raise ScriptFileError(f"{path}:{number}: write each line as \"caller: what they say\" or "
                                  f"\"agent: what they say\", got {line[:60]!r}")
        said.append(Utterance(SPEAKERS[speaker.strip().lower()], text.strip()))
    if not said:
        raise ScriptFileError(f"{path}: no \"caller:\" or \"agent:\" lines to play")
    return said


@main.group()
def calls() -> None:
    """Phone calls put through to an agent (live transcription, the sidebar's live call card)."""

@calls.command("play")
@click.argument("call_file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--url", default="http://127.0.0.1:8000", show_default=True,
              help="The running Switchboard (used when a Twilio auth token is configured).")
@click.option("--caller", default="+15550100077", show_default=True, help="The number the call comes from.")
@click.option("--pace", default=1.0, show_default=True, type=float,
              help="Seconds between utterances, to watch the card fill in; 0 to play at once.")
@click.option("--ask", default="I'd like to talk to a person, please.", show_default=True,
              help="What the caller says to the bot to be put through.")
@ACCOUNT_OPTION
def calls_play(call_file: Path | None, url: str, caller: str, pace: float, ask: str, slug: str) -> None:
    """Play CALL_FILE (default: a shipped sample) as a transcribed call put through to an agent."""
    said = read_call(call_file or SAMPLE_CALL)
    app = open_app()
    account = account_named(app, slug)
    settings = app.config["SETTINGS"]
    token = _auth_token(app, account)
    if token:
        post = _signed_poster(url.rstrip("/"), settings.public_url or url.rstrip("/"), token)
        click.echo(f"Posting the call to {url}, signed with the account's Twilio auth token.")
    else:
        # Imported when the command runs, not at the top: `switchboard --help` need not load them.
        from switchboard.wiring import sandboxed_vendors

        if "twilio" not in sandboxed_vendors(account, settings):
            raise click.ClickException("set TWILIO_AUTH_TOKEN (or `switchboard accounts set-secret`) so the call "
                                       "can be signed as Twilio signs it")
        post = _recorder(app, account)
        click.echo("Twilio is sandboxed without an auth token: recording the call's deliveries here, as the "
                   "playground does.")
    call_sid = "CA" + uuid.uuid4().hex
    play(post, account, said, call_sid=call_sid, caller=caller, ask=ask, pace=pace,
         echo=click.echo, ticket=lambda: _ticket(app, account.id, call_sid))


def play(post: Post, account: Account, said: list[Utterance], *, call_sid: str, caller: str, ask: str,
         pace: float, echo: Callable[[str], None], ticket: Callable[[], int | None]) -> None:
    """Deliver one call: the bot's two turns, the transcription's callbacks, the end."""
    call = {"CallSid": call_sid, "AccountSid": account.twilio_account_sid or "AC" + "0" * 32, "From": caller,
            "To": account.twilio_phone_number or "+15005550006", "Direction": "inbound"}
    post(VOICE, {**call, "CallStatus": "ringing"}, "twilio.voice", call_sid)
    post(f"{VOICE}/gather?turn=1", {**call, "CallStatus": "in-progress", "SpeechResult": ask, "Confidence": "0.95",
                                    "switchboard_turn": "1"}, "twilio.voice.speech", f"{call_sid}:1")
    found = _wait_for(ticket)
    echo(f"Call {call_sid} put through; " + (f"ticket #{found}: open it in `switchboard zendesk preview --ticket "
                                               f"{found}`." if found else "no ticket yet (is the worker running?)."))
    transcription = {"AccountSid": call["AccountSid"], "CallSid": call_sid,
                     "TranscriptionSid": "GT" + uuid.uuid4().hex}
    kind = "twilio.voice.transcription"
    post(f"{VOICE}/transcription", {**transcription, "SequenceId": "1", "TranscriptionEvent": "transcription-started",
                                    "Track": "both_tracks", "LanguageCode": "en-US"}, kind, "")
    for sequence, utterance in enumerate(said, 2):
        time.sleep(pace)
        post(f"{VOICE}/transcription", {
            **transcription, "SequenceId": str(sequence), "TranscriptionEvent": "transcription-content",
            "Track": utterance.track, "LanguageCode": "en-US", "Final": "true",
            "TranscriptionData": json.dumps({"transcript": utterance.text, "confidence": 0.95})}, kind, "")
        echo(f"  {'caller' if utterance.track == 'inbound_track' else 'agent '}: {utterance.text}")
    post(f"{VOICE}/transcription", {**transcription, "SequenceId": str(len(said) + 2),
                                    "TranscriptionEvent": "transcription-stopped"}, kind, "")
    post(f"{VOICE}/status", {**call, "CallStatus": "completed", "CallDuration": str(int(pace * len(said)) + 30)},
         "twilio.voice.status", f"{call_sid}:completed")
    echo("Call completed: the after-call note is on the ticket (the sandboxed Zendesk's outbox).")


def _wait_for(ticket: Callable[[], int | None], seconds: float = 15.0) -> int | None:
    """The call's ticket, which the worker opens after the bot puts the caller through."""
    deadline = time.monotonic() + seconds
    while True:
        found = ticket()
        if found is not None or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def _ticket(app: Flask, account_id: int, call_sid: str) -> int | None:
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.calls.transcript import call_conversation
    from switchboard.intake.db import get_db

    with get_db(app).session() as session:
        conversation = call_conversation(session, account_id, call_sid)
        return conversation.zendesk_ticket_id if conversation is not None else None


def _auth_token(app: Flask, account: Account) -> str | None:
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.accounts import secret

    return secret(account, "twilio_auth_token", app.config["SETTINGS"])


def _signed_poster(base: str, public: str, token: str) -> Post:
    """Posts as Twilio does: form-encoded, X-Twilio-Signature over the public URL."""

    validator = RequestValidator(token)

    def post(path: str, params: dict[str, str], _kind: str, _key: str) -> None:
        params = {k: v for k, v in params.items() if k != "switchboard_turn"}  # ours, from the URL
        request = urllib.request.Request(base + path, data=urlencode(params).encode(), method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": validator.compute_signature(public + path, params)})
        try:
            with urllib.request.urlopen(request, timeout=30):  # noqa: S310 - the URL the user gave
                pass
        except urllib.error.HTTPError as exc:
            raise click.ClickException(f"{path}: Switchboard answered {exc.code} "
                                       f"{exc.read().decode(errors='replace')[:300]}") from None
        except urllib.error.URLError as exc:
            raise click.ClickException(f"cannot reach {base} ({exc.reason}): start `switchboard serve` first, or "
                                       "pass --url") from None

    return post


def _recorder(app: Flask, account: Account) -> Post:
    """Records each delivery in the inbox and processes it now (the playground's path),
    after the checks and the redaction the webhook applies."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard import tasks
    from switchboard.core.store import inbox
    from switchboard.intake.db import get_db
    from switchboard.vendors.twilio.transcription import storable_callback

    def post(path: str, params: dict[str, str], kind: str, key: str) -> None:
        with app.app_context(), get_db(app).session() as session:
            payload = params
            if kind == "twilio.voice.transcription":
                key, payload = storable_callback(params, account, app.config["SETTINGS"])
            event, _ = inbox.record(session, account_id=account.id, vendor="twilio", kind=kind, dedupe_key=key,
                                    payload=payload)
            inbox.process(session, event.id, tasks.handlers())

    return post
