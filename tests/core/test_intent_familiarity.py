"""A message is familiar to an intent only when it is like that intent's examples
(core/intents/familiarity.py): questions from another help center's domain, which the
shipped model may route confidently to legal, fraud or a person, are not; the requests
those intents were written for are, in English and in Spanish."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skops.io as skops_io

from switchboard.core.intents.familiarity import Familiarity
from switchboard.core.intents.model import IntentModel
from switchboard.core.intents.store import default_intent_model


@pytest.fixture(scope="module")
def shipped() -> IntentModel:
    model = default_intent_model()
    assert model.encoder_name is not None, "the default install reads messages with its encoder"
    return model


#: StackFAQ tuning questions about other products (Google, Dropbox, GitHub, Twitter). The
#: shipped examples are a shop's: each of these once leaned to legal, fraud or a person.
OTHER_DOMAINS = [
    "I need to know access rights for people to my google drive documents.",
    "How safe is my data on dropbox?",
    "Is sensitive data on dropbox secure?",
    "Any way to contact a user on Github?",
    "Is there a way to contact a user on github.",
    "Is it possible to search within messages that a particular person tweeted.",
    "Using hangouts without a google user account.",
    "Sorting data in google spreadsheets.",
    "Filter gmail messages without a label.",
]
TRIGGER_INTENTS = {"legal", "fraud", "human_agent"}


@pytest.mark.parametrize("text", OTHER_DOMAINS)
def test_another_domains_question_fires_no_trigger_by_the_model(shipped: IntentModel, text: str) -> None:
    """A trigger fires on the model when the intent is confident (0.6, the shipped policy)
    and the message is like its examples."""
    [prediction] = shipped.predict([text])
    assert not (prediction.intent in TRIGGER_INTENTS and prediction.confidence >= 0.6 and prediction.familiar), \
        prediction


def test_familiarity_is_what_keeps_several_of_them_from_a_person(shipped: IntentModel) -> None:
    """Measured with the 602 shipped examples: 7 of the 9 are routed to legal, fraud or a
    person at 0.76 or more, and only their being unlike those examples stops the trigger."""
    confident = [p for p in shipped.predict(OTHER_DOMAINS) if p.intent in TRIGGER_INTENTS and p.confidence >= 0.6]
    assert len(confident) >= 2, confident
    assert not any(p.familiar for p in confident), confident


@pytest.mark.parametrize(("text", "intent"), [
    ("I want a copy of all the personal data you hold about me", "legal"),
    ("there are charges on my card I never made", "fraud"),
    ("Quiero hablar con una persona de verdad", "human_agent"),
    ("Alguien ha usado mi tarjeta para comprar cosas que no he pedido", "fraud"),
])
def test_the_requests_an_intent_was_written_for_are_familiar(shipped: IntentModel, text: str, intent: str) -> None:
    [prediction] = shipped.predict([text])
    assert prediction.intent == intent and prediction.familiar, prediction


def test_an_intents_floor_is_a_low_quantile_of_its_own_examples_nearest_neighbours() -> None:
    rng = np.random.default_rng(0)
    centres = np.eye(4, dtype=np.float32)
    vectors = np.vstack([centres[0] + 0.05 * rng.standard_normal((20, 4)),
                         centres[1] + 0.05 * rng.standard_normal((20, 4))]).astype(np.float32)
    intents = ["a"] * 20 + ["b"] * 20
    familiarity = Familiarity.fit(vectors, intents, quantile=0.05)
    assert set(familiarity.floors) == {"a", "b"}
    assert 0.9 < familiarity.floors["a"] < 1.0
    between = (centres[0] + centres[1]) / 2  # as near to "a" as to "b", like none of either
    assert familiarity.familiar(np.stack([centres[0], between, centres[2]]), ["a", "a", "b"]).tolist() == [
        True, False, False]
    # An intent without a floor (one example, or one the model does not know) is familiar.
    single = Familiarity.fit(vectors[:21], intents[:21])
    assert "b" not in single.floors and single.familiar(centres[2:3], ["b"]).tolist() == [True]


def test_a_model_file_without_examples_vectors_loads_with_every_message_familiar(shipped: IntentModel,
                                                                                 tmp_path: Path) -> None:
    path = tmp_path / "model.skops"
    shipped.save(path)
    saved = skops_io.load(path, trusted=skops_io.get_untrusted_types(file=path))
    assert saved["familiarity"]["floors"] == shipped._familiarity.floors  # type: ignore[union-attr]
    reloaded = IntentModel.load(path)
    question = "I need to know access rights for people to my google drive documents."
    assert reloaded.predict([question])[0].familiar is False
    del saved["familiarity"]
    saved["format"] = "switchboard.intents/3"
    skops_io.dump(saved, path)
    assert IntentModel.load(path).predict([question])[0].familiar is True
