"""`switchboard digest` and `report`: the weekly digest and the outcomes report."""
from __future__ import annotations

import csv
import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING

import click

from switchboard.cli.base import ACCOUNT_OPTION, account_named, main, open_app

if TYPE_CHECKING:  # imported where used: `switchboard --help` need not load the models

    pass





@main.command()
@ACCOUNT_OPTION
@click.option("--days", default=7, show_default=True, type=click.IntRange(min=1),
              help="How many days it covers: the preview counts today up to now, --send the whole days "
                   "before today, as the weekly schedule does.")
@click.option("--send", is_flag=True, help="Post it to the digest channel (SWITCHBOARD_SLACK_DIGEST_CHANNEL).")
def digest(slug: str, days: int, send: bool) -> None:
    """The supervisors' digest of agent assist and knowledge gaps (JSON preview, or --send)."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.knowledge_loop.digest import as_json, compute_digest, recent_period, send_digest
    from switchboard.intake.db import get_db
    from switchboard.tasks import digest_channel

    app = open_app()
    settings = app.config["SETTINGS"]
    account = account_named(app, slug)
    with get_db(app).session() as session:
        if send:
            channel = digest_channel(account, settings)
            if not channel:
                raise click.ClickException("set SWITCHBOARD_SLACK_DIGEST_CHANNEL (e.g. #support-leads) to send it")
            result = send_digest(session, account, settings, channel=channel, days=days)
            click.echo(f"digest {'already sent' if result.repeated else 'sent'} to {channel}")
            return
        start, end = recent_period(days=days)
        click.echo(json.dumps(as_json(compute_digest(session, account.id, start=start, end=end, settings=settings)),
                              indent=2))


@main.command()
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day (UTC).")
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last day (UTC), included.")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True,
              help="JSON, or CSV with every figure.")
@ACCOUNT_OPTION
@click.option("--channel", help="Only this channel (sms, whatsapp).")
@click.option("--tier", help="Only customers of this tier.")
@click.option("--intent", help="Only conversations about this intent.")
def report(start: datetime, end: datetime, fmt: str, slug: str, channel: str | None, tier: str | None,
           intent: str | None) -> None:
    """Outcome figures for conversations started in a period (the dashboard's figures):
    JSON, or CSV with every figure (segments, days, escalation reasons, suggestions,
    outreach). Days between 2000-01-01 and 2099-12-31, at most 1096 days apart."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.outcomes.figures import CSV_FIELDS, FiguresError, Filters, csv_rows, figures
    from switchboard.intake.db import get_db

    try:  # before opening the database: a wrong date is the user's to fix
        filters = Filters(start.date(), end.date(), channel, tier, intent)
    except FiguresError as exc:
        raise click.BadParameter(str(exc), param_hint="--from/--to") from None
    app = open_app()
    account = account_named(app, slug)
    with get_db(app).session() as session:
        data = figures(session, account.id, filters)
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
        return

    # "raise": a figure added to the JSON but not to CSV_FIELDS fails loudly, never vanishes.
    writer = csv.DictWriter(sys.stdout, fieldnames=CSV_FIELDS, extrasaction="raise", lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(data))
