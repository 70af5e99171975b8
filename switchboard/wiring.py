"""Hands the core its connections to the outside world (``switchboard.core.ports``):
Twilio for customers' messages, Zendesk for the helpdesk, the OpenAI-compatible client
for the model, the Slack app for supervisors, HTTP for the company's systems.

``create_app`` calls :func:`install`, so the web app, the Celery worker (built from the
app) and the CLI all run with these; a test can install others the same way.
"""
from __future__ import annotations

from switchboard.apps.slack.client import SlackConnector
from switchboard.apps.slack.flows import SlackSupervisorFlows
from switchboard.config import Settings
from switchboard.connectors.http_action import HttpActionConnector
from switchboard.connectors.llm import LLMClient, UnrecordedChat
from switchboard.connectors.twilio import TwilioConnector
from switchboard.connectors.twilio_verify import TwilioVerifyConnector
from switchboard.connectors.zendesk import ZendeskConnector
from switchboard.core import ports
from switchboard.models import Account


def vendor_ports() -> ports.Ports:
    return ports.Ports(
        messenger=TwilioConnector,
        helpdesk=ZendeskConnector,
        chat_model=LLMClient,
        unrecorded_chat_model=lambda session, account, settings: UnrecordedChat(LLMClient(session, account, settings)),
        chat_model_configured=LLMClient.configured,
        supervisor_channel=SlackConnector,
        business_system=HttpActionConnector,
        supervisor_flows=SlackSupervisorFlows(),
        verifier=TwilioVerifyConnector,
    )


def install() -> None:
    ports.install(vendor_ports())


#: The vendors customers, agents and supervisors are reached through.
MESSAGING_VENDORS = (TwilioConnector, ZendeskConnector, SlackConnector)


def sandboxed_vendors(account: Account, settings: Settings) -> set[str]:
    """Vendors whose calls for ``account`` are recorded, not sent: sandbox asked for, or
    credentials absent (``Connector.sandboxed``), without building connectors."""
    return {cls.vendor for cls in MESSAGING_VENDORS if settings.sandbox or not cls.configured(account, settings)}
