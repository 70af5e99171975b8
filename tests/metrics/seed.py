"""A small, known history recorded through the metrics API, with every figure it
should produce worked out by hand in the comments of test_figures.py."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from switchboard.core.outcomes import metrics
from switchboard.core.store.models import (
    Account,
    Conversation,
    ConversationOutcome,
    Customer,
    Suggestion,
    SuggestionFeedback,
)

#: Three days ago at 10:00 UTC: recent enough that a STOP recorded "now" is still
#: within the 7-day outreach window.
T0 = datetime.combine((datetime.now(UTC) - timedelta(days=3)).date(), datetime.min.time(), tzinfo=UTC) \
    + timedelta(hours=10)
DAY = T0.date()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _conversation(session: Session, account: Account, customer: Customer, channel: str,
                  started: datetime) -> Conversation:
    conversation = Conversation(account_id=account.id, customer_id=customer.id, channel=channel, status="open",
                                started_at=started, last_message_at=started)
    session.add(conversation)
    session.flush()
    return conversation


def _inbound(session: Session, c: Conversation, seconds: float) -> None:
    new = session.get(ConversationOutcome, c.id) is None
    metrics.record(session, c.account_id, "message.inbound", at=at(seconds), conversation_id=c.id,
                   customer_id=c.customer_id, channel=c.channel, new_conversation=new)


def _bot(session: Session, c: Conversation, seconds: float, action: str, ai_seconds: float, *,
         tokens: int = 0, intent: str | None = None) -> None:
    metrics.record(session, c.account_id, "bot.reply", at=at(seconds), conversation_id=c.id, label=action,
                   value=ai_seconds, tokens=tokens, intent=intent)


def seed_history(session: Session, account: Account) -> dict[str, Conversation]:
    dana = Customer(account_id=account.id, tier="standard", display_name="Dana")
    vic = Customer(account_id=account.id, tier="vip", display_name="Vic")
    wen = Customer(account_id=account.id, tier="standard", display_name="Wen")
    xan = Customer(account_id=account.id, tier="standard", display_name="Xan")
    session.add_all([dana, vic, wen, xan])
    session.flush()
    # Outreach at 09:00: delivered to Dana (who then writes at 10:00) and Xan (who
    # never writes, but sends STOP later).
    for customer in (dana, xan):
        metrics.record(session, account.id, "outreach.sent", at=at(-3600), customer_id=customer.id, channel="sms")
        metrics.record(session, account.id, "outreach.delivered", at=at(-3600), customer_id=customer.id,
                       channel="sms")

    c1 = _conversation(session, account, dana, "sms", at(0))  # answered by the bot: contained
    _inbound(session, c1, 0)
    _bot(session, c1, 10, "answer", 10, tokens=120, intent="delivery_time")

    c2 = _conversation(session, account, vic, "sms", at(0))  # clarify, handoff, agent, solved
    _inbound(session, c2, 0)
    _bot(session, c2, 20, "clarify", 20, intent="refund")
    _bot(session, c2, 30, "handoff", 0)
    metrics.record(session, account.id, "handoff", at=at(30), conversation_id=c2.id, label="low_confidence")
    metrics.record(session, account.id, "package.opened", at=at(40), conversation_id=c2.id, label="ava")
    metrics.record(session, account.id, "agent.reply", at=at(630), conversation_id=c2.id)
    metrics.record(session, account.id, "ticket.solved", at=at(1000), conversation_id=c2.id)
    metrics.record(session, account.id, "csat", at=at(1100), conversation_id=c2.id, value=5)

    c3 = _conversation(session, account, wen, "whatsapp", at(0))  # straight to a person
    _inbound(session, c3, 0)
    _bot(session, c3, 5, "handoff", 5)
    metrics.record(session, account.id, "handoff", at=at(5), conversation_id=c3.id, label="customer_request")
    metrics.record(session, account.id, "agent.reply", at=at(3605), conversation_id=c3.id)
    metrics.record(session, account.id, "ticket.solved", at=at(4000), conversation_id=c3.id)
    metrics.record(session, account.id, "csat", at=at(4100), conversation_id=c3.id, value=2)

    c4 = _conversation(session, account, wen, "sms", at(7200))  # Wen comes back: c3 reopened
    _inbound(session, c4, 7200)

    metrics.opted_out(session, account.id, xan.id, "sms")  # now, within 7 days of the delivery

    shown = [Suggestion(account_id=account.id, zendesk_ticket_id=77, conversation_id=c2.id, query="refund?",
                        text=f"suggestion {n}", engine="local", created_at=at(50)) for n in range(2)]
    session.add_all(shown)
    session.flush()
    session.add_all([
        SuggestionFeedback(account_id=account.id, suggestion_id=shown[0].id, agent="ava", kind="inserted",
                           created_at=at(60)),
        SuggestionFeedback(account_id=account.id, suggestion_id=shown[0].id, agent="ava", kind="sent",
                           edit_distance=0.2, created_at=at(630)),
    ])
    session.commit()
    return {"c1": c1, "c2": c2, "c3": c3, "c4": c4}
