"""The articles offered when an answer did not help (core/bot/other_articles.py)."""
from __future__ import annotations

from switchboard.core.bot.other_articles import others, picked_from_menu
from switchboard.core.knowledge.records import Hit, Passage


def hit(article: str, score: float, menu_floor: float = 0.19) -> Hit:
    passage = Passage(id=f"{article}#1", article_id=article, title=article.title(), text="…")
    return Hit(passage, score, {"menu_floor": menu_floor})


def test_a_pick_is_known_by_the_picked_title_read_after_the_question() -> None:
    assert picked_from_menu("refund?\nWhen will I get my refund?", "When will I get my refund?") == "refund?"
    assert picked_from_menu("when will I get my refund?", "When will I get my refund?") is None
    assert picked_from_menu("line one\nline two", None) is None


def test_the_article_that_did_not_help_is_left_out_wherever_it_ranks() -> None:
    hits = [hit("track", 0.58), hit("missing", 0.09), hit("late", 0.05)]
    # the tracking answer did not help: 0.09 of the 0.42 it left reaches the 0.19 floor
    assert [h.passage.article_id for h in others(hits, "track")] == ["missing"]
    # an answer from the second article did not help: the first is offered, it is not
    assert [h.passage.article_id for h in others(hits, "missing")] == ["track"]
    # not known which: the first is taken to be the one
    assert [h.passage.article_id for h in others(hits, None)] == ["missing"]
    assert others([], "track") == []
    # one not among the hits held none of it: each other is judged on its own score
    assert [h.passage.article_id for h in others(hits, "nowhere", limit=2)] == ["track"]
    assert len(others([hit("a", 0.5), hit("b", 0.4), hit("c", 0.3)], "nowhere", limit=2)) == 2
