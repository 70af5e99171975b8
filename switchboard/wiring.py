"""Hands the core its connections to the outside world (``switchboard.core.ports``):
Twilio for customers' messages, Zendesk for the helpdesk, the OpenAI-compatible client
for the model, the Slack app for supervisors, HTTP for the company's systems.

``create_app`` calls :func:`install`, so the web app, the Celery worker (built from the
app) and the CLI all run with these; a test can install others the same way.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from switchboard.apps.slack.client import SlackConnector
from switchboard.apps.slack.flows import SlackSupervisorFlows
from switchboard.apps.webchat.connector import WebChatConnector
from switchboard.core import ports
from switchboard.core.settings import Settings
from switchboard.core.store.models import Account
from switchboard.vendors.http_action import HttpActionConnector
from switchboard.vendors.openai.llm import LLMClient, UnrecordedChat
from switchboard.vendors.twilio.connector import TwilioConnector
from switchboard.vendors.twilio.verify_codes import TwilioVerifyConnector
from switchboard.vendors.zendesk.connector import ZendeskConnector


class ChannelMessenger:
    """The messenger port: a customer's channel decides the connector. The web chat
    widget is reached through the timeline (WebChatConnector), SMS and WhatsApp through
    Twilio. Each is built on first use, so a reply on one channel builds one."""

    def __init__(self, session: Session, account: Account, settings: Settings) -> None:
        self.session, self.account, self.settings = session, account, settings

    def send_message(self, *, to: str, channel: str, idempotency_key: str, body: str | None = None,
                     content_sid: str | None = None, content_variables: dict[str, Any] | None = None,
                     media_url: list[str] | None = None, status_callback: str | None = None,
                     vault_conversation_id: int | None = None, vault_tokens: Sequence[str] = ()) -> ports.CallResult:
        connector = WebChatConnector if channel == "web" else TwilioConnector
        return connector(self.session, self.account, self.settings).send_message(
            to=to, channel=channel, idempotency_key=idempotency_key, body=body, content_sid=content_sid,
            content_variables=content_variables, media_url=media_url, status_callback=status_callback,
            vault_conversation_id=vault_conversation_id, vault_tokens=vault_tokens)


def vendor_ports() -> ports.Ports:
    return ports.Ports(
        messenger=ChannelMessenger,
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


#: What the default account needs set for each vendor to be live (the sandbox otherwise).
CREDENTIAL_VARIABLES = {
    "twilio": "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN",
    "zendesk": "ZENDESK_SUBDOMAIN, ZENDESK_EMAIL and ZENDESK_API_TOKEN",
    "slack": "SLACK_BOT_TOKEN",
}


def vendor_modes(account: Account, settings: Settings) -> dict[str, str]:
    """Each vendor's mode for ``account`` in words, for `switchboard config`: the
    ``sandbox`` setting alone says only whether sandbox was *asked for*, while a vendor
    whose credentials are absent is sandboxed too (``Connector.sandboxed``)."""
    sandboxed = sandboxed_vendors(account, settings)
    modes: dict[str, str] = {}
    for cls in MESSAGING_VENDORS:
        if cls.vendor not in sandboxed:
            modes[cls.vendor] = "live"
        elif settings.sandbox:
            modes[cls.vendor] = "sandbox (SWITCHBOARD_SANDBOX=1): calls are recorded in the outbox, not sent"
        else:
            modes[cls.vendor] = (f"sandbox (set {CREDENTIAL_VARIABLES[cls.vendor]} to go live): "
                                 "calls are recorded in the outbox, not sent")
    return modes
