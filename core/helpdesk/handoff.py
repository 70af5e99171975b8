"""Handing a conversation to a person in Zendesk, and relaying between the two sides.

The agent gets one ticket per conversation with an internal note holding everything
the bot knows, so the customer never repeats themselves. From then on the customer's
messages are added to that ticket as their own comments, and an agent's public reply
is delivered on the channel the customer last used. Everything is built from the
stored (redacted) timeline, so a card number the customer typed stays redacted in
Zendesk too.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from switchboard.core import ports
from switchboard.core.actions.config import load_actions_config
from switchboard.core.bot.escalation import without_quote
from switchboard.core.channels.webchat import deliver_agent_reply_to_web
from switchboard.core.channels.webchat_away import notify_if_away
from switchboard.core.customers import timeline
from switchboard.core.customers.identity import may_message, reachable_address, reply_address, zendesk_user_id
from switchboard.core.helpdesk.routing import Route
from switchboard.core.helpdesk.summary import model_messages, one_line, the_ask
from switchboard.core.helpdesk.summary import summarise as summarise_conversation
from switchboard.core.outcomes import metrics
from switchboard.core.ports import OutsideWhatsAppWindow, RecipientOptedOut
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import Account, Conversation, Customer, Identity, IdentityKind, Message
from switchboard.core.texts.i18n import N_, texts_of_conversation
from switchboard.core.texts.translation import language_name
from switchboard.core.understanding.enrichment import Enrichment, sentiment_trend

WHATSAPP_WINDOW = timedelta(hours=24)
YES = re.compile(r"^\s*(yes|yep|yeah|correct|that'?s right|exactly|confirmed?)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Handoff:
    trigger: str
    detail: str
    route: Route
    #: The conversation's language (ISO 639-1), shown to the agent.
    language: str | None = None


def _identities(customer: Customer) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for identity in customer.identities:
        found.setdefault(identity.kind.value, []).append(identity.value)
    return found


def _history(session: Session, customer: Customer) -> tuple[int, datetime | None]:
    count, first = session.execute(
        select(func.count(Conversation.id), func.min(Conversation.started_at))
        .where(Conversation.customer_id == customer.id)).one()
    return int(count), first


#: The latest messages a handoff package (and a model's summary) is built from: enough
#: for an agent to take over, and the note's size stays the same however long the
#: conversation ran.
PACKAGE_MESSAGES = 50


def _earlier_than(session: Session, conversation_id: int, shown: Sequence[Message]) -> int:
    """How many messages precede the ones shown (counted up to COUNT_CAP)."""
    if len(shown) < PACKAGE_MESSAGES:
        return 0
    return timeline.count_capped(session, select(Message.id).where(
        Message.conversation_id == conversation_id, Message.id < shown[0].id))


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def build_package(session: Session, conversation: Conversation, customer: Customer, handoff: Handoff, *,
                  references: Mapping[str, re.Pattern[str]],
                  generated: Mapping[str, Any] | None = None) -> str:
    """The internal note: who, why, what was said and tried, on every channel.
    ``references`` are the company's identifier shapes (actions.yaml); ``generated`` a
    model's summary, used only if the timeline supports it."""
    messages = timeline.recent(session, conversation.id, limit=PACKAGE_MESSAGES)
    from_customer = [m for m in messages if m.author == "customer"]
    enrichments = [m.meta.get("enrichment") or {} for m in from_customer]
    latest = next((e for e in reversed(enrichments) if e.get("intent")), {})
    scores = [e["sentiment"] for e in enrichments if "sentiment" in e]
    count, first = _history(session, customer)
    ids = _identities(customer)
    # The customer's other recent conversations (a web chat and an SMS thread of one
    # person, merged when they proved their number) join the timeline the agent reads.
    shown = timeline.with_related(session, conversation, messages, limit=PACKAGE_MESSAGES, keep=PACKAGE_MESSAGES)
    # The channels the customer and the bot spoke on: the governed actions' own entries
    # (direction "internal", channel "action") are records, not a way of reaching anyone.
    channels = sorted({m.channel for m in shown if m.direction != "internal"})
    summary = summarise_conversation(messages, handoff_reason=handoff.trigger, generate=generated)
    lines = [
        f"Handed over by Switchboard: {handoff.trigger.replace('_', ' ')}. {handoff.detail}",
        "",
        "CUSTOMER",
        f"- {customer.display_name or 'Name not given'}; tier: {customer.tier}"
        + (f"; language: {language_label(handoff.language)}" if handoff.language else ""),
        f"- Phone: {', '.join(ids.get('phone', [])) or 'unknown'}; "
        f"WhatsApp: {', '.join(ids.get('whatsapp', [])) or 'no'}"
        f"; email: {', '.join(ids.get('email', [])) or 'unknown'}",
        f"- {count} conversation(s) with us" + (f" since {_stamp(first)}" if first else "")
        + f"; channels used here: {', '.join(channels)}",
        "",
        "SUMMARY",
        f"- {summary}",
        f"- Intent: {latest.get('intent') or 'unclear'}"
        + (f" ({latest['intent_confidence']:.0%} sure)" if latest.get("intent_confidence") else ""),
        f"- Sentiment: {latest.get('sentiment_label', 'unknown')}"
        + (f" ({scores[-1]:+.2f}), trend {sentiment_trend(scores)}" if scores else ""),
    ]
    answered = [m for m in messages if m.author == "bot" and m.meta.get("action") == "answer"]
    lines += ["", "WHAT THE BOT ALREADY ANSWERED"]
    lines += [f"- {one_line(m.body)} (sources: {', '.join(s['citation'] for s in m.meta.get('sources', []))})"
              for m in answered] or ["- Nothing: no answer was sent."]
    confirmed = confirmed_facts(messages, references)
    lines += ["", "WHAT THE CUSTOMER ALREADY GAVE OR CONFIRMED"]
    lines += [f"- {fact}" for fact in confirmed] or ["- Nothing yet."]
    lines += ["", "TIMELINE (all channels)"]
    earlier = _earlier_than(session, conversation.id, messages)
    if earlier:
        lines.append(f"({earlier}{'+' if earlier >= timeline.COUNT_CAP else ''} earlier message(s) not shown: "
                     f"the latest {len(messages)} follow)")
    lines += [f"[{_stamp(m.created_at)} {m.channel.upper()}{_elsewhere(m, conversation)}] {m.author}: "
              f"{one_line(with_attachments(m))}" for m in shown]
    return "\n".join(lines)


