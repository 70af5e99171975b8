"""When a solved ticket joins a pending draft: at the cosine fitted on the account's own
articles (core/knowledge/join_calibration.py), not a constant. The sample help center's
articles are close to one another (shop questions, "Do you...?"), so its own questions
put the join above the shipped cosine, and two customers asking about different
things that are as close as its articles stay in two drafts."""
from __future__ import annotations

from flask import Flask

from switchboard.core.knowledge import topics
from switchboard.core.knowledge.join_calibration import shipped
from switchboard.intake.db import get_db

from ..signing import VendorClient
from .test_loop_end_to_end import drafts, hand_over_and_solve

GIFT_CARDS = "Do you sell gift cards?"
GIFT_WRAP = "Do you offer gift wrapping?"
WRAP_ANSWER = "Yes, we gift wrap any order for $4. Choose Gift wrap at checkout and add a message card for free."


def test_the_join_cosine_is_fitted_on_the_accounts_own_articles(app: Flask) -> None:
    with get_db(app).session() as session:
        retriever = topics.live_retriever(session, app.config["DEFAULT_ACCOUNT_ID"], app.config["SETTINGS"])
    assert retriever is not None
    join = retriever.calibration["join"]
    assert join["fitted"] is True and join["questions"] >= 21
    # The sample's articles' questions reach each other more than the shipped cosine allows for.
    assert join["different_articles_quantile"] > shipped(retriever.encoder_name)
    assert topics.join_cosine(retriever) == join["cosine"] == join["different_articles_quantile"]


def test_two_different_topics_as_close_as_the_help_centers_articles_are_two_drafts(
        app: Flask, vendor: VendorClient) -> None:
    with get_db(app).session() as session:
        retriever = topics.live_retriever(session, app.config["DEFAULT_ACCOUNT_ID"], app.config["SETTINGS"])
    embedded = topics.vectors(retriever, [GIFT_CARDS, GIFT_WRAP])
    assert retriever is not None and embedded is not None
    cosine = float(embedded[0] @ embedded[1])
    # Closer than the shipped cosine (which merged them into one draft), not as close as the fitted one.
    assert shipped(retriever.encoder_name) <= cosine < topics.join_cosine(retriever)

    first = hand_over_and_solve(vendor, app, GIFT_CARDS, phone="+14155550141")
    second = hand_over_and_solve(vendor, app, GIFT_WRAP, phone="+14155550142", answer=WRAP_ANSWER)
    cards, wrapping = drafts(app)
    assert [s["ticket_id"] for s in cards.sources] == [first] and cards.version == 1
    assert [s["ticket_id"] for s in wrapping.sources] == [second] and wrapping.version == 1
    assert "gift wrap" not in cards.body.lower() and "gift cards" not in wrapping.body.lower()
    assert wrapping.title == GIFT_WRAP


GIFT_VOUCHERS = "gift vouchers?"


def test_the_same_answer_joins_a_close_question_and_a_joined_draft_reaches_no_further(
        app: Flask, vendor: VendorClient) -> None:
    with get_db(app).session() as session:
        retriever = topics.live_retriever(session, app.config["DEFAULT_ACCOUNT_ID"], app.config["SETTINGS"])
    embedded = topics.vectors(retriever, [GIFT_CARDS, GIFT_VOUCHERS, GIFT_WRAP])
    assert retriever is not None and embedded is not None
    cards_vouchers, cards_wrap, vouchers_wrap = (float(embedded[i] @ embedded[j]) for i, j in ((0, 1), (0, 2), (1, 2)))
    join = topics.join_cosine(retriever)
    # Vouchers: close to gift cards, not as close as the fitted join; gift wrapping: past the
    # join from the vouchers question, not from the two questions of the draft on average.
    assert shipped(retriever.encoder_name) <= cards_vouchers < join
    assert vouchers_wrap >= join > (cards_wrap + vouchers_wrap) / 2

    first = hand_over_and_solve(vendor, app, GIFT_CARDS, phone="+14155550143")
    second = hand_over_and_solve(vendor, app, GIFT_VOUCHERS, phone="+14155550144")  # the same answer (a macro)
    third = hand_over_and_solve(vendor, app, GIFT_WRAP, phone="+14155550145", answer=WRAP_ANSWER)
    cards, wrapping = drafts(app)
    assert [s["ticket_id"] for s in cards.sources] == [first, second] and cards.version == 2
    assert [s["ticket_id"] for s in wrapping.sources] == [third]
