"""Agent assist on a live call, end to end: the caller is put through by the voice bot,
Twilio's real-time transcription posts signed callbacks, the sidebar API shows the live
card (transcript, intent, suggestions, script checklist), and the call's completion puts
one after-call note on the ticket through the sandboxed Zendesk connector."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from switchboard.core.calls import voice
from switchboard.core.calls.after_call import note_idempotency_key
from switchboard.core.calls.script import LINE_CHECKS, Flag
from switchboard.core.errors import ConfigError
from switchboard.core.store.models import AuditEntry, Conversation, ConversationScore, InboxEvent, Message, OutboxCall
from switchboard.intake.db import get_db
from switchboard.vendors.twilio.voice import render

from ...assist.test_sidebar_api import key_for
from ...conftest import PUBLIC_URL
from ...signing import VendorClient, fixture
from .test_voice import CALL, SUPPORT_LINE, call, make_app, say, signed

TRANSCRIPTION_URL = "/webhooks/twilio/voice/transcription"
_sequence = count(10)


@pytest.fixture
def line(env: dict[str, str]) -> Iterator[Flask]:
    app = make_app(env, SWITCHBOARD_VOICE_SUPPORT_NUMBER=SUPPORT_LINE)
    yield app
    get_db(app).dispose()


def put_through(client: VendorClient) -> Any:
    """A caller asks the bot for a person and is put through; the TwiML Twilio plays."""
    call(client)
    return say(client, "I want to speak to an agent", turn=1)


def heard(client: VendorClient, text: str, *, track: str = "inbound_track", sequence: int | None = None,
          **changes: str) -> Any:
    """Twilio's callback for one final utterance on ``track``, signed."""
    params = {**fixture("twilio", "voice_transcription_content.json"), "Track": track,
              "SequenceId": str(sequence if sequence is not None else next(_sequence)),
              "TranscriptionData": json.dumps({"transcript": text, "confidence": 0.93}), **changes}
    return client.twilio(TRANSCRIPTION_URL, params)


def ticket_of(app: Flask) -> int:
    with get_db(app).session() as session:
        ticket = session.scalars(select(Conversation)).one().zendesk_ticket_id
    assert ticket is not None
    return ticket


