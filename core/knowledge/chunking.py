"""Cutting articles into passages small enough to quote in one SMS/WhatsApp reply.

Whole articles are too long to rank precisely (a 2,000-word shipping policy mentions
everything) and too long to cite; single sentences lose the context that makes them
true. Passages are therefore whole paragraphs packed up to ``max_words``, falling back
to sentence and, for run-on text, word boundaries only when a paragraph is too long.
A passage never runs across a heading (SECTION_BREAK): an FAQ page's questions each
get their own passages, so "can I change my order?" is not ranked, and answered, from
a passage that also holds delivery times, gift wrap and returns.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from switchboard.core.knowledge.analysis import SENTENCE_MARKS
from switchboard.core.knowledge.records import Article, Passage

# A sentence ends at one of SENTENCE_MARKS (". ! ?", or one closed by a quote or bracket)
# followed by space.
# Help-center text is not always capitalised, so the next sentence may start in lower
# case; an abbreviation ("e.g. ") then splits early, which costs a slightly shorter
# passage, never lost text.
_SENTENCE_END = re.compile(rf"(?:(?<=[{SENTENCE_MARKS}])|(?<=[.!?][\"')\]]))\s+(?=\S)")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
#: What opens a section in an article's body: two blank lines (html_text writes it before
#: each heading of an HTML or Markdown article).
SECTION_BREAK = "\n\n\n"
_SECTION_BREAK = re.compile(r"\n[ \t]*\n[ \t]*\n\s*")


def sections(body: str) -> list[str]:
    """An article body's sections: the text between SECTION_BREAKs."""
    return _SECTION_BREAK.split(body)


def chunk_article(article: Article, *, max_words: int = 120) -> list[Passage]:
    """Passages ``"<article id>#1"``, ``#2``… that together hold the whole article body."""
    if max_words < 1:
        raise ValueError(f"max_words must be at least 1, got {max_words}")
    texts = [text for section in sections(article.body)
             for text in _pack(list(_pieces(section, max_words)), max_words)]
    texts = texts or [article.title]  # a title-only article stays findable
    return [
        Passage(
            id=f"{article.id}#{number}", article_id=article.id, title=article.title,
            text=text, url=article.url, locale=article.locale,
        )
        for number, text in enumerate(texts, 1)
    ]


def chunk_articles(articles: Iterable[Article], *, max_words: int = 120) -> list[Passage]:
    """All passages of ``articles``, in article order."""
    return [passage for article in articles for passage in chunk_article(article, max_words=max_words)]


def _word_count(text: str) -> int:
    return len(text.split())


def _pieces(body: str, max_words: int) -> Iterator[tuple[str, bool]]:
    """(text, starts a paragraph): paragraphs, over-long ones broken into sentences, and
    over-long sentences into runs of words, so every piece fits."""
    for paragraph in _PARAGRAPH_BREAK.split(body.strip()):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        if _word_count(paragraph) <= max_words:
            yield paragraph, True
            continue
        first = True
        for sentence in _SENTENCE_END.split(paragraph):
            words = sentence.split()
            for start in range(0, len(words), max_words):
                yield " ".join(words[start:start + max_words]), first
                first = False


def _pack(pieces: list[tuple[str, bool]], max_words: int) -> Iterator[str]:
    """Greedily joins consecutive pieces while the passage stays within ``max_words``.

    Pieces from the same paragraph are joined with a space, whole paragraphs with a blank
    line, so a passage reads like the article did."""
    current = ""
    current_words = 0
    for piece, starts_paragraph in pieces:
        words = _word_count(piece)
        if current and current_words + words > max_words:
            yield current
            current, current_words = "", 0
        separator = "\n\n" if starts_paragraph else " "
        current = f"{current}{separator}{piece}" if current else piece
        current_words += words
    if current:
        yield current
