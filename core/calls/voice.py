"""Phone calls on the same pipeline as messages: the caller is the customer who texted
from that number, what they say joins their timeline (redacted), self-service answers
it from the knowledge base, and the escalation policy decides when a person takes over.

A call differs from a message in one way that shapes this module: Twilio waits for the
answer (TwiML, within 15 seconds) while the caller listens. So each turn is split in two:

- :func:`call_started` and :func:`speech_turn` run in the webhook's request, after the
  turn is recorded in the inbox. They only touch our database and the local engine
  (no model, no vendor call), and decide what the caller hears next (a
  :class:`VoiceReply`). Both are idempotent per call and turn: Twilio's retry of the same
  turn hears the same answer.
- :func:`follow_through` runs in the worker, from the same inbox event: the Zendesk
  ticket of a handoff (through the helpdesk port's outbox), the article link the caller
  asked for by SMS, a callback request on the ticket. A Zendesk outage retries the
  event; it never holds up the call.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.core import accounts, business_hours, ports
from switchboard.core.actions.customer_requests import scan_passages
from switchboard.core.answers.drafting import CITATION_PREFIX
from switchboard.core.bot import menu_replies
from switchboard.core.bot.decisions import SYSTEM_REASONS, Decision, answer_from_article, decide, searches
from switchboard.core.conversation.inbound import (
    Inbound,
    account_retriever,
    article_passages,
    conversation_turn,
    enrichment_json,
    policy,
    routing,
)
from switchboard.core.customers import identity, timeline
from switchboard.core.customers.identity import Address
from switchboard.core.helpdesk import tickets
from switchboard.core.helpdesk.handoff import Handoff, hand_over
from switchboard.core.intents.store import intent_model
from switchboard.core.knowledge.analysis import content_words
from switchboard.core.outcomes import metrics
from switchboard.core.pii.redaction import redact, truncate_for_model
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import Account, Conversation, Customer, InboxEvent, Message
from switchboard.core.texts.i18n import ENGLISH
from switchboard.core.understanding.enrichment import enrich

log = logging.getLogger(__name__)

#: The channel name on timeline rows, metrics and routing rules.
CHANNEL = "voice"

#: What the caller hears. Spoken, so: no links, no "reply", short sentences, and a way
#: to reach a person in the first thing they hear.
DISCLOSURE = "Hello, you're speaking with {company} virtual assistant."
GREETING = DISCLOSURE + " Say agent at any time to reach a person. How can I help you today?"
CONNECTING = "I'm connecting you to a member of our team now. Please hold."
CALLBACK_OFFER = ("Our team isn't available right now. Would you like a member of our team to call you back at "
                  "this number when we open? Please say yes or no.")
CALLBACK_BOOKED = "Thank you. A member of our team will call you back at this number as soon as we open. Goodbye."
CALLBACK_DECLINED = "No problem. You can also text us at this number at any time. Goodbye."
#: In business hours, with no support number or queue to put the caller through to.
NO_LINE = ("I've passed your question to our team, and a member of our team will call you back at this number. "
           "Goodbye.")
LINK_OFFER = "I can text you a link to this article: just say text me. Or ask me something else."
LINK_SENT = "I've sent you the link by text message. Is there anything else I can help with?"
NO_LINK = "I haven't given you an article yet. What would you like to know?"
LINK_OPTED_OUT = ("This number has opted out of our text messages, so I can't text you the link. Text START to "
                  "this number to receive messages again. Is there anything else I can help with?")
NOT_HEARD = "Sorry, I didn't catch that. Could you say it again?"
VOICE_CLARIFY = "I couldn't find that in our help center. Could you say it in other words? Or say agent for a person."
VOICE_WELCOME = "How can I help you today?"
ANYTHING_ELSE = "Is there anything else I can help with?"
VOICE_CLOSING = "You're welcome! " + ANYTHING_ELSE
#: When the turn could not be answered (a bug, the database gone) and nobody can take the call.
SORRY = "Sorry, something went wrong on our side. Please call again in a few minutes, or text us at this number."
#: A caller without a number to call back, when nobody can take the call now.
HIDDEN_NUMBER = ("Sorry, our team isn't available right now, and we can't call back a hidden number. "
                 "Please call again during our opening hours. Goodbye.")
CHOICES_INTRO = "I found a few articles that may help."
CHOICES_FOOTER = "Say the number you want, or say agent to talk to a person."
#: The text message carrying the links the caller asked for.
LINK_SMS = "Here is the article from your call with us: {links}"

#: Twilio's speech recognition below this confidence is treated as not heard: answering
#: a misheard question confidently is worse than asking again.
MIN_SPEECH_CONFIDENCE = 0.2
#: Turns in a row with nothing understood before the caller is passed to a person.
MAX_NOT_HEARD = 2
#: A caller's language, as enrichment reports it (ISO 639-1), in the tag Twilio's speech
#: recognition and <Say> take.
LOCALES = {"en": "en-US", "es": "es-ES", "fr": "fr-FR", "de": "de-DE", "it": "it-IT", "pt": "pt-BR",
           "nl": "nl-NL", "pl": "pl-PL", "tr": "tr-TR", "ar": "ar-AE"}
#: "Text me", "send me the link", "can you SMS that": the caller wants the link offered.
_WANTS_LINK = re.compile(r"\b(text|sms) (me|it|that)\b|\b(send|text|sms)( me)?( the| a| that)? link\b", re.IGNORECASE)
_YES = re.compile(r"^\W*(yes|yeah|yep|sure|please|ok|okay|call me|yes please)\b", re.IGNORECASE)
_LANGUAGE_TAG = re.compile(r"[a-z]{2,3}-[A-Z]{2}")

Then = Literal["gather", "connect", "hangup"]


class CallNotAnswered(LookupError):
    """The worker found no recorded answer for a turn it was asked to follow through."""


@dataclass(frozen=True)
class Call:
    """A call as Twilio describes it in every voice request."""

    call_sid: str
    caller: str  # From: "+14155550100", or "Anonymous"/"client:…" when there is no number
    called: str  # To: our number


@dataclass(frozen=True)
class SpeechTurn:
    call: Call
    turn: int  # 1 for the caller's first answer to the greeting, then 2, 3…
    speech: str
    confidence: float | None


@dataclass(frozen=True)
class VoiceOptions:
    support_number: str | None
    support_queue: str | None
    hours: str | None
    timezone: str
    language: str
    voice_name: str | None
    company: str


@dataclass(frozen=True)
class VoiceReply:
    """What the caller hears next, and what happens after it."""

    say: str
    then: Then
    language: str
    voice_name: str | None = None
    next_turn: int = 1
    support_number: str | None = None
    support_queue: str | None = None


def options_for(account: Account, settings: Settings) -> VoiceOptions:
    """The account's voice settings (`accounts.setting`: never the default's support line
    for a further account). A further account's are not checked at start-up as the
    environment's are, so what cannot be read is logged and replaced here."""
    company = accounts.company_name(account, settings) or accounts.NEUTRAL_COMPANY

    def own(name: str) -> str | None:
        return accounts.setting(account, name, settings, str)
    hours, zone = own("voice_hours"), own("voice_timezone") or "UTC"
    try:
        business_hours.is_open(hours, zone, datetime.now(UTC))
    except (business_hours.BadHours, ZoneInfoNotFoundError, ValueError) as exc:
        # Settings of further accounts are not checked at start-up: a caller must still be
        # answered, so the hours are ignored (someone answers) and the operator told.
        log.error("account %s: voice_hours %r / voice_timezone %r cannot be read (%s): fix them with "
                  "`switchboard accounts set-secret`; until then callers are put through at any hour",
                  account.slug, hours, zone, exc)
        hours, zone = None, "UTC"
    language = own("voice_language") or "en-US"
    if not _LANGUAGE_TAG.fullmatch(language):
        log.error("account %s: voice_language %r is not a tag like en-US: fix it with `switchboard accounts "
                  "set-secret`; until then callers are answered in en-US", account.slug, language)
        language = "en-US"
    return VoiceOptions(own("voice_support_number"), own("voice_support_queue"), hours, zone,
                        language, own("voice_name"), company)


