"""Trying a configuration on questions before customers meet it (`switchboard eval`).

An admin about to import a new knowledge base, edit the escalation policy or switch the
drafting engine wants proof first: which questions would now be answered, from which
article, and which would go to a person. Each question here runs through the live
decision path of :func:`.replies.handle_inbound`, as a customer's first message:
keywords, redaction, enrichment with the account's intent model, retrieval,
:func:`.selfservice.decide` (escalation policy, drafting, grounding). Nothing is sent
and nothing is stored: the knowledge base is only read (a ``--kb`` file is indexed in
memory) and an LLM draft is asked for without the outbox row a live draft leaves.

The action engine (order look-ups, refunds) is not run: it needs a customer and their
orders, and it answers requests, not questions a knowledge base could answer.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import phonenumbers
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from switchboard.core import ports
from switchboard.core.accounts import company_name
from switchboard.core.answers.drafting import LLMDrafter
from switchboard.core.bot import menu_replies
from switchboard.core.bot.decisions import Decision, Drafter, Turn, answer_from_article, decide, searches
from switchboard.core.bot.escalation import EscalationPolicy
from switchboard.core.bot.escalation_file import load_policy
from switchboard.core.bot.follow_ups import UNSURE_MENU, JustCited, with_unsure_menu
from switchboard.core.conversation.inbound import candidate_languages, keyword, likely_languages
from switchboard.core.conversation.inbound import policy as live_policy
from switchboard.core.customers.identity import region_of
from switchboard.core.errors import SwitchboardError
from switchboard.core.intents.model import IntentModel
from switchboard.core.intents.store import has_fitted_model, intent_model
from switchboard.core.knowledge import phrasings
from switchboard.core.knowledge.analysis import content_words
from switchboard.core.knowledge.loaders import load_articles
from switchboard.core.knowledge.records import Article, Hit, article_of
from switchboard.core.knowledge.retrieval import build_index
from switchboard.core.knowledge.service import KnowledgeBase
from switchboard.core.pii.redaction import redact, truncate_for_model
from switchboard.core.quality.screen import screened
from switchboard.core.settings import Settings
from switchboard.core.store.csv_rows import CsvFormatError, read_rows
from switchboard.core.store.models import Account, Conversation, Customer, Message
from switchboard.core.texts.i18n import ENGLISH, Texts, language_of, texts_for
from switchboard.core.texts.translation import Translator
from switchboard.core.understanding.enrichment import conversation_language, enrich

if TYPE_CHECKING:
    from switchboard.core.answers.drafting import Draft
    from switchboard.core.knowledge.learned import Learned
    from switchboard.core.knowledge.retrieval import Retriever

#: What a question's ``expected`` says when a person should take it.
HANDOFF = "handoff"
#: Passages asked of retrieval per question, as the live path asks (selfservice.searches).
SEARCH_K = 5
#: Decisions of decide(); a stored reply with another action came from elsewhere (the
#: action engine, a keyword) and is not replayed.
DECIDED = frozenset({"answer", "choices", "clarify", "handoff"})
VERDICTS = ("answered_right", "answered_wrong", "choices_with_right", "choices_without_right",
            "clarified", "handed_over_right", "handed_over_wrong", "other")
Progress = Callable[[int], None]


class EvaluationError(SwitchboardError):
    """A question file or a configuration cannot be evaluated; the message says why."""


@dataclass(frozen=True)
class Question:
    text: str
    expected: str | None  # an article id, HANDOFF, or None when unknown (replay)
    where: str = ""  # "line 3": where the question came from
    #: The customer's earlier question the bot answered, for a follow-up ("and how much
    #: does that cost?" after "How long does delivery take?").
    previous: str | None = None
    #: Who asks, as the live bot weighs the languages they are known to write: the
    #: country (ISO 3166) of the number they text from, and their locale (a questions
    #: file's optional ``phone`` and ``locale``; a stored message's own, in a replay).
    region: str | None = None
    locale: str | None = None


@dataclass(frozen=True)
class Configuration:
    """Everything the decision needs besides the question: what a change is made to."""

    description: dict[str, str]
    policy: EscalationPolicy
    retriever: Retriever | None
    intent_model: IntentModel | None
    llm_drafter: Drafter | None = None
    company: str | None = None
    #: The account's texts in a language (its overrides of the catalogs), as the live bot sends them.
    texts: Callable[[str], Texts] = lambda language: ENGLISH
    translator: Translator | None = None
    #: The account's learned phrasings, as the live bot searches with them.
    learned: Learned | None = None
    #: The settings whose guardrails screen an answer before it is sent, as the live bot
    #: screens it (core/quality/screen.py); None sends every answer (benchmarks of retrieval).
    settings: Settings | None = None


@dataclass(frozen=True)
class Outcome:
    question: str
    expected: str | None
    action: str
    reason: str | None
    articles: tuple[str, ...]  # cited by an answer, first the one the reply leads with
    choices: tuple[str, ...]  # articles offered to choose from
    score: float | None  # retrieval's confidence in the top hit
    verdict: str
    language: str | None = None  # the language the customer would be answered in

    @property
    def article(self) -> str | None:
        return self.articles[0] if self.articles else None

    @property
    def shown(self) -> tuple[str, ...]:
        """The articles the customer would be pointed to: cited, or offered."""
        return self.choices if self.action == "choices" else self.articles

    @property
    def right(self) -> bool:
        """The customer ends at the right article (directly, or by picking it from the
        menu) or, when a person should take it, with a person."""
        return self.verdict in ("answered_right", "choices_with_right", "handed_over_right")

    def as_json(self) -> dict[str, Any]:
        row = asdict(self)
        return {**row, "articles": list(self.articles), "choices": list(self.choices),
                "article": self.article, "right": self.right,
                "score": None if self.score is None else round(self.score, 4)}

    def same_as(self, other: Outcome) -> bool:
        return (self.action, self.articles, self.choices) == (other.action, other.articles, other.choices)


# -- questions --------------------------------------------------------------------------

def read_questions(path: Path) -> list[Question]:
    """``question,expected`` rows from a CSV file, or objects with those keys, one per
    line, from a .jsonl file; an optional ``previous`` holds the question the bot
    answered just before (a follow-up), an optional ``phone`` (E.164) and ``locale`` who
    asks, as the live bot weighs the languages of the number's country and the locale.
    Errors name the line, as admins fix these by hand."""
    path = Path(path)
    try:
        content = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvaluationError(f"Cannot read the questions in {path} ({exc}); "
                              "give a UTF-8 .csv or .jsonl file.") from None
    rows = _jsonl_rows(path, content) if path.suffix.lower() == ".jsonl" else _csv_rows(path, content)
    questions = []
    for where, record in rows:
        text = str(record.get("question") or "").strip()
        expected = str(record.get("expected") or "").strip()
        if not text or not expected:
            raise EvaluationError(f"{path}, {where}: give both a question and what is expected "
                                  f"(an article id, or '{HANDOFF}' when a person should take it).")
        previous = str(record.get("previous") or "").strip() or None
        questions.append(Question(text, HANDOFF if expected.lower() == HANDOFF else expected, where, previous,
                                  _region(path, where, record), str(record.get("locale") or "").strip() or None))
    if not questions:
        raise EvaluationError(f"{path} holds no questions; add rows with a question and what is expected.")
    return questions


def naming_articles(questions: Sequence[Question], retrievers: Iterable[Retriever | None]
                    ) -> tuple[list[Question], list[Question]]:
    """The questions with each ``expected`` an article id of ``retrievers``' knowledge
    bases, and those whose ``expected`` names none of their articles.

    A question set labelled with the articles' URLs or titles (what a help center shows,
    and what a spreadsheet of customers' questions is often labelled with) was judged
    all wrong, answer after right answer: an article's URL or its title (any case) now
    stands for its id. A label that names no article (a typo, an article removed since)
    is returned apart, for the admin to be told."""
    ids: set[str] = set()
    named: dict[str, set[str]] = {}
    for retriever in retrievers:
        for passage in retriever.passages if retriever is not None else ():
            ids.add(passage.article_id)
            for name in (passage.url, passage.title):
                if name:
                    named.setdefault(_label(name), set()).add(passage.article_id)
    resolved, unknown = [], []
    for question in questions:
        expected = question.expected
        if expected is None or expected == HANDOFF or expected in ids:
            resolved.append(question)
            continue
        articles = named.get(_label(expected), set())
        if len(articles) == 1:
            resolved.append(replace(question, expected=next(iter(articles))))
        else:
            resolved.append(question)
            unknown.append(question)
    return resolved, unknown


def _label(name: str) -> str:
    return " ".join(name.casefold().split()).rstrip("/")


def _region(path: Path, where: str, record: dict[str, Any]) -> str | None:
    """The country of the row's ``phone``, if it gives one."""
    phone = str(record.get("phone") or "").strip()
    if not phone:
        return None
    try:
        region = region_of(phone)
    except phonenumbers.NumberParseException:
        region = None
    if region is None:
        raise EvaluationError(f"{path}, {where}: the phone {phone!r} is not a number in international "
                              "format; write it as +34612345678, or leave it empty.")
    return region


