"""Drafts that edit an existing article rather than add one (issue 38).

When the agents' replies on a gap's ticket link one of the account's articles, or
answer from the article retrieval found closest to the gap's question (one of their
sentences says what one of its sentences says; :func:`kb_drafts.edit_target`), their
answer is read against that article: a sentence that says the same thing with other numbers ("within 30 days"
where the article says "within 14 days") replaces the article's sentence; a sentence
the article does not hold is added; one it already holds changes nothing. An answer
that neither adds nor contradicts anything is no edit at all.

Comparisons are on words (the numbers set apart), so they run without the encoder,
and a reviewer sees why: the diff of the old and the new body.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from switchboard.core.knowledge.html_edit import sentences

_WORD = re.compile(r"[a-z][a-z']+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
#: Words too common to say two sentences are about the same thing.
_STOP = frozenset("the a an and or of to in on for is are be can you your we our it this that with at by from as "
                  "if will may not no do does have has".split())
#: Share of content words two sentences have in common to say the same thing.
SAME = 0.5


@dataclass(frozen=True)
class Revision:
    """The edited body and what changed: sentences added, and (old, new) replacements."""

    body: str
    added: tuple[str, ...] = ()
    replaced: tuple[tuple[str, str], ...] = field(default=())


def words(sentence: str) -> frozenset[str]:
    return frozenset(w for w in _WORD.findall(sentence.lower()) if w not in _STOP)


def numbers(sentence: str) -> frozenset[str]:
    return frozenset(n.replace(",", "") for n in _NUMBER.findall(sentence))


def overlap(a: str, b: str) -> float:
    """Jaccard of the two sentences' content words."""
    left, right = words(a), words(b)
    return len(left & right) / len(left | right) if left and right else 0.0


def answers_from(body: str, agent_sentences: Sequence[str]) -> bool:
    """Whether one of the agents' sentences says what one of the article's says."""
    held = sentences(body)
    return any(overlap(s, a) >= SAME for s in agent_sentences for a in held)


def revise(body: str, agent_sentences: Sequence[str]) -> Revision | None:
    """``body`` with the agents' answer folded in, or None when it adds nothing."""
    held = sentences(body)
    added: list[str] = []
    replaced: list[tuple[str, str]] = []
    for sentence in dict.fromkeys(agent_sentences):
        if _URL.search(sentence):
            continue  # "see https://…/articles/1": the link, not an answer
        best = max(held, key=lambda a: overlap(sentence, a), default="")
        if best and overlap(sentence, best) >= SAME:
            theirs, ours = numbers(sentence), numbers(best)
            if theirs and ours and theirs != ours:
                replaced.append((best, sentence))
                held[held.index(best)] = sentence
            continue
        if sentence not in added:
            added.append(sentence)
    if not added and not replaced:
        return None
    new = body
    for old, sentence in replaced:
        new = new.replace(old, sentence, 1) if old in new else _replace_spaced(new, old, sentence)
    if added:
        new = f"{new.rstrip()}\n\n{' '.join(added)}"
    return Revision(new, tuple(added), tuple(replaced))


def _replace_spaced(body: str, old: str, new: str) -> str:
    """Replace a sentence whose spacing the body wrote otherwise (line breaks)."""
    pattern = r"\s+".join(re.escape(word) for word in old.split())
    return re.sub(pattern, lambda _: new, body, count=1)


def diff(old: str, new: str) -> list[str]:
    """The change, a sentence a line: ``- `` removed, ``+ `` added (unchanged left out)."""
    return [line for line in difflib.ndiff(sentences(old), sentences(new)) if line[:2] in ("- ", "+ ")]
