"""Writing an article's text back to the Help Center as HTML, without losing what the
text never held.

Articles are stored as the plain text :mod:`.html_text` reads from their HTML: what is
ranked and quoted, but not the links, images, emphasis and layout an author gave them.
An approved edit (core/knowledge_loop/) changes a few sentences of that text. Writing
the whole edited text back as paragraphs would replace a rich Help Center article with
a bare one: every link and image gone, headings and lists flattened. So an edit is
applied to the article's current HTML instead (:func:`revised_html`): the sentences it
replaces or removes are found in the HTML and changed there, sentences it adds go where
the text puts them, and everything else stays byte for byte. When a changed sentence is
no longer in the HTML (someone edited the article in the Help Center since it was read),
nothing is written: :class:`HtmlEditError` says which sentence, so nobody's later change
is overwritten with an older one.

A new article has no HTML yet: :func:`text_to_html` writes its text with the structure
the text carries (sections' headings, lists, line breaks).
"""
from __future__ import annotations

import difflib
import html
import re

from switchboard.core.errors import SwitchboardError
from switchboard.core.knowledge.chunking import sections
from switchboard.core.knowledge.html_text import html_to_text

_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_BULLET = re.compile(r"^\s*[-*\u2022]\s+")
_NUMBERED = re.compile(r"^\s*\d{1,3}[.)]\s+")
#: A heading is a short line: longer, the paragraph opening a section is text.
_HEADING_WORDS = 12
#: Sentences as the edit's diff sees them: ends of sentences, and line breaks.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
#: What may stand between two words of a sentence in HTML: spaces, tags, a no-break space.
_BETWEEN_WORDS = r"(?:\s|&nbsp;|&#160;|&#xa0;|<[^<>]*>)+"
#: A character entity, which html_text has read as the character it names.
_ENTITY = r"&(?:#\d+|#x[0-9a-fA-F]+|\w+);"


class HtmlEditError(SwitchboardError):
    """The edit cannot be applied to the article's current HTML without guessing."""


def text_to_html(text: str) -> str:
    """HTML for an article's plain text: a paragraph a ``<p>`` (its line breaks kept as
    ``<br>``), "- " lines a list, "1. " lines a numbered list, and the short first line of
    each section after the first (:data:`.chunking.SECTION_BREAK`) an ``<h2>``, so that
    reading the HTML back (:func:`.html_text.html_to_text`) gives the same sections."""
    parts: list[str] = []
    for number, section in enumerate(s for s in sections(text.strip()) if s.strip()):
        paragraphs = [p.strip() for p in _PARAGRAPH.split(section) if p.strip()]
        if number and paragraphs and _is_heading(paragraphs[0]):
            parts.append(f"<h2>{html.escape(paragraphs[0], quote=False)}</h2>")
            paragraphs = paragraphs[1:]
        parts.extend(_block(paragraph) for paragraph in paragraphs)
    return "".join(parts)


def _is_heading(paragraph: str) -> bool:
    return "\n" not in paragraph and len(paragraph.split()) <= _HEADING_WORDS and not _BULLET.match(paragraph)


def _block(paragraph: str) -> str:
    lines = [line.strip() for line in paragraph.split("\n") if line.strip()]
    for marker, tag in ((_BULLET, "ul"), (_NUMBERED, "ol")):
        if all(marker.match(line) for line in lines):
            items = "".join(f"<li>{html.escape(marker.sub('', line), quote=False)}</li>" for line in lines)
            return f"<{tag}>{items}</{tag}>"
    return "<p>" + "<br>".join(html.escape(line, quote=False) for line in lines) + "</p>"


