"""What the bot offers when a customer says its answer did not help.

After an answer, the customer's question is searched again and the article that did
not help is left out: the others it could have meant are offered when their share of
the confidence that article held reaches the menu floor. After a pick off a menu, the
rest of that menu is offered. Searched with the picked title read into it, as the
pick's answer was, the question found the picked article first again, the menu's
other articles fell under the floor, and a customer who had just been offered three
articles was told "I couldn't find that in our help center".
"""
from __future__ import annotations

from collections.abc import Sequence

from switchboard.core.bot.menus import MAX_CHOICES, menu_floor
from switchboard.core.knowledge.records import Hit


def picked_from_menu(previous: str, title: str | None) -> str | None:
    """The customer's question, when the answer was a pick off the menu for it: a pick
    is answered for the question with the picked article's ``title`` as its last line
    (``decisions.answer_from_article``). None for any other answer."""
    if title and previous.endswith(f"\n{title}"):
        return previous[: -len(title) - 1]
    return None


def others(hits: Sequence[Hit], tried: str | None, *, limit: int = MAX_CHOICES) -> list[Hit]:
    """The articles of ``hits`` other than ``tried`` (the one whose answer did not help;
    the first hit's when not known) that hold at least the menu floor of the confidence
    ``tried`` did not use; at most ``limit`` of them. "Where is my parcel?": 0.09 of the
    0.42 left by the tracking article, for the delivered-but-missing one."""
    if not hits:
        return []
    tried = tried or hits[0].passage.article_id
    held = next((hit.score for hit in hits if hit.passage.article_id == tried), 0.0)
    left = max(1.0 - held, 1e-6)
    floor = menu_floor(hits)
    return [hit for hit in hits if hit.passage.article_id != tried and hit.score / left >= floor][:limit]