# -- in the request ----------------------------------------------------------------------


def call_started(session: Session, event: InboxEvent, settings: Settings, call: Call) -> VoiceReply:
    """Greet the caller with the assistant disclosure and listen; a caller whose
    conversation is already with a person is put through to them."""
    account = _account(session, event)
    greeting = _bot_message(session, account.id, call.call_sid, 0)
    options = options_for(account, settings)
    if greeting is not None:
        return _reply_from(greeting, options)
    customer = _caller(session, account.id, call)
    conversation = timeline.current_conversation(session, customer, CHANNEL)
    timeline.append(session, conversation, direction="inbound", channel=CHANNEL, author="system",
                    body="Phone call started.", external_id=call.call_sid, status="received",
                    meta={"call_sid": call.call_sid, "inbox_event_id": event.id})
    company = f"{options.company}'s"
    if conversation.status == "human":
        say, voice = _put_through(options, DISCLOSURE.format(company=company), note_on_ticket=True)
        action = "handoff"
    else:
        say, voice, action = GREETING.format(company=company), {"then": "gather"}, "greeting"
    return _say(session, conversation, customer, options, call, 0, say, voice, action=action)


def speech_turn(session: Session, event: InboxEvent, settings: Settings, turn: SpeechTurn) -> VoiceReply:
    """What the caller said joins the timeline, redacted, and the bot answers it, asks
    again, or passes the caller to a person, as it would a text message."""
    account = _account(session, event)
    options = options_for(account, settings)
    answered = _bot_message(session, account.id, turn.call.call_sid, turn.turn)
    if answered is not None:
        return _reply_from(answered, options)
    call = turn.call
    customer = _caller(session, account.id, call)
    conversation = timeline.current_conversation(session, customer, CHANNEL)
    last = session.scalar(select(Message).where(Message.conversation_id == conversation.id, Message.author == "bot")
                          .order_by(Message.id.desc()).limit(1))
    pending = ((last.meta or {}).get("voice") or {}).get("pending") if last is not None else None
    heard = turn.speech.strip() if (turn.confidence is None or turn.confidence >= MIN_SPEECH_CONFIDENCE) else ""
    message = None
    if turn.speech.strip():
        e164 = identity.to_e164(call.caller)
        redacted = redact(turn.speech, default_region=identity.region_of(e164),
                          also_regions=(identity.company_region(settings, call.called),))
        message = timeline.append(
            session, conversation, direction="inbound", channel=CHANNEL, author="customer", body=redacted.text,
            external_id=f"{call.call_sid}:{turn.turn}", status="received",
            meta={"redactions": redacted.kinds, "call_sid": call.call_sid, "confidence": turn.confidence,
                  "inbox_event_id": event.id})
        # The raw speech was kept only until it was processed: keep the redacted text.
        event.payload = {**event.payload, "SpeechResult": redacted.text}
        metrics.message_received(session, conversation, message)
        heard = redacted.text if heard else ""
    if pending == "callback":
        booked = bool(_YES.match(heard))
        say = CALLBACK_BOOKED if booked else CALLBACK_DECLINED
        return _say(session, conversation, customer, options, call, turn.turn, say,
                    {"then": "hangup", "callback_requested": booked}, action="callback", in_reply_to=message)
    if not heard:
        return _not_heard(session, conversation, customer, options, call, turn, message)
    assert message is not None
    if conversation.status == "human":
        say, put = _put_through(options, "", note_on_ticket=True)
        return _say(session, conversation, customer, options, call, turn.turn, say, put, action="handoff",
                    in_reply_to=message)
    links = ((last.meta or {}).get("voice") or {}).get("links") if last is not None else None
    if _WANTS_LINK.search(heard) or (links and _YES.match(heard) and len(heard.split()) <= 3):
        if links and customer.opted_out_at is not None:  # nothing is ever sent to an opted-out number
            return _say(session, conversation, customer, options, call, turn.turn, LINK_OPTED_OUT,
                        {"then": "gather"}, action="link", in_reply_to=message)
        return _say(session, conversation, customer, options, call, turn.turn, LINK_SENT if links else NO_LINK,
                    {"then": "gather", "sms_links": links or []}, action="link" if links else "clarify",
                    in_reply_to=message)
    inbound = Inbound(account, customer, conversation, message)
    text = truncate_for_model(message.body)
    model = intent_model(session, settings.data_dir, account.id, embeddings=settings.embeddings)
    enrichment = enrich(text, intent_model=model)
    message.meta = {**message.meta, "enrichment": enrichment_json(enrichment)}
    heard_in = _language(session, customer, options)[0][:2]  # the language the caller was listened to in
    # Articles in the language the caller speaks: an article in another is not read out.
    search, _ = searches(account_retriever(session, account.id, settings), heard_in)
    decision = _picked(session, inbound, settings, last, heard) or decide(
        text, enrichment, conversation_turn(session, inbound, settings), policy=policy(settings), search=search,
        llm_drafter=None,  # the caller is waiting: the local engine answers, in milliseconds
        topic_words=content_words)
    # Passages are untrusted, as on every channel: the ones carrying instructions are
    # flagged in the audit log (the local engine speaks them, no model reads them).

    scan_passages(session, account.id, conversation.id, decision.hits)
    reply, spoken = _spoken(decision)
    voice: dict[str, Any] = {"then": "gather", **spoken}
    if decision.action == "handoff":
        _hand_over_now(session, conversation, decision.reason or "unknown")
        reply, more = _put_through(options, "", note_on_ticket=False)
        voice = {**more, "handoff": {"trigger": decision.reason or "unknown",
                                     "detail": decision.notes.get("detail", ""), "intent": enrichment.trusted_intent}}
    return _say(session, conversation, customer, options, call, turn.turn, reply, voice, action=decision.action,
                in_reply_to=message, decision=decision)