def card(app: Flask, client: VendorClient) -> dict[str, Any]:
    response = client.client.get(f"/api/sidebar/tickets/{ticket_of(app)}/call",
                                 headers={"Authorization": f"Bearer {key_for(app)}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def transcript(app: Flask) -> list[Message]:
    with get_db(app).session() as session:
        return [m for m in session.scalars(select(Message).order_by(Message.id)) if m.meta.get("transcript")]


def notes(app: Flask, call_sid: str = CALL) -> list[OutboxCall]:
    with get_db(app).session() as session:
        return list(session.scalars(select(OutboxCall).where(
            OutboxCall.idempotency_key == note_idempotency_key(call_sid))))


def test_the_transfer_starts_live_transcription_of_both_tracks_before_the_dial(line: Flask) -> None:
    root = put_through(signed(line))

    assert [child.tag for child in root] == ["Say", "Start", "Dial"]
    [transcription] = root.find("Start")  # type: ignore[union-attr]
    assert transcription.tag == "Transcription"
    assert transcription.attrib["statusCallbackUrl"] == PUBLIC_URL + TRANSCRIPTION_URL
    assert (transcription.attrib["track"], transcription.attrib["partialResults"],
            transcription.attrib["languageCode"]) == ("both_tracks", "false", "en-US")


def test_a_caller_put_into_the_support_queue_is_transcribed_too() -> None:
    root = ET.fromstring(render(voice.VoiceReply(voice.CONNECTING, "connect", "es-ES", support_queue="support"),
                                PUBLIC_URL + TRANSCRIPTION_URL))
    assert [child.tag for child in root] == ["Say", "Start", "Enqueue"]
    [transcription] = root.find("Start")  # type: ignore[union-attr]
    assert (transcription.attrib["track"], transcription.attrib["languageCode"]) == ("both_tracks", "es-ES")


def test_a_hidden_caller_is_put_through_without_a_transcript_nobody_could_file(line: Flask) -> None:
    root = call(signed(line), From="Anonymous", Caller="Anonymous")

    assert [child.tag for child in root] == ["Say", "Dial"]


def test_a_spanish_caller_is_transcribed_in_spanish(line: Flask) -> None:
    client = signed(line)
    sms = {**fixture("twilio", "inbound_sms.json"),
           "Body": "Hola, ¿cuánto tarda el envío a Madrid? Necesito saberlo antes del viernes, gracias."}
    client.twilio("/webhooks/twilio/messages", sms)

    call(client)
    root = say(client, "Quiero hablar con una persona, por favor.", turn=1)

    transcription = root.find("Start/Transcription")
    assert transcription is not None and transcription.attrib["languageCode"] == "es-ES"


def test_lines_join_the_timeline_by_speaker_redacted_and_once(line: Flask) -> None:
    client = signed(line)
    put_through(client)
    assert client.deliver("twilio", "voice_transcription_started.json").status_code == 204
    said = "my card is four one one one, one one one one, one one one one, one one one one"

    assert heard(client, said, sequence=3).status_code == 204
    assert heard(client, said, sequence=3).status_code == 204  # Twilio's retry
    assert heard(client, "Thanks, I can help with that.", track="outbound_track").status_code == 204
    heard(client, "you can email me at sam dot rivera at example dot com")

    caller, agent, email = transcript(line)
    assert (caller.author, caller.direction, agent.author, agent.direction) == ("customer", "inbound", "agent",
                                                                                "outbound")
    assert caller.body == "my card is [CARD]" and caller.meta["redactions"] == {"card": 1}
    assert email.body == "you can email me at [EMAIL]"
    with get_db(line).session() as session:
        stored = [e.payload for e in session.scalars(select(InboxEvent).where(
            InboxEvent.kind == "twilio.voice.transcription"))]
    assert len(stored) == 4  # started, the caller's line once, the agent's line, the address
    assert not any(said in json.dumps(p) or "4111" in json.dumps(p) or "rivera" in json.dumps(p) for p in stored)


def test_forged_and_malformed_callbacks_are_refused_and_nothing_is_stored(line: Flask) -> None:
    client = signed(line)
    put_through(client)
    params = {**fixture("twilio", "voice_transcription_content.json")}

    forged = client.twilio(TRANSCRIPTION_URL, params, token="0" * 32)
    not_json = heard(client, "x", TranscriptionData="the caller said hello")
    no_track = client.twilio(TRANSCRIPTION_URL, {k: v for k, v in params.items() if k != "Track"})
    unknown_event = heard(client, "x", TranscriptionEvent="transcription-paused")

    assert forged.status_code == 403
    assert not_json.status_code == 400 and "TranscriptionData" in not_json.get_json()["error"]
    assert no_track.status_code == 400 and "Track" in no_track.get_json()["error"]
    assert unknown_event.status_code == 400 and "TranscriptionEvent" in unknown_event.get_json()["error"]
    with get_db(line).session() as session:
        assert session.scalars(select(InboxEvent).where(InboxEvent.kind == "twilio.voice.transcription")).all() == []


def test_a_suggestion_for_the_callers_question_is_in_the_sidebar_after_one_callback(line: Flask) -> None:
    client = signed(line)
    put_through(client)

    heard(client, "How long does delivery usually take to arrive?")

    live = card(line, client)
    assert live["status"] == "live" and live["call_sid"] == CALL
    assert [(entry["speaker"], entry["text"]) for entry in live["transcript"]] == [
        ("customer", "How long does delivery usually take to arrive?")]
    assert any("2 to 4 working days" in s["text"] and s["sources"] for s in live["suggestions"])
    assert live["intent"]["name"]
    whole = client.client.get(f"/api/sidebar/tickets/{ticket_of(line)}",
                              headers={"Authorization": f"Bearer {key_for(line)}"}).get_json()
    assert whole["call"]["transcript"] == live["transcript"]

    heard(client, "No, that's all. Thanks!")  # asks nothing: the answers and the topic stand
    heard(client, "My card is 4111 1111 1111 1111 if you need it.")  # details read out, not a question

    later = card(line, client)
    assert [s["id"] for s in later["suggestions"]] == [s["id"] for s in live["suggestions"]]
    assert later["intent"]["name"] == live["intent"]["name"]


def test_the_script_is_ticked_as_the_agent_says_it_and_flagged_when_late(line: Flask) -> None:
    client = signed(line)
    put_through(client)
    heard(client, "Hi, I never got my refund for the blue jacket I returned.")
    heard(client, "Hello, this call may be recorded for quality purposes.", track="outbound_track")
    heard(client, "I can see your order was returned last week.", track="outbound_track")
    heard(client, "Could you confirm your full name for me?", track="outbound_track")

    checklist = {item["id"]: item for item in card(line, client)["checklist"]}

    assert checklist["recording_notice"]["done"] and not checklist["recording_notice"]["late"]
    assert checklist["identity_check"]["done"] and checklist["identity_check"]["late"]
    assert "refund_disclaimer" in checklist and not checklist["refund_disclaimer"]["done"]


def test_after_the_call_one_note_flags_the_missing_script_line_with_promises_and_transcript(line: Flask) -> None:
    client = signed(line)
    put_through(client)
    heard(client, "Where is my parcel? It was meant to come on Monday.")
    heard(client, "This call is recorded for training. I'll send you the tracking link by text today.",
          track="outbound_track")

    assert client.deliver("twilio", "voice_transcription_stopped.json").status_code == 204
    assert client.deliver("twilio", "voice_status_completed.json").status_code == 204
    assert client.deliver("twilio", "voice_status_completed.json").status_code == 204  # redelivered

    [note] = notes(line)
    comment = note.payload["ticket"]["comment"]
    assert comment["public"] is False
    body = comment["body"]
    assert "Where is my parcel?" in body and "Agent: This call is recorded" in body
    assert "- I'll send you the tracking link by text today" in body
    assert "[x] Recording notice" in body and "Identity check before account details — MISSING" in body
    assert "call_script_missing" in note.payload["ticket"]["additional_tags"]
    assert card(line, client)["status"] == "ended"
    with get_db(line).session() as session:  # scored like any other conversation that ended, once
        [score] = session.scalars(select(ConversationScore)).all()
        assert score.ended_by == "call_ended" and score.automation == "handed_over"
        assert {c["criterion"] for c in score.criteria}


def test_a_call_nobody_transcribed_gets_no_after_call_note(line: Flask) -> None:
    client = signed(line)
    put_through(client)

    client.deliver("twilio", "voice_status_completed.json")

    assert notes(line) == []


def test_a_transcript_of_a_call_never_answered_here_is_recorded_and_audited_only(line: Flask) -> None:
    client = signed(line)

    assert heard(client, "hello?", CallSid="CA" + "9" * 32).status_code == 204

    assert transcript(line) == []
    with get_db(line).session() as session:
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "calls.transcript_unmatched")).one()


