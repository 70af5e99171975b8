"""What happens around a Zendesk ticket besides relaying messages: enrichment written
back, suggestions prepared before the agent opens it, and after-call work when it is
solved (summary and disposition for the agent's team, a recap and a CSAT question for
the customer)."""
from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.core import ports
from switchboard.core.customers import timeline
from switchboard.core.customers.identity import may_message, reachable_address, reply_address
from switchboard.core.helpdesk.assist import prepare_suggestions
from switchboard.core.helpdesk.handoff import (
    PACKAGE_MESSAGES,
    _inside_whatsapp_window,
    conversation_for_ticket,
    summarise,
    ticket_markers,
)
from switchboard.core.intents.store import intent_model
from switchboard.core.knowledge.analysis import content_words
from switchboard.core.outcomes import metrics
from switchboard.core.pii.redaction import redact, truncate_for_model
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import Account, Conversation, Customer, Message
from switchboard.core.texts.i18n import N_, texts_of_conversation
from switchboard.core.understanding.enrichment import enrich, sentiment_trend

CSAT_WINDOW = timedelta(days=7)
CSAT_QUESTION = N_("csat_question", "How did we do? Reply with a number from 1 (poor) to 5 (great).")
CSAT_THANKS = N_("csat_thanks", "Thank you for your feedback!")
RECAP_SOLVED = N_("recap_solved", "We've marked your request as solved.")
RECAP_IN_SHORT = N_("recap_in_short", "In short: {reply}")
RECAP_REPLY = N_("recap_reply_here", "If anything is still not right, just reply here.")
CSAT_ANSWER = re.compile(r"^\s*([1-5])\s*(?:/\s*5)?\s*[.!]?\s*$")


def ticket_question(session: Session, conversation: Conversation | None,
                    fallback: str) -> tuple[str, dict[str, int]]:
    """What the agent must answer, and the redactions already applied to it: the
    customer's latest substantive words on our record, else the ticket's own text."""
    if conversation is not None:
        for message in session.scalars(select(Message).where(
                Message.conversation_id == conversation.id, Message.author == "customer")
                .order_by(Message.id.desc()).limit(timeline.TURN_WINDOW)):
            intent = (message.meta.get("enrichment") or {}).get("intent")
            if intent not in NOT_A_QUESTION and len(content_words(message.body)) >= 2:
                return message.body, dict(message.meta.get("redactions") or {})  # not "AGENT" or "thanks"
    return fallback, {}


NOT_A_QUESTION = {"human_agent", "greeting", "thanks"}


def on_ticket_changed(session: Session, account: Account, settings: Settings, *, ticket_id: int, text: str,
                      write_back: bool) -> None:
    """A ticket was created or the customer commented: enrich it, write the result
    back as tags (and priority when the customer is upset), prepare suggestions."""

    conversation = conversation_for_ticket(session, account.id, ticket_id)
    question, redactions = ticket_question(session, conversation, text)
    if not question.strip():
        return
    customer = session.get(Customer, conversation.customer_id) if conversation else None
    # A ticket (or a customer's comment) can hold a pasted 100,000 characters: the
    # models read as much of it as they do of an SMS, redacted first so no cut splits a card.
    model_text = truncate_for_model(redact(question).text)
    enrichment = enrich(model_text, intent_model=intent_model(session, settings.data_dir, account.id,
                                                            embeddings=settings.embeddings))
    if write_back:
        tags, priority = ticket_markers(enrichment)
        ports.current().helpdesk(session, account, settings).update_ticket(
            ticket_id, tags=tags, priority=priority,
            idempotency_key=f"enrich:{ticket_id}:{hashlib.sha1(question.encode()).hexdigest()[:16]}")
    prepare_suggestions(session, account, settings, ticket_id=ticket_id, question=question,
                        conversation_id=conversation.id if conversation else None,
                        customer_name=customer.display_name if customer else None, redactions=redactions)


