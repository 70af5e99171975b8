"""The live call card the sidebar shows on the ticket of a call put through to a person:
the running transcript (redacted), the caller's intent and mood as they change, the
suggestions for what the caller just asked, next-best actions, and the script's checklist.

Built from the timeline alone (what the transcription callbacks stored), so the card a
polling sidebar reads is the same whichever process took the callback."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.core.calls import script as call_script
from switchboard.core.calls.transcript import call_entries, call_lines, intents_in
from switchboard.core.customers import timeline
from switchboard.core.helpdesk.assist import actions_for
from switchboard.core.helpdesk.summary import NOT_A_TOPIC
from switchboard.core.settings import Settings
from switchboard.core.store.models import Conversation, Message, Suggestion
from switchboard.core.understanding.enrichment import sentiment_trend

#: Transcript lines the card carries: the agent scrolls the latest; the note keeps them all.
CARD_LINES = 200


def latest_call_sid(messages: Sequence[Message]) -> str | None:
    """Of ``messages`` (oldest first), the call whose transcript comes last, if any."""
    for message in reversed(messages):
        meta = message.meta or {}
        if meta.get("call_sid") and (meta.get("transcript") or meta.get("live_call")):
            return str(meta["call_sid"])
    return None


def live_card(session: Session, settings: Settings, conversation: Conversation) -> dict[str, Any] | None:
    """The card for the conversation's latest transcribed call; None without one. One
    read of the latest messages serves it all: the sidebar polls it every second."""
    recent = timeline.recent(session, conversation.id, limit=CARD_LINES * 2)
    call_sid = latest_call_sid(recent)
    if call_sid is None:
        return None
    lines = call_entries(recent, call_sid)
    spoken = [m for m in lines if m.author in ("customer", "agent")][-CARD_LINES:]
    from_caller = [(m.meta or {}).get("enrichment") or {} for m in spoken if m.author == "customer"]
    asking = [(m.meta or {}).get("enrichment") or {} for m in spoken if m.author == "customer" and m.meta.get("asks")]
    # The caller's topic: "no, that's all" or a card number read out names none, and
    # does not replace it; the mood follows every line.
    topic = next((e for e in reversed(asking) if e.get("intent") and e["intent"] not in NOT_A_TOPIC), {})
    mood = from_caller[-1] if from_caller else {}
    states = [(m.meta or {}).get("live_call") for m in lines if (m.meta or {}).get("live_call")]
    intents = intents_in(lines)
    policy = call_script.load_script(settings.call_script_file)
    agent_lines = [m.meta or {} for m in spoken if m.author == "agent"]
    ended = (states and states[-1] != "started") or any(m.external_id == f"{call_sid}:ended" for m in recent)
    return {
        "call_sid": call_sid,
        "status": "ended" if ended else "live",
        "transcript": [{"id": m.id, "at": m.created_at.isoformat(), "speaker": m.author, "text": m.body,
                        "flags": (m.meta or {}).get("flags") or []} for m in spoken],
        "intent": {"name": topic.get("intent"), "confidence": topic.get("intent_confidence", 0.0),
                   "history": intents},
        "sentiment": {"score": mood.get("sentiment"), "label": mood.get("sentiment_label"),
                      "trend": sentiment_trend([e["sentiment"] for e in from_caller if "sentiment" in e])
                      if from_caller else None},
        "suggestions": suggestions_for(session, conversation),
        "actions": actions_for(topic.get("intent")),
        "checklist": [{"id": item.id, "label": item.label, "done": item.done, "late": item.late}
                      for item in call_script.checklist(policy, agent_lines, intents)],
    }


def suggestions_for(session: Session, conversation: Conversation) -> list[dict[str, Any]]:
    """The ticket's ready suggestions, best first, with their sources (as the sidebar lists them)."""
    if conversation.zendesk_ticket_id is None:
        return []
    rows = session.scalars(select(Suggestion).where(
        Suggestion.account_id == conversation.account_id,
        Suggestion.zendesk_ticket_id == conversation.zendesk_ticket_id,
        Suggestion.status.in_(["ready", "inserted"])).order_by(Suggestion.rank, Suggestion.id)).all()
    return [{"id": s.id, "engine": s.engine, "text": s.text, "query": s.query,
             "sources": [{"title": src.get("title"), "url": src.get("url")} for src in s.sources]} for s in rows]


def spoken_entries(session: Session, conversation_id: int, call_sid: str) -> list[Message]:
    """Every transcript line of the call (for the after-call note), oldest first."""
    return [m for m in call_lines(session, conversation_id, call_sid, limit=5000) if m.author in ("customer", "agent")]
