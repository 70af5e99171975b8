"""Slack's Events API, interactivity and slash commands, through Bolt's Flask adapter."""
from switchboard.vendors.slack.view import init_app

__all__ = ["init_app"]
