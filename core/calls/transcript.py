"""A call put through to a person, transcribed live: each final utterance Twilio sends
joins the caller's timeline by speaker, redacted, and feeds the agent's live call card.

Twilio transcribes both tracks of the caller's leg: the inbound track is the caller,
the outbound track what the caller hears once a person answers (the agent). What the
caller asks gets the same grounded suggestions a ticket gets (``assist``), on the
ticket the handoff opened; what the agent says ticks off the script the policy requires
(``script``). Every line is redacted before it is stored: a card number read out loud
is a card number, and Twilio writes one out as words as often as digits.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.orm import Session

from switchboard.core.calls import script as call_script
from switchboard.core.conversation.inbound import enrichment_json
from switchboard.core.customers import timeline
from switchboard.core.helpdesk.assist import prepare_suggestions
from switchboard.core.helpdesk.summary import NOT_A_TOPIC
from switchboard.core.intents.store import intent_model
from switchboard.core.knowledge.analysis import content_words
from switchboard.core.pii.redaction import Redacted, redact, truncate_for_model
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import Account, Conversation, InboxEvent, Message
from switchboard.core.understanding.enrichment import enrich

CHANNEL = "voice"
#: Twilio's names for the two sides of the caller's leg, and who speaks on each.
SPEAKERS = {"inbound_track": "customer", "outbound_track": "agent"}
Event = Literal["transcription-started", "transcription-content", "transcription-stopped", "transcription-error"]
#: A caller's line asks something worth suggestions when it has this many content words
#: (or a question mark): "yes", "that's right" and "one moment" keep the last suggestions.
MIN_QUESTION_WORDS = 3

_DIGIT_WORDS = {"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
                "six": "6", "seven": "7", "eight": "8", "nine": "9"}
_DIGIT_TOKEN = r"(?:zero|oh|o|one|two|three|four|five|six|seven|eight|nine|\d+)"
#: Four or more digits said one by one ("four one one one ..."), spaces, commas or dashes between.
_SPOKEN_RUN = re.compile(rf"\b{_DIGIT_TOKEN}(?:[\s,.-]+{_DIGIT_TOKEN}){{3,}}\b", re.IGNORECASE)


@dataclass(frozen=True)
class TranscriptLine:
    """One callback of a live transcription, as the webhook stored it (already redacted)."""

    call_sid: str
    transcription_sid: str
    sequence: int
    event: str
    track: str | None = None
    text: str = ""
    confidence: float | None = None
    final: bool = True
    redactions: dict[str, int] | None = None


#: An address said out loud: "sam at example dot com", "j dot doe at mail dot example dot org".
_SPOKEN_EMAIL = re.compile(r"\b([a-z0-9][a-z0-9._-]*(?: dot [a-z0-9_-]+)*) at ([a-z0-9-]+(?: dot [a-z0-9-]+)+)\b"
                           r"(?! at\b)", re.IGNORECASE)


def spoken_forms(text: str) -> str:
    """Digits and email addresses as a caller says them, written the way they are
    typed, so the redaction's detectors recognise them."""
    def email(match: re.Match[str]) -> str:
        return f"{match.group(1).replace(' dot ', '.')}@{match.group(2).replace(' dot ', '.')}"

    return _SPOKEN_EMAIL.sub(email, spoken_digits(text))


def spoken_digits(text: str) -> str:
    """Runs of digits said one by one, written as digits, so the redaction's checks
    (Luhn, phone numbers) see them: "four one one one, one one one one" → "41111111"."""
    def digits(match: re.Match[str]) -> str:
        tokens = re.findall(rf"\b{_DIGIT_TOKEN}\b", match.group(0), re.IGNORECASE)
        return "".join(_DIGIT_WORDS.get(t.lower(), t) for t in tokens)

    return _SPOKEN_RUN.sub(digits, text)


def redact_utterance(text: str, *, regions: tuple[str | None, ...] = ()) -> Redacted:
    """What is stored of an utterance: redacted, digits and addresses said as words
    included. Only when that finds personal data is the utterance stored in its written
    form; an order number read out stays as said."""
    first = redact(text, also_regions=regions)
    normalised = spoken_forms(first.text)
    if normalised == first.text:
        return first
    second = redact(normalised, also_regions=regions)
    if not second.findings:
        return first
    kinds = [*first.findings, *second.findings]
    return Redacted(second.text, tuple(kinds))


def call_conversation(session: Session, account_id: int, call_sid: str) -> Conversation | None:
    """The conversation of a call this deployment answered (its "Phone call started." entry)."""
    started = timeline.by_external_id(session, account_id, call_sid)
    return session.get(Conversation, started.conversation_id) if started is not None else None


