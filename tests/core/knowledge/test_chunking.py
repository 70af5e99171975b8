"""Cutting articles into passages on paragraph and sentence boundaries."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.core.knowledge import chunk_article, chunk_articles
from switchboard.core.knowledge.records import Article, Passage


def article(body: str, **fields: str) -> Article:
    return Article(id=fields.get("id", "returns"), title="How do I return an item?", body=body,
                   url="https://help.acme.example/articles/returns", locale="en-GB")


def test_short_article_is_one_passage_carrying_title_url_and_locale() -> None:
    [passage] = chunk_article(article("Returns are free within 30 days."))

    assert passage == Passage(
        id="returns#1", article_id="returns", title="How do I return an item?",
        text="Returns are free within 30 days.", url="https://help.acme.example/articles/returns",
        locale="en-GB",
    )


def test_paragraphs_are_packed_whole_until_the_word_budget_is_reached() -> None:
    paragraphs = ["one two three four.", "five six seven.", "eight nine ten eleven twelve."]

    passages = chunk_article(article("\n\n".join(paragraphs)), max_words=8)

    assert [p.text for p in passages] == [
        "one two three four.\n\nfive six seven.",
        "eight nine ten eleven twelve.",
    ]
    assert [p.id for p in passages] == ["returns#1", "returns#2"]


def test_long_paragraph_is_split_between_sentences() -> None:
    body = ("Print the label. Pack the item in its box! Drop it at any post office? "
            "We email you when it arrives.")

    passages = chunk_article(article(body), max_words=9)

    assert [p.text for p in passages] == [
        "Print the label. Pack the item in its box!",
        "Drop it at any post office?",
        "We email you when it arrives.",
    ]


def test_sentence_closed_by_quote_or_bracket_keeps_its_closing_mark() -> None:
    body = 'Choose "Return items." Then print the label (it is free.) We email you.'

    passages = chunk_article(article(body), max_words=7)

    assert [p.text for p in passages] == [
        'Choose "Return items."', "Then print the label (it is free.)", "We email you.",
    ]


def test_run_on_text_without_punctuation_is_split_by_words() -> None:
    words = [f"w{i}" for i in range(25)]

    passages = chunk_article(article(" ".join(words)), max_words=10)

    assert [len(p.text.split()) for p in passages] == [10, 10, 5]
    assert " ".join(p.text for p in passages).split() == words


def test_article_without_body_is_still_one_findable_passage() -> None:
    [passage] = chunk_article(article("   "))

    assert passage.text == "How do I return an item?"


def test_zero_word_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="max_words must be at least 1"):
        chunk_article(article("text"), max_words=0)


def test_a_passage_never_runs_across_a_heading() -> None:
    """An FAQ page: each question heading and its answer are a passage of their own,
    though all of them together would fit one passage's budget."""
    faq = Article(id="faq", title="Frequently asked questions", body=(
        "How long does delivery take?\n\nStandard delivery takes 3 to 5 working days.\n\n\n"
        "Can I change my order?\n\nWithin one hour of ordering, from the Orders page.\n\n"
        "After that it is being packed.\n\n\nDo you offer gift wrapping?\n\nYes, for $3 an item."))
    assert [p.text for p in chunk_article(faq)] == [
        "How long does delivery take?\n\nStandard delivery takes 3 to 5 working days.",
        "Can I change my order?\n\nWithin one hour of ordering, from the Orders page.\n\n"
        "After that it is being packed.",
        "Do you offer gift wrapping?\n\nYes, for $3 an item."]
    assert len(chunk_article(Article(id="plain", title="t", body=faq.body.replace("\n\n\n", "\n\n")))) == 1


def test_chunk_articles_keeps_article_order_and_unique_ids() -> None:
    passages = chunk_articles([article("a. " * 30, id="first"), article("b.", id="second")], max_words=20)

    assert [p.id for p in passages] == ["first#1", "first#2", "second#1"]


_word = st.text(alphabet="abcdefgh\"()", min_size=1, max_size=6)
_sentence = st.lists(_word, min_size=1, max_size=30).map(lambda ws: " ".join(ws) + ".")
_paragraph = st.lists(_sentence, min_size=1, max_size=6).map(" ".join)
_body = st.lists(_paragraph, min_size=1, max_size=6).map("\n\n".join)


@settings(max_examples=150, deadline=None)
@given(body=_body, max_words=st.integers(min_value=1, max_value=60))
def test_every_word_is_kept_in_order_and_no_passage_exceeds_the_budget(body: str, max_words: int) -> None:
    passages = chunk_article(article(body), max_words=max_words)

    assert " ".join(p.text for p in passages).split() == body.split()
    assert all(len(p.text.split()) <= max_words for p in passages)
    assert [p.id for p in passages] == [f"returns#{n}" for n in range(1, len(passages) + 1)]


@settings(max_examples=100, deadline=None)
@given(body=_body)
def test_passages_end_on_sentence_boundaries_when_sentences_fit(body: str) -> None:
    longest_sentence = max(len(s.split()) for s in re.split(r"(?<=\.)\s+", body))
    passages = chunk_article(article(body), max_words=max(longest_sentence, 30))

    assert all(p.text.endswith(".") for p in passages)
