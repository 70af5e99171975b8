"""`switchboard kb gaps`: questions customers texted (signed Twilio SMS) that the sample
knowledge base cannot answer, grouped by meaning, redacted, with the closest articles."""
from __future__ import annotations

from flask import Flask

from ..signing import VendorClient
from .conftest import cli, sms

GIFT_CARDS = ["Do you sell gift cards?", "Can I buy a gift card for my sister?",
              "is there a gift card I can purchase"]
LOYALTY = ["Do you have a loyalty programme with points?", "is there a loyalty program"]


def test_unanswered_questions_are_grouped_by_meaning_and_ranked(app: Flask, vendor: VendorClient,
                                                                loop_env: dict[str, str]) -> None:
    for n, question in enumerate(GIFT_CARDS + LOYALTY):
        sms(vendor, question, phone=f"+1415555{n:04d}")
    sms(vendor, "How long does delivery take?", phone="+14155559999")  # answered: no gap
    report = cli(app, loop_env, "kb", "gaps", "--json")
    gaps = report["gaps"]
    assert [gap["volume"] for gap in gaps] == [3, 2]
    assert sorted(gaps[0]["questions"]) == sorted(GIFT_CARDS)
    assert sorted(gaps[1]["questions"]) == sorted(LOYALTY)
    assert all(gap["trend"] == "new" and gap["previous"] == 0 for gap in gaps)
    assert gaps[0]["closest"] and all(c["article_id"] for c in gaps[0]["closest"])
    assert "delivery take" not in str(gaps)
    text = cli(app, loop_env, "kb", "gaps")
    assert "gift" in text and "new" in text


def test_a_phone_number_in_a_question_is_never_in_a_gap(app: Flask, vendor: VendorClient,
                                                        loop_env: dict[str, str]) -> None:
    sms(vendor, "Do you sell gift cards? my number is +44 7700 900123", phone="+14155550001")
    gaps = cli(app, loop_env, "kb", "gaps", "--json")["gaps"]
    assert gaps and "7700" not in str(gaps) and "[PHONE_1]" in gaps[0]["example"]
