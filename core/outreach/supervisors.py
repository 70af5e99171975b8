"""Where the lifecycle tells supervisors what happened, through the supervisor flows
installed in :mod:`switchboard.core.ports` (the Slack app's Block Kit and calls)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from switchboard.core import ports
from switchboard.core.settings import Settings
from switchboard.core.store.models import Account, OutreachCampaign


def request_approval(session: Session, account: Account, settings: Settings, campaign: OutreachCampaign) -> None:
    ports.current().supervisor_flows.request_campaign_approval(session, account, settings, campaign)


def show_decision(session: Session, account: Account, settings: Settings, campaign: OutreachCampaign) -> None:
    ports.current().supervisor_flows.show_campaign_decision(session, account, settings, campaign)


def post_progress(session: Session, account: Account, settings: Settings, campaign: OutreachCampaign, *,
                  text: str, key: str) -> None:
    ports.current().supervisor_flows.post_campaign_progress(session, account, settings, campaign, text=text, key=key)
