"""`switchboard qa`: guardrails from the command line (`qa check`, a linter for replies)."""
from __future__ import annotations

import json
import sys

import click

from switchboard.cli.base import main


@main.group()
def qa() -> None:
    """Quality: check a reply against the guardrails."""


@qa.command("check")
@click.argument("text", required=False)
@click.option("--intent", help="The conversation's intent (a regulated one, such as legal, needs its disclaimer).")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
def check_command(text: str | None, intent: str | None, as_json: bool) -> None:
    """Check TEXT (or standard input when it is left out or "-") against the guardrail
    policy (SWITCHBOARD_GUARDRAILS_FILE) and the style card (SWITCHBOARD_STYLE_FILE).
    Exits with status 1 when anything is flagged, like a linter."""
    from switchboard.config import load_settings
    from switchboard.core.assist import StyleError
    from switchboard.core.quality.policy import GuardrailPolicyError
    from switchboard.core.quality.screen import check_reply
    from switchboard.errors import ConfigError

    if text is None or text == "-":
        text = sys.stdin.read()
    if not text.strip():
        raise click.UsageError("give the reply to check as TEXT, or on standard input")
    try:
        findings = check_reply(load_settings(), text, intent)
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
