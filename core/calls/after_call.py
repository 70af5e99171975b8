"""After a transcribed call ends: one internal note on its ticket with what the next
person to open it needs (summary, disposition, what the agent promised, the script lines
that were missed, and the redacted transcript), through the helpdesk's outbox, once."""
from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy.orm import Session

from switchboard.core import ports
from switchboard.core.calls import script as call_script
from switchboard.core.calls.card import spoken_entries
from switchboard.core.calls.transcript import call_conversation, caller_intents
from switchboard.core.helpdesk.summary import one_line, the_ask
from switchboard.core.quality.scoring import score_conversation
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import Account, InboxEvent, Message

#: What an agent commits to: "I'll send you a label", "we will refund", "you will get ...".
_PROMISE = re.compile(r"\b(I'll|I will|we'll|we will|I'm going to|we're going to|you'll (get|receive|have)|"
                      r"you will (get|receive|have))\b[^.?!]*", re.IGNORECASE)
#: The transcript in the note is cut here; the timeline keeps it all.
NOTE_TRANSCRIPT_LINES = 300


def note_idempotency_key(call_sid: str) -> str:
    return f"call-summary:{call_sid}"


def after_call(session: Session, event: InboxEvent, settings: Settings, *, call_sid: str, status: str,
               duration: int | None) -> bool:
    """Put the after-call note on the ticket of a transcribed call; True when it was
    sent now (or already had been: the outbox's key makes a retry the same call)."""
    conversation = call_conversation(session, event.account_id, call_sid)
    if conversation is None or conversation.zendesk_ticket_id is None:
        return False
    lines = spoken_entries(session, conversation.id, call_sid)
    if not lines:
        return False  # nobody was transcribed: the bot's own turns are on the ticket already
    intents = caller_intents(session, conversation.id, call_sid)
    policy = call_script.load_script(settings.call_script_file)
    items = call_script.checklist(policy, [m.meta or {} for m in lines if m.author == "agent"], intents)
    missing = [item for item in items if not item.done]
    body = render_note(call_sid, status, duration, lines, intents, promises(lines), items)
    account = session.get(Account, event.account_id)
    assert account is not None
    ports.current().helpdesk(session, account, settings).add_comment(
        conversation.zendesk_ticket_id, body=body, public=False, tags=["call_transcribed"] + (
            ["call_script_missing"] if missing else []), idempotency_key=note_idempotency_key(call_sid))
    audit(session, account_id=account.id, actor="calls", action="calls.after_call_note", subject_type="ticket",
          subject_id=conversation.zendesk_ticket_id, detail={
              "call_sid": call_sid, "lines": len(lines), "missing_script_lines": [i.id for i in missing],
              "intents": intents})
    # Scored like any other conversation that ended (once: a redelivered status finds the row).
    score_conversation(session, account, settings, conversation, ended_by="call_ended")
    return True


def promises(lines: Sequence[Message]) -> list[str]:
    """The agent's sentences that commit to something, as said (redacted)."""
    found: list[str] = []
    for message in lines:
        if message.author == "agent":
            found.extend(one_line(m.group(0).strip(), 200) for m in _PROMISE.finditer(message.body))
    return list(dict.fromkeys(found))


def render_note(call_sid: str, status: str, duration: int | None, lines: Sequence[Message], intents: Sequence[str],
                promised: Sequence[str], items: Sequence[call_script.ChecklistItem]) -> str:
    from_caller = [m for m in lines if m.author == "customer"]
    ask = the_ask(from_caller)
    length = f", {duration} s" if duration is not None else ""
    parts = ["Switchboard: after-call summary (call transcribed live; personal data redacted).", "",
             f"Summary: the caller asked \"{one_line(ask.body, 200)}\"" if ask else "Summary: the caller said nothing "
             "the transcription caught.",
             f"Topics: {', '.join(intents) if intents else 'not recognised'}.",
             f"Disposition: call {status}{length}; {len(from_caller)} caller and "
             f"{len(lines) - len(from_caller)} agent lines.", "",
             "Agent promised:" if promised else "Agent promised: nothing recognised as a commitment."]
    parts += [f"- {p}" for p in promised]
    parts += ["", "Required script:"]
    parts += [f"- [{'x' if i.done else ' '}] {i.label}" + (" (said late)" if i.late else "")
              + ("" if i.done else " — MISSING") for i in items]
    flags = [f"{flag.get('check')}: {flag.get('message')}" for m in lines for flag in (m.meta or {}).get("flags") or []]
    if flags:
        parts += ["", "Flags:"] + [f"- {f}" for f in dict.fromkeys(flags)]
    shown = lines[-NOTE_TRANSCRIPT_LINES:]
    parts += ["", "Transcript" + (f" (last {len(shown)} lines):" if len(shown) < len(lines) else ":")]
    parts += [f"{'Caller' if m.author == 'customer' else 'Agent'}: {m.body}" for m in shown]
    return "\n".join(parts)
