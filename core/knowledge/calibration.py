"""Fitting an index's confidence on the knowledge base it serves, when it is built.

A confidence fitted once on one tuning set does not carry to another help center: the
cosines of a sentence encoder sit in another range for every collection (how alike
its articles are, how long, in which language), so a threshold that answers half the
questions outright on one answers almost none on the next and too many on a third.

So each index fits its own, from questions its own articles give: each sampled
article's title and one question or opening sentence from its body. Each is *held
out*: it is asked of a calibration copy of the index in which that article lost the
title and the sentence, so the article must be found by the rest of what it says, as
a customer's question finds it. Each is asked twice: once as is (right when its
article comes first) and once with its article left out (what the best *other*
article looks like when the help center has no answer). A logistic model of the top
hit's signals is fitted on those, and its threshold is chosen so that the expected
share of wrong answers, with UNANSWERABLE_SHARE of questions having no article, stays
at TARGET_WRONG. The fitted confidence is saved with the index and shifted so that
0.5 is that threshold: the decision's MIN_SCORE keeps its meaning on every help
center.

The pseudo-questions are easier in wording (they are the help center's own phrasing)
and harder in evidence (their article lost a title): ``bench/retrieval.py`` reports
how the expectation compares with real customers' questions on held-out sets.
"""
from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from switchboard.core.knowledge.analysis import SENTENCE_MARKS, UNSPACED_STOPS, content_words, language_of
from switchboard.core.knowledge.chunking import chunk_articles
from switchboard.core.knowledge.ranking import Confidence
from switchboard.core.knowledge.records import Article, Hit, Passage
from switchboard.core.understanding.asking import QUESTION_MARKS

#: The expected share of questions answered with the wrong article that the threshold allows.
TARGET_WRONG = 0.05
#: The score from which a hit is answered outright: the fitted confidence is shifted so
#: that its threshold lands here (the decision's MIN_SCORE, and what learned phrasings'
#: fit counts as an answer, core/knowledge/learned.py).
ANSWER_SCORE = 0.5
#: The share of customers' questions assumed to have no article in the help center, for
#: the expected wrong-answer share (first questions to a help center; Fin's and our
#: own measurements put it between a fifth and a third).
UNANSWERABLE_SHARE = 0.3
#: Articles sampled for pseudo-questions: enough for a stable fit, few enough that a
#: 10,000-article import re-embeds only this many changed articles.
MAX_ARTICLES = 300
#: Fewer questions than this (a handful of articles) fit nothing: the shipped confidence stays.
MIN_QUESTIONS = 16
#: A pseudo-question needs at least this many topic words to look like a question.
MIN_WORDS = 2
#: The share of menus holding the right article that the menu floor keeps.
MENU_KEPT = 0.9
#: The menu offers this many articles (core/bot/menus.py MAX_CHOICES).
MENU_SIZE = 3
#: The signals the fit may use. With an encoder, only the lead over the next article and
#: the meaning: the pseudo-questions share their article's words far more than customers'
#: questions do (a title's words recur in its body), so a fit that trusts shared words
#: scores real questions low (CLINC150's tuning questions: 0.29 answered right with
#: them, 0.46 without, at 0.019 and 0.031 wrong; StackFAQ, banking77 and XQuAD de within
#: 0.015 either way). Lexical indexes have the words only.
LEXICAL_FEATURES = ("margin", "coverage", "weighted_coverage", "relative_score")
SEMANTIC_FEATURES = ("margin", "semantic", "title_semantic")
#: The ridge penalty on the standardised weights (as scikit-learn's C=1 logistic regression).
RIDGE = 0.5
_THRESHOLDS = tuple(round(0.30 + 0.01 * step, 2) for step in range(70))
#: A sentence, to its end (Chinese and Japanese full stops and marks too).
_SENTENCE = re.compile(rf"[^{SENTENCE_MARKS}{UNSPACED_STOPS}\n]+[{SENTENCE_MARKS}{UNSPACED_STOPS}]?")


@dataclass(frozen=True)
class PseudoQuestion:
    text: str
    article_id: str
    kind: str  # "title", "question" (a question inside the body) or "opening"


@dataclass(frozen=True)
class Example:
    signals: dict[str, float]
    right: bool  # the hit's article answers the question
    answerable: bool  # asked with its article in the index
    right_in_menu: bool = False


Search = Callable[..., list[Hit]]