def with_attachments(message: Message) -> str:
    """The message's text and, after it, the photos or files sent with it (WhatsApp, MMS)
    as links: a customer's photo of a damaged parcel reached no agent, in the ticket or
    after it. Twilio's media URLs open without credentials unless the account turned on
    HTTP Basic authentication for media (docs/twilio.md)."""
    media = (message.meta or {}).get("media") or []
    return " ".join([message.body.strip(), *(f"[attachment: {url}]" for url in media)]).strip()


def _elsewhere(message: Message, conversation: Conversation) -> str:
    """Marks a message of another conversation: its vault tokens ([PHONE_1]) are that
    conversation's, not the ones this ticket reveals."""
    return "" if message.conversation_id == conversation.id else f", conversation {message.conversation_id}"


def language_label(code: str) -> str:
    """"fr" → "French (fr)": what an agent reads in the note and the sidebar."""
    name = language_name(code)
    return f"{name} ({code})" if name != code else code


def summarise(from_customer: Sequence[Message]) -> str:
    """What the customer asked, in their own (redacted) words: the message that says
    most about it, and the latest when that is another."""
    if not from_customer:
        return "No message from the customer."
    ask, last = the_ask(from_customer) or from_customer[-1], from_customer[-1]
    if ask.id == last.id:
        return f'Customer wrote: "{one_line(ask.body, 200)}"'
    return (f'Customer wrote: "{one_line(ask.body, 160)}"; latest: "{one_line(last.body, 160)}" '
            f"({len(from_customer)} messages)")


def confirmed_facts(messages: Sequence[Message], references: Mapping[str, re.Pattern[str]]) -> list[str]:
    """The identifiers the customer gave, named by the company's declared shapes
    ("Order A1001"), and what they confirmed with a yes."""
    facts: list[str] = []
    for i, message in enumerate(messages):
        if message.author != "customer":
            continue
        for kind, pattern in references.items():
            for found in pattern.finditer(message.body):
                facts.append(f"{kind.replace('_', ' ').capitalize()} {found.group(0)}")
        previous_bot = next((m for m in reversed(messages[:i]) if m.author == "bot"), None)
        if previous_bot is not None and _asked(previous_bot) and YES.match(message.body):
            facts.append(f'Said yes to "{one_line(previous_bot.body, 120)}"')
    return list(dict.fromkeys(facts))


