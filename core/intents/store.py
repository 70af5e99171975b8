"""Which intent model an account routes with: the one last fitted (`switchboard intents
fit`), shared by every host through the database, or the shipped default.

A fit on one host is published as a versioned artifact (:mod:`..store.artifacts`); every web
process and worker reads the newest version's name before predicting and loads that
version once (kept under SWITCHBOARD_DATA_DIR as a cache), so nobody restarts anything.

The account's fitted models form a history, newest last, of at most :data:`FITS_KEPT`.
A fit adds one; a revert (`switchboard intents revert`) discards the newest, so the one
fitted before it is used again, or the shipped default once none is left. Reverting
twice therefore goes two steps back, never back and forth between two models; a
discarded model comes back only by fitting its CSV again.
"""
from __future__ import annotations

import functools
import logging
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from switchboard.core.errors import SwitchboardError
from switchboard.core.knowledge.embeddings import encoder_named
from switchboard.core.knowledge.errors import EmbeddingsUnavailableError
from switchboard.core.store import artifacts
from switchboard.core.store.audit import audit

if TYPE_CHECKING:
    # scikit-learn, SciPy and skops come with the first model a process uses, not with
    # the app: a web process that only takes in webhooks never routes an intent
    # (about 70 MB and 0.6 s of start-up each; tests/switchboard/test_lean_imports.py).
    from switchboard.core.intents.model import IntentModel, TrainingSet

#: Fitted models kept per account: the one in use and two to revert to (about 10 MB each
#: in the database). A fit beyond that drops the oldest.
FITS_KEPT = 3
#: What the audit names as the model in use when no fitted one is left.
SHIPPED_DEFAULT = "shipped_default"
#: The shipped model routes by its SVM alone; its nearest examples do not vote
#: (core/intents/neighbours.py). Its examples are a shop's, about eight an intent, and
#: its main work is the escalation triggers on every help center's questions. Fitted as
#: any model (the weight its held-out rows route most right with, 0.5), it handed over
#: first questions nobody asked to hand over: 3 of 400 banking77 and 2 of 391 CLINC150
#: (bench/answers.py's sets; "I was doing a transfer and received a 'decline' message." as
#: fraud, "i need you to pair with my phone please" as a request for a person), where
#: the SVM alone had answered or offered a menu. So does a model an admin fits on their
#: rows added to the shipped ones; one fitted on their own rows alone (``--replace``)
#: chooses.
SHIPPED_VOTES_WEIGHT = 0.0

_models: dict[tuple[Path, int], tuple[str, IntentModel]] = {}
_lock = threading.Lock()
logger = logging.getLogger(__name__)


def default_intent_model(embeddings: str | None = "e5") -> IntentModel:
    """The model fitted on switchboard/data/intents_default.csv, so a fresh install
    routes intents before any admin has trained a model. ``embeddings`` is
    ``settings.embeddings``: with ``e5`` (the default) the model reads messages with the
    multilingual sentence encoder as well, so a Spanish "¿En cuántos días me llega el
    paquete?" is a delivery question, not whatever its English character n-grams
    resemble. When that encoder cannot be loaded, routing stays lexical, with a warning,
    as retrieval does."""
    from switchboard.core.intents.vectors import intent_encoder  # scikit-learn with the first model, not at start-up

    try:
        encoder = intent_encoder(embeddings)
    except EmbeddingsUnavailableError as exc:
        logger.warning("Routing intents with the shipped model's words only: %s", exc)
        return _default_intent_model(None)
    return _default_intent_model(encoder.name if encoder is not None else None)


@functools.cache
def _default_intent_model(encoder_name: str | None) -> IntentModel:
    """Fitted once per process, in about a second: the shipped examples' vectors are read
    from the package, not embedded (7 to 44 s; core/intents/vectors.py)."""
    # scikit-learn with the first model, not at start-up (see the TYPE_CHECKING note above)
    from switchboard.core.intents.model import IntentModel, default_training_csv, read_training_csv
    from switchboard.core.intents.vectors import shipped_vectors

    texts, labels = read_training_csv(default_training_csv())
    if encoder_name is None:
        return IntentModel.fit(texts, labels)
    encoder = encoder_named(encoder_name)
    return IntentModel.fit(texts, labels, encoder=encoder, known_vectors=shipped_vectors(encoder),
                           votes_weight=SHIPPED_VOTES_WEIGHT)


