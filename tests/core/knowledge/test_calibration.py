"""Each index fits its own confidence on questions its own articles give, held out from
them, so that what "sure enough to answer" means carries to a help center no threshold
was tuned on."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from switchboard.core.knowledge.calibration import (
    MIN_QUESTIONS,
    TARGET_WRONG,
    UNANSWERABLE_SHARE,
    Example,
    expectation,
    fit,
    held_out,
    pseudo_questions,
)
from switchboard.core.knowledge.join_calibration import shipped
from switchboard.core.knowledge.loaders import load_articles
from switchboard.core.knowledge.records import Article
from switchboard.core.knowledge.retrieval import Retriever, build_index

SAMPLE_KB = Path(__file__).parents[3] / "switchboard" / "data" / "sample_kb.json"


def test_an_article_gives_its_title_and_a_question_its_body_asks() -> None:
    article = Article(id="a", title="Changing your delivery address",
                      body="Plans change. Can I change the address after ordering? Yes, until it ships.")
    questions = pseudo_questions([article])
    assert [(q.kind, q.text) for q in questions] == [
        ("title", "Changing your delivery address"), ("question", "Can I change the address after ordering?")]
    [kept] = held_out([article], questions)
    assert kept.title == "" and "Can I change" not in kept.body and "until it ships" in kept.body


def test_without_a_question_in_the_body_its_opening_sentence_stands_in() -> None:
    article = Article(id="b", title="Opening hours", body="Our team answers from 8 am to 8 pm every weekday. "
                                                           "On weekends we answer by email only.")
    [_, opening] = pseudo_questions([article])
    assert (opening.kind, opening.text) == ("opening", "Our team answers from 8 am to 8 pm every weekday.")


@pytest.fixture(scope="module")
def sample_index() -> Retriever:
    return build_index(load_articles(SAMPLE_KB), "e5")


def test_the_sample_help_center_gets_its_own_fitted_confidence(sample_index: Retriever) -> None:
    report = sample_index.calibration
    assert report["fitted"] and report["questions"] >= MIN_QUESTIONS
    assert report["wrong"] <= TARGET_WRONG
    assert 0 < report["answered"] < 1 and 0 <= report["menu"] <= 1
    assert "semantic" in report["features"]
    # Saved with the index, so every process answers with the same confidence.
    assert sample_index.settings.hybrid_confidence.semantic or sample_index.settings.hybrid_confidence.title_semantic


def test_the_fitted_score_separates_readme_questions_from_ones_it_cannot_answer(sample_index: Retriever) -> None:
    asked = {q: sample_index.search(q, 1)[0] for q in (
        "Where is my parcel?", "I forgot my password", "can I bring my dog to your office?",
        "what is the capital of Australia")}
    assert asked["Where is my parcel?"].passage.article_id == "track-order"
    assert asked["Where is my parcel?"].score >= 0.5 and asked["I forgot my password"].score >= 0.5
    assert asked["can I bring my dog to your office?"].score < 0.5
    assert asked["what is the capital of Australia"].score < 0.5
    assert all(hit.signals["calibrated"] == 1.0 for hit in asked.values())


def test_the_saved_index_keeps_its_calibration(sample_index: Retriever, tmp_path: Path) -> None:
    sample_index.save(tmp_path / "index")
    loaded = Retriever.load(tmp_path / "index")
    assert loaded.calibration == sample_index.calibration
    assert loaded.search("Where is my parcel?", 1)[0].score == pytest.approx(
        sample_index.search("Where is my parcel?", 1)[0].score, abs=1e-5)


def test_the_threshold_keeps_the_expected_wrong_share_at_the_target() -> None:
    """Half the right top hits and every unanswerable one share the same range of
    signals: only a threshold high enough to answer few of the former keeps wrong
    answers at the target, and the fit must find it."""
    rng = random.Random(4)
    found = []
    for _ in range(200):
        right = rng.random() < 0.7
        semantic = rng.uniform(0.80, 0.95) if right else rng.uniform(0.75, 0.90)
        found.append(Example({"semantic": semantic, "margin": rng.uniform(0, 1), "coverage": 1.0,
                              "weighted_coverage": 1.0, "relative_score": 0.5, "title_semantic": semantic},
                             right=right, answerable=True, right_in_menu=right))
        found.append(Example({"semantic": rng.uniform(0.75, 0.88), "margin": rng.uniform(0, 0.5), "coverage": 0.5,
                              "weighted_coverage": 0.5, "relative_score": 0.2, "title_semantic": 0.8},
                             right=False, answerable=False))
    fitted = fit(found, semantic=True)
    assert fitted is not None
    confidence, report = fitted
    answered = [confidence(e.signals) >= 0.5 for e in found]
    answerable = [(a, e) for a, e in zip(answered, found, strict=True) if e.answerable]
    unanswerable = [a for a, e in zip(answered, found, strict=True) if not e.answerable]
    wrong = ((1 - UNANSWERABLE_SHARE) * sum(a and not e.right for a, e in answerable) / len(answerable)
             + UNANSWERABLE_SHARE * sum(unanswerable) / len(unanswerable))
    assert wrong <= TARGET_WRONG + 1e-9 and report["wrong"] == pytest.approx(wrong, abs=2e-3)
    assert 0 < report["answered"] < 0.7  # answers some, not all of the right ones


def test_too_few_questions_fit_nothing_and_the_admin_is_told() -> None:
    tiny = [Article(id=str(n), title=f"Topic number {n} explained", body="Some words here.") for n in range(3)]
    index = build_index(tiny, "none")
    join = index.calibration.pop("join")
    assert index.calibration == {"fitted": False, "reason": "too few articles to fit a confidence on"}
    assert join["fitted"] is False and join["cosine"] == shipped(None)  # nor a join cosine: the shipped one
    assert "Too few articles" in expectation(index.calibration)
    assert "answered outright" in expectation({"fitted": True, "answered": 0.42, "menu": 0.3, "wrong": 0.04,
                                               "questions": 120})
