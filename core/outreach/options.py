"""Per-account outreach options: the default account reads the environment, further
accounts their ``secrets`` (set with `switchboard accounts set-secret`)."""
from __future__ import annotations

from dataclasses import dataclass

from switchboard.config import Settings
from switchboard.core.accounts import DEFAULT_SLUG, NEUTRAL_COMPANY, company_name, secret, secret_variable
from switchboard.models import Account

from .errors import OutreachNotConfigured


@dataclass(frozen=True)
class OutreachOptions:
    approval_channel: str | None
    approvers: frozenset[str]
    quiet_hours: str | None
    rate: float
    approval_hours: int
    lease_seconds: int
    company: str


def options_for(account: Account, settings: Settings) -> OutreachOptions:
    default = account.slug == DEFAULT_SLUG
    own: dict[str, str] = {} if default else dict(account.secrets or {})
    approvers = own.get("outreach_approvers")
    quiet = own.get("outreach_quiet_hours", settings.outreach_quiet_hours)
    return OutreachOptions(
        approval_channel=secret(account, "slack_approval_channel", settings),
        approvers=frozenset(a.strip() for a in approvers.split(",") if a.strip()) if approvers is not None
        else frozenset(settings.outreach_approvers),
        quiet_hours=None if quiet in (None, "", "off") else quiet,
        rate=float(own.get("outreach_rate") or settings.outreach_rate),
        approval_hours=settings.outreach_approval_hours,
        lease_seconds=settings.outreach_lease_seconds,
        company=company_name(account, settings) or NEUTRAL_COMPANY,
    )


def require_channel(options: OutreachOptions, account: Account) -> str:
    if not options.approval_channel:
        where = secret_variable(account, "slack_approval_channel")
        raise OutreachNotConfigured(
            f"outreach needs a Slack channel where supervisors approve campaigns: set {where} to a channel id "
            "(e.g. C0123456789) and invite the bot there.")
    return options.approval_channel
