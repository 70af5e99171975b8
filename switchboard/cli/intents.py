"""`switchboard intents`: the model that reads what a customer wants."""
from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from switchboard.cli.base import ACCOUNT_OPTION, account_named, main, open_app

if TYPE_CHECKING:  # imported where used: `switchboard --help` need not load the models

    from switchboard.core.intents.model import TrainingSet





@main.group()
def intents() -> None:
    """The intent model that routes messages (and knows when it does not know)."""

@intents.command("fit", short_help="Fit the account's model on a CSV plus the shipped examples.")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@ACCOUNT_OPTION
@click.option("--replace", is_flag=True,
              help="Fit on the CSV's rows only, leaving out the shipped examples (greetings and thanks "
                   "included): the model then knows only what the CSV teaches it.")
def intents_fit(csv_file: Path, slug: str, replace: bool) -> None:
    """Fit the account's intent model on a CSV with columns text,category, added to the
    examples Switchboard ships (greetings, thanks, order status…). A row with the text of
    a shipped example takes its place; rows labelled oos train the out-of-scope detector.

    The model is used at once by every web process and worker. The last three fitted
    models are kept: `switchboard intents revert` goes back to the previous one."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.intents.model import IntentDataError, IntentModel, read_training_csv, training_set
    from switchboard.core.intents.store import SHIPPED_VOTES_WEIGHT, save_intent_model
    from switchboard.core.intents.vectors import intent_encoder, shipped_vectors
    from switchboard.core.knowledge.errors import EmbeddingsUnavailableError
    from switchboard.intake.db import get_db

    app = open_app()
    account = account_named(app, slug)
    embeddings = app.config["SETTINGS"].embeddings
    try:
        # The model keeps its encoder for good: a fit never falls back to words alone.
        encoder = intent_encoder(embeddings)
    except EmbeddingsUnavailableError as exc:
        raise click.ClickException(f"{exc} (SWITCHBOARD_EMBEDDINGS={embeddings}: the intent model reads "
                                   "messages with this encoder)") from None
    try:
        texts, labels = read_training_csv(csv_file)
        training = training_set(texts, labels, replace=replace)
        # Added to the shipped examples, the model routes as the shipped one does (SVM
        # alone: the triggers' few examples an intent); with --replace it chooses.
        model = IntentModel.fit(list(training.texts), list(training.labels), encoder=encoder,
                                known_vectors=shipped_vectors(encoder) if encoder is not None else None,
                                votes_weight=SHIPPED_VOTES_WEIGHT if training.shipped else None)
    except IntentDataError as exc:
        raise click.ClickException(str(exc)) from None
    with get_db(app).session() as session:
        version = save_intent_model(session, account.id, model, training, actor="cli")
    click.echo(_fitted_on(training))
    click.echo(f"{len(model.labels)} intents; out-of-scope below confidence {model.threshold:.2f}. Stored as "
               f"version {version}, used at once by every web process and worker; "
               f"`switchboard intents revert --account {slug}` goes back to the previous model.")


def _fitted_on(training: TrainingSet) -> str:
    """What the model learnt from, said so that nobody is surprised by what it no longer knows."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.understanding.small_talk import SMALL_TALK_INTENTS

    new = (f"{len(training.new_intents)} new intent{'' if len(training.new_intents) == 1 else 's'}: "
           f"{', '.join(training.new_intents)}" if training.new_intents else "no new intents")
    if training.replace:
        missing = sorted(SMALL_TALK_INTENTS - training.your_intents)
        lost = (f" Greetings and thanks are no longer small talk unless your CSV teaches them: it has no "
                f"{' or '.join(missing)} rows, so \"hi\" or \"thanks so much\" goes to one of your intents "
                "or out of scope." if missing else "")
        return (f"Fitted on your {training.yours:,} examples only ({new}): --replace left out the shipped "
                f"examples (greetings, thanks, order status…), and this model knows none of them.{lost}")
    overridden = ""
    if training.overridden:
        overridden = (f"; {training.overridden:,} of yours had the text of a shipped example and took its place"
                      + (f", {training.relabelled:,} in another intent" if training.relabelled else ""))
    return (f"Fitted on {training.shipped:,} shipped examples + {training.yours:,} of yours "
            f"({new}{overridden}).")


@intents.command("revert", short_help="Go back to the account's previous model.")
@ACCOUNT_OPTION
def intents_revert(slug: str) -> None:
    """Go back to the account's previous intent model: the newest fitted one is discarded
    and the one fitted before it is used again, or the shipped default when no earlier
    one is kept. Each revert goes one more step back (it never returns to the model it
    discarded: fit that CSV again for it). Used at once by every web process and worker."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.intents.store import NothingToRevert, RevertRaced, revert_intent_model
    from switchboard.intake.db import get_db

    app = open_app()
    account = account_named(app, slug)
    with get_db(app).session() as session:
        try:
            reverted = revert_intent_model(session, account.id, actor="cli")
        except NothingToRevert as exc:
            raise click.ClickException(f"nothing to revert for account {slug!r}: {exc}. "
                                       "Fit a model with `switchboard intents fit CSV`.") from None
        except RevertRaced as exc:
            raise click.ClickException(f"account {slug!r}: {exc}") from None
    discarded = f"The model fitted as version {reverted.discarded.version} was discarded"
    if reverted.current is None:
        click.echo(f"{discarded}. No earlier fitted model is kept: account {slug!r} routes with the shipped "
                   "default model again, used at once by every web process and worker.")
        return
    left = (f"{reverted.earlier} earlier fitted model{'' if reverted.earlier == 1 else 's'} left to revert to"
            if reverted.earlier else "the next revert goes back to the shipped default model")
    click.echo(f"{discarded}. Account {slug!r} routes with version {reverted.current.version} again "
               f"({_fit_of(reverted.current.meta)}), used at once by every web process and worker; {left}.")


def _fit_of(meta: Mapping[str, Any]) -> str:
    """A stored model's training, from its metadata (models fitted before the counts were
    recorded have only their number of intents)."""
    intents = f"{meta.get('labels', '?')} intents"
    if meta.get("mode") == "replaced":
        return f"{intents}, fitted on {meta.get('your_examples', 0):,} examples of yours only"
    if meta.get("mode") == "added":
        return (f"{intents}, fitted on {meta.get('shipped_examples', 0):,} shipped examples + "
                f"{meta.get('your_examples', 0):,} of yours")
    return intents


@intents.command("predict")
@ACCOUNT_OPTION
def intents_predict(slug: str) -> None:
    """One message per line on stdin; one JSON object per line on stdout. A message
    flagged out of scope also gets its best in-scope intent and that intent's confidence;
    ``familiar`` says whether it is like that intent's examples (escalation triggers fire
    on an intent only when it is)."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.intents.store import intent_model
    from switchboard.intake.db import get_db

    app = open_app()
    account = account_named(app, slug)
    with get_db(app).session() as session:
        settings = app.config["SETTINGS"]
        model = intent_model(session, settings.data_dir, account.id, embeddings=settings.embeddings)
    for line in sys.stdin:
        text = line.rstrip("\n")
        if not text.strip():
            continue
        p = model.predict([text])[0]
        line = {"text": p.text, "intent": p.intent, "confidence": round(p.confidence, 4), "in_scope": p.in_scope,
                "familiar": p.familiar}  # like the intent's examples: only then does it fire a trigger
        if not p.in_scope:  # how close it came, and to what: the confidence is this intent's
            line.update(best_intent=p.best_intent, best_confidence=round(p.confidence, 4))
        click.echo(json.dumps(line))
