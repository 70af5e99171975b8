"""Per-account outreach options: the default account reads the environment, further
accounts their ``secrets`` (set with `switchboard accounts set-secret`)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from switchboard.core.accounts import NEUTRAL_COMPANY, company_name, secret, secret_variable, setting
from switchboard.core.outreach.errors import OutreachNotConfigured
from switchboard.core.settings import Settings, outreach_approvers, outreach_quiet_hours, outreach_rate
from switchboard.core.store.models import Account

T = TypeVar("T")


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
    def own(name: str, read: Callable[[str | None, str], T]) -> T | None:
        """A further account's values were checked by `accounts set-secret` with the
        same readers the environment's were checked with at start-up."""
        return setting(account, name, settings, lambda raw: read(raw, secret_variable(account, name)), inherit=True)
    return OutreachOptions(
        approval_channel=secret(account, "slack_approval_channel", settings),
        approvers=frozenset(own("outreach_approvers", outreach_approvers) or ()),
        quiet_hours=own("outreach_quiet_hours", outreach_quiet_hours),
        rate=own("outreach_rate", outreach_rate) or settings.outreach_rate,
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