def _not_heard(session: Session, conversation: Conversation, customer: Customer, options: VoiceOptions, call: Call,
               turn: SpeechTurn, message: Message | None) -> VoiceReply:
    """Silence or speech Twilio was unsure of: ask again, and after MAX_NOT_HEARD in a
    row hand over (repeated failure), rather than loop."""
    misses = 0
    for earlier in session.scalars(select(Message).where(
            Message.conversation_id == conversation.id, Message.author == "bot").order_by(Message.id.desc())
            .limit(MAX_NOT_HEARD)):
        if (earlier.meta or {}).get("reason") != "not_heard":
            break
        misses += 1
    if misses + 1 < MAX_NOT_HEARD:
        return _say(session, conversation, customer, options, call, turn.turn, NOT_HEARD, {"then": "gather"},
                    action="clarify", reason="not_heard", in_reply_to=message)
    _hand_over_now(session, conversation, "repeated_failures")
    say, voice = _put_through(options, "", note_on_ticket=False)
    voice["handoff"] = {"trigger": "repeated_failures", "detail": "The caller could not be understood "
                        f"{MAX_NOT_HEARD} times in a row.", "intent": None}
    return _say(session, conversation, customer, options, call, turn.turn, say, voice, action="handoff",
                reason="repeated_failures", in_reply_to=message)


