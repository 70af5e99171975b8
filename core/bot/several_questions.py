"""A message that asks two or three things at once ("Do you ship to Canada? And how
much does delivery cost?"), each answered from its own article in one reply.

Read whole, such a message sits between two articles: retrieval is unsure, and the
customer gets a menu holding both, or an answer to the first question only ("How do I
return an item? When will I get my refund?" was answered with the returns article, the
refund's timing left out). Asked one by one, each question finds its article.

The reply answers every question or none: each sentence that asks is searched on its
own and must fit one article clearly, as a message of its own must to be answered
outright, and the articles must differ. When the later questions are about the first
("Do you deliver to Australia? How long would that take?": read whole, domestic
delivery times), the message is searched as its first question and answered (or offered
a menu) for all of it, as a follow-up to that answer would be, unless the whole reading
leads to an article the first question offers too. Anything else ("Can I cancel? If not, can I return
it?": a second question that names nothing and points at nothing) leaves the message
to be decided whole, as before. A request stated ("I need to change my delivery
address.", "I want to cancel my order.") asks as a question does; other statements
around the questions ("My card was declined.") are not questions of their own, they
stay with the whole message's reading.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from switchboard.core.answers.drafting import Draft
from switchboard.core.answers.grounding import split_sentences
from switchboard.core.knowledge.records import Hit
from switchboard.core.understanding.asking import asks, opens_asking

#: A message asking more than this many things is answered whole (or handed over):
#: a reply quoting four articles is no longer a text message anyone reads.
MAX_QUESTIONS = 3


@dataclass(frozen=True)
class Answered:
    """One of the message's questions, with the hits and the draft that answer it."""

    question: str
    hits: tuple[Hit, ...]
    draft: Draft


#: "1) … 2) …", "1. … 2. …", "(1) … (2) …" inside a line: items numbered from one.
_NUMBERED_ITEM = re.compile(r"(?:^|(?<=\s))\(?([1-9])[.)]\s+")


def questions_in(message: str) -> list[str]:
    """The message's sentences that ask (a question, or a request stated:
    :func:`opens_asking`), when it asks two to :data:`MAX_QUESTIONS` things; else none
    (a message with one question is decided whole). Items numbered inside one line ("1)
    where is my parcel 2) can I change the address") are sentences of their own: the
    message was read whole and only the second was answered."""
    asked = [sentence for sentence in _numbered_items(message) or split_sentences(message)
             if asks(sentence) or opens_asking(sentence)]
    return asked if 2 <= len(asked) <= MAX_QUESTIONS else []


def _numbered_items(message: str) -> list[str]:
    """The items of a message numbered 1, 2[, 3…] in order within its lines; else none."""
    marks = list(_NUMBERED_ITEM.finditer(message))
    if len(marks) < 2 or [int(m.group(1)) for m in marks] != list(range(1, len(marks) + 1)):
        return []
    ends = [m.start() for m in marks[1:]] + [len(message)]
    items = [message[m.end():end].strip() for m, end in zip(marks, ends, strict=True)]
    return [item for piece in items for item in split_sentences(piece)]


def answer_each(message: str, *, search: Callable[[str], list[Hit]], topic_words: Callable[[str], list[str]],
                fits: Callable[[Sequence[Hit], Sequence[str], str], bool],
                draft: Callable[[str, Sequence[Hit]], Draft | None]) -> list[Answered]:
    """Each question of ``message`` with its answer, when every one of them clearly
    fits (``fits``: the decision's own test for answering outright) a different article
    and drafts; else an empty list."""
    answered: list[Answered] = []
    for question in questions_in(message):
        words = topic_words(question)
        hits = search(question) if words else []
        if not fits(hits, words, question) or hits[0].passage.article_id in {a.hits[0].passage.article_id
                                                                             for a in answered}:
            return []
        drafted = draft(question, hits)
        if drafted is None:
            return []
        answered.append(Answered(question, tuple(hits), drafted))
    return answered


def first_reading(message: str, whole: Sequence[Hit], *, search: Callable[[str], list[Hit]],
                  topic_words: Callable[[str], list[str]],
                  points_back: Callable[[str, Sequence[str], Callable[[str], list[str]]], bool],
                  offered: Callable[[Sequence[Hit]], list[Hit]]) -> tuple[str, list[Hit]] | None:
    """The message's first question and its hits, when every later question is about
    it (``points_back``: the test a follow-up to an answer passes, core/bot/follow_ups.py)
    and the whole message (``whole``: its hits) leads to an article the first question
    would not even offer (``offered``: a menu's articles); else None."""
    questions = questions_in(message)
    if not questions or not whole:
        return None
    first, *later = questions
    if not topic_words(first) or not all(points_back(q, topic_words(q), topic_words) for q in later):
        return None
    hits = search(first)
    if whole[0].passage.article_id in {hit.passage.article_id for hit in offered(hits)}:
        return None  # "Is express available? How much does it cost?": delivery costs either way
    return first, hits


def joined(answers: Sequence[Answered]) -> Draft:
    """One draft of the answers, in the order the customer asked, each with its own
    citation line (as drafted: the reply localises each, :func:`reply_of`)."""
    first = answers[0].draft
    usage: dict[str, int] = {}
    for answer in answers:
        for key, value in answer.draft.usage.items():
            usage[key] = usage.get(key, 0) + value
    return Draft(text="\n\n".join(answer.draft.text for answer in answers),
                 citations=tuple(p for answer in answers for p in answer.draft.citations),
                 engine=first.engine, model=first.model, prompt_version=first.prompt_version, usage=usage)


def reply_of(answers: Sequence[Answered], localise: Callable[[str], str]) -> str:
    """The answers as the customer reads them: each citation line in the conversation's
    language (``localise``)."""
    return "\n\n".join(localise(answer.draft.text) for answer in answers)