def _asked(bot_message: Message) -> bool:
    """Whether the bot's message asked the customer something a yes answers: an action's
    preview awaiting their YES, or a question. A yes after "Done: a refund…" or an
    answer is the customer's thanks, and what the bot did is its own account, not
    something the customer confirmed."""
    return (bot_message.meta.get("reason") == "awaiting_confirmation"
            or bot_message.body.rstrip().endswith("?"))


def _generated_summary(session: Session, account: Account, settings: Settings,
                       conversation: Conversation) -> dict[str, Any] | None:
    """The configured model's summary of the timeline (redacted, as stored), or None
    without a model or when it fails: the handoff never waits on it."""
    if not ports.current().chat_model_configured(settings):
        return None
    messages = timeline.recent(session, conversation.id, limit=PACKAGE_MESSAGES)
    try:
        result = ports.current().chat_model(session, account, settings).chat(
            model=settings.model_fast, messages=model_messages(messages), max_tokens=200,
            idempotency_key=f"handoff-summary:{conversation.id}")
    except (ports.VendorError, ports.VendorUnavailable):
        return None
    return {"text": result.text or ""}


def requester_id(session: Session, zendesk: ports.Helpdesk, account: Account, customer: Customer) -> int:
    """The customer's Zendesk user: recorded, found by phone or email, or created (and
    recorded, so the next ticket finds it)."""
    user_id = zendesk_user_id(customer)
    if user_id is None:
        ids = _identities(customer)
        phone = next(iter(ids.get("phone") or ()), None)
        email = next(iter(ids.get("email") or ()), None)
        user_id = zendesk.find_user(phone=phone, email=email)  # a requester Zendesk already knows
    if user_id is None:
        user = zendesk.find_or_create_user(
            name=customer.display_name or phone or f"Customer {customer.id}",
            email=email, phone=phone, external_id=f"switchboard-{account.id}-{customer.id}",
            idempotency_key=f"user:{customer.id}")
        user_id = int(user.response["user_id"])
    if zendesk_user_id(customer) is None:
        # Through the relationship, so the package built next lists it.
        customer.identities.append(Identity(account_id=account.id, kind=IdentityKind.ZENDESK_USER,
                                            value=str(user_id)))
        session.flush()
    return user_id


def hand_over(session: Session, account: Account, customer: Customer, conversation: Conversation,
              handoff: Handoff, settings: Settings) -> int:
    """Open the conversation's ticket with the context package; returns its id.

    Idempotent per conversation: a retry finds the recorded calls under the same keys.
    """

    zendesk = ports.current().helpdesk(session, account, settings)
    user_id = requester_id(session, zendesk, account, customer)
    conversation.status, conversation.handoff_reason = "human", handoff.trigger
    conversation.handoff_at = conversation.handoff_at or datetime.now(UTC)
    package = build_package(session, conversation, customer, handoff,
                            references=load_actions_config(settings.actions_file).references,
                            # a model that just failed this message is not asked again
                            generated=None if handoff.trigger == "model_unavailable"
                            else _generated_summary(session, account, settings, conversation))
    route = handoff.route
    ticket = zendesk.create_ticket(
        requester={"id": user_id},
        subject=f"{conversation.channel.upper()} from {customer.display_name or 'customer'}: "
                f"{handoff.trigger.replace('_', ' ')}",
        comment_body=package, public=False, tags=route.tags, priority=route.priority,
        group_id=route.group_id, idempotency_key=f"handoff:{conversation.id}")
    conversation.zendesk_ticket_id = int(ticket.response["ticket_id"])
    metrics.handed_over(session, conversation, handoff.trigger)
    audit(session, account_id=account.id, actor="bot", action="handoff.created",
          subject_type="conversation", subject_id=conversation.id,
          detail={"trigger": handoff.trigger, "detail": without_quote(handoff.detail),
                  "ticket_id": conversation.zendesk_ticket_id,
                  "priority": route.priority, "group_id": route.group_id, "tags": list(route.tags)})
    return conversation.zendesk_ticket_id


#: What a customer hears after a handoff when they write again: someone has it. Once per
#: burst: not again while an acknowledgement went out within ACK_QUIET.
HANDOFF_ACK = N_("handoff_ack", "Thanks, we have your message. A member of our team has your conversation and will "
                 "reply here.")
ACK_QUIET = timedelta(minutes=15)
#: How upset a message must be for the ticket's priority to rise.
URGENT_SENTIMENT = -0.6