def _put_through(options: VoiceOptions, lead: str, *, note_on_ticket: bool) -> tuple[str, dict[str, Any]]:
    """Connect to the support line in business hours; outside them offer a call back;
    with no line configured, promise one."""
    voice: dict[str, Any] = {"call_note": note_on_ticket}
    lead = f"{lead} " if lead else ""
    if not business_hours.is_open(options.hours, options.timezone, datetime.now(UTC)):
        return lead + CALLBACK_OFFER, {**voice, "then": "gather", "pending": "callback"}
    if options.support_number or options.support_queue:
        return lead + CONNECTING, {**voice, "then": "connect", "support_number": options.support_number,
                                   "support_queue": options.support_queue}
    return lead + NO_LINE, {**voice, "then": "hangup", "callback_requested": True}


def _hand_over_now(session: Session, conversation: Conversation, trigger: str) -> None:
    """The conversation is a person's from now on; its ticket is made by the worker."""
    conversation.status, conversation.handoff_reason = "human", trigger
    conversation.handoff_at = conversation.handoff_at or datetime.now(UTC)


def _spoken(decision: Decision) -> tuple[str, dict[str, Any]]:
    """The decision's reply as speech: no links (offered by SMS instead), no "reply"."""
    if decision.action == "answer" and decision.draft is not None:
        lines = [line for line in decision.draft.text.splitlines() if not line.startswith(CITATION_PREFIX)]
        links = [p.citation for p in decision.draft.citations if p.citation.startswith(("http://", "https://"))]
        spoken = " ".join(line.strip() for line in lines if line.strip())
        return f"{spoken} {LINK_OFFER if links else ANYTHING_ELSE}", {"links": list(dict.fromkeys(links))}
    if decision.action == "choices":
        titles = " ".join(f"{n}: {hit.passage.title.rstrip('.?!')}." for n, hit in enumerate(decision.choices, 1))
        return f"{CHOICES_INTRO} {titles} {CHOICES_FOOTER}", {}
    if decision.notes.get("intent") == "thanks":
        return VOICE_CLOSING, {}
    if decision.notes.get("intent") == "greeting":
        return VOICE_WELCOME, {}
    return VOICE_CLARIFY, {}


