"""A customer's reply to the menu the bot just sent, read one way wherever it is read:
by the live bot (``core/conversation/inbound.py``) and by ``switchboard eval`` for a
follow-up row whose previous question got a menu. Read two ways, "none of these" got
"Sorry none of those fit…" on SMS and a handoff in eval, and "2" the second article on
SMS and a search for "2" in eval: the proof said something else than the product.

A reply picks an article ("2", "the tracking one"), declines them all ("none of these",
"ninguno"), names a number the menu does not have (a slip: the same menu again), or is
something else: a new question (None).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from switchboard.core.bot.decisions import Decision
from switchboard.core.bot.menus import NONE_OF_THESE, choices_menu
from switchboard.core.knowledge.records import Hit, Passage
from switchboard.core.texts.i18n import N_, Texts
from switchboard.core.understanding.menu_picks import menu_number, pick_choice
from switchboard.core.understanding.setbacks import declines

#: After "none of these" under a menu: a miss, not a question.
MENU_DECLINED = N_("menu_declined", "Sorry none of those fit. Could you say it in other words? Or reply AGENT to "
                   "talk to a person.")


@dataclass(frozen=True)
class MenuReply:
    """What a reply to a menu says: the article picked (0-based), that none is wanted,
    or a number the menu does not have."""

    picked: int | None = None
    declined: bool = False
    out_of_range: bool = False


def read_reply(text: str, titles: Sequence[str], texts: Texts) -> MenuReply | None:
    """What ``text`` says to a menu of ``titles`` (``texts``: the conversation's, whose
    "None of these" the web chat's button sends); None when it is a new question."""
    index = pick_choice(text, titles)
    if index is not None:
        return MenuReply(picked=index)
    if declines(text) or text.strip() == texts(NONE_OF_THESE):
        return MenuReply(declined=True)
    if menu_number(text) is not None:
        return MenuReply(out_of_range=True)
    return None


def declined(texts: Texts, question: str) -> Decision:
    """The reply to "none of these": not a question to search ("none of these" found three
    more unrelated titles), and a failed answer the policy's repeated_failures counts."""
    return Decision("clarify", texts(MENU_DECLINED), reason="did_not_help", notes={"question": question})


def menu_again(menu: Mapping[str, Any], passages_of: Callable[[str], Sequence[Passage]],
               texts: Texts) -> Decision | None:
    """The same menu again, for a number it does not have ("4" under three articles, "five"
    said to a spoken one): a slip, not a new question. Read as a question of no words it got
    "I couldn't find that" and, after one more miss, a person. ``menu``: the menu message's
    meta; ``passages_of``: an article's indexed passages. None when none of its articles is
    left in the knowledge base."""
    hits = []
    for choice in menu.get("choices") or ():
        passages = passages_of(str(choice.get("article")))
        if passages:
            hits.append(Hit(passages[0], 1.0, {}))
    if not hits:
        return None
    # The menu's own reason kept: a pick off a menu after "that didn't help" teaches nothing.
    return Decision("choices", choices_menu(hits, texts), reason=menu.get("reason"), hits=tuple(hits),
                    choices=tuple(hits),
                    notes={"question": str(menu.get("question") or ""),
                           **({"follow_up": "yes"} if menu.get("follow_up") else {})})
