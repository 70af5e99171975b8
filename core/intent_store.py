"""Which intent model an account routes with: the one last fitted (`switchboard intents
fit`), shared by every host through the database, or the shipped default.

A fit on one host is published as a versioned artifact (:mod:`.artifacts`); every web
process and worker reads the newest version's name before predicting and loads that
version once (kept under SWITCHBOARD_DATA_DIR as a cache), so nobody restarts anything.
"""
from __future__ import annotations

import functools
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from . import artifacts

if TYPE_CHECKING:
    # scikit-learn, SciPy and skops come with the first model a process uses, not with
    # the app: a web process that only takes in webhooks never routes an intent
    # (about 70 MB and 0.6 s of start-up each; tests/switchboard/test_lean_imports.py).
    from .intents import IntentModel

_models: dict[tuple[Path, int], tuple[str, IntentModel]] = {}
_lock = threading.Lock()


@functools.cache
def default_intent_model() -> IntentModel:
    """Trained from switchboard/data/intents_default.csv once per process (~0.5 s), so
    a fresh install routes intents before any admin has trained a model."""
    from .intents import IntentModel, default_training_csv, read_training_csv

    texts, labels = read_training_csv(default_training_csv())
    return IntentModel.fit(texts, labels)


def save_intent_model(session: Session, account_id: int, model: IntentModel) -> str:
    """Publish ``model`` as the account's; returns its version."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "intents.skops"
        model.save(path)
        published = artifacts.publish(session, account_id, artifacts.INTENT_MODEL, path.read_bytes(),
                                      meta={"labels": len(model.labels)})
    return published.version


def has_fitted_model(session: Session, account_id: int) -> bool:
    return artifacts.latest(session, account_id, artifacts.INTENT_MODEL) is not None


def intent_model(session: Session, data_dir: Path, account_id: int) -> IntentModel:
    """The account's newest fitted model, or the shipped default when none was fitted."""
    published = artifacts.latest(session, account_id, artifacts.INTENT_MODEL)
    if published is None:
        return default_intent_model()
    key = (data_dir, account_id)
    with _lock:
        cached = _models.get(key)
        if cached is not None and cached[0] == published.version:
            return cached[1]
    path = data_dir / "models" / f"account-{account_id}" / f"intents-{published.version}.skops"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        blob = artifacts.fetch(session, account_id, artifacts.INTENT_MODEL, published.version)
        staging = path.with_name(f".{path.name}.{threading.get_ident()}.tmp")
        staging.write_bytes(blob)
        staging.replace(path)
    from .intents import IntentModel

    model = IntentModel.load(path)
    with _lock:
        _models[key] = (published.version, model)
    return model