def _picked(session: Session, inbound: Inbound, settings: Settings, last: Message | None,
            heard: str) -> Decision | None:
    """The article the caller picked off the spoken menu ("two", "the second one", or
    words of its title), answered from that article; "none of them" asks for other words,
    a number the menu lacks hears it again; None when this is a new question."""
    if last is None or not (offered := (last.meta or {}).get("choices")):
        return None
    reply = menu_replies.read_reply(heard, [choice["title"] for choice in offered], ENGLISH)
    if reply is not None and reply.declined:
        # "None of them": asked to say it in other words, a failed answer, not a question
        return Decision("clarify", "", reason="did_not_help")
    if reply is not None and reply.out_of_range:
        # "Five" said to three articles: a slip, the same menu read out again
        return menu_replies.menu_again(
            last.meta, lambda article: article_passages(session, inbound.account.id, settings, article), ENGLISH)
    if reply is None or reply.picked is None:
        return None  # a new question
    index = reply.picked
    passages = article_passages(session, inbound.account.id, settings, offered[index]["article"])
    if not passages:
        return None
    question = truncate_for_model(str((last.meta or {}).get("question") or "") or offered[index]["title"])
    return answer_from_article(question, passages, conversation_turn(session, inbound, settings))


def _say(session: Session, conversation: Conversation, customer: Customer, options: VoiceOptions, call: Call,
         turn: int, say: str, voice: dict[str, Any], *, action: str, reason: str | None = None,
         in_reply_to: Message | None = None, decision: Decision | None = None) -> VoiceReply:
    """Put what the caller hears on the timeline (the answer the retry hears too) and count it."""
    language, voice_name = _language(session, customer, options)
    voice = {**voice, "call_sid": call.call_sid, "turn": turn, "language": language, "voice_name": voice_name}
    draft = decision.draft if decision is not None else None
    sources = [{"passage": p.id, "citation": p.citation} for p in (draft.citations if draft else ())]
    meta: dict[str, Any] = {"action": action, "reason": reason or (decision.reason if decision else None),
                            "sources": sources, "voice": voice,
                            "in_reply_to": in_reply_to.id if in_reply_to is not None else None}
    if decision is not None and in_reply_to is not None:
        meta.update(decision.conversation_meta(in_reply_to.body))
    reply = timeline.append(session, conversation, direction="outbound", channel=CHANNEL, author="bot", body=say,
                            external_id=_bot_id(call.call_sid, turn), status="spoken", meta=meta)
    if in_reply_to is not None:
        metrics.bot_replied(session, conversation, in_reply_to, reply, action=action,
                            usage=draft.usage if draft else None)
    audit(session, account_id=conversation.account_id, actor="bot", action=f"selfservice.{action}",
          subject_type="conversation", subject_id=conversation.id, detail={
              "channel": CHANNEL, "call_sid": call.call_sid, "turn": turn, "reply_id": reply.id,
              "reason": meta["reason"],
              "message_id": in_reply_to.id if in_reply_to is not None else None, "sources": sources,
              "redactions": (in_reply_to.meta or {}).get("redactions", {}) if in_reply_to is not None else {}})
    return _reply_from(reply, options)


