"""Hands the core its connections to the outside world (``switchboard.core.ports``):
Twilio for customers' messages, Zendesk for the helpdesk, the OpenAI-compatible client
for the model, Slack for supervisors, HTTP for the company's systems.

``create_app`` calls :func:`install`, so the web app, the Celery worker (built from the
app) and the CLI all run with these; a test can install others the same way.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from switchboard.config import Settings
from switchboard.core import ports
from switchboard.models import Account


class _SlackSupervisorFlows:
    """Outreach approvals and governed-action approvals as the Slack app shows them."""

    def request_campaign_approval(self, session: Session, account: Account, settings: Settings,
                                  campaign: Any) -> None:
        from switchboard.apps.slack import outreach

        outreach.request_approval(session, account, settings, campaign)

    def show_campaign_decision(self, session: Session, account: Account, settings: Settings, campaign: Any) -> None:
        from switchboard.apps.slack import outreach

        outreach.show_decision(session, account, settings, campaign)

    def post_campaign_progress(self, session: Session, account: Account, settings: Settings, campaign: Any, *,
                               text: str, key: str) -> None:
        from switchboard.apps.slack import outreach

        outreach.post_in_thread(session, account, settings, campaign, text=text, key=key)

    def request_action_approval(self, session: Session, account: Account, settings: Settings, execution: Any,
                                policy: Any, preview: str) -> None:
        from switchboard.apps.slack.action_approvals import post_request

        post_request(session, account, settings, execution, policy, preview)


def vendor_ports() -> ports.Ports:
    from switchboard.connectors.http_action import HttpActionConnector
    from switchboard.connectors.llm import LLMClient, UnrecordedChat
    from switchboard.connectors.slack import SlackConnector
    from switchboard.connectors.twilio import TwilioConnector
    from switchboard.connectors.zendesk import ZendeskConnector

    return ports.Ports(
        messenger=TwilioConnector,
        helpdesk=ZendeskConnector,
        chat_model=LLMClient,
        unrecorded_chat_model=lambda session, account, settings: UnrecordedChat(LLMClient(session, account, settings)),
        chat_model_configured=LLMClient.configured,
        supervisor_channel=SlackConnector,
        business_system=HttpActionConnector,
        supervisor_flows=_SlackSupervisorFlows(),
    )


def install() -> None:
    """Install the vendors' implementations, and register the Slack app's handlers for
    the outreach buttons with the core's interaction router."""
    from switchboard.apps.slack import outreach  # noqa: F401 - registers "outreach:" clicks

    ports.install(vendor_ports())