def _csv_rows(path: Path, content: str) -> list[tuple[str, dict[str, Any]]]:
    try:
        columns, rows = read_rows(content)
    except CsvFormatError as exc:
        raise EvaluationError(f"{path}, {exc}") from None
    if not {"question", "expected"} <= set(columns):
        raise EvaluationError(f"{path}: the header line must name the columns 'question' and 'expected' "
                              f"(found: {', '.join(columns) or 'nothing'}).")
    return [(f"line {row.line}", row.values) for row in rows]


def _jsonl_rows(path: Path, content: str) -> list[tuple[str, dict[str, Any]]]:
    rows = []
    for number, line in enumerate(content.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvaluationError(f"{path}, line {number} is not valid JSON ({exc.msg}).") from None
        if not isinstance(record, dict):
            raise EvaluationError(f'{path}, line {number}: expected {{"question": ..., "expected": ...}}.')
        rows.append((f"line {number}", record))
    return rows


# -- running ------------------------------------------------------------------------------

def run_question(question: Question, config: Configuration, turn: Turn | None = None) -> Outcome:
    """What the bot would do with ``question`` as a customer's first message."""
    word = keyword(question.text)
    if word is not None:  # answered by Twilio's keyword handling before any decision
        return Outcome(question.text, question.expected, "help" if word == "help" else "keyword", word,
                       (), (), None, "other")
    turn = turn or Turn(first_bot_message=question.previous is None, company=config.company)
    asked, spoken = question.text, None
    if question.previous is not None:
        # The live bot reads a follow-up with the question it answered and the answer it
        # sent (core/bot/follow_ups.py): that answer is decided here as it was then.
        previous = truncate_for_model(redact(question.previous).text)
        before = _decided(previous, config, replace(turn, first_bot_message=True), question)
        cited = before.draft.citations[0].article_id if before.action == "answer" and before.draft else None
        retriever = config.retriever
        answered = _reply_to_menu(question.text, previous, before, config, turn)
        if answered is not None:  # a pick off the menu, "none of these", or a number it does not have
            return outcome_of(question, answered)
        if before.action == "choices" and before.reason == UNSURE_MENU:  # as the live bot reads a reply to it
            asked = with_unsure_menu(question.text, previous)
        turn = replace(turn, previous_question=previous if before.action == "answer" else None,
                       # a menu or a clarifying question the bot sent for want of an answer
                       failed_answers=int(before.action in ("clarify", "choices") and bool(before.reason)),
                       previous_answer=before.reply if cited else None,
                       previous_article=JustCited(cited, retriever.passages_of) if cited and retriever else None)
        spoken = before.notes.get("language")  # a short follow-up keeps the conversation's language
    text = truncate_for_model(redact(question.text).text)
    read_as = truncate_for_model(redact(asked).text) if asked != question.text else None
    return outcome_of(question, _decided(text, config, turn, question, read_as=read_as, spoken=spoken))


def _reply_to_menu(text: str, previous: str, menu: Decision, config: Configuration, turn: Turn) -> Decision | None:
    """What the live bot answers ``text`` with when it replies to the ``menu`` it got for
    ``previous`` (:mod:`.menu_replies`, as ``inbound._picked_choice`` reads it); None
    when the reply is a new question, decided like any other."""
    meta = menu.conversation_meta(previous) if menu.action == "choices" else {}
    offered = meta.get("choices")
    if not offered:
        return None
    language = menu.notes.get("language") or "en"  # the menu's: always said by _decided
    texts = config.texts(language)
    reply = menu_replies.read_reply(text, [choice["title"] for choice in offered], texts)
    if reply is None:
        return None
    asked = str(meta.get("question") or previous)
    if reply.declined:
        decision = menu_replies.declined(texts, asked)
    elif reply.picked is None or config.retriever is None:
        decision = menu  # a number the menu does not have: the same menu again
    else:
        passages = config.retriever.passages_of(offered[reply.picked]["article"])
        decision = answer_from_article(asked, passages, replace(turn, first_bot_message=False, texts=texts),
                                       language=language)
    return replace(decision, notes={**decision.notes, "language": language})


def _decided(text: str, config: Configuration, turn: Turn, asker: Question | None = None, *,
             read_as: str | None = None, spoken: str | None = None) -> Decision:
    """The live decision for the (redacted) message ``text`` in ``turn``, from the
    customer ``asker`` describes (their number's country, their locale); its notes say
    the language it is in. ``read_as``: what the live bot decides on instead of ``text``
    (a reply to a menu, read with the menu's question), still reading intent, sentiment
    and language from the message itself. ``spoken``: the conversation's language so far
    (a follow-up's previous question's): a short reply keeps it, as it does live ("und
    Express?" after a German question is German)."""
    # The conversation's language as the live bot chooses it (the earlier message's, if
    # any; the customer's locale, if known), and the same search in it.
    locale, region = (asker.locale, asker.region) if asker is not None else (None, None)
    likely = likely_languages(locale, region)
    served = config.retriever.languages() if config.retriever is not None else frozenset()
    also = candidate_languages(config.retriever, likely)
    language = conversation_language(text, previous=spoken, preference=language_of(locale), also=also,
                                     likely=likely, served=served)
    search, other_language = searches(config.retriever, language, translator=config.translator,
                                      learned=config.learned, k=SEARCH_K)
    turn = replace(turn, texts=config.texts(language))
    enrichment = enrich(text, intent_model=config.intent_model, also=also, likely=likely)
    decision = decide(
        read_as or text, enrichment, turn, policy=config.policy,
        search=search, llm_drafter=config.llm_drafter, other_language=other_language,
        topic_words=lambda q: content_words(q, language_of(language) or "en"),
    )
    if config.settings is not None:
        decision, _ = screened(decision, enrichment.trusted_intent, turn, config.policy, config.settings)
    return replace(decision, notes={**decision.notes, "language": language})


def outcome_of(question: Question, decision: Decision) -> Outcome:
    cited = tuple(dict.fromkeys(p.article_id for p in (decision.draft.citations if decision.draft else ())))
    choices = offered_articles(decision)
    score = decision.hits[0].score if decision.hits else None
    return Outcome(question.text, question.expected, decision.action, decision.reason, cited, choices, score,
                   verdict(decision.action, question.expected, cited, choices),
                   (getattr(decision, "notes", None) or {}).get("language"))


def offered_articles(decision: Decision) -> tuple[str, ...]:
    """The articles a "choices" decision offers, whichever record holds them: hits,
    passages, articles or plain ids."""
    ids = []
    for item in getattr(decision, "choices", None) or ():
        passage = getattr(item, "passage", item)
        ids.append(item if isinstance(item, str) else getattr(passage, "article_id", None) or passage.id)
    return tuple(dict.fromkeys(ids))


def verdict(action: str, expected: str | None, cited: Sequence[str], choices: Sequence[str]) -> str:
    """How a decision compares with what was expected. An answer is right when it cites
    the expected article: that is the link the customer is given."""
    if action == "answer":
        return "answered_right" if expected in cited else "answered_wrong"
    if action == "choices":
        return "choices_with_right" if expected in choices else "choices_without_right"
    if action == "clarify":
        return "clarified"
    if action == "handoff":
        return "handed_over_right" if expected == HANDOFF else "handed_over_wrong"
    return "other"


def evaluate(questions: Iterable[Question], config: Configuration, *,
             progress: Progress | None = None) -> list[Outcome]:
    outcomes = []
    for question in questions:
        outcomes.append(run_question(question, config))
        if progress:
            progress(1)
    return outcomes


def counts(outcomes: Sequence[Outcome]) -> dict[str, int]:
    tally = Counter(o.verdict for o in outcomes)
    figures = {"questions": len(outcomes), **{name: tally[name] for name in VERDICTS}}
    figures["choices"] = figures["choices_with_right"] + figures["choices_without_right"]
    figures["handed_over"] = figures["handed_over_right"] + figures["handed_over_wrong"]
    # What the customer ends with: the right article (directly, or picked from a menu that
    # held it) or, when a person should take it, a person.
    figures["right"] = figures["answered_right"] + figures["choices_with_right"] + figures["handed_over_right"]
    return figures


def changed(before: Sequence[Outcome], after: Sequence[Outcome]) -> list[tuple[Outcome, Outcome]]:
    """The questions whose decision (action, cited or offered articles) differs."""
    return [(a, b) for a, b in zip(before, after, strict=True) if not a.same_as(b)]


# -- the configuration ------------------------------------------------------------------

def configuration(session: Session, account: Account, settings: Settings, *, kb_file: Path | None = None,
                  policy_file: Path | None = None, engine: str | None = None, model: str | None = None,
                  intents_file: Path | None = None) -> Configuration:
    """The account's live configuration, with the parts named here replaced.

    ``session`` is only read from (the stored knowledge base, when no ``kb_file``).
    """
    live_engine = "llm" if _llm_configured(settings) else "local"
    engine = engine or live_engine
    description = {
        "kb": str(kb_file) if kb_file else "account's",
        "policy": str(policy_file) if policy_file else str(settings.policy_file or "shipped default"),
        "engine": engine, "model": (model or settings.model_fast) if engine == "llm" else "-",
        "intents": str(intents_file) if intents_file else (
            "account's" if has_fitted_model(session, account.id) else "shipped default"),
    }
    if intents_file is None:
        intents = intent_model(session, settings.data_dir, account.id, embeddings=settings.embeddings)
    elif intents_file.suffix.lower() == ".csv":
        from switchboard.core.intents.model import (
            read_training_csv,  # scikit-learn with the first model, not at start-up
        )

        intents = IntentModel.fit(*read_training_csv(intents_file))
    else:
        intents = IntentModel.load(intents_file)
    retriever = _file_retriever(kb_file, settings) if kb_file else _stored_retriever(session, account.id, settings)
    return Configuration(
        description=description,
        policy=load_policy(policy_file) if policy_file else live_policy(settings),
        retriever=retriever,
        learned=None if kb_file else phrasings.learned(session, account.id, retriever.encoder_name, index=retriever),
        intent_model=intents,
        llm_drafter=_llm_drafter(session, account, settings, model) if engine == "llm" else None,
        company=company_name(account, settings),
        texts=lambda language: texts_for(session, account.id, language),
        translator=_translator(session, account, settings) if engine == "llm" else None,
        settings=settings,
    )


def _llm_configured(settings: Settings) -> bool:
    return ports.current().chat_model_configured(settings)


def _stored_retriever(session: Session, account_id: int, settings: Settings) -> Retriever:
    knowledge = KnowledgeBase.of(session, account_id, settings)
    if knowledge.has_index():
        retriever = knowledge.retriever()
    else:  # build in memory: an evaluation leaves the account's index as it found it
        articles = knowledge.articles()
        if not articles:
            raise EvaluationError("The account's knowledge base is empty: import one with `switchboard kb import "
                                  "PATH`, or evaluate a file with --kb PATH.")
        retriever = _build_retriever(articles, settings)
    return retriever


def _file_retriever(path: Path, settings: Settings) -> Retriever:
    try:
        articles = load_articles(path)
    except (FileNotFoundError, SwitchboardError) as exc:
        raise EvaluationError(str(exc)) from None
    if not articles:
        raise EvaluationError(f"{path} holds no articles to evaluate against.")
    return _build_retriever(articles, settings)


def _build_retriever(articles: Sequence[Article], settings: Settings) -> Retriever:
    """Indexed as KnowledgeBase.rebuild_index does, kept in memory."""
    return build_index(articles, settings.embeddings)


def _translator(session: Session, account: Account, settings: Settings) -> Translator:
    """The live bot's translator for answers across languages (no outbox row left)."""
    return Translator(ports.current().unrecorded_chat_model(session, account, settings), settings)


def _llm_drafter(session: Session, account: Account, settings: Settings, model: str | None) -> Drafter:
    if not ports.current().chat_model_configured(settings):
        raise EvaluationError("--engine llm needs a model: set OPENAI_API_KEY (OpenAI) or OPENAI_BASE_URL "
                              "(an OpenAI-compatible server), or evaluate with --engine local.")
    chat = ports.current().unrecorded_chat_model(session, account, settings)
    drafter = (LLMDrafter(chat, model_fast=model, model_strong=model) if model
               else LLMDrafter.from_settings(chat, settings))

    def draft(question: str, hits: Sequence[Hit]) -> Draft:
        return drafter.compose(question, hits, complex=len(content_words(question)) > 25)  # as replies does

    return draft


# -- replaying stored first messages -------------------------------------------------------

@dataclass(frozen=True)
class Recorded:
    """A conversation's first customer message (stored redacted) and what the bot did."""

    message_id: int
    conversation_id: int
    received_at: datetime
    text: str
    action: str
    articles: tuple[str, ...]
    customer_tier: str
    customer_value: float | None
    region: str | None = None  # the country of the number it came from
    locale: str | None = None  # the customer's
    language: str | None = None  # the language the bot answered in


def first_messages(session: Session, account_id: int, since: datetime,
                   until: datetime | None = None) -> tuple[list[Recorded], int]:
    """First customer messages received in [since, until) that decide() answered,
    oldest first, and how many others (answered by a keyword or the action engine, or
    never answered) were left out."""
    first_ids = (select(func.min(Message.id)).where(Message.account_id == account_id, Message.author == "customer")
                 .group_by(Message.conversation_id))
    query = select(Message).where(Message.id.in_(first_ids), Message.created_at >= since).order_by(Message.id)
    if until is not None:
        query = query.where(Message.created_at < until)
    firsts = list(session.scalars(query))
    replies: dict[int | None, Message] = {}
    for bot_message in session.scalars(select(Message).where(
            Message.conversation_id.in_([m.conversation_id for m in firsts]), Message.author == "bot")):
        replies.setdefault((bot_message.meta or {}).get("in_reply_to"), bot_message)
    recorded = []
    for message in firsts:
        reply = replies.get(message.id)
        if reply is None or reply.meta.get("action") not in DECIDED:
            continue
        conversation = session.get(Conversation, message.conversation_id)
        assert conversation is not None  # the message's foreign key
        customer = session.get(Customer, conversation.customer_id)
        assert customer is not None  # the conversation's foreign key
        value = (customer.attributes or {}).get("lifetime_value")
        recorded.append(Recorded(
            message.id, message.conversation_id, message.created_at, message.body, reply.meta["action"],
            tuple(dict.fromkeys(article_of(s["passage"]) for s in reply.meta.get("sources") or ())),
            customer.tier, float(value) if value is not None else None,
            region if isinstance(region := (message.meta or {}).get("region"), str) else None, customer.locale,
            reply.meta.get("language")))
    return recorded, len(firsts) - len(recorded)


def replay(recorded: Iterable[Recorded], config: Configuration, *,
           progress: Progress | None = None) -> list[tuple[Recorded, Outcome]]:
    """Each stored first message decided again under ``config``, as the customer's
    first message of a conversation (their tier, value, locale and number's country as
    stored)."""
    results = []
    for message in recorded:
        turn = Turn(first_bot_message=True, company=config.company, customer_tier=message.customer_tier,
                    customer_value=message.customer_value)
        asked = Question(message.text, None, f"message {message.message_id}", region=message.region,
                         locale=message.locale)
        results.append((message, run_question(asked, config, turn)))
        if progress:
            progress(1)
    return results


def replay_changed(results: Iterable[tuple[Recorded, Outcome]]) -> list[tuple[Recorded, Outcome]]:
    """Stored decisions that would now be different: another action, or other articles
    cited (or offered, when the stored reply recorded the articles it offered), or
    another language."""
    return [(m, o) for m, o in results if m.action != o.action
            or (m.articles or m.action != "choices") and m.articles != o.shown
            or None not in (m.language, o.language) and m.language != o.language]