def test_a_script_of_the_companys_own_is_followed(env: dict[str, str], tmp_path: Path) -> None:
    own = tmp_path / "script.yaml"
    own.write_text("version: 1\nlines:\n  - id: thanks\n    label: Thank the caller\n    says: ['thank you for "
                   "calling']\n")
    app = make_app(env, SWITCHBOARD_VOICE_SUPPORT_NUMBER=SUPPORT_LINE, SWITCHBOARD_CALL_SCRIPT_FILE=str(own))
    client = signed(app)
    put_through(client)
    heard(client, "Thank you for calling, how can I help?", track="outbound_track")

    assert card(app, client)["checklist"] == [{"id": "thanks", "label": "Thank the caller", "done": True,
                                               "late": False}]
    get_db(app).dispose()


class PromiseWatch:
    """A guardrail as the quality checks would plug in: flags "guarantee" in what the agent says."""

    name = "promise_watch"

    def check(self, text: str, *, intents: Sequence[str]) -> list[Flag]:
        return [Flag(self.name, "the agent guaranteed something")] if "guarantee" in text.lower() else []


def test_a_guardrail_plugged_into_the_line_checks_flags_on_the_card_and_in_the_note(line: Flask) -> None:
    client = signed(line)
    put_through(client)
    watch = PromiseWatch()
    LINE_CHECKS.append(watch)
    try:
        heard(client, "I guarantee it arrives tomorrow.", track="outbound_track")
    finally:
        LINE_CHECKS.remove(watch)
    client.deliver("twilio", "voice_status_completed.json")

    [said] = card(line, client)["transcript"]
    assert said["flags"] == [{"check": "promise_watch", "message": "the agent guaranteed something"}]
    [note] = notes(line)
    assert "promise_watch: the agent guaranteed something" in note.payload["ticket"]["comment"]["body"]


def test_the_callers_next_text_continues_the_calls_conversation(line: Flask) -> None:
    client = signed(line)
    put_through(client)
    heard(client, "Where is my parcel? It was meant to come on Monday.")
    client.deliver("twilio", "voice_status_completed.json")

    client.twilio("/webhooks/twilio/messages", {**fixture("twilio", "inbound_sms.json"),
                                                "Body": "Any news on my parcel?"})

    with get_db(line).session() as session:
        conversation = session.scalars(select(Conversation)).one()
        bodies = [m.body for m in session.scalars(select(Message).where(
            Message.conversation_id == conversation.id, Message.author == "customer").order_by(Message.id))]
    assert bodies[-2:] == ["Where is my parcel? It was meant to come on Monday.", "Any news on my parcel?"]


def test_a_call_script_that_cannot_be_read_stops_start_up_naming_the_problem(env: dict[str, str],
                                                                            tmp_path: Path) -> None:
    own = tmp_path / "script.yaml"
    own.write_text("version: 1\nlines:\n  - id: thanks\n    label: Thank the caller\n    says: ['thank you (for']\n")

    with pytest.raises(ConfigError) as refused:
        make_app(env, SWITCHBOARD_CALL_SCRIPT_FILE=str(own))

    assert "line 1 of `lines`: `says` pattern 'thank you (for' is not a valid regular expression" in str(refused.value)
