"""`switchboard db` and `outbox`: the schema, and what was sent."""
from __future__ import annotations

import json

import click

from switchboard.cli.base import ACCOUNT_OPTION, main, open_app
from switchboard.core.settings import load_settings


@main.group()
def db() -> None:
    """Database schema."""

@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations to SWITCHBOARD_DATABASE_URL."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.intake.db import Database, current_revision

    settings = load_settings()
    # As `serve` does: the embedded default's SQLite file lives in the data folder.
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.database_url, settings)
    before = current_revision(database.engine)
    database.upgrade()
    after = current_revision(database.engine)
    if before == after:
        click.echo(f"database already at the newest migration ({after}): nothing to do")
    else:
        click.echo(f"database migrated from {before or 'empty'} to {after}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON list, newest last.")
@ACCOUNT_OPTION
def outbox(as_json: bool, slug: str) -> None:
    """Show the outbound calls recorded in the outbox."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core import accounts
    from switchboard.core.store import outbox as outbox_core
    from switchboard.intake.db import get_db

    app = open_app()
    with get_db(app).session() as session:
        account = accounts.by_slug(session, slug)
        if account is None:
            raise click.ClickException(f"no account {slug!r}")
        rows = [outbox_core.as_json(call) for call in outbox_core.calls(session, account.id)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['created_at']}  {row['vendor']:8} {row['operation']:20} {row['status']:9} "
                   f"{json.dumps(row['payload'])[:100]}")
