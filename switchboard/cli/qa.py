"""`switchboard qa`: guardrails from the command line (`qa check`, a linter for replies), the
QA scores of finished conversations (`qa report`) and the idle ones scored (`qa score-idle`)."""
from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, datetime

import click

from switchboard.cli.base import ACCOUNT_OPTION, account_named, main, open_app
from switchboard.core.errors import ConfigError
from switchboard.core.settings import load_settings


@main.group()
def qa() -> None:
    """Quality: check a reply against the guardrails."""

@qa.command("check")
@click.argument("text", required=False)
@click.option("--intent", help="The conversation's intent (a regulated one, such as legal, needs its disclaimer).")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@ACCOUNT_OPTION
def check_command(text: str | None, intent: str | None, as_json: bool, slug: str) -> None:
    """Check TEXT (or standard input when it is left out or "-") against the account's
    guardrail policy (SWITCHBOARD_GUARDRAILS_FILE for the default account, the
    guardrails_file setting of another) and the style card (SWITCHBOARD_STYLE_FILE).
    Exits with status 1 when anything is flagged, like a linter."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.helpdesk.assist import StyleError
    from switchboard.core.quality.policy import GuardrailPolicyError
    from switchboard.core.quality.screen import check_reply

    if text is None or text == "-":
        text = sys.stdin.read()
    if not text.strip():
        raise click.UsageError("give the reply to check as TEXT, or on standard input")
    # The default account's file is the environment's: no database needed to lint a reply.
    account = None if slug == "default" else account_named(open_app(), slug)
    try:
        findings = check_reply(load_settings(), text, intent, account=account)
    except (ConfigError, GuardrailPolicyError, StyleError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps({"flagged": bool(findings), "findings": [f.as_json() for f in findings]}, indent=2))
    elif not findings:
        click.echo("ok: nothing flagged")
    else:
        for finding in findings:
            click.echo(f"{finding.severity}: {finding.describe()}")
    if findings:
        sys.exit(1)


@qa.command("report")
@click.option("--since", required=True, type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M"]),
              help="Scores from this day (UTC) on.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M"]), help="Up to (not including) this day.")
@click.option("--json", "fmt", flag_value="json", default=True, help="The figures as JSON (the default).")
@click.option("--csv", "fmt", flag_value="csv", help="One row per scored conversation, a column per criterion.")
@ACCOUNT_OPTION
def report_command(since: datetime, until: datetime | None, fmt: str, slug: str) -> None:
    """QA scores of the conversations that ended in a period: by automation level, intent,
    agent (by name), channel and language, the trend by day and week, the "resolved"
    verdicts a reopen or repeat contact turned round, and the worst first with their evidence."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.quality.report import CSV_FIELDS, csv_rows, names_for, report, scores_since
    from switchboard.intake.db import get_db

    app = open_app()
    account = account_named(app, slug)
    with get_db(app).session() as session:
        rows = scores_since(session, account.id, since.replace(tzinfo=UTC),
                            until.replace(tzinfo=UTC) if until else None)
        names = names_for(session, account.id, rows)
        if fmt == "json":
            click.echo(json.dumps({"since": since.date().isoformat(), **report(rows, names)}, indent=2))
            return
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_FIELDS, extrasaction="raise", lineterminator="\n")
        writer.writeheader()
        writer.writerows(csv_rows(rows, names))


@qa.command("score-idle")
@ACCOUNT_OPTION
def score_idle_command(slug: str) -> None:
    """Score the conversations silent for the rubric's idle_minutes (run it from cron)."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.quality.scoring import score_idle
    from switchboard.intake.db import get_db

    app = open_app()
    account = account_named(app, slug)
    with get_db(app).session() as session:
        scored = score_idle(session, account, app.config["SETTINGS"])
        session.commit()
    click.echo(f"scored {len(scored)} idle conversation{'' if len(scored) == 1 else 's'}")
