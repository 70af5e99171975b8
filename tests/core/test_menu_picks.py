"""A reply to a menu names an item by its number, its place in any of the six catalog
languages, or its title's words; "none of these" names none; a question that happens to
hold an ordinal ("second class delivery?") is still a question."""
from __future__ import annotations

import pytest

from switchboard.core.understanding.menu_picks import menu_number, pick_choice
from switchboard.core.understanding.setbacks import declines

TITLES = ["My parcel says delivered but I haven't received it", "Where is my order? Tracking your parcel",
          "How do I cancel my order?"]


@pytest.mark.parametrize(("reply", "index"), [
    ("2", 1), ("#3", 2), ("1.", 0), ("option 2", 1), ("no. 2", 1), ("the second one", 1), ("Second!", 1),
    ("2nd", 1), ("the 3rd one please", 2), ("I want the first one", 0), ("One.", 0), ("number two", 1),
    ("the last one", 2),
    ("el segundo", 1), ("la primera opción", 0), ("el último", 2), ("quiero el tercero", 2),
    ("le deuxième", 1), ("la première", 0), ("je prends le dernier", 2), ("2e", 1),
    ("die zweite bitte", 1), ("den ersten", 0), ("der letzte", 2),
    ("o segundo", 1), ("a primeira", 0), ("2ª", 1),
    ("il secondo", 1), ("la terza", 2), ("voglio il primo", 0),
    ("the tracking one", 1), ("cancel", 2),
])
def test_a_reply_picks_the_item_it_names(reply: str, index: int) -> None:
    assert pick_choice(reply, TITLES) == index


@pytest.mark.parametrize("reply", [
    "second class delivery?", "one more question", "first class", "4", "0", "the fourth one", "no",
    "how long does delivery take?", "none of these",
    # their words name no item: "is it free?" was read as picking "Where is my order?"
    "is it free?", "where is it?", "how long do I have?",
])
def test_anything_else_picks_nothing(reply: str) -> None:
    assert pick_choice(reply, TITLES) is None


def test_a_place_past_the_menus_end_is_still_a_number() -> None:
    """So the menu is sent again rather than "4" searched as a question, written or said."""
    assert menu_number("4") == 4 and menu_number("the fourth one") == 4 and menu_number("cinco") == 5
    assert menu_number("the last one") is None


@pytest.mark.parametrize(("reply", "declined"), [
    ("none of these", True), ("None of them.", True), ("neither", True), ("none of these, thanks", True),
    ("ninguno", True), ("ninguna de estas", True), ("aucun", True), ("keine davon", True), ("nenhum deles", True),
    ("nessuno dei due", True),
    ("none of these answer my question about returns", False), ("no one answers the phone", False), ("2", False),
])
def test_none_of_these_declines_the_menu(reply: str, declined: bool) -> None:
    assert declines(reply) is declined