def revised_html(current: str, before: str, after: str) -> str:
    """``current`` (the article's HTML now) with the change from text ``before`` (what the
    edit was made from) to text ``after`` applied to it: replaced and removed sentences
    changed where they stand, added ones put after the sentence they follow (as a new
    paragraph at the end when they close the text), all other markup left as it was.

    Already applied (the HTML reads as ``after``, e.g. a retried call): ``current``
    unchanged. Raises :class:`HtmlEditError` when a sentence the edit changes is not in
    ``current``."""
    if _same(html_to_text(current).text, after):
        return current
    old, new = _sentences(before), _sentences(after)
    if not old:
        raise HtmlEditError("This edit does not say what the article said before it, so applying it would add "
                            "the whole text again. Nothing was written: make the change in the Help Center.")
    changes: list[tuple[int, int, str]] = []  # (start, end, replacement) in current's characters
    position = 0
    found: dict[int, re.Match[str]] = {}

    def span(index: int) -> tuple[int, int]:
        nonlocal position
        if index not in found:
            found[index] = _find(current, old[index], position)
            position = found[index].end()
        return found[index].span()

    for operation, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if operation == "equal":
            continue
        written = html.escape(" ".join(new[j1:j2]), quote=False)
        if operation == "insert":
            if i1 == len(old):
                changes.append((len(current), len(current), text_to_html(" ".join(new[j1:j2]))))
            elif i1 == 0:
                start, _ = span(0)
                changes.append((start, start, written + " "))
            else:
                _, end = span(i1 - 1)
                changes.append((end, end, " " + written))
            continue
        for index in range(i1, i2):
            span(index)
        if operation == "replace" and i2 - i1 == j2 - j1 == 1:  # one sentence reworded: its changed words
            changes += _word_changes(current, found[i1], old[i1].split(), new[j1].split())
            continue
        # the first to the last changed sentence, the tags between kept
        start, end = found[i1].start(), found[i2 - 1].end()
        tags = "".join(re.findall(r"<[^<>]*>", current[start:end]))
        changes.append((start, end, (written if operation == "replace" else "") + tags))
    revised = current
    for start, end, replacement in sorted(changes, key=lambda change: change[0], reverse=True):
        revised = revised[:start] + replacement + revised[end:]
    return revised


def sentences(text: str) -> list[str]:
    """``text``'s sentences and lines, spaces collapsed: what an edit's diff compares
    (core/knowledge_loop/edits.py) and what is looked for in the HTML here."""
    return [s for s in (" ".join(part.split()) for part in _SENTENCE_END.split(text)) if s]


def _sentences(text: str) -> list[str]:
    """:func:`sentences` without list markers: the HTML holds an item's text, not its "- "."""
    return [s for s in (_BULLET.sub("", sentence) for sentence in sentences(text)) if s]


def _same(left: str, right: str) -> bool:
    return _sentences(left) == _sentences(right)


def _word_changes(current: str, found: re.Match[str], old: list[str], new: list[str]) -> list[tuple[int, int, str]]:
    """The words that differ between one sentence and its rewording, changed where they
    stand (``found`` holds a group a word), so markup around the rest stays: "valid for
    <strong>12 months</strong>" becomes "valid for <strong>24 months</strong>"."""
    changes: list[tuple[int, int, str]] = []
    for operation, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        written = html.escape(" ".join(new[j1:j2]), quote=False)
        if operation == "equal":
            continue
        if operation == "insert":
            at = found.start(i1 + 1) if i1 < len(old) else found.end(len(old))
            changes.append((at, at, written + " " if i1 < len(old) else " " + written))
            continue
        start, end = found.start(i1 + 1), found.end(i2)
        if operation == "delete":  # the space before the first word removed goes too
            start = found.end(i1) if i1 else start
            end = end if i1 else found.start(i2 + 1) if i2 < len(old) else end
        tags = "".join(re.findall(r"<[^<>]*>", current[start:end]))
        changes.append((start, end, (written if operation == "replace" else "") + tags))
    return changes


def _find(current: str, sentence: str, start: int) -> re.Match[str]:
    """Where ``sentence`` is in ``current`` (from ``start``), a group a word: in text, not
    inside a tag."""
    pattern = re.compile(_BETWEEN_WORDS.join(f"({_word_pattern(word)})" for word in sentence.split()))
    for found in pattern.finditer(current, start):
        if current.rfind("<", 0, found.start()) <= current.rfind(">", 0, found.start()):
            return found
    raise HtmlEditError(
        f"The sentence \u201c{_shortened(sentence)}\u201d that this edit changes is no longer in the Help "
        "Center article as written there (the article was edited in the Help Center since Switchboard read "
        "it, or the sentence is a table row Switchboard reads cell by cell). Nothing was written. Run "
        "`switchboard kb sync` and draft the edit again, or make it in the Help Center.")


def _word_pattern(word: str) -> str:
    """A word as HTML may write it: each character that is not a letter or digit also as
    an entity (``&amp;``, ``&rsquo;``), and tags inside it ("<b>30</b>.")."""
    return "(?:<[^<>]*>)*".join(re.escape(c) if c.isalnum() else f"(?:{re.escape(c)}|{_ENTITY})" for c in word)


def _shortened(sentence: str, words: int = 12) -> str:
    parts = sentence.split()
    return " ".join(parts[:words]) + (" \u2026" if len(parts) > words else "")

