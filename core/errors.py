"""Named errors. Each message tells the person reading it what to do next."""
from __future__ import annotations


class SwitchboardError(Exception):
    """Base class for every error Switchboard raises on purpose."""


class ConfigError(SwitchboardError):
    """A setting is missing or malformed; the message names the variable."""


class NotConfigured(SwitchboardError):
    """A vendor's secret is absent, so its webhooks cannot be verified."""

    def __init__(self, vendor: str, variable: str) -> None:
        self.vendor = vendor
        self.variable = variable
        super().__init__(
            f"{vendor} webhooks are refused because {variable} is not set: set {variable} "
            f"to the signing secret from {vendor}'s settings and restart Switchboard."
        )


class BadSignature(SwitchboardError):
    """The request was not signed by the vendor with the configured secret."""


class MalformedPayload(SwitchboardError):
    """The body is not in the vendor's documented shape; the message names the field."""


class UnknownAccount(SwitchboardError):
    """No account owns the number, subdomain or workspace the request is for."""
