from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session

from switchboard.config import Settings
from switchboard.connectors.base import Connector
from switchboard.connectors.registry import UnknownVendor, connector_for, sandboxed_vendors
from switchboard.connectors.slack import SlackConnector
from switchboard.connectors.twilio import TwilioConnector
from switchboard.connectors.zendesk import ZendeskConnector
from switchboard.core.accounts import ensure_default_account
from switchboard.models import Account

from .conftest import LIVE_ENV, TWILIO_SID


@pytest.mark.parametrize("vendor, cls", [
    ("twilio", TwilioConnector), ("zendesk", ZendeskConnector), ("slack", SlackConnector),
])
def test_connector_for_builds_the_vendors_connector(
    session: Session, live_account: Account, live_settings: Settings, vendor: str, cls: type[Connector]
) -> None:
    connector = connector_for(vendor, session, live_account, live_settings)

    assert type(connector) is cls
    assert connector.vendor == vendor
    assert (connector.session, connector.account, connector.settings) == (session, live_account, live_settings)


def test_unknown_vendor_lists_the_known_ones(session: Session, live_account: Account, live_settings: Settings) -> None:
    with pytest.raises(UnknownVendor, match="'teams'.*slack, twilio, zendesk"):
        connector_for("teams", session, live_account, live_settings)


def test_everything_is_sandboxed_when_asked_even_with_credentials(
    sandbox_account: Account, sandbox_settings: Settings
) -> None:
    assert sandboxed_vendors(sandbox_account, sandbox_settings) == {"twilio", "zendesk", "slack"}


def test_nothing_is_sandboxed_with_all_credentials(live_account: Account, live_settings: Settings) -> None:
    assert sandboxed_vendors(live_account, live_settings) == set()


def test_vendors_without_credentials_are_sandboxed(
    session: Session, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(TWILIO_ACCOUNT_SID=TWILIO_SID, TWILIO_AUTH_TOKEN="t", SLACK_BOT_TOKEN="xoxb-1")
    account = ensure_default_account(session, settings)

    assert sandboxed_vendors(account, settings) == {"zendesk"}


def test_further_accounts_are_judged_by_their_own_secrets(
    session: Session, live_settings: Settings
) -> None:
    account = Account(slug="globex", name="Globex", zendesk_subdomain="globex",
                      secrets={"zendesk_email": "ops@globex.test", "zendesk_api_token": "z"})
    session.add(account)
    session.commit()

    # The environment's Twilio and Slack secrets belong to the default account only.
    assert sandboxed_vendors(account, live_settings) == {"twilio", "slack"}


@pytest.mark.parametrize("env", [
    {}, LIVE_ENV, {**LIVE_ENV, "SWITCHBOARD_SANDBOX": "1"}, {"SLACK_BOT_TOKEN": "xoxb-1"},
], ids=["nothing", "live", "sandbox-flag", "slack-only"])
def test_registry_agrees_with_each_connectors_own_answer(
    session: Session, make_settings: Callable[..., Settings], env: dict[str, str]
) -> None:
    settings = make_settings(**env)
    account = ensure_default_account(session, settings)

    from_connectors = {
        vendor for vendor in ("twilio", "zendesk", "slack")
        if connector_for(vendor, session, account, settings).sandboxed
    }

    assert sandboxed_vendors(account, settings) == from_connectors
