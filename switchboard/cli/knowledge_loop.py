"""`switchboard kb gaps` and `kb drafts`: the improvement loop (issue 38), from the
questions the bot could not answer to articles an approver publishes."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import click

from switchboard.cli.base import ACCOUNT_OPTION, account_named, open_app
from switchboard.cli.kb import kb


@kb.command("gaps")
@ACCOUNT_OPTION
@click.option("--days", default=7, show_default=True, type=click.IntRange(min=1),
              help="The period, counting back from now; the trend compares it with the period before.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def kb_gaps(slug: str, days: int, as_json: bool) -> None:
    """Questions that ended without an answer, grouped by meaning, most asked first."""
    from switchboard.core import gaps
    from switchboard.db import get_db

    app = open_app()
    account = account_named(app, slug)
    end = datetime.now(UTC)
    start = end - timedelta(days=days)
    with get_db(app).session() as session:
        retriever = gaps.live_retriever(session, account.id, app.config["SETTINGS"])
        found = gaps.rank_gaps(session, account.id, retriever, start=start, end=end)
    if as_json:
        click.echo(json.dumps({"account": account.slug, "start": start.isoformat(), "end": end.isoformat(),
                               "gaps": [gap.as_json() for gap in found]}, indent=2))
        return
    if not found:
        click.echo(f"no unanswered questions for {account.slug} in the last {days} days")
        return
    click.echo(f"{'ASKED':>5} {'BEFORE':>6} {'TREND':<8} QUESTION — CLOSEST ARTICLES")
    for gap in found:
        near = ", ".join(f"{c.title} ({c.score:.2f})" for c in gap.closest) or "none"
        click.echo(f"{gap.volume:>5} {gap.previous:>6} {gap.trend:<8} {gap.example!r} — {near}")
