"""`switchboard slack`: the Slack app's manifest."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click

from switchboard.cli.base import main
from switchboard.core.resources import manifests_dir

if TYPE_CHECKING:  # imported where used: `switchboard --help` need not load the models

    pass





@main.group()
def slack() -> None:
    """The Slack app (approvals, digest)."""

SLACK_MANIFEST = manifests_dir() / "slack.yaml"
MANIFEST_PLACEHOLDER = "https://switchboard.example.com"


@slack.command("manifest")
@click.option("--url", required=True, help="The public origin Slack calls, e.g. https://support.example.com.")
@click.option("--file", "manifest_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Manifest template; default: manifests/slack.yaml.")
def slack_manifest(url: str, manifest_file: Path | None) -> None:
    """Print the Slack app manifest (YAML) for this deployment: paste it at api.slack.com/apps → Create New App."""

    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc or parts.path.strip("/"):
        raise click.ClickException(f"--url {url!r}: give the public https origin only, "
                                   "e.g. https://support.example.com (Slack requires https request URLs).")
    path = manifest_file or SLACK_MANIFEST
    click.echo(path.read_text().replace(MANIFEST_PLACEHOLDER, url.rstrip("/")), nl=False)
