"""The bot's reply to a customer's message, sent on the customer's channel and put on
the record: the one outbound step the inbound pipeline (``inbound``) and the governed
actions' answers (``actions.selfservice``) share, apart from both so neither imports the
other to answer.

Safe to run twice for the same message (an inbox retry after a crash): the reply is
sent under the idempotency key ``reply:<message id>`` and the timeline ignores an entry
it already has.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from switchboard.core import ports
from switchboard.core.bot.decisions import DISCLAIMERS_ADDED, Decision
from switchboard.core.customers import timeline
from switchboard.core.customers.identity import reply_address
from switchboard.core.outcomes import metrics
from switchboard.core.pii.vault import echoable
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import Account, Conversation, Customer, Message


@dataclass(frozen=True)
class Inbound:
    """A customer's message with what it belongs to, as the pipeline handles it."""

    account: Account
    customer: Customer
    conversation: Conversation
    message: Message


def send_reply(session: Session, inbound: Inbound, decision: Decision, settings: Settings) -> Message:
    """Send ``decision.reply`` on the customer's channel and put it on the record."""

    conversation, account = inbound.conversation, inbound.account
    address = reply_address(inbound.customer, conversation.channel)
    # A reply may name a vault token the model wrote ([PHONE_1]): the customer reads
    # their own phone or email back, opened in the request to the vendor only (the
    # outbox and the timeline keep the token). A token the reply's articles name was put
    # there by whoever wrote the article, and a card, IBAN or id is never opened.
    passages = [hit.passage for hit in (*decision.hits, *decision.choices)]
    passages += decision.draft.citations if decision.draft else ()
    opened = echoable(session, account_id=account.id, conversation_id=conversation.id, text=decision.reply,
                      drawn_from=[f"{p.title}\n{p.text}" for p in passages])
    result = ports.current().messenger(session, account, settings).send_message(
        to=address, body=decision.reply, channel=conversation.channel,
        status_callback=settings.twilio_status_callback, idempotency_key=f"reply:{inbound.message.id}",
        vault_conversation_id=conversation.id, vault_tokens=opened,
    )
    sources = [{"passage": p.id, "citation": p.citation}
               for p in (decision.draft.citations if decision.draft else ())]
    added = {DISCLAIMERS_ADDED: decision.notes[DISCLAIMERS_ADDED]} if DISCLAIMERS_ADDED in decision.notes else {}
    reply = timeline.append(
        session, conversation, direction="outbound", channel=conversation.channel, author="bot",
        body=decision.reply, external_id=result.response.get("sid"), status=result.response.get("status"),
        meta={"action": decision.action, "reason": decision.reason, "sources": sources,
              "in_reply_to": inbound.message.id, "language": inbound.message.meta.get("language"),
              **({"opened": opened} if opened else {}),
              **added,
              **decision.conversation_meta(inbound.message.body)},
    )
    draft = decision.draft
    metrics.bot_replied(session, conversation, inbound.message, reply, action=decision.action,
                        usage=draft.usage if draft else None)
    audit(session, account_id=account.id, actor="bot", action=f"selfservice.{decision.action}",
          subject_type="conversation", subject_id=conversation.id, detail={
              "message_id": inbound.message.id, "reply_id": reply.id, "reason": decision.reason,
              "engine": draft.engine if draft else None, "model": draft.model if draft else None,
              "prompt_version": draft.prompt_version if draft else None, "sources": sources,
              "redactions": inbound.message.meta.get("redactions", {}),
              **({"translation": decision.notes} if "translated_from" in decision.notes else {}),
              **added,
              "top_hits": [{"passage": h.passage.id, "score": round(h.score, 4),
                            "coverage": round(h.signals.get("coverage", 0.0), 3)} for h in decision.hits[:3]],
          })
    return reply
