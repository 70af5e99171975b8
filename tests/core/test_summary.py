"""The handoff summary's building blocks: a line is shortened without cutting a link."""
from __future__ import annotations

from switchboard.core.helpdesk.summary import one_line

LINK = "https://help.acme.example/articles/where-is-my-order-tracking-your-parcel"


def test_a_cut_that_would_fall_inside_a_link_keeps_the_link_whole() -> None:
    text = "Track it here: " + LINK + " and tell us if it has not moved in three days, we will look into it."
    short = one_line(text, 40)
    assert LINK in short and short.endswith("…") and len(short) < len(text)


def test_a_cut_before_any_link_is_a_plain_cut() -> None:
    assert one_line("word " * 100, 20) == ("word " * 4).strip() + "…"