def _reply_from(message: Message, options: VoiceOptions) -> VoiceReply:
    voice = (message.meta or {}).get("voice") or {}
    return VoiceReply(say=message.body, then=voice.get("then", "hangup"), language=voice.get("language")
                      or options.language, voice_name=voice.get("voice_name"), next_turn=int(voice["turn"]) + 1,
                      support_number=voice.get("support_number"), support_queue=voice.get("support_queue"))


def _language(session: Session, customer: Customer, options: VoiceOptions) -> tuple[str, str | None]:
    """The account's language, unless the caller's latest message (on any channel) was
    recognised as another; the account's voice only speaks the account's language.
    English is also enrichment's "not sure", so it never overrides the account."""
    recent = session.scalars(select(Message).join(Conversation).where(
        Conversation.customer_id == customer.id, Message.author == "customer").order_by(Message.id.desc()).limit(20))
    spoken = next((m.meta["enrichment"].get("language") for m in recent if (m.meta or {}).get("enrichment")), None)
    if spoken and spoken != "en" and spoken != options.language.split("-")[0] and spoken in LOCALES:
        return LOCALES[spoken], None
    return options.language, options.voice_name


# -- in the worker -------------------------------------------------------------------------


def follow_through(session: Session, event: InboxEvent, settings: Settings, call_sid: str, turn: int) -> None:
    """The slow half of a turn, through the ports' outboxes: the handoff ticket (with
    the call on it), a callback request, the article link by SMS. Safe to run again:
    every call carries an idempotency key of the call and turn."""
    account = _account(session, event)
    said = _bot_message(session, account.id, call_sid, turn)
    if said is None:
        raise CallNotAnswered(f"no answer is recorded for turn {turn} of call {call_sid}")
    voice = (said.meta or {}).get("voice") or {}
    conversation = session.get(Conversation, said.conversation_id)
    assert conversation is not None
    customer = session.get(Customer, conversation.customer_id)
    assert customer is not None
    phone = identity.reply_address(customer, "sms")
    needs_ticket = voice.get("handoff") or voice.get("callback_requested") or voice.get("call_note")
    if needs_ticket and conversation.status != "closed":
        _ensure_ticket(session, account, customer, conversation, voice, call_sid, settings)
    ticket_id = conversation.zendesk_ticket_id
    helpdesk = ports.current().helpdesk(session, account, settings)
    if ticket_id is not None and voice.get("call_note") and not voice.get("handoff"):
        helpdesk.add_comment(ticket_id, public=False, idempotency_key=f"call-note:{call_sid}:{turn}",
                             body=f"Switchboard: the customer is calling now from {phone} (call {call_sid}). "
                                  + _where_put(voice))
    if ticket_id is not None and voice.get("callback_requested"):
        helpdesk.update_ticket(ticket_id, tags=["callback_requested"], priority=None,
                               idempotency_key=f"callback-tag:{call_sid}")
        helpdesk.add_comment(ticket_id, public=False, idempotency_key=f"callback:{call_sid}",
                             body=f"Switchboard: the caller asked to be called back at {phone} (call {call_sid}).")
    links = voice.get("sms_links") or []
    if links and customer.opted_out_at is None:
        body = LINK_SMS.format(links=" ".join(links))
        result = ports.current().messenger(session, account, settings).send_message(
            to=phone, body=body, channel="sms", idempotency_key=f"voice-link:{said.id}")
        timeline.append(session, conversation, direction="outbound", channel="sms", author="bot", body=body,
                        external_id=result.response.get("sid"), status=result.response.get("status"),
                        meta={"action": "link", "call_sid": call_sid, "in_reply_to": said.id})


