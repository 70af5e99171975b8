"""The wrap-up written back to Zendesk when a conversation ends: a disposition from the
account's own taxonomy (a file of codes), chosen from the conversation's intent and how
it ended, with the intent model's confidence; written into the ticket (a custom field
and a tag) through the outbox. A conversation the bot resolved alone has no ticket: it
is logged as a solved one (once), so the helpdesk's own reports see the bot's work."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.core import ports
from switchboard.core.customers import timeline
from switchboard.core.helpdesk.handoff import requester_id, summarise
from switchboard.core.helpdesk.summary import one_line
from switchboard.core.quality.files import account_file, fresh, parse_located
from switchboard.core.quality.rubric import RubricError
from switchboard.core.resources import data_file
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import Account, Conversation, ConversationScore, Customer, Message

Outcome = Literal["bot_resolved", "agent_resolved", "unresolved"]
OUTCOMES: tuple[Outcome, ...] = ("bot_resolved", "agent_resolved", "unresolved")
DEFAULT_TAXONOMY = data_file("dispositions.yaml")


class DispositionsError(RubricError):
    """The dispositions file is not of the documented shape; the message names the entry."""


@dataclass(frozen=True)
class Code:
    code: str
    description: str
    intents: frozenset[str]
    outcomes: frozenset[str]


@dataclass(frozen=True)
class Disposition:
    code: str
    description: str
    confidence: float
    outcome: Outcome


def _taxonomy(data: Any) -> tuple[Code, ...]:
    if not isinstance(data, dict) or data.get("version") != 1:
        raise DispositionsError("expected a mapping with version: 1; start from a copy of the shipped "
                                "dispositions.yaml", field="version" if isinstance(data, dict) else "")
    if not isinstance(data.get("codes"), list) or not data["codes"]:
        raise DispositionsError("expected a list of codes, each with a code and a description", field="codes")
    codes, seen = [], set()
    for n, entry in enumerate(data["codes"]):
        where = f"codes.{n}"
        if not isinstance(entry, dict) or not str(entry.get("code") or "").strip():
            raise DispositionsError("give this entry a code (the tag Zendesk files it under)", field=where)
        code = str(entry["code"]).strip()
        if code in seen:
            raise DispositionsError(f"code {code!r} is listed twice; keep one", field=f"{where}.code")
        seen.add(code)
        if unknown := sorted(set(entry) - {"code", "description", "intents", "outcomes"}):
            raise DispositionsError("unknown key; the keys allowed here are code, description, intents, outcomes",
                                    field=f"{where}.{unknown[0]}")
        for key in ("intents", "outcomes"):
            if not isinstance(entry.get(key) or [], list):
                raise DispositionsError("expected a list, e.g. [order_status, delivery_delay]", field=f"{where}.{key}")
        outcomes = frozenset(str(o) for o in entry.get("outcomes") or OUTCOMES)
        if unknown := sorted(outcomes - set(OUTCOMES)):
            raise DispositionsError(f"unknown outcome {unknown[0]!r}; use one of {', '.join(OUTCOMES)}",
                                    field=f"{where}.outcomes")
        codes.append(Code(code, str(entry.get("description") or ""),
                          frozenset(str(i) for i in entry.get("intents") or ()), outcomes))
    return tuple(codes)


def parse_taxonomy(text: str, source: str = "<string>") -> tuple[Code, ...]:
    """The codes from YAML text; ``source`` names the file in error messages, with the line."""
    return parse_located(text, source, DispositionsError, _taxonomy)


def load_taxonomy(path: Path | None = None) -> tuple[Code, ...]:
    """The codes in ``path``, or the shipped default when None; read again when the file changes."""
    return fresh("dispositions", DEFAULT_TAXONOMY if path is None else Path(path), parse_taxonomy,
                 DispositionsError, "SWITCHBOARD_DISPOSITIONS_FILE, or the account's dispositions_file setting")


def choose(codes: Sequence[Code], intent: str | None, confidence: float, outcome: Outcome) -> Disposition:
    """The first code for the intent and outcome; a catch-all (no intents) takes the rest,
    with the confidence of having no intent to go on."""
    for code in codes:
        if outcome in code.outcomes and (not code.intents or intent in code.intents):
            sure = round(confidence, 3) if code.intents else round(1.0 - confidence, 3) if intent else 0.0
            return Disposition(code.code, code.description, sure, outcome)
    last = codes[-1]
    return Disposition(last.code, last.description, 0.0, outcome)


#: Agents' corrections for an intent that agree on a code this often replace the file's choice.
CORRECTIONS_TO_LEARN = 2


class UnknownDisposition(LookupError):
    """An agent chose a code the account's taxonomy does not have."""


def learned(session: Session, account_id: int, intent: str | None) -> tuple[str, float] | None:
    """The code agents corrected this intent to when enough of them agree, with the share
    of the intent's corrections that chose it (the choice's confidence from then on)."""
    if intent is None:
        return None
    counts = Counter(session.scalars(select(ConversationScore.disposition).where(
        ConversationScore.account_id == account_id, ConversationScore.intent == intent,
        ConversationScore.corrected_by.is_not(None)).order_by(ConversationScore.id.desc()).limit(200)))
    top = counts.most_common(1)
    if not top or top[0][1] < CORRECTIONS_TO_LEARN or top[0][0] is None:
        return None
    return top[0][0], round(top[0][1] / sum(counts.values()), 3)


def _fields(settings: Settings, code: str) -> tuple[list[str], list[dict[str, Any]]]:
    field_id = settings.zendesk_disposition_field_id
    return [f"disposition_{code}", "switchboard_wrapup"], ([{"id": field_id, "value": code}] if field_id else [])