def after_solved(session: Session, account: Account, settings: Settings, *, ticket_id: int) -> str:
    """After-call work: an internal summary with disposition tags, then a recap and a
    CSAT question to the customer on their channel (if they can still be reached)."""

    conversation = conversation_for_ticket(session, account.id, ticket_id)
    if conversation is None:
        return "unknown_ticket"
    customer = session.get(Customer, conversation.customer_id)
    assert customer is not None
    # The latest messages, as the handoff package shows them, and a capped count: once
    # per solved ticket, but a conversation of thousands of messages costs what one of
    # fifty does.
    messages = timeline.recent(session, conversation.id, limit=PACKAGE_MESSAGES)
    count = timeline.count_capped(session, select(Message.id).where(Message.conversation_id == conversation.id))
    from_customer = [m for m in messages if m.author == "customer"]
    agent_replies = [m for m in messages if m.author == "agent"]
    intent = next((m.meta["enrichment"]["intent"] for m in reversed(from_customer)
                   if (m.meta.get("enrichment") or {}).get("intent")), None)
    scores = [m.meta["enrichment"]["sentiment"] for m in from_customer if "enrichment" in m.meta]
    disposition = "resolved_by_agent" if agent_replies else "closed_without_reply"
    summary = "\n".join([
        "Switchboard summary of this conversation",
        f"- Asked: {summarise(from_customer)}",
        f"- Handed over because: {(conversation.handoff_reason or 'n/a').replace('_', ' ')}",
        f"- Resolution: {_line(agent_replies[-1].body) if agent_replies else 'no reply was sent by SMS/WhatsApp'}",
        f"- Sentiment trend: {sentiment_trend(scores) if scores else 'unknown'}; "
        f"messages: {count}{'+' if count >= timeline.COUNT_CAP else ''}",
        f"- Disposition: {disposition}" + (f", intent {intent}" if intent else ""),
    ])
    tags = ["switchboard_summarised", f"disposition_{disposition}"] + ([f"resolved_{intent}"] if intent else [])
    ports.current().helpdesk(session, account, settings).add_comment(
        ticket_id, body=summary, public=False, tags=tags, idempotency_key=f"summary:{ticket_id}:{conversation.id}")
    audit(session, account_id=account.id, actor="assist", action="assist.summarised", subject_type="ticket",
          subject_id=ticket_id, detail={"disposition": disposition, "intent": intent})
    channel = timeline.reply_channel(conversation.channel)
    address = reachable_address(customer, channel)
    if not may_message(customer, channel) or address is None or not _reachable(session, conversation):
        return "summarised"
    texts = texts_of_conversation(session, account.id, conversation.id, customer.locale)
    recap = texts(RECAP_SOLVED)
    if agent_replies:
        recap += " " + texts(RECAP_IN_SHORT, reply=_line(agent_replies[-1].body, 220))
    recap += f" {texts(RECAP_REPLY)}\n\n{texts(CSAT_QUESTION)}"
    result = ports.current().messenger(session, account, settings).send_message(
        to=address, body=recap, channel=channel, idempotency_key=f"recap:{conversation.id}")
    timeline.append(session, conversation, direction="outbound", channel=channel, author="system",
                    body=recap, external_id=result.response.get("sid"), status=result.response.get("status"),
                    meta={"action": "recap"})
    conversation.csat_requested_at = datetime.now(UTC)
    return "recap_sent"


def _reachable(session: Session, conversation: Conversation) -> bool:
    """WhatsApp allows free text only within 24 hours of the customer's last message."""
    if conversation.channel != "whatsapp":
        return True

    return _inside_whatsapp_window(session, conversation)


def _line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def pending_csat(session: Session, customer: Customer, body: str) -> Conversation | None:
    """The recently closed conversation this message rates, if it is a 1-5 answer to
    our CSAT question; such a reply must not start a new conversation with the bot."""
    if not CSAT_ANSWER.match(body):
        return None
    since = datetime.now(UTC) - CSAT_WINDOW
    return session.scalar(select(Conversation).where(
        Conversation.customer_id == customer.id, Conversation.status == "closed",
        Conversation.csat_requested_at.is_not(None), Conversation.csat_requested_at >= since,
        Conversation.csat_score.is_(None)).order_by(Conversation.id.desc()).limit(1))


def record_csat(session: Session, account: Account, settings: Settings, conversation: Conversation,
                message: Message) -> None:

    match = CSAT_ANSWER.match(message.body)
    assert match is not None
    conversation.csat_score = int(match.group(1))
    metrics.csat_answered(session, conversation, conversation.csat_score)
    audit(session, account_id=account.id, actor=f"customer:{conversation.customer_id}", action="csat.answered",
          subject_type="conversation", subject_id=conversation.id, detail={"score": conversation.csat_score})
    customer = session.get(Customer, conversation.customer_id)
    assert customer is not None
    channel = timeline.reply_channel(message.channel)
    thanks = texts_of_conversation(session, account.id, conversation.id, customer.locale)(CSAT_THANKS)
    result = ports.current().messenger(session, account, settings).send_message(
        to=reply_address(customer, channel), body=thanks, channel=channel,
        idempotency_key=f"csat-thanks:{conversation.id}")
    if channel == "web":  # the widget shows the timeline: the thanks belongs on it
        timeline.append(session, conversation, direction="outbound", channel=channel, author="system", body=thanks,
                        external_id=result.response.get("sid"), status=result.response.get("status"),
                        meta={"action": "csat_thanks"})
