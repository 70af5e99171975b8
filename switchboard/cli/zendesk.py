"""`switchboard zendesk`: provisioning, the sidebar app's package and its local preview."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from switchboard.cli.base import main
from switchboard.core.errors import ConfigError
from switchboard.core.settings import load_settings

if TYPE_CHECKING:  # imported where used: `switchboard --help` need not load the models

    pass





@main.group()
def zendesk() -> None:
    """Zendesk set-up."""

@zendesk.command("provision")
@click.option("--manifests", "manifests_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder with webhook.json (and triggers/); default: the shipped manifests/zendesk.")
def zendesk_provision(manifests_dir: Path | None) -> None:
    """Create or update Switchboard's Zendesk webhook (and triggers), idempotently."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.vendors.zendesk.admin import ProvisionError, provision_from_settings

    try:
        report = provision_from_settings(load_settings(), manifests_dir=manifests_dir)
    except (ProvisionError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    for line in report.lines():
        click.echo(line)


@zendesk.command("package-app")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder to write the zip into.")
@click.option("--app-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The app folder; default: the shipped Zendesk sidebar app.")
@click.option("--domain", "domains", multiple=True,
              help="Host of this deployment (e.g. support.example.com) allowed to receive the secure token.")
def zendesk_package_app(out_dir: Path, app_dir: Path | None, domains: tuple[str, ...]) -> None:
    """Validate the Zendesk sidebar app and zip it for upload (Admin Center > Apps > Upload private app)."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.apps.zendesk.packager import DEFAULT_APP_DIR, InvalidZendeskApp, package_app

    if not out_dir.exists():
        if not out_dir.parent.is_dir():
            raise click.ClickException(f"--out {out_dir}: {out_dir.parent} does not exist; give a folder that "
                                       "exists, or a new one inside one")
        out_dir.mkdir()
        click.echo(f"created {out_dir}", err=True)
    if not domains:
        click.echo("warning: no --domain: Zendesk sends the app's API key only to the hosts in its domain "
                   "whitelist, so this zip cannot reach your Switchboard. Package again with --domain "
                   "HOST (e.g. support.example.com), the host of SWITCHBOARD_PUBLIC_URL.", err=True)
    try:
        path = package_app(app_dir or DEFAULT_APP_DIR, out_dir, domains=domains)
    except InvalidZendeskApp as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(str(path))


@zendesk.command("preview")
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="The running Switchboard.")
@click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path),
              help="File holding an account API key; default: .switchboard-api-key in the data folder "
                   "(`switchboard serve` writes it).")
@click.option("--port", default=0, type=int,
              help="Port of the stand-in workspace page; default: a free one (the address is printed).")
@click.option("--ticket", type=int, help="Ticket to open first; default: the newest one the bot handed over.")
def zendesk_preview(url: str, key_file: Path | None, port: int, ticket: int | None) -> None:
    """Preview the sidebar app in a local stand-in of Zendesk's agent workspace, against a running Switchboard."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.apps.zendesk.preview_server import KEY_FILE_NAME, PreviewError, serve_preview

    try:
        key_file = key_file or load_settings().data_dir / KEY_FILE_NAME
        serve_preview(url, key_file=key_file, port=port, ticket=ticket, echo=click.echo)
    except (PreviewError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