def pseudo_questions(articles: Sequence[Article], *, seed: int = 0) -> list[PseudoQuestion]:
    """Up to two questions per sampled article: its title, and a question its body
    asks ("Can I change my address?") or else its opening sentence."""
    chosen = list(articles)
    if len(chosen) > MAX_ARTICLES:
        chosen = random.Random(seed).sample(chosen, MAX_ARTICLES)
    found = []
    for article in chosen:
        language = language_of(article.locale)
        if len(content_words(article.title, language)) >= MIN_WORDS:
            found.append(PseudoQuestion(article.title.strip(), article.id, "title"))
        sentences = [s.strip() for s in _SENTENCE.findall(article.body) if s.strip()]
        asked = next((s for s in sentences
                      if s.endswith(QUESTION_MARKS) and len(content_words(s, language)) >= MIN_WORDS), None)
        if asked is not None:
            found.append(PseudoQuestion(asked, article.id, "question"))
        elif sentences and len(content_words(sentences[0], language)) >= MIN_WORDS + 1:
            found.append(PseudoQuestion(sentences[0], article.id, "opening"))
    return found


def held_out(articles: Sequence[Article], questions: Sequence[PseudoQuestion]) -> list[Article]:
    """The articles as the calibration index holds them: each without its own pseudo-questions."""
    removed: dict[str, list[PseudoQuestion]] = {}
    for question in questions:
        removed.setdefault(question.article_id, []).append(question)
    out = []
    for article in articles:
        mine = removed.get(article.id)
        if not mine:
            out.append(article)
            continue
        title = "" if any(q.kind == "title" for q in mine) else article.title
        body = article.body
        for question in mine:
            if question.kind != "title":
                body = body.replace(question.text, " ", 1)
        out.append(replace(article, title=title, body=body.strip() or article.body))
    return out


def examples(search: Search, questions: Sequence[PseudoQuestion], languages: dict[str, str | None]) -> list[Example]:
    """Each question asked as is and with its article left out, as the top hit's signals."""
    found = []
    for question in questions:
        language = languages.get(question.article_id)
        hits = search(question.text, k=MENU_SIZE, language=language)
        if hits:
            menu = {hit.passage.article_id for hit in hits[:MENU_SIZE]}
            found.append(Example(hits[0].signals, hits[0].passage.article_id == question.article_id, True,
                                 question.article_id in menu))
        others = search(question.text, k=1, language=language, excluding=question.article_id)
        if others:
            found.append(Example(others[0].signals, False, False))
    return found


def fit(found: Sequence[Example], semantic: bool) -> tuple[Confidence, dict[str, Any]] | None:
    """The logistic confidence over the top hit's signals, shifted so that 0.5 is the
    threshold meeting TARGET_WRONG; with what it expects of this help center. None when
    the examples cannot support a fit (too few, or all right or all wrong).

    Every weight is kept at zero or above: more shared words, a closer meaning or a
    clearer lead over the next article never make a hit less likely right. A few dozen
    questions otherwise fit signals that move together with opposite signs, and a hit
    sharing no word with the question could then outscore one that shares them all."""
    from scipy.optimize import minimize  # SciPy when an index is fitted, not at every start

    answerable = [e for e in found if e.answerable]
    labels = np.array([e.right for e in found], dtype=np.float64)
    if len(answerable) < MIN_QUESTIONS or labels.min() == labels.max():
        return None
    features = SEMANTIC_FEATURES if semantic else LEXICAL_FEATURES
    rows = np.array([[e.signals.get(name, 0.0) for name in features] for e in found], dtype=np.float64)
    mean, scale = rows.mean(axis=0), rows.std(axis=0)
    scale[scale == 0] = 1.0
    standard = (rows - mean) / scale

    def loss(parameters: np.ndarray) -> tuple[float, np.ndarray]:
        z = standard @ parameters[1:] + parameters[0]
        p = 1.0 / (1.0 + np.exp(-z))
        error = p - labels
        ridge = RIDGE * float(parameters[1:] @ parameters[1:])
        value = float(np.logaddexp(0.0, z).sum() - labels @ z) + ridge
        gradient = np.concatenate([[error.sum()], standard.T @ error + 2 * RIDGE * parameters[1:]])
        return value, gradient

    start = np.zeros(len(features) + 1)
    bounds = [(None, None)] + [(0.0, None)] * len(features)
    solved = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds).x
    weights = solved[1:] / scale
    bias = float(solved[0] - (solved[1:] * mean / scale).sum())
    probability = 1.0 / (1.0 + np.exp(-(rows @ weights + bias)))
    threshold, expected = _threshold(found, probability)
    shifted = bias - math.log(threshold / (1.0 - threshold))
    expected["menu_floor"] = floor = _menu_floor(found, probability, threshold)
    # The menus the floor still offers (on the probability scale the floor came from).
    floor_probability = _unshift(floor, threshold)
    expected["menu"] = round(float(np.mean([floor_probability <= p < threshold and e.right_in_menu
                                            for p, e in zip(probability, found, strict=True) if e.answerable])), 3)
    unused = dict.fromkeys(LEXICAL_FEATURES + SEMANTIC_FEATURES, 0.0)  # every weight Confidence has
    fitted = {name: round(float(w), 4) for name, w in zip(features, weights, strict=True)}
    confidence = Confidence(bias=round(shifted, 4), **{**unused, **fitted})
    return confidence, {**expected, "threshold": threshold, "questions": len(answerable),
                        "features": list(features)}


