"""`switchboard eval`: the live decision path run on a question set or on stored questions."""
from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from switchboard.cli.base import ACCOUNT_OPTION, Command, account_named, main, open_app
from switchboard.core.errors import SwitchboardError

if TYPE_CHECKING:  # imported where used: `switchboard --help` need not load the models
    from sqlalchemy.orm import Session

    from switchboard.core.conversation.evaluation import Configuration, Outcome
    from switchboard.core.settings import Settings
    from switchboard.core.store.models import Account





class _DefaultCommandGroup(click.Group):
    """A group whose first argument may be the default command's: `switchboard eval FILE`
    is `switchboard eval run FILE`, while `eval replay` keeps its name."""

    default_command = "run"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


EVAL_SETTINGS = ("kb", "policy", "engine", "model", "intents")


def _eval_options(prefix: str = "") -> Callable[[Command], Command]:
    """--kb/--policy/--engine/--model/--intents, or their --compare-* twins."""
    flag, name = (f"--{prefix}-", f"{prefix}_") if prefix else ("--", "")
    default = "the first configuration's" if prefix else "the live one"
    options = [
        click.option(f"{flag}kb", f"{name}kb", type=click.Path(exists=True, path_type=Path),
                     help=f"Knowledge base from a JSON/JSONL/CSV file or folder, indexed in memory "
                          f"(default: {default})."),
        click.option(f"{flag}policy", f"{name}policy", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help=f"Escalation policy file (default: {default})."),
        click.option(f"{flag}engine", f"{name}engine", type=click.Choice(["local", "llm"]),
                     help=f"Drafting engine (default: {default}: llm when OPENAI_* is set, else local)."),
        click.option(f"{flag}model", f"{name}model", help="LLM model name, with the llm engine."),
        click.option(f"{flag}intents", f"{name}intents", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help=f"Intent model: a saved .skops file, or a training .csv to fit (default: {default})."),
    ]

    def decorate(command: Command) -> Command:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _eval_configuration(session: Session, account: Account, settings: Settings,
                        chosen: Mapping[str, Any]) -> Configuration:
    """``chosen`` holds what click parsed for the options of :func:`_eval_options`, by
    name without the prefix (each of the type that option declares), or nothing."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.conversation.evaluation import configuration

    return configuration(session, account, settings, kb_file=chosen.get("kb"), policy_file=chosen.get("policy"),
                         engine=chosen.get("engine"), model=chosen.get("model"), intents_file=chosen.get("intents"))


def _preview_configuration(session: Session, account: Account, settings: Settings, first: Mapping[str, Any],
                           second: Mapping[str, Any]) -> Configuration:
    """The second configuration of ``--compare-kb FILE``: the live articles plus FILE's."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.conversation.evaluation import EvaluationError
    from switchboard.core.knowledge.loaders import load_articles
    from switchboard.core.knowledge_loop.proof import preview_configuration

    path = second["kb"]
    try:
        added = load_articles(path)
        live = load_articles(first["kb"]) if first.get("kb") else None
    except FileNotFoundError as exc:
        raise EvaluationError(str(exc)) from None
    if not added:
        raise EvaluationError(f"{path} holds no articles to add to the knowledge base.")
    base = _eval_configuration(session, account, settings, {**first, **{k: v for k, v in second.items() if k != "kb"}})
    label = f"{first['kb']} + {path}" if first.get("kb") else f"account's + {path}"
    return preview_configuration(session, account, settings, added, base=base, live=live, label=label)


@main.group("eval", cls=_DefaultCommandGroup)
def eval_group() -> None:
    """Prove a change before customers meet it: `switchboard eval QUESTIONS.csv`.

    Questions run through the live decision path (redaction, intents, retrieval, the
    escalation policy, drafting, grounding) with nothing sent and nothing stored."""

