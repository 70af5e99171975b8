"""`switchboard slack manifest --url` prints the app manifest for a deployment."""
from __future__ import annotations

import yaml
from click.testing import CliRunner

from switchboard.cli import main


def test_manifest_points_every_slack_url_at_the_deployment() -> None:
    result = CliRunner().invoke(main, ["slack", "manifest", "--url", "https://support.acme.test/"])
    assert result.exit_code == 0, result.output
    manifest = yaml.safe_load(result.output)
    assert manifest["settings"]["interactivity"] == {"is_enabled": True,
                                                     "request_url": "https://support.acme.test/slack/events"}
    assert manifest["settings"]["event_subscriptions"]["request_url"] == "https://support.acme.test/slack/events"
    assert manifest["features"]["slash_commands"][0]["url"] == "https://support.acme.test/slack/events"
    assert manifest["oauth_config"]["redirect_urls"] == ["https://support.acme.test/slack/oauth_redirect"]
    assert {"chat:write", "commands", "usergroups:read"} <= set(manifest["oauth_config"]["scopes"]["bot"])
    assert "switchboard.example.com" not in result.output


def test_manifest_refuses_a_url_slack_would_refuse() -> None:
    result = CliRunner().invoke(main, ["slack", "manifest", "--url", "http://support.acme.test"])
    assert result.exit_code != 0 and "https" in result.output