def ticket_markers(enrichment: Enrichment) -> tuple[list[str], str | None]:
    """What a ticket learns from one customer message: sentiment and intent tags, and a
    high priority when the customer is upset."""
    tags = [f"sentiment_{enrichment.sentiment_label}"]
    if enrichment.trusted_intent:
        tags.append(f"intent_{enrichment.trusted_intent}")
    return tags, "high" if enrichment.sentiment <= URGENT_SENTIMENT else None


def follow_up_after_handoff(session: Session, account: Account, customer: Customer, conversation: Conversation,
                            message: Message, enrichment: Enrichment, settings: Settings) -> None:
    """A customer's later message, once :func:`relay_customer_message` put it on the
    ticket with its markers: an internal note when the sentiment trend turns down, and
    the customer hears that a person has it, once per burst."""
    earlier = timeline.recent(session, conversation.id, before_id=message.id, author="customer")
    scores = [float(m.meta["enrichment"]["sentiment"]) for m in earlier if (m.meta.get("enrichment") or {})]
    score = enrichment.sentiment
    before, after = sentiment_trend(scores), sentiment_trend([*scores, score])
    if conversation.zendesk_ticket_id is not None:
        helpdesk = ports.current().helpdesk(session, account, settings)
        if after == "falling" and before != "falling":
            helpdesk.add_comment(
                conversation.zendesk_ticket_id, public=False, idempotency_key=f"trend:{message.id}",
                body=(f"Switchboard: the customer's sentiment is falling since the handoff (latest message "
                      f"{enrichment.sentiment_label}, {score:+.2f}). Consider replying soon."))
    # The acknowledgement of this burst, if any, is among the latest messages.
    quiet_since = datetime.now(UTC) - ACK_QUIET
    acked = any(m.direction == "outbound" and m.meta.get("action") == "handoff_ack"
                and (m.created_at if m.created_at.tzinfo else m.created_at.replace(tzinfo=UTC)) >= quiet_since
                for m in timeline.recent(session, conversation.id))
    channel = timeline.reply_channel(conversation.channel)
    if acked or not may_message(customer, channel):
        return
    address = reachable_address(customer, channel)
    if address is None:
        return
    ack = texts_of_conversation(session, account.id, conversation.id, customer.locale)(HANDOFF_ACK)
    result = ports.current().messenger(session, account, settings).send_message(
        to=address, body=ack, channel=channel, idempotency_key=f"handoff-ack:{message.id}")
    timeline.append(session, conversation, direction="outbound", channel=channel, author="system",
                    body=ack, external_id=result.response.get("sid"), status=result.response.get("status"),
                    meta={"action": "handoff_ack", "in_reply_to": message.id})


def relay_customer_message(session: Session, account: Account, customer: Customer, conversation: Conversation,
                           message: Message, enrichment: Enrichment, settings: Settings) -> None:
    """A customer's message after the handoff joins the ticket as their own comment, and
    the ticket learns what the message says (sentiment and intent tags, a higher priority
    when they are upset) in the same update: one Zendesk call and one ticket event per
    message, not two, which also halves what relaying spends of Zendesk's rate limit."""
    if conversation.zendesk_ticket_id is None:
        return
    tags, priority = ticket_markers(enrichment)
    ports.current().helpdesk(session, account, settings).add_comment(
        conversation.zendesk_ticket_id, body=f"[{message.channel.upper()}] {with_attachments(message)}", public=True,
        author_id=zendesk_user_id(customer), tags=tags, priority=priority, idempotency_key=f"relay:{message.id}")


@dataclass(frozen=True)
class AgentReply:
    ticket_id: int
    comment_id: str
    body: str
    public: bool
    author_id: str | None
    author_is_staff: bool
    #: The author's name as Zendesk sent it with the comment (the QA report shows it).
    author_name: str | None = None


def conversation_for_ticket(session: Session, account_id: int, ticket_id: int) -> Conversation | None:
    return session.scalar(select(Conversation).where(
        Conversation.account_id == account_id, Conversation.zendesk_ticket_id == ticket_id)
        .order_by(Conversation.id.desc()).limit(1))