def save_intent_model(session: Session, account_id: int, model: IntentModel, training: TrainingSet, *,
                      actor: str) -> str:
    """Publish ``model`` as the account's, keeping the models fitted before it to revert
    to, and audit the fit by its counts (never an example's text); returns its version."""
    previous = artifacts.latest(session, account_id, artifacts.INTENT_MODEL)
    version = artifacts.new_version()
    meta = {"labels": len(model.labels), **training.counts()}
    audit(session, account_id=account_id, actor=actor, action="intents.fitted", subject_type="intent_model",
          subject_id=version, detail={**meta, "previous_version": previous.version if previous else None})
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "intents.skops"
        model.save(path)
        artifacts.publish(session, account_id, artifacts.INTENT_MODEL, path.read_bytes(), meta=meta,
                          version=version, keep=FITS_KEPT)
    return version


class NothingToRevert(SwitchboardError):
    """The account has no fitted model: it already routes with the shipped default."""


class RevertRaced(SwitchboardError):
    """Another fit or revert of the account changed its models while this one ran."""


@dataclass(frozen=True)
class Reverted:
    """What a revert did: ``discarded`` is gone, ``current`` is used from now on (None:
    the shipped default), and ``earlier`` more fitted models are left to revert to."""

    discarded: artifacts.Published
    current: artifacts.Published | None
    earlier: int


def revert_intent_model(session: Session, account_id: int, *, actor: str) -> Reverted:
    """Discard the account's newest fitted model: one step back in its history."""
    fitted = artifacts.history(session, account_id, artifacts.INTENT_MODEL)
    if not fitted:
        raise NothingToRevert("it routes with the shipped default model and has no fitted model to go back from")
    discarded, current = fitted[0], (fitted[1] if len(fitted) > 1 else None)
    audit(session, account_id=account_id, actor=actor, action="intents.reverted", subject_type="intent_model",
          subject_id=discarded.version, detail={
              "discarded_version": discarded.version,
              "current_version": current.version if current else SHIPPED_DEFAULT,
              "fitted_models_left": len(fitted) - 1})
    if not artifacts.withdraw(session, account_id, artifacts.INTENT_MODEL, discarded.version):
        raise RevertRaced("its intent model was changed by another fit or revert while this one ran; "
                          "nothing was reverted: run the command again")
    return Reverted(discarded, current, max(len(fitted) - 2, 0))


def has_fitted_model(session: Session, account_id: int) -> bool:
    return artifacts.latest(session, account_id, artifacts.INTENT_MODEL) is not None


def intent_model(session: Session, data_dir: Path, account_id: int, *,
                 embeddings: str | None = "e5") -> IntentModel:
    """The account's newest fitted model, or the shipped default (read with
    ``embeddings``, ``settings.embeddings``) when none was fitted or every fitted one
    was reverted. A fitted model uses the encoder it was fitted with, whatever that is."""
    published = artifacts.latest(session, account_id, artifacts.INTENT_MODEL)
    if published is None:
        return default_intent_model(embeddings)
    try:
        return _fitted_model(session, data_dir, account_id, published.version)
    except LookupError:
        # Reverted (or pruned) between reading its name and its bytes: use the model
        # the account routes with now, as the next message would.
        artifacts.forget(session, account_id)
        published = artifacts.latest(session, account_id, artifacts.INTENT_MODEL)
        if published is None:
            return default_intent_model(embeddings)
        return _fitted_model(session, data_dir, account_id, published.version)


def _fitted_model(session: Session, data_dir: Path, account_id: int, version: str) -> IntentModel:
    """This process's loaded copy when it is ``version``, else the host's file of it,
    else the database's bytes (LookupError when they are no longer stored)."""
    key = (data_dir, account_id)
    with _lock:
        cached = _models.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
    path = data_dir / "models" / f"account-{account_id}" / f"intents-{version}.skops"
    if not path.exists():
        blob = artifacts.fetch(session, account_id, artifacts.INTENT_MODEL, version)
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f".{path.name}.{threading.get_ident()}.tmp")
        staging.write_bytes(blob)
        staging.replace(path)
    from switchboard.core.intents.model import IntentModel  # scikit-learn with the first model, not at start-up

    model = IntentModel.load(path)
    with _lock:
        _models[key] = (version, model)
    return model
