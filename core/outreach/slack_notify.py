"""Where the lifecycle tells supervisors what happened. The Block Kit and the Slack
calls live in the Slack app (``apps/slack/outreach.py``); this indirection keeps the
import one-way at load time (the Slack app imports the core, not the reverse)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from switchboard.config import Settings
from switchboard.models import Account, OutreachCampaign


def request_approval(session: Session, account: Account, settings: Settings, campaign: OutreachCampaign) -> None:
    from switchboard.apps.slack import outreach

    outreach.request_approval(session, account, settings, campaign)


def show_decision(session: Session, account: Account, settings: Settings, campaign: OutreachCampaign) -> None:
    from switchboard.apps.slack import outreach

    outreach.show_decision(session, account, settings, campaign)


def post_progress(session: Session, account: Account, settings: Settings, campaign: OutreachCampaign, *,
                  text: str, key: str) -> None:
    from switchboard.apps.slack import outreach

    outreach.post_in_thread(session, account, settings, campaign, text=text, key=key)
