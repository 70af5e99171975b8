"""The part of a longer message that asks, read on its own.

Customers wrap a question in words no rule knows ("hey! quick one for you - …", "I'd be
grateful for your help with the following: …", a signature block, "Have a lovely
evening.") or set it among sentences of context ("I ordered on Monday. The tracking
hasn't updated since last week. What's going on?"). Read whole, such a message still
leads to the right article, but less surely than its question alone would: the other
words dilute its meaning and its share of the article's words, and it gets a menu
where the bare question is answered (banking77's tuning questions: 0.535 answered
right bare, 0.468 in wrappers small_talk.py was developed on).

So when the whole message does not clearly fit one article, each of its parts
(sentences and lines, cut again where a clause is introduced by a colon or a dash, or
by ", but") with topic words of its own is searched alone. The message is answered
from a part that clearly fits an article on its own (the decision's own test for
answering outright) when that article is also the one the whole message ranks first:
the part says what is asked, and the rest of the message does not point elsewhere. A
message whose parts point at different articles, or whose whole reading leads
elsewhere, is decided whole as before (a menu).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from switchboard.core.answers.grounding import split_sentences
from switchboard.core.knowledge.records import Hit
from switchboard.core.understanding.asking import asks, opens_asking

#: Where a clause that introduces the question ends: "quick question: …", "hey - …",
#: "sorry to bother you, but …".
_CLAUSE = re.compile(r":\s+|\s+[-\u2013\u2014]+\s+|,\s+but\s+", re.IGNORECASE)


def parts_of(message: str) -> list[str]:
    """The message's sentences and lines, each cut again after an introducing clause."""
    return [piece.strip() for sentence in split_sentences(message)
            for piece in _CLAUSE.split(sentence) if piece.strip()]


def asking_part(message: str, whole: Sequence[Hit], whole_words: Sequence[str], *,
                search: Callable[[str], list[Hit]], topic_words: Callable[[str], list[str]],
                fits: Callable[[Sequence[Hit], Sequence[str], str], bool],
                min_words: int) -> tuple[str, list[Hit], list[str]] | None:
    """The part of ``message`` that asks, with its own hits and topic words, when the
    whole message does not clearly fit (``fits``) one article and the part does fit the
    article the whole message ranks first (``whole``: its hits); else None.

    The part that asks is the one question or request stated among the parts; with none
    that names anything, the part of the most topic words: a wrapper's "sorry to bother
    you" has two, and fits some article by meaning as any words do. It needs
    ``min_words`` topic words. A message that asks two things is not one question in a
    wrapper (core/bot/several_questions.py)."""
    if not whole or fits(whole, whole_words, message):
        return None
    parts = parts_of(message)
    if len(parts) < 2:
        return None
    asking = [part for part in parts if asks(part) or opens_asking(part)]
    if len(asking) > 1:
        return None
    worded = [(len(words), -n, part, words) for n, part in enumerate(parts) if (words := topic_words(part))]
    # A question that names nothing ("What's going on?", "what do I do?") leaves it to
    # what the message says; one that names anything is what is asked.
    asked = [found for found in worded if found[2] in asking] or worded
    if not asked:
        return None
    count, _, part, words = max(asked)
    if count < min_words:
        return None
    hits = search(part)
    if hits and hits[0].passage.article_id == whole[0].passage.article_id and fits(hits, words, part):
        return part, hits, words
    return None
