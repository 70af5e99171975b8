"""From an inbound customer message to the bot's reply, sent and on the record.

Everything here is safe to run twice for the same message (an inbox retry after a
crash): the reply is sent under the idempotency key ``reply:<message id>`` and the
timeline ignores an entry it already has.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from babel.languages import get_official_languages
from sqlalchemy import and_, bindparam, case, func, select
from sqlalchemy.orm import Session

from switchboard.core import accounts, ports
from switchboard.core.actions import customer_requests as actions
from switchboard.core.answers.drafting import Draft, LLMDrafter
from switchboard.core.bot import menu_replies
from switchboard.core.bot.decisions import (
    SYSTEM_REASONS,
    Decision,
    Drafter,
    Turn,
    answer_from_article,
    decide,
    searches,
)
from switchboard.core.bot.escalation import EscalationPolicy
from switchboard.core.bot.escalation_file import load_policy
from switchboard.core.bot.follow_ups import UNSURE_MENU, JustCited, with_unsure_menu
from switchboard.core.bot.outbound import Inbound, send_reply
from switchboard.core.customers import timeline
from switchboard.core.customers.identity import may_message
from switchboard.core.helpdesk import tickets
from switchboard.core.helpdesk.handoff import Handoff, follow_up_after_handoff, hand_over, relay_customer_message
from switchboard.core.helpdesk.routing import Routing, load_routing
from switchboard.core.intents.store import intent_model
from switchboard.core.knowledge import phrasings
from switchboard.core.knowledge.analysis import content_words
from switchboard.core.knowledge.records import Hit, Passage, article_of
from switchboard.core.knowledge.retrieval import Retriever
from switchboard.core.knowledge.service import KnowledgeBase, KnowledgeBaseEmpty
from switchboard.core.outcomes import metrics
from switchboard.core.pii.redaction import truncate_for_model
from switchboard.core.quality import rejudge
from switchboard.core.quality.scoring import score_conversation
from switchboard.core.quality.screen import screen_answer
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import Conversation, Message
from switchboard.core.store.rows import write_now
from switchboard.core.texts.i18n import ENGLISH, N_, Texts, language_of, texts_for
from switchboard.core.texts.translation import Translator, translate_customer_messages
from switchboard.core.understanding.enrichment import (
    Enrichment,
    clear_language,
    conversation_language,
    enrich,
    knowledge_languages,
)

log = logging.getLogger(__name__)

#: Twilio's standard opt-out and opt-in keywords (Advanced Opt-Out defaults).
STOP_WORDS = {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"}
START_WORDS = {"start", "yes", "unstop"}
HELP_WORDS = {"help", "info"}
#: The same keywords in the catalog languages, which Twilio's Advanced Opt-Out does not
#: know: for these we record the opt-out and confirm it ourselves, in the customer's
#: language (Twilio confirms its own keywords). The language is the keyword's, or the
#: conversation's where the word is shared ("parar" is Spanish and Portuguese).
LOCAL_STOP_WORDS: dict[str, str | None] = {
    "stopp": "de", "abmelden": "de", "baja": "es", "arret": "fr", "arrêt": "fr", "desinscrire": "fr",
    "basta": "it", "disiscrivi": "it", "parar": None, "sair": "pt",
}
LOCAL_START_WORDS: dict[str, str | None] = {"anmelden": "de", "alta": "es", "reprendre": "fr", "riprendi": "it",
                                            "voltar": "pt"}
LOCAL_HELP_WORDS: dict[str, str | None] = {"hilfe": "de", "ayuda": "es", "aide": "fr", "aiuto": "it", "ajuda": "pt"}
HELP_TEXT = N_("help", "{who}: ask your question here and our virtual assistant will answer, or reply "
               "AGENT to reach a person. Reply STOP to stop messages, START to resume. Msg&data rates may apply.")
HELP_WHO = N_("help_who", "{company} support")
HELP_WHO_NEUTRAL = N_("help_who_neutral", "Customer support")  # accounts.NEUTRAL_COMPANY
STOP_CONFIRMATION = N_("stop_confirmation", "You have been unsubscribed and will get no more messages from this "
                       "number. Reply START to resubscribe.")
START_CONFIRMATION = N_("start_confirmation", "You have been resubscribed to messages from this number. Reply HELP "
                        "for help, STOP to unsubscribe. Msg&data rates may apply.")


def keyword(body: str, *, opted_out: bool = False) -> str | None:
    """STOP/START/HELP as Twilio's Advanced Opt-Out defines them, and their local forms.
    START's synonyms ("yes") opt in only someone who opted out: for anyone else "yes" is
    an answer."""
    word = _bare(body)
    if word in STOP_WORDS or word in LOCAL_STOP_WORDS:
        return "stop"
    if word == "start" or (opted_out and (word in START_WORDS or word in LOCAL_START_WORDS)):
        return "start"
    if word in HELP_WORDS or word in LOCAL_HELP_WORDS:
        return "help"
    return None


def _bare(body: str) -> str:
    return body.strip().strip(".!").lower()


def _local_keyword(body: str) -> tuple[bool, str | None]:
    """(whether the keyword is a local form Twilio does not handle, the language it says)."""
    word = _bare(body)
    for table in (LOCAL_STOP_WORDS, LOCAL_START_WORDS, LOCAL_HELP_WORDS):
        if word in table:
            return True, table[word]
    return False, None


def _choose_language(session: Session, inbound: Inbound, hint: str | None, earlier: list[Message],
                     also: frozenset[str], likely: frozenset[str], served: frozenset[str]) -> str:
    """The conversation's language for this message (recorded as the customer's
    preference when none is stored and the message says it clearly), telling ``also``
    (:func:`candidate_languages`) besides the usual languages and weighing ``likely``
    (:func:`_likely_languages`) above the rest, then the help center's languages
    (``served``) when neither tells. The caller records it on the message, with the
    enrichment where there is one."""
    previous = _previous_customer_meta(session, inbound, earlier)
    preference = language_of(inbound.customer.locale)
    body = truncate_for_model(inbound.message.body)
    language = hint or conversation_language(body, previous=(previous or {}).get("language"), preference=preference,
                                             also=also, likely=likely, served=served)
    if inbound.customer.locale is None and clear_language(body, also, likely) == language:
        write_now(session, inbound.customer, locale=language)
    return language


def candidate_languages(retriever: Retriever | None, likely: frozenset[str]) -> frozenset[str]:
    """The languages to tell in this message besides the usual ones: those the account's
    articles are written in and those the customer is known to write (``likely``,
    :func:`_likely_languages`). A Romanian help center's
    customers were read as Turkish or French, a web chat visitor whose browser is Swedish
    and a Swede texting from +46 as German ("Var är mitt paket?"), and answered so."""
    named = [*(retriever.languages() if retriever is not None else ()), *likely]
    return knowledge_languages(named)


def _likely_languages(inbound: Inbound) -> frozenset[str]:
    return likely_languages(inbound.customer.locale, inbound.message.meta.get("region"))


def likely_languages(locale: str | None, region: object) -> frozenset[str]:
    """The languages a customer is known to write: their locale's, and those of the
    country (``region``, ISO 3166) of the number a text came from (CLDR's, de facto ones
    included). A word two languages share ("reembolso", "mi pedido": Portuguese to the
    detector by a little) is read in theirs."""
    return frozenset([*filter(None, [language_of(locale)]),
                      *(get_official_languages(region, de_facto=True) if isinstance(region, str) else ())])


def _previous_customer_meta(session: Session, inbound: Inbound, earlier: list[Message]) -> dict[str, Any] | None:
    """The meta of the customer's message before this one: in the window of latest
    messages the turn reads anyway, unless the bot and agents filled all of it."""
    for message in reversed(earlier):
        if message.author == "customer":
            return message.meta
    if len(earlier) < timeline.TURN_WINDOW:
        return None  # the window holds the whole conversation before this message
    return session.scalar(_PREVIOUS_CUSTOMER_META, {"conversation": inbound.conversation.id,
                                                     "message": inbound.message.id})


#: The statements read on every message, built once: building a statement and its
#: cache key cost more than running it.
_PREVIOUS_CUSTOMER_META = select(Message.meta).where(
    Message.conversation_id == bindparam("conversation"), Message.author == "customer",
    Message.id < bindparam("message")).order_by(Message.id.desc()).limit(1)
_BOT_REPLIES = select(Message.meta["action"].as_string().label("action"),
                      Message.meta["reason"].as_string().label("reason"),
                      Message.meta["picked"].as_string().label("picked")).where(
    Message.conversation_id == bindparam("conversation"), Message.author == "bot",
    Message.id < bindparam("message")).order_by(Message.id.desc()).limit(timeline.COUNT_CAP).subquery()
_FAILED_ANSWER = and_(_BOT_REPLIES.c.action.in_(("clarify", "choices")), _BOT_REPLIES.c.reason.is_not(None),
                      _BOT_REPLIES.c.reason != "")
#: The customer's conversations since the policy's repeat window, counted up to COUNT_CAP.
_COUNT_RECENT_CONTACTS = timeline.capped_count(select(Conversation.id).where(
    Conversation.customer_id == bindparam("customer"), Conversation.started_at >= bindparam("since")))
#: The counts a turn's policy compares with its thresholds, in one round trip: the
#: bot's latest COUNT_CAP replies, the failed answers among them (a clarifying question
#: or menu the bot sent for want of an answer, less the menus the customer then picked
#: from: their answer came), and the recent contacts.
_TURN_COUNTS = select(func.count(), func.coalesce(func.sum(case((_FAILED_ANSWER, 1), else_=0)), 0)
                      - func.coalesce(func.sum(case((_BOT_REPLIES.c.picked.is_not(None), 1), else_=0)), 0),
                      _COUNT_RECENT_CONTACTS.scalar_subquery()).select_from(_BOT_REPLIES)


def handle_inbound(session: Session, inbound: Inbound, settings: Settings) -> Decision | None:
    """Opt-out keywords, then self-service while the bot holds the conversation. A web
    chat has no keywords and no opt-out: a visitor who closes the widget gets nothing,
    and one who opted out of texts may still chat (the opt-out is the number's)."""
    web = inbound.message.channel == "web"
    word = None if web else keyword(inbound.message.body, opted_out=inbound.customer.opted_out_at is not None)
    local, hint = _local_keyword(inbound.message.body) if word else (False, None)
    # The conversation's latest messages, read once for the language, the menu pick and the turn.
    earlier = timeline.recent(session, inbound.conversation.id, before_id=inbound.message.id)
    retriever = account_retriever(session, inbound.account.id, settings)
    likely = _likely_languages(inbound)
    also = candidate_languages(retriever, likely)
    language = _choose_language(session, inbound, hint, earlier, also, likely,
                                retriever.languages() if retriever is not None else frozenset())
    texts = texts_for(session, inbound.account.id, language)
    if word is not None or not may_message(inbound.customer, inbound.message.channel):
        write_now(session, inbound.message, meta={**inbound.message.meta, "language": language})
        _answer_keyword(session, inbound, word, texts, settings, local=local)
        return None
    # The language and the enrichment in one UPDATE of the message (written apart, they
    # were two on the path of every message the bot or an agent handles).
    text = truncate_for_model(inbound.message.body)
    enrichment = enrich(text, intent_model=intent_model(session, settings.data_dir, inbound.account.id,
                                                        embeddings=settings.embeddings),
                        also=also, likely=likely)
    write_now(session, inbound.message,
              meta={**inbound.message.meta, "language": language, "enrichment": enrichment_json(enrichment)})
    metrics.message_received(session, inbound.conversation, inbound.message)
    rejudge.on_customer_message(session, inbound.account, settings, inbound.message, inbound.customer.id,
                                enrichment.intent)  # back within the rubric's days: not resolved after all
    phrasings.judge_pick(session, inbound.account.id, earlier, text, enrichment)  # "that didn't help" after a pick
    if inbound.conversation.status == "human":
        if inbound.conversation.zendesk_ticket_id is None:  # the ticket could not be made yet: retry
            _hand_over(session, inbound, inbound.conversation.handoff_reason or "unknown", "", None, settings)
        else:
            relay_customer_message(session, inbound.account, inbound.customer, inbound.conversation,
                                   inbound.message, enrichment, settings)
            translate_customer_messages(session, inbound.account, settings, [inbound.message])
            follow_up_after_handoff(session, inbound.account, inbound.customer, inbound.conversation,
                                    inbound.message, enrichment, settings)
        return None
    if actions.handle(session, inbound, settings):
        return None  # an action request or a verification code, answered by the policy engine
    picked = _picked_choice(session, inbound, settings, texts, earlier)
    if picked is not None:
        send_reply(session, inbound, picked, settings)
        return picked
    learned = (phrasings.learned(session, inbound.account.id, retriever.encoder_name, index=retriever)
               if retriever else None)
    search, other_language = searches(retriever, language, translator=_translator(session, inbound, settings),
                                      learned=learned)
    turn = conversation_turn(session, inbound, settings, texts=texts, earlier=earlier)
    decision = decide(
        _read_with_menu(session, inbound, earlier, text), enrichment, turn,
        policy=policy(settings), search=search, llm_drafter=_llm_drafter(session, inbound, settings),
        topic_words=lambda q: content_words(q, language_of(language) or "en"), other_language=other_language,
    )
    decision = screen_answer(session, account=inbound.account, conversation_id=inbound.conversation.id,
                             decision=decision, intent=enrichment.trusted_intent, turn=turn, policy=policy(settings),
                             settings=settings)
    actions.scan_passages(session, inbound.account.id, inbound.conversation.id, decision.hits)
    send_reply(session, inbound, decision, settings)
    if enrichment.intent == "thanks" and any(m.meta.get("action") == "answer" for m in earlier):
        # "Thanks, that answers it" after an answer: the conversation ended well; score it.
        score_conversation(session, inbound.account, settings, inbound.conversation, ended_by="customer_closed")
    if decision.action == "handoff":
        _hand_over(session, inbound, decision.reason or "unknown", decision.notes.get("detail", ""),
                   enrichment.trusted_intent, settings)
    return decision


def _answer_keyword(session: Session, inbound: Inbound, word: str | None, texts: Texts, settings: Settings, *,
                    local: bool) -> None:
    """STOP/START (consent recorded, confirmed where Twilio does not), HELP (unless the
    number opted out: nothing is ever sent to it), or a message from an opted-out number."""
    if word in ("stop", "start"):
        if local and word == "stop":  # Twilio ignored it: the one confirmation an opt-out allows
            send_reply(session, inbound, Decision("help", texts(STOP_CONFIRMATION)), settings)
        _record_consent(session, inbound, word, local=local)
        if word == "stop":
            metrics.opted_out(session, inbound.account.id, inbound.customer.id, inbound.message.channel)
        elif local:
            send_reply(session, inbound, Decision("help", texts(START_CONFIRMATION)), settings)
        return
    # Not a keyword: the caller found the number opted out. HELP: unless it is.
    if word != "help" or not may_message(inbound.customer, inbound.message.channel):
        return  # nothing is ever sent to an opted-out number
    metrics.message_received(session, inbound.conversation, inbound.message)
    company = accounts.company_name(inbound.account, settings)
    who = texts(HELP_WHO, company=company) if company else texts(HELP_WHO_NEUTRAL)
    send_reply(session, inbound, Decision("help", texts(HELP_TEXT, who=who)), settings)


def _hand_over(session: Session, inbound: Inbound, trigger: str, detail: str, intent: str | None,
               settings: Settings) -> None:
    # The handoff is committed before Zendesk is called: if Zendesk is down, the
    # retried event finds the conversation with a person and no ticket, and tries again.
    conversation = inbound.conversation
    conversation.status, conversation.handoff_reason = "human", trigger
    conversation.handoff_at = conversation.handoff_at or datetime.now(UTC)
    session.commit()
    translate_customer_messages(session, inbound.account, settings, timeline.recent(session, conversation.id, limit=10))
    language = inbound.message.meta.get("language")
    route = routing(settings).route(trigger=trigger, tier=inbound.customer.tier, channel=conversation.channel,
                                    intent=intent, language=language)
    ticket_id = hand_over(session, inbound.account, inbound.customer, conversation,
                          Handoff(trigger, detail or SYSTEM_REASONS.get(trigger, ""), route, language), settings)
    # Zendesk never tells us about a ticket we created (the provisioned webhook does not
    # subscribe to ticket.created, and a sandboxed helpdesk sends nothing), so the agent's
    # suggestions are prepared here, before anyone opens the ticket. No write-back: the
    # ticket was just created with the route's tags and priority, and a second Zendesk
    # call failing now would turn the retried handoff into a relayed follow-up.
    tickets.on_ticket_changed(session, inbound.account, settings, ticket_id=ticket_id, text="", write_back=False)




@functools.cache
def _routing(path: Path | None) -> Routing:
    return load_routing(path)


def routing(settings: Settings) -> Routing:
    return _routing(settings.routing_file)


@functools.cache
def _policy(path: Path | None) -> EscalationPolicy:
    return load_policy(path)


def policy(settings: Settings) -> EscalationPolicy:
    """The escalation policy (SWITCHBOARD_POLICY_FILE or the shipped default)."""
    return _policy(settings.policy_file)


def _record_consent(session: Session, inbound: Inbound, word: str, *, local: bool = False) -> None:
    customer = inbound.customer
    customer.opted_out_at = datetime.now(UTC) if word == "stop" else None
    # Twilio answers its own STOP/START keywords (Advanced Opt-Out); the mark lets a
    # stand-in for Twilio (the playground) show that answer where the customer would see
    # it. A local keyword ("STOPP") is confirmed by us instead: no mark.
    consent = "opt_out" if word == "stop" else "opt_in"
    inbound.message.meta = {**inbound.message.meta, ("consent_local" if local else "consent"): consent}
    audit(session, account_id=inbound.account.id, actor=f"customer:{customer.id}",
          action="consent.opt_out" if word == "stop" else "consent.opt_in",
          subject_type="customer", subject_id=customer.id,
          detail={"channel": inbound.message.channel, "keyword": inbound.message.body.strip()[:20]})


def conversation_turn(session: Session, inbound: Inbound, settings: Settings, *, texts: Texts = ENGLISH,
                      earlier: list[Message] | None = None) -> Turn:
    """What the policy needs of the conversation so far, from bounded reads: the
    latest TURN_WINDOW messages (``earlier``, when the caller read them already), the
    bot's replies counted up to COUNT_CAP, recent conversations counted up to
    COUNT_CAP. A message costs the same after 1 or 1,000 earlier ones."""
    conversation, customer = inbound.conversation, inbound.customer
    if earlier is None:
        earlier = timeline.recent(session, conversation.id, before_id=inbound.message.id)
    window_start = datetime.now(UTC) - timedelta(days=policy(settings).repeat_window_days)
    counted = session.execute(_TURN_COUNTS, {"conversation": conversation.id, "message": inbound.message.id,
                                             "customer": customer.id, "since": window_start}).one()
    bot_turns, failed_answers = int(counted[0]), max(int(counted[1]), 0)
    contacts = int(counted[2] or 0) or 1
    value = (customer.attributes or {}).get("lifetime_value")
    last_bot = _last_bot(session, inbound, earlier)
    answered = last_bot if last_bot is not None and last_bot.meta.get("action") == "answer" else None
    started = conversation.started_at if conversation.started_at.tzinfo else conversation.started_at.replace(tzinfo=UTC)
    return Turn(
        first_bot_message=not bot_turns,
        failed_answers=failed_answers,
        company=accounts.company_name(inbound.account, settings),
        sentiment_history=tuple(m.meta["enrichment"]["sentiment"] for m in earlier
                                if m.author == "customer" and "enrichment" in m.meta),
        customer_tier=customer.tier, customer_value=float(value) if value is not None else None,
        contacts_recent=int(contacts), bot_turns=bot_turns,
        previous_question=_answered_question(session, last_bot),
        previous_answer=answered.body if answered else None,
        previous_article=_cited_article(session, inbound, settings, answered) if answered else None,
        minutes_with_bot=(datetime.now(UTC) - started).total_seconds() / 60, texts=texts,
        attachments=len(inbound.message.meta.get("media") or ()),
    )


def _last_bot(session: Session, inbound: Inbound, earlier: list[Message]) -> Message | None:
    """The bot's latest reply before this message: usually in the window already read."""
    found = next((m for m in reversed(earlier) if m.author == "bot"), None)
    if found is not None or len(earlier) < timeline.TURN_WINDOW:
        return found
    return _latest_bot_reply(session, inbound)


def _latest_bot_reply(session: Session, inbound: Inbound) -> Message | None:
    """The bot's latest reply before this message, read from the database."""
    return session.scalar(select(Message).where(
        Message.conversation_id == inbound.conversation.id, Message.author == "bot",
        Message.id < inbound.message.id).order_by(Message.id.desc()).limit(1))


def _picked_choice(session: Session, inbound: Inbound, settings: Settings, texts: Texts,
                   earlier: list[Message]) -> Decision | None:
    """The answer from the article the customer picked off the bot's last menu ("2", or
    the title's words), or None when this message is not a pick: a new question."""
    last_bot = _last_bot(session, inbound, earlier)
    if last_bot is None:
        return None
    offered = (last_bot.meta or {}).get("choices")
    if not offered:
        return None
    reply = menu_replies.read_reply(inbound.message.body, [choice["title"] for choice in offered], texts)
    if reply is None:
        return None
    if reply.declined:
        return menu_replies.declined(texts, str(last_bot.meta.get("question") or ""))
    if reply.out_of_range:
        return menu_replies.menu_again(
            last_bot.meta, lambda article: article_passages(session, inbound.account.id, settings, article), texts)
    index = reply.picked
    assert index is not None
    passages = article_passages(session, inbound.account.id, settings, offered[index]["article"])
    if not passages:
        return None  # the article was removed since the menu was sent: treat as a question
    question = truncate_for_model(str(last_bot.meta.get("question") or offered[index]["title"]))
    if last_bot.meta.get("reason") != "did_not_help" and not last_bot.meta.get("follow_up"):
        # A menu after "that didn't help" is not learned from: the question had a confident
        # answer that may serve most who ask it, and two who wanted another must not flip it.
        # Nor one for a follow-up read with the conversation ("and how long does it take?"):
        # its words ask for another article after another answer.
        phrasings.record_pick(session, inbound.account.id, conversation_id=inbound.conversation.id,
                              customer_id=inbound.customer.id, message_id=inbound.message.id,
                              question=str(last_bot.meta.get("question") or ""),
                              article_id=offered[index]["article"], settings=settings)
    return answer_from_article(question, passages,
                               conversation_turn(session, inbound, settings, texts=texts, earlier=earlier),
                               language=inbound.message.meta.get("language"))


def _read_with_menu(session: Session, inbound: Inbound, earlier: list[Message], text: str) -> str:
    """``text`` read with the question of the menu the bot just sent for want of a clear
    answer, when it is a short reply pointing back to it (:func:`.follow_ups.with_unsure_menu`)."""
    last_bot = _last_bot(session, inbound, earlier)
    if last_bot is None or last_bot.meta.get("action") != "choices" or last_bot.meta.get("reason") != UNSURE_MENU:
        return text
    return truncate_for_model(with_unsure_menu(text, last_bot.meta.get("question") or _asked(session, last_bot)))


def _asked(session: Session, reply: Message) -> str | None:
    """The customer's message ``reply`` answered."""
    asked_id = reply.meta.get("in_reply_to")
    asked = session.get(Message, asked_id) if isinstance(asked_id, int) else None
    return asked.body if asked is not None and asked.conversation_id == reply.conversation_id else None


def article_passages(session: Session, account_id: int, settings: Settings, article_id: str) -> list[Passage]:
    """The passages of the article a customer picked off a menu (in writing or by voice);
    none when the knowledge base is empty or the article was removed since."""
    try:
        retriever = KnowledgeBase.of(session, account_id, settings).retriever()
    except KnowledgeBaseEmpty:
        return []
    return retriever.passages_of(article_id)


def _answered_question(session: Session, last_bot: Message | None) -> str | None:
    """The customer's question the bot's latest reply answered from the knowledge base:
    their message, or, for a pick off a menu, the menu's question and the title picked."""
    if last_bot is None or last_bot.meta.get("action") != "answer":
        return None
    if last_bot.meta.get("question"):
        return truncate_for_model(str(last_bot.meta["question"]))
    asked = _asked(session, last_bot)
    return truncate_for_model(asked) if asked is not None else None


def _cited_article(session: Session, inbound: Inbound, settings: Settings, reply: Message) -> JustCited | None:
    """The article the bot's answer ``reply`` cited (its first source), read if asked for."""
    sources = reply.meta.get("sources") or ()
    passage = str(sources[0].get("passage") or "") if sources and isinstance(sources[0], dict) else ""
    if "#" not in passage:
        return None
    return JustCited(article_of(passage), lambda article: article_passages(session, inbound.account.id,
                                                                              settings, article))


def account_retriever(session: Session, account_id: int, settings: Settings) -> Retriever | None:
    """The account's current index; None (every question then goes to a person) before
    a knowledge base is imported."""
    try:
        return KnowledgeBase.of(session, account_id, settings).retriever()
    except KnowledgeBaseEmpty:
        log.warning("account %s has no knowledge base yet: every question goes to a person", account_id)
        return None


def _translator(session: Session, inbound: Inbound, settings: Settings) -> Translator | None:
    """The language model's translator, when one is configured (answers across languages)."""
    if not ports.current().chat_model_configured(settings):
        return None

    return Translator(ports.current().chat_model(session, inbound.account, settings), settings)


def _llm_drafter(session: Session, inbound: Inbound, settings: Settings) -> Drafter | None:

    if not ports.current().chat_model_configured(settings):
        return None

    drafter = LLMDrafter.from_settings(ports.current().chat_model(session, inbound.account, settings), settings)
    history = [(m.author, m.body) for m in timeline.recent(session, inbound.conversation.id,
                                                           before_id=inbound.message.id, limit=8)]

    def draft(question: str, hits: Sequence[Hit]) -> Draft:
        complex_case = len(content_words(question)) > 25
        return drafter.compose(question, hits, history=history, complex=complex_case)

    return draft


def enrichment_json(e: Enrichment) -> dict[str, object]:
    return {"intent": e.intent, "intent_confidence": round(e.intent_confidence, 3), "in_scope": e.in_scope,
            "sentiment": round(e.sentiment, 3), "sentiment_label": e.sentiment_label, "language": e.language,
            "intent_familiar": e.intent_familiar}
