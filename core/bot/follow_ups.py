"""A customer's next message right after an answer: about that answer, or a new question.

"How long is it?" after the warranty answer asks how long the warranty lasts; on its
own words it is a delivery question ("How long does delivery take?"), and was answered
as one. So :func:`core.bot.decisions.decide` asks a short follow-up that points back
("it", "that", "eso", …) or asks only when or how much ("how long do I have?") of the
article just cited first: when one of its sentences answers it (shares a word with it,
or says the time or amount asked for), that is the answer, though the customer may have
read it already ("is it free?": "Returns are free for faulty items"). Otherwise the
follow-up is read on its own and with the conversation as before.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from switchboard.core.answers.drafting import answer_kind, compose_local, without_kind
from switchboard.core.answers.grounding import split_sentences
from switchboard.core.knowledge.analysis import GERMAN_POINTING_BACK
from switchboard.core.knowledge.records import Hit, Passage


@dataclass(frozen=True)
class JustCited:
    """The article the bot's last answer cited, read only when a follow-up asks about it
    (finding an article's passages scans the index: 6 ms at 150,000 passages)."""

    article_id: str
    read: Callable[[str], Sequence[Passage]]

    def passages(self) -> list[Passage]:
        return list(self.read(self.article_id))


#: A follow-up with more topic words than this is a question of its own.
SHORT_FOLLOW_UP_WORDS = 2

#: A word that points back at what was just said ("how long does IT take?", "¿y cuánto
#: cuesta ESO?"), in the languages the texts are written in. German points back with
#: "da-" and a preposition where English says "for it", "to it" ("Wie lange habe ich
#: DAFÜR Zeit?"): without them that follow-up to the returns answer was answered with
#: delivery times, whose title shares its "wie lange"; and with "sie", "er" for a thing
#: ("wie lange gilt SIE?" of the warranty). German "es" is not here: it is Spanish "is".
REFERS_BACK = re.compile(
    r"\b(?:it|that|this|they|them|those|these|eso|esto|ello|ça|cela|ceci|das|dies|dieses|"
    rf"{'|'.join(GERMAN_POINTING_BACK)}|sie|er|ihn|ihm|"
    r"isso|isto|questo|quello|ciò)\b", re.IGNORECASE)


#: A reply to a menu this short that points back ("how long does it take?") is read with
#: the menu's question; a longer one says enough to be read on its own.
MENU_FOLLOW_UP_WORDS = 7
#: Why a menu was sent when no article clearly fitted: a reply to it may say more of the same question.
UNSURE_MENU = "low_confidence"


def with_unsure_menu(text: str, menu_question: str | None) -> str:
    """``text``, or, when it is a short reply pointing back to a menu sent for want of a
    clear answer to ``menu_question``, the two together: after "refund" and its menu,
    "how long does it take?" asks how long a refund takes, and on its own words it was
    answered with delivery times."""
    if not menu_question or len(text.split()) > MENU_FOLLOW_UP_WORDS or not REFERS_BACK.search(text):
        return text
    return f"{menu_question} {text}"


def points_back(question: str, words: Sequence[str], topic_words: Callable[[str], Sequence[str]]) -> bool:
    """Whether a short follow-up is about what was just answered: it points back ("is
    it free?"), or it asks when or how much and names nothing ("how long do I have?");
    "refund?" and "when do I get my money?" after a returns answer name their own topic."""
    if len(words) > SHORT_FOLLOW_UP_WORDS:
        return False
    if REFERS_BACK.search(question):
        return True
    return answer_kind(question) is not None and not set(topic_words(without_kind(question))) - _NAMES_NOTHING


def sent_again(text: str, sent: str | None, question: str, words: Sequence[str],
               topic_words: Callable[[str], Sequence[str]]) -> bool:
    """Whether ``text`` is the whole answer just ``sent`` (after the assistant's
    disclosure, if it led), to a question of its own: "what cards do you take then?"
    after the declined-card answer is not answered by it again. A follow-up that points
    back ("can I do it online?" after the change-address answer) may rightly get the same
    sentences again."""
    return bool(sent and (sent == text or sent.endswith(f"\n\n{text}"))
                and not points_back(question, words, topic_words))


#: Verbs a question asking when or how much names no topic with ("how long do I have to
#: WAIT?", "¿cuánto hay que ESPERAR?"), and the time it asks for ("wie lange habe ich
#: ZEIT?"), in the languages the texts are written in.
_NAMES_NOTHING = frozenset(
    "wait waiting take takes last lasts need have get go esperar tardar tarda durar dura attendre durer dure "
    "warten dauern dauert aspettare durare dura time tiempo temps zeit tempo".split())


def asks_another(question: str, hits: Sequence[Hit], cited: Sequence[Hit],
                 topic_words: Callable[[str], Sequence[str]], *, fits: Callable[[], bool]) -> bool:
    """Whether a short follow-up that points back names a topic of its own that another
    article holds in full: "it says delivered but it's not here" after the tracking
    answer is the missing-parcel article's question (the tracking article shares only a
    synonym with it), though "it" points back. One word beyond what it asks ("when will
    I get it back?") is too little to tell."""
    named = set(topic_words(without_kind(question))) - _NAMES_NOTHING
    return (len(named) >= SHORT_FOLLOW_UP_WORDS and bool(hits) and bool(cited)
            and hits[0].passage.article_id != cited[0].passage.article_id
            and hits[0].signals.get("coverage", 0.0) >= 1.0 and fits())


def drafted_as(question: str, previous: str | None, words: Sequence[str],
               topic_words: Callable[[str], Sequence[str]]) -> str:
    """What a short follow-up that points back is drafted as once its article is chosen:
    with what the question before it named. "How much is that?" after "and express?"
    (about delivery) wants the express price, and alone was given the first price the
    costs article states, the standard one. The question before is added without its
    own "how long" or "how much": the follow-up says which of the two it asks."""
    if not previous or not points_back(question, words, topic_words):
        return question
    return f"{question} {without_kind(previous)}"


def misses_what_is_asked(question: str, words: Sequence[str], topic_words: Callable[[str], Sequence[str]],
                         text: str) -> bool:
    """Whether ``text`` fails a short follow-up that asks only when or how much of what
    was just said: it says no time or amount. "Quanto costa?" after the delivery answer
    was read with it, and its words ("consegna") chose the delivery times sentence of an
    article that states no price."""
    kind = answer_kind(question)
    return kind is not None and points_back(question, words, topic_words) and not kind.search(text)


def article_hits(passages: Sequence[Passage]) -> list[Hit]:
    """An article's passages as the hits an answer is drafted from and cites."""
    return [Hit(p, 1.0, {"coverage": 1.0}) for p in passages]


def answered_by(question: str, passages: Sequence[Passage], sent: str | None = None) -> list[Hit] | None:
    """The article's passages as hits when one of its sentences answers ``question``
    (shares a topic word with it or says the time or amount it asks for); else None.
    Sentences not in ``sent`` (the answer just sent) first: "what if it's already
    dispatched?" after "You can change the address until your order is dispatched" wants
    the article's next sentence, on what happens once it is; the one sent answers if
    it alone does ("how long do I have?": "within 30 days")."""
    unsent = article_hits(_unsent(passages, sent))
    # Not sent yet, when it shares a word with the question beyond its "when" or "how
    # much": "how much does that cost?" after "the cost is shown at checkout" is told that
    # again, not the next sentence that merely names a charge.
    if unsent and compose_local(without_kind(question), unsent) is not None:
        return unsent
    hits = article_hits(passages)
    return hits if hits and compose_local(question, hits) is not None else None


def _unsent(passages: Sequence[Passage], sent: str | None) -> list[Passage]:
    """``passages`` without the sentences ``sent`` holds (one sentence a line)."""
    if not sent:
        return []
    kept = []
    for passage in passages:
        sentences = [s for s in split_sentences(passage.text) if s not in sent]
        if sentences:
            kept.append(replace(passage, text="\n".join(sentences)))
    return kept


def conversation_agrees(together: Sequence[Hit], alone: Sequence[Hit], *,
                        confident: Callable[[Sequence[Hit]], bool],
                        offered: Callable[[Sequence[Hit]], Sequence[Hit]]) -> bool:
    """Whether a follow-up read with the question answered before it (``together``) is
    sure of an article the follow-up alone (``alone``) would offer in a menu: "und
    Express?" after "Wie lange dauert die Lieferung?" asks about delivery times. By
    meaning every article is somewhat near a short message, so the follow-up must point
    at that article too: "refund?" after a delivery answer is a question of its own."""
    return bool(together) and confident(together) and together[0].passage.article_id in {
        hit.passage.article_id for hit in offered(alone)}


def both_readings(together: Sequence[Hit], alone: Sequence[Hit]) -> list[Hit]:
    """A menu's hits for a follow-up read two ways: the conversation's best article,
    the follow-up's own, then the conversation's next ones."""
    ordered = [together[0], *alone[:1], *together[1:]]
    return [hit for i, hit in enumerate(ordered)
            if all(hit.passage.article_id != o.passage.article_id for o in ordered[:i])]
