"""Which messages ask several things, and when each is answered (core/bot/several_questions.py)."""
from __future__ import annotations

from collections.abc import Sequence

import pytest

from switchboard.core.answers.drafting import Draft
from switchboard.core.bot.several_questions import answer_each, first_reading, joined, questions_in, reply_of
from switchboard.core.knowledge.records import Hit, Passage


@pytest.mark.parametrize(("message", "questions"), [
    ("Do you ship to Canada? And how much does delivery cost?",
     ["Do you ship to Canada?", "And how much does delivery cost?"]),
    ("¿Hacen envíos a Canadá? ¿Cuánto cuesta?", ["¿Hacen envíos a Canadá?", "¿Cuánto cuesta?"]),
    ("My card was declined. What payment methods do you accept?", []),  # one question, one statement
    # a request stated asks as a question does (core/understanding/asking.py)
    ("I need to change my delivery address. How much does delivery cost?",
     ["I need to change my delivery address.", "How much does delivery cost?"]),
    ("Quiero cancelar mi pedido. ¿Cuándo me devuelven el dinero?",
     ["Quiero cancelar mi pedido.", "¿Cuándo me devuelven el dinero?"]),
    ("Where is my parcel?", []),
    ("How do I return it? Is it free? When do I get my money? Can I exchange it?", []),  # four: whole
    # numbered inside one line, as texted
    ("1) where is my parcel 2) can i change the address", ["where is my parcel", "can i change the address"]),
    ("1. Do you ship to Canada? 2. How much is it?", ["Do you ship to Canada?", "How much is it?"]),
    ("I bought 3. shirts and 2) trousers, where are they?", []),  # not numbered from one in order
])
def test_a_message_asks_several_things_when_two_or_three_sentences_ask(message: str, questions: list[str]) -> None:
    assert questions_in(message) == questions


def _passage(article: str) -> Passage:
    return Passage(f"{article}#0", article, article.title(), f"All about {article}.")


def _search(question: str) -> list[Hit]:
    article = "shipping" if "ship" in question.lower() else "costs" if "cost" in question.lower() else "other"
    return [Hit(_passage(article), 0.9, {})]


def _draft(question: str, hits: Sequence[Hit]) -> Draft:
    return Draft(f"About {hits[0].passage.article_id}.\nMore: {hits[0].passage.article_id}", (hits[0].passage,),
                 "local", usage={"tokens": 2})


def _each(message: str, *, fits: bool = True) -> list[str]:
    answered = answer_each(message, search=_search, topic_words=lambda q: q.split(),
                           fits=lambda hits, words, question: fits and bool(hits), draft=_draft)
    return [a.hits[0].passage.article_id for a in answered]


def test_each_question_is_answered_only_when_all_fit_different_articles() -> None:
    assert _each("Do you ship to Canada? How much does it cost?") == ["shipping", "costs"]
    assert _each("Do you ship to Canada? How much does it cost?", fits=False) == []
    assert _each("Do you ship to Canada? Do you ship to Peru?") == []  # one article: the message is one question


def test_the_answers_are_joined_in_the_order_asked_with_each_citation() -> None:
    answered = answer_each("Do you ship to Canada? How much does it cost?", search=_search,
                           topic_words=lambda q: q.split(), fits=lambda hits, words, question: True, draft=_draft)
    draft = joined(answered)
    assert draft.text == "About shipping.\nMore: shipping\n\nAbout costs.\nMore: costs"
    assert reply_of(answered, str.upper) == "ABOUT SHIPPING.\nMORE: SHIPPING\n\nABOUT COSTS.\nMORE: COSTS"
    assert [p.article_id for p in draft.citations] == ["shipping", "costs"] and draft.usage == {"tokens": 4}


def _offered(hits: Sequence[Hit]) -> list[Hit]:
    return list(hits)


def test_later_questions_about_the_first_are_searched_as_the_first() -> None:
    def points_back(question: str, words: Sequence[str], topic_words: object) -> bool:
        return "that" in question

    def search(question: str) -> list[Hit]:
        return [Hit(_passage("abroad" if "Australia" in question else "times"), 0.9, {})]

    whole = search("How long would that take?")
    first = first_reading("Do you deliver to Australia? How long would that take?", whole, search=search,
                          topic_words=lambda q: q.split(), points_back=points_back, offered=_offered)
    assert first is not None and first[0] == "Do you deliver to Australia?"
    assert first[1][0].passage.article_id == "abroad"
    # a later question of its own, or a whole reading the first would offer too: read whole
    assert first_reading("Do you deliver to Australia? How long is delivery?", whole, search=search,
                         topic_words=lambda q: q.split(), points_back=points_back, offered=_offered) is None
    assert first_reading("Do you deliver to Australia? How long would that take?", search("Australia"),
                         search=search, topic_words=lambda q: q.split(), points_back=points_back,
                         offered=_offered) is None