def _menu_floor(found: Sequence[Example], probability: np.ndarray, threshold: float) -> float:
    """The lowest score (on the shifted scale, where 0.5 answers) at which a menu is
    still offered: one that keeps MENU_KEPT of the menus holding the right article,
    so that a question the help center cannot answer gets "say it in other words"
    rather than three unrelated titles."""
    useful = sorted(float(p) for p, e in zip(probability, found, strict=True)
                    if e.answerable and e.right_in_menu and p < threshold)
    if not useful:
        return 0.0
    floor = useful[int((1.0 - MENU_KEPT) * len(useful))]
    shifted = math.log(floor / (1.0 - floor)) - math.log(threshold / (1.0 - threshold))
    return round(1.0 / (1.0 + math.exp(-shifted)), 4)


def _unshift(score: float, threshold: float) -> float:
    """A score on the shifted scale (0.5 = the threshold) back on the fitted probability's."""
    if score <= 0.0:
        return 0.0
    z = math.log(score / (1.0 - score)) + math.log(threshold / (1.0 - threshold))
    return 1.0 / (1.0 + math.exp(-z))


def _threshold(found: Sequence[Example], probability: np.ndarray) -> tuple[float, dict[str, float]]:
    """The lowest probability threshold whose expected wrong-answer share meets TARGET_WRONG."""
    answerable = np.array([e.answerable for e in found])
    right = np.array([e.right for e in found])
    in_menu = np.array([e.right_in_menu for e in found])
    best: tuple[float, dict[str, float]] | None = None
    for threshold in _THRESHOLDS:
        answered = probability >= threshold
        wrong = ((1 - UNANSWERABLE_SHARE) * float(np.mean(answered[answerable] & ~right[answerable]))
                 + UNANSWERABLE_SHARE * float(np.mean(answered[~answerable])) if (~answerable).any() else 0.0)
        expected = {
            "answered": round(float(np.mean(answered[answerable] & right[answerable])), 3),
            "menu": round(float(np.mean(~answered[answerable] & in_menu[answerable])), 3),
            "wrong": round(wrong, 3),
        }
        if wrong <= TARGET_WRONG:
            return threshold, expected
        best = (threshold, expected)
    assert best is not None
    return best


def calibration_examples(articles: Sequence[Article], build: Callable[[Sequence[Passage]], Any], *,
                         seed: int = 0) -> list[Example] | None:
    """The held-out pseudo-questions of ``articles`` asked of their calibration index
    (None when the articles give too few to fit on)."""
    questions = pseudo_questions(articles, seed=seed)
    if len(questions) < MIN_QUESTIONS:
        return None
    calibration_index = build(chunk_articles(held_out(articles, questions)))
    multilingual = len({language_of(a.locale) for a in articles}) > 1
    languages = {a.id: (language_of(a.locale) if multilingual else None) for a in articles}
    return examples(calibration_index.search, questions, languages)


def calibrate(articles: Sequence[Article], build: Callable[[Sequence[Passage]], Any], *, semantic: bool,
              seed: int = 0) -> tuple[Confidence, dict[str, Any]] | None:
    """Fit a confidence for ``articles``' index (see the module docstring). ``build``
    indexes passages as the real index was built (same encoder and settings)."""
    found = calibration_examples(articles, build, seed=seed)
    fitted = fit(found, semantic) if found is not None else None
    if fitted is None:
        return None
    confidence, report = fitted
    return confidence, {"fitted": True, "target_wrong": TARGET_WRONG, "unanswerable_share": UNANSWERABLE_SHARE,
                        **report}


def expectation(report: dict[str, Any]) -> str:
    """What an admin should expect of the help center just indexed, in one sentence."""
    if not report.get("fitted"):
        return ("Too few articles to fit this help center's own confidence: the shipped one is used, "
                "and `switchboard eval` on your customers' questions tells what to expect.")
    # A floor, not a forecast: the pseudo-questions find their article without its title,
    # harder than customers' questions do; on every held-out set asked in the articles'
    # language more were answered outright than expected (docs/answers.md).
    return (f"This help center: {report['answered']:.0%} or more of questions answered outright and "
            f"about {report['menu']:.0%} by a menu holding the right article (expected from "
            f"{report['questions']} questions its own articles ask, with at most {report['wrong']:.0%} "
            "answered wrong). `switchboard eval` on your customers' questions says more.")
