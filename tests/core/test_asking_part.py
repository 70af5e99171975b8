"""The part of a longer message that asks, read on its own (core/bot/asking_part.py)."""
from __future__ import annotations

from collections.abc import Sequence

import pytest

from switchboard.core.bot.asking_part import asking_part, parts_of
from switchboard.core.knowledge.records import Hit, Passage


@pytest.mark.parametrize(("message", "parts"), [
    ("hey! quick one for you - can I change my address?", ["hey!", "quick one for you", "can I change my address?"]),
    ("Hello, sorry to bother you, but where is my parcel?", ["Hello, sorry to bother you", "where is my parcel?"]),
    ("Good morning, quick question: is delivery free?\n\nThanks,\nAnna",
     ["Good morning, quick question", "is delivery free?", "Thanks,", "Anna"]),
    ("Where is my parcel?", ["Where is my parcel?"]),
])
def test_a_message_is_cut_into_sentences_lines_and_introducing_clauses(message: str, parts: list[str]) -> None:
    assert parts_of(message) == parts


def _hit(article: str, score: float) -> Hit:
    return Hit(Passage(f"{article}#0", article, article.title(), f"All about {article}."), score, {})


#: What each part alone finds: its first article and how sure (answered from 0.5).
FOUND = {"can I change my delivery address?": ("change-address", 0.8),
         "sorry to bother you": ("complaints", 0.9),
         "My card was declined.": ("card-declined", 0.9),
         "How do I get a refund?": ("refund-timing", 0.7),
         "what are your opening hours?": ("opening-hours", 0.3)}


def _search(part: str) -> list[Hit]:
    article, score = FOUND.get(part, ("other", 0.2))
    return [_hit(article, score), _hit("other", 0.1)]


_NOT_TOPIC = {"a", "are", "but", "can", "do", "get", "hello", "how", "i", "my", "now", "the", "to", "was", "what",
              "you", "your"}


def _words(text: str) -> list[str]:
    return [word for word in text.lower().replace(",", " ").strip("?.!").split() if word not in _NOT_TOPIC]


def _fits(hits: Sequence[Hit], words: Sequence[str], question: str) -> bool:
    return bool(hits) and hits[0].score >= 0.5


def _part(message: str, whole_first: str) -> str | None:
    found = asking_part(message, [_hit(whole_first, 0.4)], _words(message), search=_search, topic_words=_words,
                        fits=_fits, min_words=2)
    return found[0] if found else None


def test_the_question_in_a_wrapper_answers_when_the_whole_message_leads_to_its_article() -> None:
    message = "Hello, sorry to bother you, but can I change my delivery address?"
    assert _part(message, "change-address") == "can I change my delivery address?"
    # The whole message leads elsewhere: decided whole (a menu), not from its part.
    assert _part(message, "delivery-times") is None


def test_a_wrapper_that_fits_some_article_is_never_taken_for_the_question() -> None:
    """"sorry to bother you" has topic words, and by meaning every article is somewhat near
    them: the part that asks is the question, and it fits no article here."""
    assert _part("Sorry to bother you, but what are your opening hours?", "complaints") is None


def test_a_question_that_names_nothing_leaves_it_to_what_the_message_says() -> None:
    assert _part("My card was declined. What now?", "card-declined") == "My card was declined."


def test_a_message_that_asks_two_things_is_not_one_question_in_a_wrapper() -> None:
    """A statement fitting one article beside a question about another: the question is
    what is asked (not the statement, though the whole message leads to the statement's
    article); two questions: several_questions' business, not this."""
    assert _part("My card was declined. How do I get a refund?", "card-declined") is None
    assert _part("How do I get a refund? Can I change my delivery address?", "refund-timing") is None


def test_a_message_of_one_part_is_left_to_the_whole_reading() -> None:
    assert _part("can I change my delivery address?", "change-address") is None


def test_a_message_that_clearly_fits_whole_is_answered_whole() -> None:
    message = "Hello, sorry to bother you, but can I change my delivery address?"
    sure = [_hit("change-address", 0.9)]
    assert asking_part(message, sure, _words(message), search=_search, topic_words=_words, fits=_fits,
                       min_words=2) is None
