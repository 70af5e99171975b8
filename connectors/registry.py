"""Which connector serves a vendor, and which vendors only record (sandbox).

Callers name the vendor as a string (it is stored in the outbox and in task
arguments), so this is the one place that maps the name to a class.
"""
from __future__ import annotations

from typing import Literal, overload

from sqlalchemy.orm import Session

from switchboard.config import Settings
from switchboard.connectors.base import Connector
from switchboard.connectors.slack import SlackConnector
from switchboard.connectors.twilio import TwilioConnector
from switchboard.connectors.zendesk import ZendeskConnector
from switchboard.models import Account

VendorConnector = TwilioConnector | ZendeskConnector | SlackConnector

CONNECTORS: dict[str, type[VendorConnector]] = {
    cls.vendor: cls for cls in (TwilioConnector, ZendeskConnector, SlackConnector)
}


class UnknownVendor(LookupError):
    def __init__(self, vendor: str) -> None:
        self.vendor = vendor
        super().__init__(f"no connector for vendor {vendor!r}: use one of {', '.join(sorted(CONNECTORS))}.")


@overload
def connector_for(
    vendor: Literal["twilio"], session: Session, account: Account, settings: Settings
) -> TwilioConnector: ...
@overload
def connector_for(
    vendor: Literal["zendesk"], session: Session, account: Account, settings: Settings
) -> ZendeskConnector: ...
@overload
def connector_for(
    vendor: Literal["slack"], session: Session, account: Account, settings: Settings
) -> SlackConnector: ...
@overload
def connector_for(vendor: str, session: Session, account: Account, settings: Settings) -> Connector: ...
def connector_for(vendor: str, session: Session, account: Account, settings: Settings) -> Connector:
    """The vendor's connector for one account; typed per vendor for literal names."""
    try:
        cls = CONNECTORS[vendor]
    except KeyError:
        raise UnknownVendor(vendor) from None
    return cls(session, account, settings)


def sandboxed_vendors(account: Account, settings: Settings) -> set[str]:
    """Vendors whose calls for ``account`` are recorded, not sent.

    Mirrors ``Connector.sandboxed`` (sandbox asked for, or credentials absent) without
    building connectors, so it needs no database session.
    """
    return {
        vendor for vendor, cls in CONNECTORS.items()
        if settings.sandbox or not cls.configured(account, settings)
    }
