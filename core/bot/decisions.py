"""Deciding what the bot does with a customer's message: answer, ask, or hand over.

The rule that matters most: the bot only says what a knowledge-base passage supports.
When retrieval is unsure, the draft fails the grounding check, or the model is down, the
customer is passed to a person with the reason recorded; nothing is improvised. When to
hand over is the escalation policy's decision (core/bot/escalation.py, a file humans edit).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any, Literal

from switchboard.core.answers.drafting import (
    CITATION_PREFIX,
    Draft,
    UngroundedDraft,
    answer_kind,
    compose_local,
    ground_or_refuse,
    lead_of,
)
from switchboard.core.bot import follow_ups
from switchboard.core.bot.asking_part import asking_part
from switchboard.core.bot.escalation import EscalationPolicy, Signals, Trigger
from switchboard.core.bot.follow_ups import REFERS_BACK, JustCited, points_back
from switchboard.core.bot.menus import (
    ACROSS_LANGUAGES_MENU_SHARE,
    MAX_CHOICES,
    SAME_ANSWER_MENU_SHARE,
    choice_hits,
    choices_menu,
)
from switchboard.core.bot.other_articles import others, picked_from_menu
from switchboard.core.bot.several_questions import answer_each, first_reading, joined, reply_of
from switchboard.core.knowledge.analysis import content_words, language_of
from switchboard.core.knowledge.calibration import ANSWER_SCORE
from switchboard.core.knowledge.learned import Learned
from switchboard.core.knowledge.records import Hit, Passage
from switchboard.core.knowledge.retrieval import Retriever
from switchboard.core.pii.vault import TOKEN
from switchboard.core.ports import VendorError, VendorUnavailable
from switchboard.core.texts.i18n import ENGLISH, N_, Texts
from switchboard.core.texts.translation import Translator, language_name
from switchboard.core.understanding.asking import asks, opens_asking
from switchboard.core.understanding.enrichment import Enrichment
from switchboard.core.understanding.setbacks import only_setback
from switchboard.core.understanding.small_talk import SMALL_TALK_INTENTS, asks_who_answers, request_part

#: What a reply does; "action" is a governed action's outcome (core/actions/customer_requests.py), never decide()'s.
Action = Literal["answer", "choices", "clarify", "handoff", "help", "action"]

#: A top hit must contain at least this share of the question's topic words …
MIN_COVERAGE = 0.5
#: … and retrieval's fitted confidence must reach this. Coverage alone lets through a
#: passage that shares the words but answers another question ("where is my package"
#: → the returns article); the score separates right from wrong better (AUC 0.90 vs
#: 0.80, bench/retrieval.py --calibrate). 0.5 rather than 0.3, chosen on StackFAQ's
#: tuning half (bench/decision.py): a wrong citation falls from 2.9 % to 1.0 % of
#: questions and from 16 % to 10 % of those the KB lacks, while the right article is
#: still reached as often (86.6 %), some of it through the menu instead.
MIN_SCORE = ANSWER_SCORE
#: With sentence embeddings in the index, a top hit sharing fewer than MIN_COVERAGE of
#: the question's topic words may still be answered ("I can't remember my login" → "I
#: forgot my password"), but only when retrieval is this sure: a paraphrase has no words
#: to check against, so only a near-certain score stands in for them.
PARAPHRASE_MIN_SCORE = 0.9
#: Hits below this share of the top hit's score are likely other articles: drafting from them cites the wrong one.
DRAFT_SCORE_SHARE = 0.25
#: A question with fewer topic words than this is never answered outright: "refund?"
#: gets the refund articles to choose from instead.
MIN_QUESTION_WORDS = 2
#: A question of at most this many topic words ("cancel subscription") is answered
#: outright only when retrieval is nearly sure: two words match a neighbouring article
#: as well as the right one, and the score, fitted on whole questions, over-trusts them.
#: On two-word versions of StackFAQ's tuning questions a wrong article was cited for
#: 33 % at MIN_SCORE and 7 % at 0.9; the right one is reached as often (47 %), through
#: the menu.
SHORT_QUESTION_WORDS = 2
SHORT_MIN_SCORE = 0.9

#: The texts below reach customers: marked for the message catalogs (core/texts/i18n.py), and
#: sent through ``Turn.texts`` in the conversation's language.
DISCLOSURE_NAMED = N_("disclosure_named", "You're chatting with {company}'s virtual assistant. "
                      "Reply AGENT at any time to reach a person.")
DISCLOSURE_ANONYMOUS = N_("disclosure_anonymous", "You're chatting with a virtual assistant. "
                          "Reply AGENT at any time to reach a person.")
CLARIFY = N_("clarify", "I couldn't find that in our help center. Could you say it in other words? "
             "Or reply AGENT to talk to a person.")
HANDOFF_NOTICE = N_("handoff_notice", "I'm passing you to a member of our team; they'll reply here, usually "
                    "within {eta}. You won't need to repeat yourself.")
WELCOME = N_("welcome", "How can I help you today?")
#: A photo or file sent without words: it was searched as an empty question and got
#: "I couldn't find that in our help center".
ATTACHMENT_ONLY = N_("attachment_only", "Thanks, I got your attachment, but I can't view photos or files. Tell "
                     "me in a few words what you need, or reply AGENT and a person will see it.")
CLOSING = N_("closing", "You're welcome! If anything else comes up, just write here.")
#: The citation line under an answer ("More: <link>"), translated once the draft has
#: passed the grounding check (which reads the English form).
CITATION_MORE = N_("citation_more", "More:")
CITATION_NAMED = N_("citation_named", '"{title}" in our help center')
#: The shipped policy's handoff_eta, translated like the other texts; a company's own
#: phrase is sent as written (override handoff_notice per language to translate it).
HANDOFF_ETA = N_("handoff_eta", "a few hours")
#: Marks an answer written from an article in another language by the language model.
TRANSLATED = N_("translated_answer", "(Translated automatically from an article in {language}.)")
#: Marks an article in another language quoted as it is (no language model to translate).
ARTICLE_IN_LANGUAGE = N_("article_in_language", "(This article is in {language}: it is the closest answer we have.)")
#: The same under a menu of two or more articles in another language.
ARTICLES_IN_LANGUAGE = N_("articles_in_language", "(These articles are in {language}: they are the closest we have.)")

#: Handoffs the system itself causes (not the policy), and what the agent is told.
SYSTEM_REASONS = {
    "low_confidence": "No knowledge-base passage answered the question well enough to reply.",
    "ungrounded_draft": "The drafted answer was not supported by the knowledge base, so it was not sent.",
    "model_unavailable": "The language model was unavailable, so no answer was drafted.",
    "language": "No knowledge-base article is written in the customer's language.",
    "guardrail": "The drafted answer broke a guardrail (a risky promise or a missing disclaimer), so it was not sent.",
}


#: A note of an answer the guardrails added disclaimers to: their names, comma-separated
#: (core/quality/screen.py); the audit and the reply's record keep it.
DISCLAIMERS_ADDED = "disclaimers_added"


@dataclass(frozen=True)
class Decision:
    action: Action
    reply: str
    reason: str | None = None
    draft: Draft | None = None
    hits: tuple[Hit, ...] = ()
    notes: dict[str, str] = field(default_factory=dict)
    #: For "choices": the best hit of each article offered, in menu order.
    choices: tuple[Hit, ...] = ()

    def conversation_meta(self, message: str) -> dict[str, Any]:
        """What the reply's timeline entry keeps for the turns after it (``message``: the
        customer's, as stored): a menu's articles and the question a pick answers (read
        with the conversation: answered, but teaching no phrasing); an answer to a pick,
        the question it answered (a follow-up is read with that, not with "2") and the
        article picked (a menu picked from is no failed answer)."""
        meta: dict[str, Any] = {}
        if self.choices:
            meta["choices"] = [{"article": h.passage.article_id, "title": h.passage.title} for h in self.choices]
            # What a pick answers: the message, or the question whose answer it disowned.
            meta["question"] = self.notes.get("question", message)
            if self.notes.get("follow_up"):
                meta["follow_up"] = True
        elif self.action == "answer" and "question" in self.notes:
            meta["question"] = self.notes["question"]
        if "picked" in self.notes:
            meta["picked"] = self.notes["picked"]
        return meta


@dataclass(frozen=True)
class Turn:
    """What the escalation policy needs of the conversation so far (earlier messages
    only: the current one is the question being decided)."""

    first_bot_message: bool
    failed_answers: int = 0
    company: str | None = None
    sentiment_history: tuple[float, ...] = ()
    customer_tier: str = "standard"
    customer_value: float | None = None
    contacts_recent: int = 1
    bot_turns: int = 0
    minutes_with_bot: float = 0.0
    #: The customer's question the bot's last reply answered, when it did: a follow-up
    #: ("what about express?") is read together with it.
    previous_question: str | None = None
    #: That reply and the passages of the article it cited: a follow-up about it ("how
    #: long is it?") is asked of that article first (:mod:`.follow_ups`).
    previous_answer: str | None = None
    previous_article: JustCited | None = None
    #: The conversation's texts: its language (sticky across short replies) and the
    #: account's overrides; English by default.
    texts: Texts = ENGLISH
    #: Photos or files sent with this message (WhatsApp, MMS): one sent without words
    #: is not a question to search.
    attachments: int = 0


Drafter = Callable[[str, Sequence[Hit]], Draft]


@dataclass(frozen=True)
class OtherLanguage:
    """The customer writes in ``language`` and no article is written in it: answer from
    the ``source``-language articles (``search``) through ``translator``, or, without
    one, hand over to a person who speaks the language."""

    language: str
    source: str
    search: Callable[[str], list[Hit]]
    translator: Translator | None = None
    #: The index compares meanings across languages: ``search`` takes the customer's
    #: own words, and its best article can be quoted as it is, with a line saying so.
    multilingual: bool = False


def searches(retriever: Retriever | None, language: str, *, translator: Translator | None = None,
             learned: Learned | None = None, k: int = 5) -> tuple[Callable[[str], list[Hit]], OtherLanguage | None]:
    """How :func:`decide` searches for a question in ``language``: the live bot and
    ``switchboard eval`` both ask this, so the proof runs the product's path.

    Articles written in ``language`` are searched (an English-only or untagged
    knowledge base is searched as it always was for English). When none is written in
    it, the search is empty and the second value says how to answer from the other
    articles instead (:func:`_across_languages`)."""
    if retriever is None:
        return (lambda question: []), None
    available = retriever.languages()
    if language not in available:
        source = "en" if "en" in available else sorted(available)[0]
        within = source if len(available) > 1 else None
        return (lambda question: []), OtherLanguage(
            language=language, source=source, translator=translator, multilingual=retriever.multilingual,
            search=lambda question: retriever.search(question, k=k, language=within, learned=learned))
    within = language if len(available) > 1 or language != "en" else None
    return (lambda question: retriever.search(question, k=k, language=within, learned=learned)), None


def confident(hits: Sequence[Hit]) -> bool:
    """Whether the top hit is sure enough to answer from. An index fitted on its own
    knowledge base (core/knowledge/calibration.py) already weighs shared words against
    meaning in its score; the shipped confidences need the words checked apart."""
    if not hits or hits[0].score < MIN_SCORE:
        return False
    top = hits[0]
    return bool(top.signals.get("calibrated")) or top.signals.get("coverage", 0.0) >= MIN_COVERAGE or _paraphrase(hits)


def _paraphrase(hits: Sequence[Hit]) -> bool:
    """A top hit matched by meaning rather than by shared words, with near certainty."""
    return bool(hits) and "semantic" in hits[0].signals and hits[0].score >= PARAPHRASE_MIN_SCORE


def clearly_fits(hits: Sequence[Hit], words: Sequence[str], question: str = "") -> bool:
    """Whether one article fits ``words`` (the question's topic words) clearly enough to
    answer outright rather than offer a menu."""
    # "Where is my parcel?" names one topic word and asks where: the asking counts, as
    # "parcel?" alone does not say which of the parcel articles is meant.
    calibrated = bool(hits) and bool(hits[0].signals.get("calibrated"))
    asked = len(words) + (1 if calibrated and opens_asking(question) else 0)
    if asked < MIN_QUESTION_WORDS or not confident(hits):
        return False
    # A confidence fitted on the help center's own titles, short as customers' questions
    # are, already weighs how clearly two words single out one article.
    return calibrated or asked > SHORT_QUESTION_WORDS or hits[0].score >= SHORT_MIN_SCORE


def drafting_hits(hits: Sequence[Hit]) -> list[Hit]:
    """The top hit and those close to it: what a reply may be built from."""
    floor = hits[0].score * DRAFT_SCORE_SHARE
    return [hit for i, hit in enumerate(hits) if i == 0 or hit.score >= floor]


def decide(
    question: str,
    enrichment: Enrichment,
    turn: Turn,
    *,
    policy: EscalationPolicy,
    search: Callable[[str], list[Hit]],
    llm_drafter: Drafter | None = None,
    topic_words: Callable[[str], list[str]],
    other_language: OtherLanguage | None = None,
) -> Decision:
    """The bot's next move for one (already redacted) customer message.

    The escalation policy is asked twice: before searching (a request for a person,
    fraud, anger… need no search) and, when the knowledge base is unsure, again with
    that fact (low confidence after a failed answer, out of scope, repeated failures).
    """

    # What the customer asks, without the greeting or thanks around it: "good morning"
    # would otherwise be searched for, and drafted from, as if it were the question.
    question = request_part(question)
    previous = request_part(turn.previous_question) if turn.previous_question else None

    # "Are you a bot?" asks who answers, not for a person ("real person" is one of the
    # request's keywords): told honestly, with the way to one. Anger, a VIP or any other
    # trigger still hands over.
    who = asks_who_answers(question)
    # "I dont understand", "that didn't help": a setback and nothing more is answered as
    # one (the other articles, other words, a person after repeated failures). The intent
    # model read "I dont understand" as a complaint (0.90) and it was handed over as one;
    # anger, a VIP or a complaint in so many words still hands over.
    setback = only_setback(question, topic_words)

    def escalation(retrieval_confident: bool) -> Trigger | None:
        return policy.evaluate(_signals(question, enrichment, turn, retrieval_confident),
                               skipping="explicit_request" if who else "complaint" if setback else None)

    trigger = escalation(retrieval_confident=True)
    if trigger:
        return _handoff(turn, policy, trigger)
    if who:
        return Decision("clarify", disclosure(turn.company, turn.texts) + "\n\n" + turn.texts(WELCOME),
                        notes={"intent": "who_answers"})
    if turn.attachments and not topic_words(question):
        # Not a failed answer (no reason): nothing was asked yet.
        return Decision("clarify", _with_disclosure(turn, turn.texts(ATTACHMENT_ONLY)),
                        notes={"intent": "attachment"})
    if previous and setback:
        across = other_language is not None and other_language.multilingual
        return _other_articles(previous, turn, other_language.search if across and other_language else search)
    if setback and turn.first_bot_message:  # "I don't understand" as a first message: nothing to disown yet
        return Decision("clarify", _with_disclosure(turn, turn.texts(WELCOME)), notes={"intent": "setback"})
    # Read as thanks but a question all the same ("and how much does that cost?"): searched, not thanked for;
    # so is a "greeting" that asks when or how much ("quanto tempo ho?" was one to the intent model at 0.97),
    # which no greeting does ("Hallo?", "¿qué tal?" name no time or price).
    if enrichment.trusted_intent in SMALL_TALK_INTENTS and not (
            asks(question) and (enrichment.intent == "thanks" or answer_kind(question) is not None)):
        text = turn.texts(CLOSING if enrichment.intent == "thanks" else WELCOME)
        return Decision("clarify", _with_disclosure(turn, text), notes={"intent": enrichment.intent or ""})
    if other_language is not None:
        return _across_languages(question, turn, policy, other_language, llm_drafter, topic_words,
                                 unsure=lambda: escalation(retrieval_confident=False))
    asked_words = _without_tokens(topic_words)
    search = cache(search)  # the first of several questions is searched by answer_each and again by first_reading
    several = answer_each(question, search=search, topic_words=asked_words, fits=clearly_fits,
                          draft=lambda part, hits: _draft(part, drafting_hits(hits), llm_drafter)[0])
    if several:  # "Do you ship to Canada? And how much is delivery?": each from its article
        reply = reply_of(several, lambda text: localise_citation(text, turn.texts))
        return Decision("answer", _with_disclosure(turn, reply), draft=joined(several),
                        hits=tuple(hit for answer in several for hit in answer.hits))
    words = asked_words(question)
    hits = search(question) if words else []
    first = first_reading(question, hits, search=search, topic_words=asked_words, points_back=points_back,
                          offered=choice_hits)
    if first:  # "Do you deliver to Australia? How long would that take?" is not about delivery at home
        words, hits = asked_words(first[0]), first[1]
    own, own_words = hits, words  # the message's own reading, before any with the conversation
    failure = None
    corroborated = False
    # The follow-up read with the question answered just before, when a menu answers that.
    with_previous = f"{previous} {question}" if previous else question
    read_as: str | None = None
    just_cited = _just_cited(question, words, turn, topic_words, own=hits)
    if just_cited:
        # "How long is it?" after the warranty answer: the warranty's length, if it says.
        draft, why = _draft(question, just_cited, llm_drafter)
        if draft is not None:  # said again if need be: "can I use two codes?"
            return Decision("answer", _with_disclosure(turn, localise_citation(draft.text, turn.texts)), draft=draft,
                            hits=tuple(just_cited), notes={"question": with_previous})
        if why == "model_unavailable":
            return _handoff(turn, policy, Trigger(why, SYSTEM_REASONS[why]), hits)
    if previous and not clearly_fits(hits, words, question):
        together = search(with_previous)
        if (len(words) >= MIN_QUESTION_WORDS and confident(hits)
                and hits[0].passage.article_id in {h.passage.article_id for h in together[:MAX_CHOICES]}):
            # A short follow-up that fits one article on its own ("and how much is
            # express?" → delivery costs), which the conversation also points at.
            corroborated = True
        elif follow_ups.conversation_agrees(together, hits, confident=confident, offered=choice_hits):
            # Only when the follow-up itself points at that article too (well enough to be
            # offered in a menu: by meaning, every article is somewhat near "ok"): "refund?"
            # after a delivery answer is a new question, not a delivery one.
            hits, words, read_as = together, [*topic_words(previous), *words], with_previous
        elif confident(together) and len(words) <= SHORT_QUESTION_WORDS and REFERS_BACK.search(question):
            # "What if it still doesn't come?" after the password answer: its own words fit
            # nothing clearly (a menu of card and account articles); the conversation's first.
            return _menu_or_handoff(follow_ups.both_readings(together, hits), turn, policy, None, "follow_up_unclear",
                                    read_as=with_previous)
    elif previous and hits and len(words) <= SHORT_QUESTION_WORDS and REFERS_BACK.search(question):
        # A short follow-up that fits an article on its own ("how long does it take?":
        # delivery times) after an answer about something else (returns): when the
        # conversation read with it does not point at that article, both readings are
        # offered rather than the one the words alone suggest (no trigger for an unsure
        # knowledge base: each reading has its confident article).
        together = search(with_previous)
        if together and hits[0].passage.article_id not in {h.passage.article_id for h in together[:MAX_CHOICES]}:
            return _menu_or_handoff(follow_ups.both_readings(together, hits), turn, policy, None, "follow_up_unclear",
                                    read_as=with_previous)
    asked = question  # or its part that asks, alone: "hey! quick one for you - {the question} ty"
    if not (corroborated or read_as) and (part := asking_part(question, hits, words, search=search,
                                                              topic_words=asked_words, fits=clearly_fits,
                                                              min_words=MIN_QUESTION_WORDS)):
        asked, hits, words = part
    if corroborated or clearly_fits(hits, words, asked):
        draft, failure = _draft(follow_ups.drafted_as(asked, previous, words, topic_words), drafting_hits(hits),
                                llm_drafter)
        if draft is None and previous and failure != "model_unavailable":
            draft, failure = _draft(with_previous, drafting_hits(hits), llm_drafter)
        if draft is not None and previous and follow_ups.misses_what_is_asked(question, own_words, topic_words,
                                                                             draft.text):
            draft, failure = None, "low_confidence"
        if draft is not None:
            text = localise_citation(draft.text, turn.texts)
            # "what cards do you take then?" after the declined-card answer: its own words lead
            # back to that article too, but it was just sent word for word: the others instead.
            if (own and [p.article_id for p in draft.citations[:1]] == [own[0].passage.article_id]
                    and choice_hits(own[1:], floor_share=SAME_ANSWER_MENU_SHARE)
                    and follow_ups.sent_again(text, turn.previous_answer, question, own_words, topic_words)):
                return _menu_or_handoff(own[1:], turn, policy, None, "same_answer_again",
                                        floor_share=SAME_ANSWER_MENU_SHARE)
            return Decision("answer", _with_disclosure(turn, text), draft=draft, hits=tuple(hits),
                            notes={"question": read_as} if read_as else {})
        if failure == "model_unavailable":
            return _handoff(turn, policy, Trigger(failure, SYSTEM_REASONS[failure]), hits)
    return _menu_or_handoff(hits, turn, policy, escalation(retrieval_confident=False),
                            failure or ("low_confidence" if hits else "too_vague"), read_as=read_as)


def _without_tokens(topic_words: Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    """``topic_words`` of a text read without its vault tokens: "[EMAIL_1]" reads as the
    word "email", but a token says what was redacted, not what is asked."""
    return lambda text: topic_words(TOKEN.sub(" ", text))


def _just_cited(question: str, words: Sequence[str], turn: Turn, topic_words: Callable[[str], list[str]],
                own: Sequence[Hit] = ()) -> list[Hit] | None:
    """The article the last answer cited, as hits, when ``question`` is a follow-up about
    that answer and one of its sentences answers it (:mod:`.follow_ups`), and it names no
    topic of its own that another article (``own``: its own reading) holds; else None."""
    if not (turn.previous_question and turn.previous_article and points_back(question, words, topic_words)):
        return None
    cited = follow_ups.answered_by(question, turn.previous_article.passages(), turn.previous_answer)
    if cited and follow_ups.asks_another(question, own, cited, topic_words,
                                         fits=lambda: clearly_fits(own, words, question)):
        return None  # "it says delivered but it's not here" after the tracking answer
    return cited


def _menu_or_handoff(hits: list[Hit], turn: Turn, policy: EscalationPolicy, trigger: Trigger | None,
                     reason: str, *, read_as: str | None = None, floor_share: float = 1.0) -> Decision:
    """No answer outright: a person when a trigger fires with that fact, else a menu of
    the best articles, else a request to say it in other words. ``read_as``: the
    question the menu answers when it is not the message alone (a follow-up read with
    the conversation): what a pick is then answered and learned as."""
    if trigger:
        return _handoff(turn, policy, trigger, hits)
    offered = choice_hits(hits, floor_share=floor_share)
    if offered:
        return Decision("choices", _with_disclosure(turn, choices_menu(offered, turn.texts)), reason=reason,
                        hits=tuple(hits), choices=tuple(offered),
                        notes={"question": read_as, "follow_up": "yes"} if read_as else {})
    return Decision("clarify", _with_disclosure(turn, turn.texts(CLARIFY)), reason=reason, hits=tuple(hits))


def _other_articles(previous: str, turn: Turn, search: Callable[[str], list[Hit]]) -> Decision:
    """The answer to ``previous`` did not help ("that didn't help", a bare "no"): the
    other articles it could have been, as a menu (answered for ``previous``, not for
    "no", and not learned from); or, with none near enough, a request to say it in
    other words. Either is a failed answer, which the policy's repeated_failures counts."""
    tried = turn.previous_article
    passages = tried.passages() if tried is not None else []
    question = picked_from_menu(previous, passages[0].title.strip() if passages else None)
    hits = search(question or previous)
    if question is not None and tried is not None:  # the rest of the menu the pick came from
        offered = [hit for hit in choice_hits(hits) if hit.passage.article_id != tried.article_id]
    else:
        offered = others(hits, tried.article_id if tried else None)
    if offered:
        return Decision("choices", choices_menu(offered, turn.texts), reason="did_not_help", hits=tuple(hits),
                        choices=tuple(offered), notes={"question": question or previous})
    return Decision("clarify", turn.texts(CLARIFY), reason="did_not_help", hits=tuple(hits))


def answer_from_article(question: str, passages: Sequence[Passage], turn: Turn, *,
                        language: str | None = None) -> Decision:
    """The answer once the customer picked an article: the sentences of that article that
    respond to their question, or its opening when none does; cited either way. An
    article in another language than the conversation's (``language``) is quoted with
    the line saying so, as the menu that offered it did.

    The customer chose the article by its title, so the title is read as part of what
    they ask: "refund", then "How do I return an item?", wants the return steps, not
    only the sentence that says "refund". The decision's ``question`` note is what a
    follow-up ("and how long does it take?") is then read with."""
    title = passages[0].title.strip()
    asked = question if not title or title.casefold() in question.casefold() else f"{question}\n{title}"
    source = language_of(passages[0].locale)
    if language is not None and source != language:
        mark = _naming_language(turn, ARTICLE_IN_LANGUAGE, source)
        lead, text = _quoted_with_mark(passages[0], mark, turn)
        return Decision("answer", _with_disclosure(turn, text), draft=lead,
                        hits=tuple(Hit(p, 1.0, {"coverage": 1.0}) for p in passages),
                        notes={"article_language": source, "question": asked, "picked": passages[0].article_id})
    hits = [Hit(p, 1.0, {"coverage": 1.0}) for p in passages]
    draft = compose_local(asked, hits)
    if draft is not None:
        try:
            draft = ground_or_refuse(draft, [h.passage for h in hits])
        except UngroundedDraft:
            draft = None
    if draft is None:
        draft = lead_of(passages[0])
    return Decision("answer", _with_disclosure(turn, localise_citation(draft.text, turn.texts)), draft=draft,
                    hits=tuple(hits), notes={"question": asked, "picked": passages[0].article_id})


def localise_citation(text: str, texts: Texts) -> str:
    """``text`` with its closing citation line ("More: …") in the conversation's language."""
    head, newline, last = text.rpartition("\n")
    if not last.startswith(CITATION_PREFIX):
        return text
    items = []
    for item in last[len(CITATION_PREFIX):].split(" | "):
        named = _NAMED_CITATION.match(item)
        items.append(texts(CITATION_NAMED, title=named.group(1)) if named else item)
    return f"{head}{newline}{texts(CITATION_MORE)} {' | '.join(items)}"


_NAMED_CITATION = re.compile(r'^"(.+)" in our help center$')


def _signals(question: str, enrichment: Enrichment, turn: Turn, retrieval_confident: bool) -> Signals:
    return Signals(
        text=question, intent=enrichment.intent, intent_confidence=enrichment.intent_confidence,
        in_scope=enrichment.in_scope, sentiment=enrichment.sentiment, sentiment_history=turn.sentiment_history,
        retrieval_confident=retrieval_confident, failed_answers=turn.failed_answers,
        customer_tier=turn.customer_tier, customer_value=turn.customer_value,
        contacts_recent=turn.contacts_recent, bot_turns=turn.bot_turns, minutes_with_bot=turn.minutes_with_bot,
        intent_familiar=enrichment.intent_familiar,
    )


def _draft(question: str, hits: Sequence[Hit], llm_drafter: Drafter | None) -> tuple[Draft | None, str | None]:
    """A grounded draft, or (None, why not). The LLM drafts when configured; a model
    outage is a reason to hand over, never a reason to improvise."""
    passages = [hit.passage for hit in hits]
    if llm_drafter is not None:
        try:
            drafted = llm_drafter(question, hits)
            if drafted.abstained:
                return None, "low_confidence"
            return ground_or_refuse(drafted), None
        except UngroundedDraft:
            pass  # the model's wording was refused: the extractive answer may still stand
        except (VendorUnavailable, VendorError):
            return None, "model_unavailable"
    draft = compose_local(question, hits)
    if draft is None:
        if not (_paraphrase(hits) or hits[0].signals.get("calibrated")):
            return None, "low_confidence"
        # No sentence shares a word with a question the embeddings matched with near
        # certainty (or the help center's own confidence did): the article's opening
        # answers it, quoted verbatim.
        draft = lead_of(hits[0].passage)
    try:
        return ground_or_refuse(draft, passages), None
    except UngroundedDraft:
        return None, "ungrounded_draft"


def _across_languages(question: str, turn: Turn, policy: EscalationPolicy, other: OtherLanguage,
                      llm_drafter: Drafter | None, topic_words: Callable[[str], list[str]], *,
                      unsure: Callable[[], Trigger | None]) -> Decision:
    """An answer from an article in another language. With a language model, the
    answer is translated and marked as such; with a multilingual index and no model,
    the article is found by the customer's own words and quoted as it is, with a line
    in their language saying which language it is in (or offered in a menu when no
    article clearly fits). A person who speaks the language takes it when the policy
    says so (``other_languages: handoff``) or when nothing fits."""
    trigger = Trigger("language", f"{SYSTEM_REASONS['language']} ({other.language})")
    if policy.other_languages == "handoff":
        return _handoff(turn, policy, trigger)
    if other.translator is not None:
        return _translated(question, turn, policy, other, llm_drafter, trigger)
    if not other.multilingual:
        return _handoff(turn, policy, trigger)
    asked_words = _without_tokens(topic_words)
    words = asked_words(question)
    notes = {"article_language": other.source}
    mark = _naming_language(turn, ARTICLE_IN_LANGUAGE, other.source)
    with_previous = f"{turn.previous_question} {question}" if turn.previous_question else question
    just_cited = _just_cited(question, words, turn, topic_words)
    if just_cited:
        # "¿Cuánto dura?" after the warranty answer: its length, if the article says it.
        draft = compose_local(question, just_cited)
        if draft is not None:
            return Decision("answer", _with_disclosure(turn, _marked(draft, mark, turn)), draft=draft,
                            hits=tuple(just_cited), notes={**notes, "question": with_previous})
    several = answer_each(question, search=other.search, topic_words=asked_words, fits=clearly_fits,
                          draft=lambda part, hits: lead_of(hits[0].passage))
    if several:  # each article's opening as it is, and one line saying which language they are in
        reply = reply_of(several, lambda text: localise_citation(text, turn.texts))
        marks = _naming_language(turn, ARTICLES_IN_LANGUAGE, other.source)
        return Decision("answer", _with_disclosure(turn, f"{reply}\n{marks}"), draft=joined(several),
                        hits=tuple(hit for answer in several for hit in answer.hits), notes=notes)
    hits = other.search(question) if words else []
    if turn.previous_question and not clearly_fits(hits, words, question) and follow_ups.conversation_agrees(
            together := other.search(with_previous), hits, confident=confident,
            offered=lambda alone: choice_hits(alone, floor_share=ACROSS_LANGUAGES_MENU_SHARE)):
        # "und Express?" after "Wie lange dauert die Lieferung?": the sentence naming it, else the opening.
        draft = compose_local(question, together[:1]) or lead_of(together[0].passage)
        return Decision("answer", _with_disclosure(turn, _marked(draft, mark, turn)), draft=draft,
                        hits=tuple(together), notes={**notes, "question": with_previous})
    if clearly_fits(hits, words, question):
        draft, text = _quoted_with_mark(hits[0].passage, mark, turn)
        return Decision("answer", _with_disclosure(turn, text), draft=draft, hits=tuple(hits), notes=notes)
    offered = choice_hits(hits, floor_share=ACROSS_LANGUAGES_MENU_SHARE)
    doubt = unsure()
    if offered and doubt is None:
        menu = choices_menu(offered, turn.texts)
        mark = _naming_language(turn, ARTICLES_IN_LANGUAGE if len(offered) > 1 else ARTICLE_IN_LANGUAGE,
                                other.source)
        return Decision("choices", _with_disclosure(turn, f"{menu}\n{mark}"), reason="low_confidence",
                        hits=tuple(hits), choices=tuple(offered), notes=notes)
    # The policy's reason when it has one (as in the articles' language); else the language.
    return _handoff(turn, policy, doubt or trigger, hits)


def _quoted_with_mark(passage: Passage, mark: str, turn: Turn) -> tuple[Draft, str]:
    """The article's opening as it is, the line saying which language it is in, then
    its citation: what an article in another language than the customer's is sent as."""
    lead = lead_of(passage)
    return lead, _marked(lead, mark, turn)


def _marked(draft: Draft, mark: str, turn: Turn) -> str:
    """A quoted draft with the line saying which language its article is in, above its citation."""
    body, _, citation = draft.text.rpartition("\n")
    return localise_citation(f"{body}\n{mark}\n{citation}", turn.texts)


def _translated(question: str, turn: Turn, policy: EscalationPolicy, other: OtherLanguage,
                llm_drafter: Drafter | None, trigger: Trigger) -> Decision:
    """The language model's path: the draft is made and grounded in the article's
    language like any answer; the translation is then translated back and grounded
    again against the same passages, so a translation that adds or changes a fact is
    refused, never sent."""
    assert other.translator is not None
    translator = other.translator
    try:
        asked = translator.translate(question, source=other.language, target=other.source).text
        hits = other.search(asked)
        if not clearly_fits(hits, content_words(asked, other.source)):
            return _handoff(turn, policy, trigger, hits)
        draft, _ = _draft(asked, drafting_hits(hits), llm_drafter)
        if draft is None:
            return _handoff(turn, policy, trigger, hits)
        body, _, citation = draft.text.rpartition("\n")
        translated = translator.translate(body, source=other.source, target=other.language).text
        back = translator.translate(translated, source=other.language, target=other.source).text
        ground_or_refuse(replace(draft, text=back))
    except UngroundedDraft:
        return _handoff(turn, policy, trigger)
    except (VendorUnavailable, VendorError):
        return _handoff(turn, policy, trigger)
    mark = _naming_language(turn, TRANSLATED, other.source)
    text = localise_citation(f"{translated} {mark}\n{citation}".rstrip(), turn.texts)
    return Decision("answer", _with_disclosure(turn, text), draft=replace(draft, text=text), hits=tuple(hits),
                    notes={"translated_from": other.source, "question_translated": asked,
                           "answer_in_source": body, "back_translation": back})


def _naming_language(turn: Turn, text: str, code: str) -> str:
    """``text`` with the language ``code`` named in the language the sentence is sent in:
    a Dutch customer, who has no catalog, reads "(This article is in English…)", not
    "in Engels"."""
    return turn.texts(text, language=language_name(code, turn.texts.sent_in(text)))


def _handoff(turn: Turn, policy: EscalationPolicy, trigger: Trigger, hits: Sequence[Hit] = ()) -> Decision:
    eta = turn.texts(HANDOFF_ETA) if policy.handoff_eta == HANDOFF_ETA else policy.handoff_eta
    notice = turn.texts(HANDOFF_NOTICE, eta=eta)
    return Decision("handoff", _with_disclosure(turn, notice), reason=trigger.name, hits=tuple(hits),
                    notes={"detail": trigger.detail})


def withheld(turn: Turn, policy: EscalationPolicy, reason: str, detail: str, hits: Sequence[Hit] = ()) -> Decision:
    """A handoff in place of an answer a check refused to send (core/quality: guardrails)."""
    return _handoff(turn, policy, Trigger(reason, detail), hits)


def _with_disclosure(turn: Turn, text: str) -> str:
    if not turn.first_bot_message:
        return text
    return disclosure(turn.company, turn.texts) + "\n\n" + text


def disclosure(company: str | None, texts: Texts = ENGLISH) -> str:
    """The assistant's first words: who it speaks for and how to reach a person."""
    return texts(DISCLOSURE_NAMED, company=company) if company else texts(DISCLOSURE_ANONYMOUS)
