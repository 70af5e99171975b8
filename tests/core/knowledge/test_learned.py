"""When learned phrasings may answer outright (core/knowledge/learned.py): each rule is
fitted on the account's own phrasings, so phrasings that agree earn it and wrong or
confused ones (an adversary's picks) never do."""
from __future__ import annotations

import numpy as np

from switchboard.core.escalation_file import load_policy
from switchboard.core.evaluation import Configuration, Question, counts, evaluate
from switchboard.core.intents.store import default_intent_model
from switchboard.core.knowledge import embeddings
from switchboard.core.knowledge.learned import Learned
from switchboard.core.knowledge.loaders import load_articles
from switchboard.core.knowledge.retrieval import build_index

from ...conftest import SAMPLE_KB


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _noisy_askers(seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Six articles, eight phrasings each, scattered widely around the article's centre:
    no two phrasings are alike, but each article's askers lean its way."""
    rng = np.random.default_rng(seed)
    centres = _unit(rng.normal(size=(6, 64)))
    phrasings = _unit(np.repeat(centres, 8, axis=0) + 0.3 * rng.normal(size=(48, 64)))
    return centres, phrasings, [f"a{n // 8}" for n in range(48)]


def test_the_mean_of_an_articles_phrasings_answers_where_no_single_phrasing_is_close() -> None:
    centres, phrasings, articles = _noisy_askers()
    learned = Learned.of(articles, [f"q{n}" for n in range(48)], phrasings)
    assert learned.answer_at is None  # no phrasing is near enough another to vouch for it
    assert learned.prototype_margin is not None and learned.prototype_margin > 0
    asked = _unit(centres[3:4] + 0.3 * np.random.default_rng(9).normal(size=(1, 64)))[0]
    assert learned.agreeing(asked, "a3") is not None
    assert learned.agreeing(asked, "a4") is None  # retrieval ranked another article first
    between = _unit(centres[3:4] + centres[4:5])[0]  # as near one article's askers as another's
    assert learned.agreeing(between, "a3") is None and learned.agreeing(between, "a4") is None


def test_phrasings_naming_wrong_articles_never_earn_an_answer() -> None:
    """An adversary's picks: the same questions, each under an article it does not ask
    about. Neither rule holds on them, so nothing is answered outright from them."""
    centres, phrasings, articles = _noisy_askers()
    wrong = [articles[(n + 8 * (1 + n % 5)) % 48] for n in range(48)]
    assert all(w != a for w, a in zip(wrong, articles, strict=True))
    learned = Learned.of(wrong, [f"q{n}" for n in range(48)], phrasings)
    assert learned.answer_at is None and learned.prototype_margin is None
    for vector in (*centres, *phrasings):
        assert all(learned.agreeing(vector, f"a{n}") is None for n in range(6))


def test_too_few_phrasings_earn_no_rule() -> None:
    _, phrasings, articles = _noisy_askers()
    learned = Learned.of(articles[:20], [f"q{n}" for n in range(20)], phrasings[:20])
    assert learned.answer_at is None and learned.prototype_margin is None


ASKED = {
    "refund-timing": ["when will I see my money again", "money back when", "how many days until my refund",
                      "refund not here yet", "still waiting for my refund money", "where is my refund"],
    "delivery-times": ["how long until my order comes", "when does my order arrive", "delivery takes how long",
                       "how many days to ship", "when will my package arrive", "how fast is shipping"],
    "reset-password": ["forgot my password", "cant log in forgot pw", "reset my password please",
                       "locked out of my account", "password not working", "how do I change my password"],
    "opening-hours": ["are you open sunday", "what time do you open", "opening times",
                      "when are you open", "are you open on holidays", "what are your hours"],
}
FRESH = [("money still not back", "refund-timing"), ("my refund hasn't arrived", "refund-timing"),
         ("how long does delivery take", "delivery-times"), ("when will my parcel get here", "delivery-times"),
         ("I can't remember my password", "reset-password"), ("can't sign in, lost password", "reset-password"),
         ("what are your opening times", "opening-hours"), ("are you open on saturday", "opening-hours")]


def test_adversarial_picks_on_the_sample_kb_raise_no_wrong_answers() -> None:
    """Through the live decision path (`switchboard eval`'s): every phrasing of the
    fixture filed under a wrong article (each article's askers spread over the others),
    as if each had been picked wrongly and corroborated. Fresh questions get no more
    wrong answers than before learning. (Customers colluding to file the same questions
    under one wrong article agree among themselves; that is what an admin's
    `switchboard kb phrasings remove` and retrieval's own ranking stand against.)"""
    texts = [text for many in ASKED.values() for text in many]
    articles = list(ASKED)
    wrong = [[other for other in articles if other != article][n % (len(articles) - 1)]
             for article, many in ASKED.items() for n in range(len(many))]
    encoder = embeddings.encoder_named(embeddings.E5)
    adversarial = Learned.of(wrong, texts, embeddings.queries(encoder, texts))
    assert adversarial.answer_at is None and adversarial.prototype_margin is None
    config = Configuration(description={}, policy=load_policy(None), retriever=build_index(load_articles(SAMPLE_KB),
                                                                                             "e5"),
                           intent_model=default_intent_model())
    questions = [Question(text, article) for text, article in FRESH]
    before = counts(evaluate(questions, config))
    taught = Configuration(description={}, policy=config.policy, retriever=config.retriever,
                           intent_model=config.intent_model, learned=adversarial)
    after = counts(evaluate(questions, taught))
    assert after["answered_wrong"] <= before["answered_wrong"]
    assert before["answered_right"] > 0  # the questions are ones the bot can answer