def deliver_agent_reply(session: Session, account: Account, reply: AgentReply, settings: Settings) -> str:
    """Send an agent's public reply to the customer; returns what happened.

    Internal notes and the customer's own comments are never sent. Outside WhatsApp's
    24-hour window only an approved template may be sent; without one the agent is
    told in the ticket why the reply did not go out.
    """
    conversation = conversation_for_ticket(session, account.id, reply.ticket_id)
    if conversation is None:
        return "unknown_ticket"
    customer = session.get(Customer, conversation.customer_id)
    assert customer is not None
    if not reply.public:
        return "internal_note"
    if not reply.author_is_staff or (reply.author_id and reply.author_id == str(zendesk_user_id(customer))):
        return "from_customer"
    channel = timeline.reply_channel(conversation.channel)
    if channel == "web":
        outcome = deliver_agent_reply_to_web(session, account, conversation, customer, reply, settings)
        # A visitor who left hears of it by SMS or email, as they chose (the widget has it anyway).
        notify_if_away(session, account, conversation, customer, reply.comment_id, reply.body, settings)
        return outcome
    if customer.opted_out_at is not None:
        _tell_agent(session, account, conversation, reply, "the customer opted out (STOP) of messages on this "
                    "number; contact them another way.", settings)
        return "opted_out"
    twilio = ports.current().messenger(session, account, settings)
    phone = reply_address(customer, channel)
    kwargs: ports.MessageContent = {"body": reply.body}
    if channel == "whatsapp" and not _inside_whatsapp_window(session, conversation):
        template = settings.whatsapp_reply_template_sid
        if not template:
            _tell_agent(session, account, conversation, reply, "the customer's last WhatsApp message is more than "
                        "24 hours old, and WhatsApp only allows approved templates then. Set "
                        "SWITCHBOARD_WHATSAPP_TEMPLATE_SID to a reply template to reach them.", settings)
            return "outside_whatsapp_window"
        kwargs = {"content_sid": template, "content_variables": {"1": one_line(reply.body, 900)}}
    try:
        result = twilio.send_message(to=phone, channel=channel, idempotency_key=f"agent-reply:{reply.comment_id}",
                                     status_callback=settings.twilio_status_callback, **kwargs)
    except RecipientOptedOut:
        customer.opted_out_at = customer.opted_out_at or datetime.now(UTC)
        _tell_agent(session, account, conversation, reply, "Twilio refused it: the customer has opted out "
                    "(error 21610).", settings)
        return "opted_out"
    except OutsideWhatsAppWindow:
        _tell_agent(session, account, conversation, reply, "WhatsApp refused free text outside the 24-hour window "
                    "(error 63016).", settings)
        return "outside_whatsapp_window"
    sent = timeline.append(session, conversation, direction="outbound", channel=channel, author="agent",
                    body=reply.body, external_id=result.response.get("sid"), status=result.response.get("status"),
                    meta={"zendesk_comment_id": reply.comment_id, "template": "content_sid" in kwargs})
    metrics.agent_replied(session, conversation, sent)
    return "delivered"


def _inside_whatsapp_window(session: Session, conversation: Conversation) -> bool:
    # The latest such message by id (newest first on ix_messages_conversation_id_id), not
    # max(created_at) over the whole conversation.
    last = session.scalar(select(Message.created_at).where(
        Message.conversation_id == conversation.id, Message.author == "customer", Message.channel == "whatsapp")
        .order_by(Message.id.desc()).limit(1))
    if last is None:
        return False
    if last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    return datetime.now(UTC) - last < WHATSAPP_WINDOW


def _tell_agent(session: Session, account: Account, conversation: Conversation, reply: AgentReply, why: str,
                settings: Settings) -> None:

    ports.current().helpdesk(session, account, settings).add_comment(
        reply.ticket_id, body=f"Switchboard could not deliver your reply by {conversation.channel.upper()}: {why}",
        public=False, idempotency_key=f"undelivered:{reply.comment_id}")
    audit(session, account_id=account.id, actor="bot", action="handoff.reply_undelivered",
          subject_type="conversation", subject_id=conversation.id,
          detail={"ticket_id": reply.ticket_id, "comment_id": reply.comment_id, "why": why})


def close_solved(session: Session, account: Account, ticket_id: int) -> bool:
    """A solved ticket ends its conversation: the customer's next message starts a
    fresh one with the bot, instead of reopening a loop of handoffs."""
    conversation = conversation_for_ticket(session, account.id, ticket_id)
    if conversation is None or conversation.status == "closed":
        return False
    conversation.status, conversation.closed_at = "closed", datetime.now(UTC)
    metrics.ticket_solved(session, conversation)
    audit(session, account_id=account.id, actor="zendesk", action="conversation.closed",
          subject_type="conversation", subject_id=conversation.id, detail={"ticket_id": ticket_id})
    return True
