"""The `switchboard` command."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import click
from flask import Flask

from switchboard.config import load_settings
from switchboard.errors import ConfigError


def _app(**config: object) -> Flask:
    from switchboard.app import create_app

    try:
        return create_app(config=dict(config))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def main() -> None:
    """Switchboard: AI self-service, handoff to Zendesk, agent assist and outreach."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve the web app. Without SWITCHBOARD_REDIS_URL everything runs in this process."""
    app = _app()
    settings = app.config["SETTINGS"]
    runner = app.extensions.get("switchboard.runner")
    if runner is not None:
        runner.start_sweeper()
    from switchboard.db import get_db
    from switchboard.core import accounts

    with get_db(app).session() as session:
        default = accounts.by_slug(session, accounts.DEFAULT_SLUG)
        assert default is not None
        key_file = settings.data_dir / ".switchboard-api-key"
        if not key_file.exists():
            key_file.write_text(accounts.create_api_key(session, default, "serve") + "\n")
            key_file.chmod(0o600)
    mode = "embedded (tasks in this process)" if settings.embedded else "with Redis workers"
    click.echo(f"Switchboard on http://{host}:{port} — {mode}; database {settings.database_url}")
    click.echo(f"API key for the default account is in {key_file}")
    app.run(host=host, port=port, threaded=True, use_reloader=False)


@main.command()
@click.option("--concurrency", default=2, show_default=True, type=int)
@click.option("--beat/--no-beat", default=True, show_default=True, help="Also run the periodic sweep.")
def worker(concurrency: int, beat: bool) -> None:
    """Run a Celery worker (and beat) against SWITCHBOARD_REDIS_URL."""
    settings = load_settings()
    if settings.embedded:
        raise click.ClickException("set SWITCHBOARD_REDIS_URL: without it tasks run inside `switchboard serve`")
    args = [sys.executable, "-m", "celery", "-A", "switchboard.worker", "worker",
            f"--concurrency={concurrency}", "--loglevel=INFO"]
    if beat:
        args.append("--beat")
    raise SystemExit(subprocess.call(args, env=os.environ.copy()))


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations to SWITCHBOARD_DATABASE_URL."""
    from switchboard.db import Database

    database = Database(load_settings().database_url)
    database.upgrade()
    click.echo("database is up to date")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON list, newest last.")
@click.option("--account", "slug", default="default", show_default=True)
def outbox(as_json: bool, slug: str) -> None:
    """Show the outbound calls recorded in the outbox."""
    from switchboard.core import accounts
    from switchboard.core import outbox as outbox_core
    from switchboard.db import get_db

    app = _app()
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


@main.group()
def accounts() -> None:
    """Accounts (one per company helpdesk) and their API keys."""


@accounts.command("key")
@click.option("--account", "slug", default="default", show_default=True)
@click.option("--name", default="cli", show_default=True)
def accounts_key(slug: str, name: str) -> None:
    """Create an API key and print it (only its hash is stored)."""
    from switchboard.core import accounts as core
    from switchboard.db import get_db

    with get_db(_app()).session() as session:
        account = core.by_slug(session, slug)
        if account is None:
            raise click.ClickException(f"no account {slug!r}: see `switchboard accounts list`")
        click.echo(core.create_api_key(session, account, name))


@accounts.command("list")
def accounts_list() -> None:
    from switchboard.core import accounts as core
    from switchboard.db import get_db

    with get_db(_app()).session() as session:
        for account in core.all_accounts(session):
            click.echo(f"{account.slug}\t{account.name}\tzendesk={account.zendesk_subdomain}\t"
                       f"twilio={account.twilio_phone_number}\tslack={account.slack_team_id}")


@accounts.command("add")
@click.argument("slug")
@click.option("--name", required=True)
@click.option("--zendesk-subdomain")
@click.option("--twilio-account-sid")
@click.option("--twilio-phone-number")
@click.option("--twilio-whatsapp-number")
@click.option("--slack-team-id")
def accounts_add(slug: str, name: str, **fields: str | None) -> None:
    """Add a further account (the default one comes from the environment)."""
    from switchboard.db import get_db
    from switchboard.models import Account

    with get_db(_app()).session() as session:
        session.add(Account(slug=slug, name=name, secrets={}, **fields))
        session.commit()
    click.echo(f"added {slug}; set its secrets with `switchboard accounts set-secret {slug} NAME`")


@accounts.command("set-secret")
@click.argument("slug")
@click.argument("name", type=click.Choice(["twilio_auth_token", "zendesk_webhook_secret",
                                           "zendesk_api_token", "slack_bot_token"]))
@click.option("--value", prompt=True, hide_input=True)
def accounts_set_secret(slug: str, name: str, value: str) -> None:
    from switchboard.core import accounts as core
    from switchboard.db import get_db

    with get_db(_app()).session() as session:
        account = core.by_slug(session, slug)
        if account is None or account.slug == core.DEFAULT_SLUG:
            raise click.ClickException("the default account's secrets come from the environment")
        account.secrets = {**(account.secrets or {}), name: value}
        session.commit()
    click.echo(f"{name} set for {slug}")


@main.command("config")
def show_config() -> None:
    """Print the effective settings, secrets masked."""
    try:
        click.echo(json.dumps(load_settings().public(), indent=2))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


if __name__ == "__main__":
    main()
