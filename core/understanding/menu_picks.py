"""Which item of a menu a customer's reply picks: "2", "#2", or words of its title
("the tracking one"), typos forgiven; anything else is a new question."""
from __future__ import annotations

import re
from collections.abc import Sequence

from rapidfuzz import fuzz

#: Words that say nothing about which article was meant ("the first one", "that one").
_PICK_FILLER = frozenset("the a an one that this about please pls i want my me it its on for of to".split())
#: A reply longer than this is a new question, not the name of a menu item.
_PICK_MAX_WORDS = 8


def pick_choice(text: str, titles: Sequence[str]) -> int | None:
    """Which offered article the customer picked (0-based): its number ("2", "#2", "2."),
    or words of its title ("the tracking one" → "Where is my order? Tracking your
    parcel"), typos forgiven. None when the message is something else, which is then a
    new question."""
    number = menu_number(text)
    if number is not None:
        return number - 1 if 1 <= number <= len(titles) else None
    bare = text.strip().lower().lstrip("#").rstrip(".)!").strip()
    words = [w for w in _words(bare) if w not in _PICK_FILLER]
    if not words or len(words) > _PICK_MAX_WORDS:
        return None
    shared = [sum(any(fuzz.ratio(w, t) >= 85 for t in _words(title.lower())) for w in words) for title in titles]
    best = max(shared, default=0)
    if best == 0 or shared.count(best) > 1 or best < len(words) / 2:
        return None  # no title named, two equally, or mostly other words: a new question
    return shared.index(best)


def menu_number(text: str) -> int | None:
    """The number a reply to a menu is, if it is only one ("2", "#2", "2.")."""
    bare = text.strip().lstrip("#").rstrip(".)!").strip()
    return int(bare) if bare.isdigit() and len(bare) <= 3 else None


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text)
