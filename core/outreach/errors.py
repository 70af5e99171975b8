"""Errors of the outreach capability; each message says what to do next."""
from __future__ import annotations

from switchboard.core.errors import SwitchboardError


class InvalidCampaign(SwitchboardError):
    """The campaign request is malformed; the message names the field."""


class OutreachNotConfigured(SwitchboardError):
    """Something outreach needs (the approval channel) is not set."""