def correct(session: Session, account: Account, settings: Settings, conversation: Conversation, *, code: str,
            agent: str) -> ConversationScore:
    """An agent's correction of the conversation's latest disposition: stored (the next
    choice for its intent learns from it), written to the ticket, audited."""
    codes = {c.code for c in load_taxonomy(account_file(account, settings, "dispositions_file"))}
    if code not in codes:
        raise UnknownDisposition(f"{code!r} is not a disposition code; use one of {', '.join(sorted(codes))}")
    score = session.scalar(select(ConversationScore).where(ConversationScore.conversation_id == conversation.id)
                           .order_by(ConversationScore.id.desc()).limit(1))
    if score is None:
        raise UnknownDisposition("this conversation has not ended yet, so it has no disposition to correct")
    before, score.disposition, score.corrected_by = score.disposition, code, agent
    score.disposition_confidence = 1.0  # a person chose it
    if conversation.zendesk_ticket_id is not None:
        tags, fields = _fields(settings, code)
        ports.current().helpdesk(session, account, settings).update_ticket(
            conversation.zendesk_ticket_id, tags=tags, custom_fields=fields,
            idempotency_key=f"wrapup-corrected:{score.id}:{code}")
    audit(session, account_id=account.id, actor=agent, action="quality.disposition_corrected",
          subject_type="conversation", subject_id=conversation.id, detail={"from": before, "to": code})
    return score


def latest_disposition(session: Session, account: Account, settings: Settings,
                       conversation: Conversation) -> dict[str, Any] | None:
    """What the sidebar shows: the conversation's latest disposition with its confidence
    and who corrected it, and the account's codes to pick another from; None before it ends."""
    score = session.scalar(select(ConversationScore).where(ConversationScore.conversation_id == conversation.id)
                           .order_by(ConversationScore.id.desc()).limit(1))
    if score is None or score.disposition is None:
        return None
    codes = load_taxonomy(account_file(account, settings, "dispositions_file"))
    chosen = next((c for c in codes if c.code == score.disposition), None)
    return {"code": score.disposition, "description": chosen.description if chosen else "",
            "confidence": score.disposition_confidence, "corrected_by": score.corrected_by,
            "intent": score.intent, "options": [{"code": c.code, "description": c.description} for c in codes]}


def outcome_of(score: ConversationScore) -> Outcome:
    resolved = next((c["verdict"] for c in score.criteria if c["criterion"] == "resolved"), None)
    if resolved == "missed" or (resolved is None and score.ended_by == "idle"):
        return "unresolved"
    return "agent_resolved" if score.automation == "handed_over" else "bot_resolved"


def _intent_confidence(messages: Sequence[Message], intent: str | None) -> float:
    return next((float(m.meta["enrichment"].get("intent_confidence") or 0.0) for m in reversed(messages)
                 if m.author == "customer" and (m.meta.get("enrichment") or {}).get("intent") == intent), 0.0)


def write_wrapup(session: Session, account: Account, settings: Settings, conversation: Conversation,
                 score: ConversationScore) -> Disposition:
    """The disposition, written to the conversation's ticket, or a solved ticket made for
    a conversation the bot resolved alone (per SWITCHBOARD_ZENDESK_LOG_BOT_CONVERSATIONS)."""
    messages = timeline.recent(session, conversation.id, limit=50)
    codes = load_taxonomy(account_file(account, settings, "dispositions_file"))
    disposition = choose(codes, score.intent, _intent_confidence(messages, score.intent), outcome_of(score))
    taught = learned(session, account.id, score.intent) if disposition.outcome != "unresolved" else None
    if taught is not None and taught[0] != disposition.code:
        known = next((c for c in codes if c.code == taught[0]), None)
        if known is not None:  # a code since removed from the file is not used
            disposition = Disposition(known.code, known.description, taught[1], disposition.outcome)
    score.disposition, score.disposition_confidence = disposition.code, disposition.confidence
    field_id = settings.zendesk_disposition_field_id
    tags, fields = _fields(settings, disposition.code)
    zendesk = ports.current().helpdesk(session, account, settings)
    ticket_id = conversation.zendesk_ticket_id
    if ticket_id is not None:
        zendesk.update_ticket(ticket_id, tags=tags, custom_fields=fields,
                              idempotency_key=f"wrapup:{conversation.id}:{score.last_message_id}")
    elif disposition.outcome == "bot_resolved" and settings.zendesk_log_bot_conversations:
        customer = session.get(Customer, conversation.customer_id)
        assert customer is not None
        asked = summarise([m for m in messages if m.author == "customer"])
        transcript = "\n".join(f"{m.author}: {one_line(m.body, 300)}" for m in messages[-20:])
        ticket: dict[str, Any] = {
            "subject": one_line(f"{conversation.channel.upper()}: {asked}", 120),
            "comment": {"body": f"Resolved by the Switchboard assistant without an agent.\n\n{transcript}",
                        "public": False},
            "requester_id": requester_id(session, zendesk, account, customer), "status": "solved",
            "tags": [*tags, "switchboard_bot_resolved"],
            "external_id": f"switchboard-bot-{account.id}-{conversation.id}",
            **({"custom_fields": fields} if fields else {})}
        result = zendesk.call("tickets.create", {"ticket": ticket}, idempotency_key=f"bot-ticket:{conversation.id}")
        ticket_id = result.response.get("ticket_id")
    audit(session, account_id=account.id, actor="qa", action="quality.wrapup_written",
          subject_type="conversation", subject_id=conversation.id,
          detail={"code": disposition.code, "confidence": disposition.confidence, "outcome": disposition.outcome,
                  "ticket_id": ticket_id, "field_id": field_id,
                  "learned": taught is not None and taught[0] == disposition.code})
    return disposition
