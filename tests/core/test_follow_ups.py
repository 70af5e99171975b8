"""Which short follow-ups are asked of the article just cited first (core/bot/follow_ups.py)."""
from __future__ import annotations

import pytest

from switchboard.core.answers.drafting import answer_kind
from switchboard.core.bot.follow_ups import answered_by, points_back, sent_again
from switchboard.core.knowledge.analysis import content_words
from switchboard.core.knowledge.records import Passage

WARRANTY = Passage("warranty#0", "warranty", "What does the warranty cover?",
                   "All electrical products come with a 2-year warranty from the date of delivery. It covers "
                   "manufacturing faults, not accidental damage.")
ABROAD = Passage("abroad#0", "abroad", "Do you ship internationally?",
                 "Yes, we ship to over 40 countries. International delivery takes 5 to 10 working days and the cost "
                 "is shown at checkout once you enter your address.")
PASSWORD = Passage("password#0", "password", "I forgot my password",
                   "On the sign-in page choose Forgot password and we will email you a link.")


@pytest.mark.parametrize(("follow_up", "about_the_answer"), [
    ("how long is it?", True),             # points back
    ("is it free?", True),
    ("how long do I have?", True),         # asks only how long: about what was just said
    ("how much?", True),
    ("how long do I have to wait?", True),  # "wait" names no topic
    ("how long does shipping take?", False),
    ("refund?", False),                    # names its own topic
    ("when do I get my money?", False),
    ("what about express?", False),
    ("can I pay for it with paypal or by bank transfer?", False),  # too long to be a follow-up only
])
def test_a_follow_up_is_about_the_answer_when_it_points_back_or_names_nothing(follow_up: str,
                                                                            about_the_answer: bool) -> None:
    assert points_back(follow_up, content_words(follow_up), content_words) is about_the_answer


def test_the_article_just_cited_answers_when_a_sentence_says_what_is_asked() -> None:
    """"2-year" says a time (it did not: only "2 years" did)."""
    assert answer_kind("how long is it?") is not None
    assert answered_by("how long is it?", [WARRANTY]) is not None
    assert answered_by("how much is it?", [PASSWORD]) is None  # no price in it
    assert answered_by("how long is it?", []) is None


def test_a_sentence_on_what_something_costs_answers_how_much() -> None:
    """"And how much?" after the shipping-abroad answer: "the cost is shown at checkout"
    names no price but is the answer (it got the domestic delivery costs)."""
    assert answered_by("and how much?", [ABROAD]) is not None


def test_the_answer_just_sent_is_sent_again_only_to_a_follow_up_pointing_back() -> None:
    sent = "You're chatting with a virtual assistant.\n\nA payment is usually declined by your bank. Ask it.\nMore: x"
    again = "A payment is usually declined by your bank. Ask it.\nMore: x"

    def words(text: str) -> list[str]:
        return content_words(text, "en")

    assert sent_again(again, sent, "what cards do you take then?", words("what cards do you take then?"), words)
    assert not sent_again(again, sent, "can I do it online?", words("can I do it online?"), words)
    # a part of the answer sent (its second sentence, "and what about Klarna?") is no repeat
    assert not sent_again("Ask it.\nMore: x", sent, "what cards do you take then?", words("what cards"), words)
    assert not sent_again(again, None, "what cards do you take then?", words("what cards"), words)