def _ensure_ticket(session: Session, account: Account, customer: Customer, conversation: Conversation,
                   voice: dict[str, Any], call_sid: str, settings: Settings) -> None:
    if conversation.zendesk_ticket_id is not None:
        return
    handoff = voice.get("handoff") or {}
    trigger = handoff.get("trigger") or conversation.handoff_reason or "explicit_request"
    detail = handoff.get("detail") or SYSTEM_REASONS.get(trigger, "")
    if conversation.status != "human":
        _hand_over_now(session, conversation, trigger)
    route = routing(settings).route(trigger=trigger, tier=customer.tier, channel=CHANNEL, intent=handoff.get("intent"))
    caller = identity.reply_address(customer, "sms")
    call = f"Phone call {call_sid} from {caller}: {_where_put(voice)}"
    ticket_id = hand_over(session, account, customer, conversation,
                          Handoff(trigger, f"{detail} {call}".strip(), route), settings)
    tickets.on_ticket_changed(session, account, settings, ticket_id=ticket_id, text="", write_back=False)


def _where_put(voice: dict[str, Any]) -> str:
    if voice.get("support_number") or voice.get("support_queue"):
        return "the caller was put through to the support line."
    if voice.get("pending") == "callback":
        return "outside business hours; the caller was offered a call back."
    return "no support line was configured; the caller was promised a call back."


def hidden_number_reply(options: VoiceOptions) -> VoiceReply:
    """A caller without a number (withheld, or a browser client) cannot be recognised,
    answered by SMS or called back: they are put through when someone answers."""
    line = options.support_number or options.support_queue
    if line and business_hours.is_open(options.hours, options.timezone, datetime.now(UTC)):
        return VoiceReply(CONNECTING, "connect", options.language, options.voice_name, 1,
                          options.support_number, options.support_queue)
    return VoiceReply(HIDDEN_NUMBER, "hangup", options.language, options.voice_name)


def fallback_reply(options: VoiceOptions) -> VoiceReply:
    """What the caller hears when their turn could not be answered: a person when
    someone answers, else an apology; the worker retries the recorded turn."""
    line = options.support_number or options.support_queue
    if line and business_hours.is_open(options.hours, options.timezone, datetime.now(UTC)):
        return VoiceReply(CONNECTING, "connect", options.language, options.voice_name, 1,
                          options.support_number, options.support_queue)
    return VoiceReply(SORRY, "hangup", options.language, options.voice_name)


#: Twilio's final call statuses; the others (ringing, in-progress…) come only when asked for.
FINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


def call_ended(session: Session, event: InboxEvent, *, call_sid: str, status: str, duration: int | None) -> None:
    """A call's final status joins its conversation's timeline, once."""
    if status not in FINAL_STATUSES:
        return
    started = timeline.by_external_id(session, event.account_id, call_sid)
    if started is None:
        return  # a call this deployment never answered (another URL, or refused)
    conversation = session.get(Conversation, started.conversation_id)
    assert conversation is not None
    length = f", {duration} s" if duration is not None else ""
    timeline.append(session, conversation, direction="inbound", channel=CHANNEL, author="system",
                    body=f"Phone call ended ({status}{length}).", external_id=f"{call_sid}:ended", status=status,
                    meta={"call_sid": call_sid, "duration": duration, "inbox_event_id": event.id})


# -- helpers -------------------------------------------------------------------------------


def _account(session: Session, event: InboxEvent) -> Account:
    account = session.get(Account, event.account_id)
    assert account is not None
    return account


def _caller(session: Session, account_id: int, call: Call) -> Customer:
    """The customer behind the calling number: the same person who texted from it."""
    return identity.resolve_customer(session, account_id, Address(CHANNEL, identity.to_e164(call.caller)))


def _bot_id(call_sid: str, turn: int) -> str:
    return f"{call_sid}:{turn}:bot"


def _bot_message(session: Session, account_id: int, call_sid: str, turn: int) -> Message | None:
    return timeline.by_external_id(session, account_id, _bot_id(call_sid, turn))
