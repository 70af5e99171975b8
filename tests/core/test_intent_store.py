"""core.intent_store on SQLite and PostgreSQL: an account's fitted models form a short
history that a revert walks back through, and a host picks up a revert at its next
message, also when the model it was about to load was discarded in between."""
from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from switchboard.core.intents.model import IntentModel, TrainingSet, training_set
from switchboard.core.intents.store import (
    FITS_KEPT,
    NothingToRevert,
    default_intent_model,
    intent_model,
    revert_intent_model,
    save_intent_model,
)
from switchboard.core.store import artifacts, unit_of_work
from switchboard.intake.db import get_db

PROBE = ["where is my parcel", "I want my money back", "hi"]


def tiny_model(intent: str) -> tuple[IntentModel, TrainingSet]:
    """A model that calls refund requests ``intent``: fitted models told apart by it."""
    texts = [f"where is my parcel number {i}" for i in range(5)] + [f"I want my money back for order {i}"
                                                                      for i in range(5)]
    labels = ["order_status"] * 5 + [intent] * 5
    return IntentModel.fit(texts, labels), training_set(texts, labels, replace=True)


def routes_refunds_to(model: IntentModel) -> str:
    return model.predict(["I want my money back please"], threshold=0.0)[0].intent


def test_a_revert_walks_back_through_the_kept_fits_then_to_the_shipped_default(app: Flask, tmp_path: Path) -> None:
    account_id = app.config["DEFAULT_ACCOUNT_ID"]
    fits = [f"refund_{n}" for n in range(FITS_KEPT + 1)]  # one more than is kept
    with get_db(app).session() as session:
        for intent in fits:
            model, training = tiny_model(intent)
            save_intent_model(session, account_id, model, training, actor="test")
        assert len(artifacts.history(session, account_id, artifacts.INTENT_MODEL)) == FITS_KEPT
        assert routes_refunds_to(intent_model(session, tmp_path, account_id)) == fits[-1]
        for expected, left in zip(reversed(fits[1:-1]), range(FITS_KEPT - 2, -1, -1), strict=True):
            reverted = revert_intent_model(session, account_id, actor="test")
            assert reverted.earlier == left
            assert routes_refunds_to(intent_model(session, tmp_path, account_id)) == expected
        reverted = revert_intent_model(session, account_id, actor="test")
        assert reverted.current is None  # the oldest fit was dropped when the newest was stored
        assert intent_model(session, tmp_path, account_id) is default_intent_model()
        with pytest.raises(NothingToRevert):
            revert_intent_model(session, account_id, actor="test")


def test_a_host_about_to_load_a_model_reverted_meanwhile_loads_the_one_now_in_use(
        app: Flask, tmp_path: Path) -> None:
    """The host read the newest version's name at the start of its message, then the
    model was reverted on another host before this one fetched its bytes."""
    account_id = app.config["DEFAULT_ACCOUNT_ID"]
    database = get_db(app)
    with database.session() as admin:
        for intent in ("refund_old", "refund_new"):
            model, training = tiny_model(intent)
            save_intent_model(admin, account_id, model, training, actor="test")
    other_host = tmp_path / "other-host"  # nothing of either model on its disk yet
    with database.session() as host, unit_of_work.holding_rows(host):
        newest = artifacts.latest(host, account_id, artifacts.INTENT_MODEL)
        host.commit()
        with database.session() as admin:
            revert_intent_model(admin, account_id, actor="test")
        assert artifacts.latest(host, account_id, artifacts.INTENT_MODEL) == newest  # its message's view
        assert routes_refunds_to(intent_model(host, other_host, account_id)) == "refund_old"