@eval_group.command("run")
@click.argument("questions_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_eval_options()
@click.option("--compare", is_flag=True,
              help="Also run a second configuration: this one with the --compare-* options, or the live one.")
@_eval_options("compare")
@click.option("--compare-kb-alone", is_flag=True,
              help="--compare-kb is a whole knowledge base of its own. Without it, the second configuration "
                   "is the live articles plus --compare-kb's (new, or replacing the live article of the same id): "
                   "what importing the file would do.")
@ACCOUNT_OPTION
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of the table.")
def eval_run(questions_file: Path, compare: bool, compare_kb_alone: bool, slug: str, as_json: bool,
             **chosen: object) -> None:
    """Run the questions of QUESTIONS_FILE and show each decision with the counts.

    QUESTIONS_FILE is .csv or .jsonl with `question` and `expected`: the id of the
    article that answers it, or `handoff` when a person should take it. Optional:
    `previous` (the question a follow-up follows), `phone` and `locale` (who asks: the
    live bot weighs the languages of the number's country and of the locale)."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.conversation import evaluation
    from switchboard.intake.db import get_db

    first = {key: chosen[key] for key in EVAL_SETTINGS if chosen[key] is not None}
    second = {key: chosen[f"compare_{key}"] for key in EVAL_SETTINGS if chosen[f"compare_{key}"] is not None}
    compare = compare or bool(second)
    if compare and not first and not second:
        raise click.UsageError("--compare needs a difference: give --kb/--policy/… for the first configuration "
                               "or --compare-kb/--compare-policy/… for the second.")
    app = open_app()
    account = account_named(app, slug)
    settings = app.config["SETTINGS"]
    with get_db(app).session() as session:
        try:
            questions = evaluation.read_questions(questions_file)
            configs = [_eval_configuration(session, account, settings, first)]
            if compare and isinstance(second.get("kb"), Path) and not compare_kb_alone:
                configs.append(_preview_configuration(session, account, settings, first, second))
            elif compare:
                configs.append(_eval_configuration(session, account, settings, {**first, **second} if second else {}))
            questions, unknown = evaluation.naming_articles(questions, [c.retriever for c in configs])
            for question in unknown:
                click.echo(f"{questions_file}, {question.where}: expected {question.expected!r} names no single "
                           "article of this knowledge base; give the article's id (as in the file you imported), "
                           "its URL or its title. Judged as expecting an article the bot cannot give.", err=True)
            with click.progressbar(length=len(questions) * len(configs), file=sys.stderr,
                                   label=f"Evaluating {len(questions)} questions") as bar:
                runs = [evaluation.evaluate(questions, config, progress=bar.update) for config in configs]
        except SwitchboardError as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            session.rollback()
    reports: list[dict[str, Any]] = [
        {"configuration": c.description, "counts": evaluation.counts(r), "questions": [o.as_json() for o in r],
         "expected": c.retriever.calibration if c.retriever is not None else {},
         "naming_no_article": [{"where": q.where, "expected": q.expected} for q in unknown]}
        for c, r in zip(configs, runs, strict=True)]
    differ = evaluation.changed(*runs) if compare else []
    if as_json:
        body = reports[0] if not compare else {"a": reports[0], "b": reports[1], "changed": [
            {"question": a.question, "expected": a.expected, "a": a.as_json(), "b": b.as_json()} for a, b in differ]}
        click.echo(json.dumps(body, indent=2))
        return
    if not compare:
        # Imported when the command runs, not at the top: `switchboard --help` need not load them.
        from switchboard.core.knowledge.calibration import expectation

        for line in _eval_table(runs[0]):
            click.echo(line)
        click.echo(_eval_summary(reports[0]["counts"]))
        click.echo(expectation(reports[0]["expected"]))
        return
    for tag, report in zip("AB", reports, strict=True):
        click.echo(f"{tag}: " + ", ".join(f"{k} {v}" for k, v in report["configuration"].items()))
        click.echo(f"   {_eval_summary(report['counts'])}")
    click.echo(f"{len(differ)} of {len(questions)} questions decided differently (A → B):")
    for a, b in differ:
        click.echo(f"  {_clip(a.question, 50):50}  expected {a.expected}: {_eval_cell(a)} → {_eval_cell(b)}")


@eval_group.command("replay")
@click.option("--since", required=True, type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
              help="Replay conversations whose first message came on or after this day (UTC).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), help="… and before this one.")
@_eval_options()
@ACCOUNT_OPTION
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of the table.")
@click.option("--all", "show_all", is_flag=True, help="List every message, not only those decided differently.")
def eval_replay(since: datetime, until: datetime | None, slug: str, as_json: bool, show_all: bool,
                **chosen: Any) -> None:
    """Decide stored first messages again and show what would now be decided differently.

    Customers' first messages (stored redacted) run under the current configuration,
    or the one the options describe, and are compared with the bot's recorded reply."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.conversation import evaluation
    from switchboard.intake.db import get_db

    app = open_app()
    account = account_named(app, slug)
    settings = app.config["SETTINGS"]
    with get_db(app).session() as session:
        try:
            recorded, skipped = evaluation.first_messages(
                session, account.id, since.replace(tzinfo=UTC), until.replace(tzinfo=UTC) if until else None)
            config = _eval_configuration(session, account, settings, {k: v for k, v in chosen.items() if v})
            with click.progressbar(length=len(recorded), file=sys.stderr,
                                   label=f"Replaying {len(recorded)} first messages") as bar:
                results = evaluation.replay(recorded, config, progress=bar.update)
        except SwitchboardError as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            session.rollback()
    differ = evaluation.replay_changed(results)
    changed_ids = {m.message_id for m, _ in differ}
    rows: list[dict[str, Any]] = [
        {"message_id": m.message_id, "conversation_id": m.conversation_id, "received_at": m.received_at.isoformat(),
         "text": m.text, "was": {"action": m.action, "articles": list(m.articles), "language": m.language},
         "now": o.as_json(),
         "changed": m.message_id in changed_ids} for m, o in (results if show_all or as_json else differ)]
    if as_json:
        click.echo(json.dumps({"configuration": config.description, "replayed": len(results), "skipped": skipped,
                               "changed": len(differ), "messages": rows}, indent=2))
        return
    for row in rows:
        was = row["was"]["action"] + (f" {','.join(row['was']['articles'])}" if row["was"]["articles"] else "")
        click.echo(f"{row['received_at'][:16]}  #{row['message_id']:<6} {_clip(row['text'], 50):50}  "
                   f"{was} → {_eval_cell_json(row['now'])}")
    click.echo(f"{len(differ)} of {len(results)} first messages would now be decided differently"
               f"{f' ({skipped} answered by a keyword or the action engine not replayed)' if skipped else ''}.")


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def _eval_cell(outcome: Outcome) -> str:
    return _eval_cell_json(outcome.as_json())


def _eval_cell_json(row: Mapping[str, Any]) -> str:
    shown = row["choices"] if row["action"] == "choices" else row["articles"]
    detail = ",".join(shown) or row["reason"] or ""
    return f"{row['action']} {detail}".strip()


def _eval_table(outcomes: Sequence[Outcome]) -> list[str]:
    lines = [f"{'#':>3}  {'verdict':22} {'decision':34} {'score':>5}  {'expected':18} question"]
    for n, o in enumerate(outcomes, 1):
        score = "" if o.score is None else f"{o.score:.2f}"
        lines.append(f"{n:>3}  {o.verdict.replace('_', ' '):22} {_clip(_eval_cell(o), 34):34} {score:>5}  "
                     f"{_clip(o.expected or '', 18):18} {_clip(o.question, 60)}")
    return lines


def _eval_summary(c: dict[str, int]) -> str:
    return (f"{c['right']}/{c['questions']} right — answered right {c['answered_right']}, answered wrong "
            f"{c['answered_wrong']}, choices offered {c['choices']} ({c['choices_with_right']} with the right "
            f"article), clarified {c['clarified']}, handed over {c['handed_over']} ({c['handed_over_right']} "
            f"right), other {c['other']}")
