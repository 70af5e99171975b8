"""Outcome metrics, recorded as events where things happen.

Each hook in the flows (an inbound message, the bot's reply, a handoff, a solved
ticket, a CSAT answer, an agent opening the handoff package, an outreach delivery)
calls :func:`record`. The event is appended to ``metric_events`` and folded into the
conversation's ``conversation_outcomes`` row, so figures over 100,000 conversations
are one-table aggregates (see ``metrics_figures``) instead of a replay of history.

Definitions, in one place:

- *contained*: the bot answered and the conversation never went to a person;
- *automation level*: who handled the conversation. A person handled it once an agent
  replied or solved its ticket (a handoff alone is a request for a person, not one);
  the bot handled it when it answered, asked to clarify or offered a choice of
  articles. ``ai_only``: no person (and never handed over); ``ai_then_human``: the
  bot, then a person; ``human_only``: a person, and the bot did not try (e.g. the
  customer asked for a person straight away); ``awaiting_human``: handed over, and no
  person has replied yet, so it is neither the bot's nor a person's work so far;
- *first response*: the first answer, clarifying question or choice of articles from
  the bot, or the first agent reply (a "a person will follow up" notice is not a
  response);
- *resolved*: the conversation's ticket was solved (the conversation is closed), or the
  bot's answer stood: no handoff since, and the conversation quiet for ``BOT_QUIET``
  (the customer did not come back, the same rule by which a later message is a
  reopen). Until then a bot answer is contained, but the conversation is still open;
  the figures decide this when they are read (``metrics_figures``), since quiet is the
  absence of an event. Time to resolution is measured to the solve or to the answer;
- *handle time*: AI time (from each customer message to the bot's reply) plus agent
  time (for each agent reply, the time since the ticket last moved, at most
  ``AGENT_TURN_CAP``: an agent who leaves a ticket overnight did not work on it);
- *reopened*: the customer came back within ``REOPEN_WINDOW`` of a resolution (a new
  conversation after a solved ticket, a message on a bot-resolved conversation more
  than ``BOT_QUIET`` after its last answer, or the Zendesk ticket moved from solved
  back to open). A reopened conversation was resolved at least once, so the reopen
  rate is over conversations resolved at least once and never exceeds 100 %; a
  handoff after a reopen undoes the bot's resolution (the customer needed a person)
  but not the reopen;
- *deflected by outreach*: a customer delivered a proactive message who did not start a
  conversation within ``REOPEN_WINDOW`` of it. Contacts, opt-outs and replies carry
  the id of the delivery they follow (``delivery_event_id``), and the figures count
  them in that delivery's period, so every outreach rate is over one cohort.

Every hook is safe to run twice for the same thing (a retried inbox event): events
carry a dedupe key and an event already recorded is not folded in again.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.core.store import unit_of_work
from switchboard.core.store.models import (
    Conversation,
    ConversationOutcome,
    Customer,
    Message,
    MetricEvent,
)
from switchboard.core.store.rows import column_values, insert_new, insert_unless_taken, write_now

AGENT_TURN_CAP = timedelta(minutes=15)
REOPEN_WINDOW = timedelta(days=7)
BOT_QUIET = timedelta(hours=24)
#: Bot actions that answer the customer (a handoff notice or HELP text does not); a
#: menu of articles to choose from is a clarifying question with the options spelt out.
RESPONSE_ACTIONS = frozenset({"answer", "clarify", "choices"})
#: The automation levels, as stored in ``conversation_outcomes.automation``.
AUTOMATION_LEVELS = ("ai_only", "ai_then_human", "human_only", "awaiting_human")
OUTREACH_KINDS = ("outreach.sent", "outreach.delivered", "outreach.failed", "outreach.opted_out",
                  "outreach.reply", "outreach.contacted")
#: Outreach events that follow a delivery and carry its ``delivery_event_id``.
LINKED_OUTREACH_KINDS = ("outreach.contacted", "outreach.opted_out", "outreach.reply")
VENDOR_KINDS = ("vendor.error", "vendor.unavailable", "vendor.rate_limited")
#: Celery task retries and failures (label = the task's name), recorded by the
#: signal handlers in ``switchboard.web.prometheus`` for /metrics.
TASK_KINDS = ("task.retry", "task.failure")


def _now(at: datetime | None) -> datetime:
    moment = at or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("metric events need an aware datetime: use datetime.now(UTC)")
    return moment.astimezone(UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _seconds(later: datetime, earlier: datetime) -> float:
    return max(0.0, (_aware(later) - _aware(earlier)).total_seconds())


def record(session: Session, account_id: int, kind: str, *, at: datetime | None = None,
           conversation_id: int | None = None, customer_id: int | None = None, channel: str | None = None,
           label: str | None = None, value: float | None = None, dedupe_key: str | None = None,
           **attrs: Any) -> MetricEvent | None:
    """Append one event (in the caller's transaction) and fold it into its
    conversation's outcome row. Returns None when ``dedupe_key`` was recorded before.

    Any capability may record its own kinds. Outreach records ``outreach.sent``,
    ``outreach.delivered``, ``outreach.failed`` and ``outreach.reply`` with the
    recipient's ``customer_id`` and ``channel``; a STOP or a new conversation from that
    customer within ``REOPEN_WINDOW`` of a delivery is linked to it here
    (``outreach.opted_out``, ``outreach.contacted``; a reply is linked the same way
    unless it names its ``delivery_event_id``), and the figures compute delivery,
    opt-out, reply and deflection rates from these events.
    """
    if kind == "outreach.reply" and "delivery_event_id" not in attrs and customer_id is not None:
        delivered = _delivery_before(session, account_id, customer_id, _now(at))
        attrs["delivery_event_id"] = delivered.id if delivered is not None else None
    values = {"account_id": account_id, "kind": kind, "occurred_at": _now(at), "conversation_id": conversation_id,
              "customer_id": customer_id, "channel": channel, "label": label, "value": value,
              "dedupe_key": dedupe_key, "attrs": attrs}
    if dedupe_key is None:
        event = MetricEvent(**values)
        session.add(event)
    else:
        # One statement for "record it unless it was": the unique (account, dedupe_key)
        # decides, so two workers recording the same event race harmlessly.
        new_id = insert_unless_taken(session, MetricEvent, values)
        if new_id is None:
            return None
        event = MetricEvent(id=new_id, **values)  # as stored; the folds read it, nothing writes it
    fold = _FOLDS.get(kind)
    if fold is not None and conversation_id is not None:
        started = event.occurred_at if kind == "message.inbound" else None
        outcome = outcome_for(session, conversation_id, at=started)
        # The fold works on a plain copy of the row, and what it changed is written at
        # once (rows.write_now): the ORM's flush of the row cost 0.26 ms against 0.17-0.21,
        # and left the row changed for every later autoflush to look through.
        draft = Outcome(**column_values(outcome))
        fold(session, draft, event)
        write_now(session, outcome, **vars(draft))
    if dedupe_key is None:
        session.flush()  # the event added above is stored before the caller goes on, as ever
    return event


def outcome_for(session: Session, conversation_id: int, *, at: datetime | None = None) -> ConversationOutcome:
    """The conversation's outcome row, created from the conversation on first use."""
    outcome = session.get(ConversationOutcome, conversation_id)
    if outcome is not None:
        return outcome
    return _new_outcome(session, conversation_id, at=at)


def _new_outcome(session: Session, conversation_id: int, *, at: datetime | None) -> ConversationOutcome:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise LookupError(f"no conversation {conversation_id} to record metrics for")
    customer = session.get(Customer, conversation.customer_id)
    started = _aware(at or conversation.started_at)
    outcome = ConversationOutcome(
        conversation_id=conversation.id, account_id=conversation.account_id, customer_id=conversation.customer_id,
        day=started.astimezone(UTC).strftime("%Y-%m-%d"), started_at=started, channel=conversation.channel,
        tier=customer.tier if customer else "standard", automation="ai_only", bot_answers=0, bot_replies=0,
        agent_replies=0, ai_seconds=0.0, agent_seconds=0.0, last_activity_at=started, reopened=0, tokens=0,
        package_opened=0, suggestion_used=0)
    return insert_new(session, outcome)


# -- folding events into the outcome row ---------------------------------------------

#: What a fold changes: a plain copy of the outcome row's columns (attribute access, as
#: on the row), written back by ``record``.
Outcome = SimpleNamespace


def _automation(outcome: Outcome) -> str:
    """The automation level (see the module's definitions). Recomputed by every fold
    that changes who handled the conversation: the bot's reply, the handoff, an agent's
    reply, the solved ticket."""
    if outcome.agent_replies or outcome.resolution == "agent":
        return "ai_then_human" if outcome.bot_answers else "human_only"
    return "ai_only" if outcome.handoff_at is None else "awaiting_human"


def _first_response(outcome: Outcome, at: datetime) -> None:
    if outcome.first_response_seconds is None:
        outcome.first_response_seconds = _seconds(at, outcome.started_at)


def _fold_inbound(session: Session, outcome: Outcome, event: MetricEvent) -> None:
    at = event.occurred_at
    if (outcome.resolution == "bot" and outcome.resolved_at is not None and not outcome.reopened
            and _seconds(at, outcome.resolved_at) > BOT_QUIET.total_seconds()):
        outcome.reopened = 1
    # A customer this event created has no earlier conversation and no delivery.
    if event.attrs.get("new_conversation") and not unit_of_work.created_row(session, Customer, outcome.customer_id):
        earlier = session.scalar(select(ConversationOutcome).where(
            ConversationOutcome.customer_id == outcome.customer_id,
            ConversationOutcome.conversation_id != outcome.conversation_id,
            ConversationOutcome.resolved_at.is_not(None),
            ConversationOutcome.resolved_at >= at - REOPEN_WINDOW,
            ConversationOutcome.resolved_at <= at).order_by(ConversationOutcome.resolved_at.desc()).limit(1))
        if earlier is not None and not earlier.reopened:
            earlier.reopened = 1
        _link_to_outreach(session, event, "outreach.contacted")
    outcome.last_activity_at = at


def _fold_bot_reply(session: Session, outcome: Outcome, event: MetricEvent) -> None:
    at, action = event.occurred_at, event.label
    outcome.bot_replies += 1
    outcome.ai_seconds += event.value or 0.0
    outcome.tokens += int(event.attrs.get("tokens") or 0)
    intent = event.attrs.get("intent")
    if intent and outcome.intent is None:
        outcome.intent = str(intent)[:64]
    if action in RESPONSE_ACTIONS:  # the bot tried: a later handoff is "AI then human"
        _first_response(outcome, at)
        outcome.bot_answers += 1
    if action == "answer":
        if outcome.handoff_at is None:  # contained, for now: a later handoff undoes it
            outcome.resolved_at, outcome.resolution = at, "bot"
            outcome.resolution_seconds = _seconds(at, outcome.started_at)
    outcome.automation = _automation(outcome)
    outcome.last_activity_at = at


def _fold_handoff(session: Session, outcome: Outcome, event: MetricEvent) -> None:
    if outcome.handoff_at is None:
        outcome.handoff_at, outcome.handoff_reason = event.occurred_at, event.label
    if outcome.resolution == "bot":  # the customer needed a person after all
        outcome.resolved_at = outcome.resolution = outcome.resolution_seconds = None
    outcome.automation = _automation(outcome)
    outcome.last_activity_at = event.occurred_at


def _fold_agent_reply(session: Session, outcome: Outcome, event: MetricEvent) -> None:
    at = event.occurred_at
    outcome.agent_replies += 1
    outcome.agent_seconds += min(_seconds(at, outcome.last_activity_at), AGENT_TURN_CAP.total_seconds())
    _first_response(outcome, at)
    outcome.automation = _automation(outcome)
    outcome.last_activity_at = at


def _fold_solved(session: Session, outcome: Outcome, event: MetricEvent) -> None:
    outcome.resolved_at, outcome.resolution = event.occurred_at, "agent"
    outcome.resolution_seconds = _seconds(event.occurred_at, outcome.started_at)
    outcome.automation = _automation(outcome)


def _fold_reopened(session: Session, outcome: Outcome, event: MetricEvent) -> None:
    """The Zendesk ticket went from solved back to open: a reopen, when it follows the
    resolution within the window. The resolution itself stays (it happened, and the
    ticket's next "solved" is not recorded again for the same conversation)."""
    if (outcome.resolved_at is not None and not outcome.reopened
            and _seconds(event.occurred_at, outcome.resolved_at) <= REOPEN_WINDOW.total_seconds()):
        outcome.reopened = 1


def _fold_csat(session: Session, outcome: Outcome, event: MetricEvent) -> None:
    outcome.csat_score = int(event.value) if event.value is not None else None


def _fold_package(session: Session, outcome: Outcome, event: MetricEvent) -> None:
    outcome.package_opened = 1


def _fold_suggestion(session: Session, outcome: Outcome, event: MetricEvent) -> None:
    outcome.suggestion_used = 1


_FOLDS = {
    "message.inbound": _fold_inbound,
    "bot.reply": _fold_bot_reply,
    "handoff": _fold_handoff,
    "agent.reply": _fold_agent_reply,
    "ticket.solved": _fold_solved,
    "ticket.reopened": _fold_reopened,
    "csat": _fold_csat,
    "package.opened": _fold_package,
    "suggestion.used": _fold_suggestion,
}


def _link_to_outreach(session: Session, event: MetricEvent, kind: str) -> None:
    """A customer who was sent a proactive message and then contacts us (or opts out)
    within the window: recorded against that delivery, once."""
    if event.customer_id is None:
        return
    delivered = _delivery_before(session, event.account_id, event.customer_id, event.occurred_at)
    if delivered is not None:
        record(session, event.account_id, kind, at=event.occurred_at, customer_id=event.customer_id,
               channel=delivered.channel, dedupe_key=f"{kind}:{delivered.id}", delivery_event_id=delivered.id)


def _delivery_before(session: Session, account_id: int, customer_id: int, at: datetime) -> MetricEvent | None:
    """The customer's latest outreach delivery within ``REOPEN_WINDOW`` before ``at``."""
    return session.scalar(select(MetricEvent).where(
        MetricEvent.account_id == account_id, MetricEvent.kind == "outreach.delivered",
        MetricEvent.customer_id == customer_id, MetricEvent.occurred_at >= at - REOPEN_WINDOW,
        MetricEvent.occurred_at <= at).order_by(MetricEvent.occurred_at.desc(), MetricEvent.id.desc()).limit(1))


# -- hooks called from the flows -----------------------------------------------------


def message_received(session: Session, conversation: Conversation, message: Message) -> None:
    """A customer's message the bot or an agent will handle (not STOP, not a rating)."""
    # Held while recording: the session's identity map keeps only referenced rows, and
    # the fold below reads the same row (one SELECT for both, not two). A conversation's
    # first message creates it here, so the fold does not look for it a second time.
    # A conversation this event opened has no outcome row in the database yet.
    outcome = (unit_of_work.in_session(session, ConversationOutcome, conversation.id)
               if unit_of_work.created(session, conversation) else session.get(ConversationOutcome, conversation.id))
    new_conversation = outcome is None
    if outcome is None:
        outcome = _new_outcome(session, conversation.id, at=message.created_at)
    record(session, conversation.account_id, "message.inbound", at=message.created_at,
           conversation_id=conversation.id, customer_id=conversation.customer_id, channel=message.channel,
           dedupe_key=f"inbound:{message.id}", new_conversation=new_conversation)
    del outcome


def bot_replied(session: Session, conversation: Conversation, inbound: Message, reply: Message, *,
                action: str, usage: dict[str, int] | None = None) -> None:
    intent = (inbound.meta.get("enrichment") or {}).get("intent")
    in_scope = (inbound.meta.get("enrichment") or {}).get("in_scope", True)
    record(session, conversation.account_id, "bot.reply", at=reply.created_at, conversation_id=conversation.id,
           customer_id=conversation.customer_id, channel=reply.channel, label=action,
           value=_seconds(reply.created_at, inbound.created_at), dedupe_key=f"bot.reply:{reply.id}",
           intent=intent if in_scope else None, tokens=int((usage or {}).get("total_tokens") or 0))


def handed_over(session: Session, conversation: Conversation, reason: str) -> None:
    record(session, conversation.account_id, "handoff", at=conversation.handoff_at, conversation_id=conversation.id,
           customer_id=conversation.customer_id, channel=conversation.channel, label=reason[:64],
           dedupe_key=f"handoff:{conversation.id}")


def agent_replied(session: Session, conversation: Conversation, reply: Message) -> None:
    record(session, conversation.account_id, "agent.reply", at=reply.created_at, conversation_id=conversation.id,
           customer_id=conversation.customer_id, channel=reply.channel, dedupe_key=f"agent.reply:{reply.id}")


def ticket_solved(session: Session, conversation: Conversation) -> None:
    record(session, conversation.account_id, "ticket.solved", at=conversation.closed_at,
           conversation_id=conversation.id, customer_id=conversation.customer_id, channel=conversation.channel,
           dedupe_key=f"solved:{conversation.id}")


def ticket_reopened(session: Session, conversation: Conversation, *, at: datetime | None = None,
                    dedupe_key: str | None = None) -> None:
    """The conversation's Zendesk ticket went from solved back to open."""
    record(session, conversation.account_id, "ticket.reopened", at=at, conversation_id=conversation.id,
           customer_id=conversation.customer_id, channel=conversation.channel,
           dedupe_key=dedupe_key or f"reopened:{conversation.id}")


def csat_answered(session: Session, conversation: Conversation, score: int) -> None:
    record(session, conversation.account_id, "csat", conversation_id=conversation.id,
           customer_id=conversation.customer_id, channel=conversation.channel, value=float(score),
           dedupe_key=f"csat:{conversation.id}")


def package_opened(session: Session, conversation: Conversation, agent: str) -> None:
    """An agent fetched the handoff package (the sidebar), counted once per agent."""
    if conversation.handoff_reason is None:
        return
    record(session, conversation.account_id, "package.opened", conversation_id=conversation.id,
           customer_id=conversation.customer_id, label=agent[:64],
           dedupe_key=f"package:{conversation.id}:{agent[:100]}")


def suggestion_used(session: Session, account_id: int, conversation_id: int | None, suggestion_id: int,
                    agent: str) -> None:
    record(session, account_id, "suggestion.used", conversation_id=conversation_id, label=agent[:64],
           dedupe_key=f"suggestion.used:{suggestion_id}:{agent[:100]}")


def opted_out(session: Session, account_id: int, customer_id: int, channel: str | None, *,
              at: datetime | None = None) -> None:
    """STOP from a customer; counted as an outreach opt-out when it follows a delivery."""
    event = record(session, account_id, "consent.opt_out", at=at, customer_id=customer_id, channel=channel)
    if event is not None:
        _link_to_outreach(session, event, "outreach.opted_out")


def vendor_failed(session: Session, account_id: int, vendor: str, kind: str, *, retry_after: float | None = None,
                  operation: str | None = None) -> None:
    """A vendor API error (``vendor.error``), outage (``vendor.unavailable``) or rate
    limit (``vendor.rate_limited``, value = the wait asked for), for /metrics."""
    record(session, account_id, kind, label=vendor, value=retry_after, operation=operation)