def take_line(session: Session, event: InboxEvent, settings: Settings, line: TranscriptLine) -> Message | None:
    """A transcription callback joins the call's conversation; idempotent per
    transcription and sequence number. Returns the timeline entry, if one was made."""
    conversation = call_conversation(session, event.account_id, line.call_sid)
    if conversation is None:
        audit(session, account_id=event.account_id, actor="twilio", action="calls.transcript_unmatched",
              subject_type="inbox_event", subject_id=event.id, detail={"call_sid": line.call_sid})
        return None
    meta: dict[str, Any] = {"call_sid": line.call_sid, "transcription_sid": line.transcription_sid,
                            "inbox_event_id": event.id}
    if line.event == "transcription-started":
        return timeline.append(session, conversation, direction="inbound", channel=CHANNEL, author="system",
                               body="Live transcription started.", external_id=f"{line.transcription_sid}:started",
                               status="transcribing", meta={**meta, "live_call": "started"})
    if line.event in ("transcription-stopped", "transcription-error"):
        what = "stopped" if line.event == "transcription-stopped" else "failed"
        return timeline.append(session, conversation, direction="inbound", channel=CHANNEL, author="system",
                               body=f"Live transcription {what}.", external_id=f"{line.transcription_sid}:{what}",
                               status=what, meta={**meta, "live_call": what})
    speaker = SPEAKERS.get(line.track or "")
    if speaker is None or not line.final or not line.text.strip():
        return None  # partial results are off; a stray one is superseded by its final
    existing = timeline.by_external_id(session, event.account_id, _line_id(line))
    if existing is not None:
        return existing
    meta.update(transcript=line.track, confidence=line.confidence, redactions=line.redactions or {},
                sequence=line.sequence)
    if speaker == "customer":
        return _caller_said(session, event, settings, conversation, line, meta)
    return _agent_said(session, conversation, line, meta, settings)


def _line_id(line: TranscriptLine) -> str:
    return f"{line.transcription_sid}:{line.sequence}"


def _caller_said(session: Session, event: InboxEvent, settings: Settings, conversation: Conversation,
                 line: TranscriptLine, meta: dict[str, Any]) -> Message:
    text = truncate_for_model(line.text)
    model = intent_model(session, settings.data_dir, event.account_id, embeddings=settings.embeddings)
    enrichment = enrich(text, intent_model=model)
    # "asks": the line names what the caller wants; their topic and the answers follow
    # such lines only, not "no, that's all" or a number read out.
    meta.update(enrichment=enrichment_json(enrichment), asks=_asks(text, enrichment.intent, line.redactions))
    message = timeline.append(session, conversation, direction="inbound", channel=CHANNEL, author="customer",
                              body=line.text, external_id=_line_id(line), status="transcribed", meta=meta)
    if conversation.zendesk_ticket_id is not None and meta["asks"]:
        account = session.get(Account, event.account_id)
        assert account is not None
        prepare_suggestions(session, account, settings, ticket_id=conversation.zendesk_ticket_id, question=text,
                            conversation_id=conversation.id, redactions=line.redactions)
    return message


def _asks(text: str, intent: str | None, redactions: dict[str, int] | None) -> bool:
    """Whether the caller's line asks something new: not small talk or an intent that
    names no topic ("No, that's all"), and not the caller reading out their details."""
    if "?" in text:
        return True
    if intent in NOT_A_TOPIC or redactions:
        return False
    return len(content_words(text)) >= MIN_QUESTION_WORDS


def _agent_said(session: Session, conversation: Conversation, line: TranscriptLine, meta: dict[str, Any],
                settings: Settings) -> Message:
    policy = call_script.load_script(settings.call_script_file)
    intents = caller_intents(session, conversation.id, line.call_sid)
    flags = [{"check": f.check, "message": f.message} for check in call_script.LINE_CHECKS
             for f in check.check(line.text, intents=intents)]
    meta.update(said=policy.said_in(line.text), early=policy.early_in(line.text), flags=flags)
    return timeline.append(session, conversation, direction="outbound", channel=CHANNEL, author="agent",
                           body=line.text, external_id=_line_id(line), status="transcribed", meta=meta)


def call_lines(session: Session, conversation_id: int, call_sid: str, *, limit: int = 500) -> list[Message]:
    """The call's transcript entries and transcription events, oldest first (among the
    conversation's latest ``limit`` messages)."""
    return call_entries(timeline.recent(session, conversation_id, limit=limit), call_sid)


def call_entries(messages: Sequence[Message], call_sid: str) -> list[Message]:
    """Of ``messages`` (oldest first), the call's transcript entries and transcription events."""
    return [m for m in messages if (m.meta or {}).get("call_sid") == call_sid
            and ((m.meta or {}).get("transcript") or (m.meta or {}).get("live_call"))]


def caller_intents(session: Session, conversation_id: int, call_sid: str) -> list[str]:
    """The intents recognised in what the caller said on this call, in order, once each."""
    return intents_in(call_lines(session, conversation_id, call_sid))


def intents_in(lines: Sequence[Message]) -> list[str]:
    found: list[str] = []
    for message in lines:
        meta = message.meta or {}
        intent = (meta.get("enrichment") or {}).get("intent")
        if message.author == "customer" and meta.get("asks") and intent and intent not in NOT_A_TOPIC \
                and intent not in found:
            found.append(intent)
    return found
