"""Who is writing: one customer per person, whatever the channel.

Twilio gives SMS senders as "+14155550100" and WhatsApp senders as
"whatsapp:+14155550100" (with the WaId "14155550100"). Both resolve through the E.164
phone identity, so the same person on SMS and WhatsApp shares one timeline.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import phonenumbers
from sqlalchemy import bindparam, inspect, select
from sqlalchemy.orm import Session, aliased, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from switchboard.core.settings import Settings
from switchboard.core.store.models import Account, Customer, Identity, IdentityKind
from switchboard.core.store.rows import insert_new, insert_or_fetch


class InvalidAddress(ValueError):
    """A sender address is not a phone number in a form Twilio documents."""


@dataclass(frozen=True)
class Address:
    channel: str  # "sms" or "whatsapp"
    e164: str


@functools.lru_cache(maxsize=4096)
def to_e164(raw: str, default_region: str | None = None) -> str:
    """``raw`` in E.164. Remembered for the numbers seen lately: one message parses its
    sender's number several times (the webhook, the customer, the reply) and our own
    number every time, and phonenumbers' parse is pure but not cheap."""
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidAddress(f"{raw!r} is not a phone number ({exc})") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidAddress(f"{raw!r} is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@functools.lru_cache(maxsize=4096)
def region_of(e164: str) -> str | None:
    """The ISO region of a number ("GB" for +44…), or None for non-geographic ones."""
    region = phonenumbers.region_code_for_number(phonenumbers.parse(e164))
    return region if region and region != "001" else None


def company_region(settings: Settings, our_number: str | None) -> str | None:
    """The company's country: SWITCHBOARD_COUNTRY, else the region of our own number."""
    if settings.country:
        return settings.country
    if not our_number:
        return None
    try:
        return region_of(to_e164(our_number.removeprefix("whatsapp:")))
    except (InvalidAddress, phonenumbers.NumberParseException):
        return None


def parse_twilio_address(raw: str) -> Address:
    """"whatsapp:+1415…" → Address("whatsapp", "+1415…"); "+1415…" → Address("sms", …)."""
    if raw.startswith("whatsapp:"):
        return Address("whatsapp", to_e164(raw.removeprefix("whatsapp:")))
    return Address("sms", to_e164(raw))


def twilio_address(address: Address) -> str:
    return f"whatsapp:{address.e164}" if address.channel == "whatsapp" else address.e164


def find_customer(session: Session, account_id: int, kind: IdentityKind, value: str) -> Customer | None:
    # One statement: the customer through their identity, not the identity and then its customer.
    return session.execute(_CUSTOMER_BY_IDENTITY, {"account": account_id, "kind": kind, "value": value}
                           ).unique().scalar_one_or_none()


#: Built once (the statement and its cache key cost more than the read, per message).
#: The customer's identities come in the same statement: every reply is addressed
#: through them, and reading them apart was a round trip of its own. So does their
#: account (a primary-key join), which the message's handling takes from the session
#: next: its own SELECT was one more round trip per message.
_FOUND = aliased(Identity)
_CUSTOMER_BY_IDENTITY = (
    select(Customer, Account).join(_FOUND, _FOUND.customer_id == Customer.id)
    .join(Account, Account.id == Customer.account_id)
    .where(_FOUND.account_id == bindparam("account"), _FOUND.kind == bindparam("kind"),
           _FOUND.value == bindparam("value"))
    .options(joinedload(Customer.identities))
)


def resolve_customer(
    session: Session,
    account_id: int,
    address: Address,
    *,
    wa_id: str | None = None,
    profile_name: str | None = None,
) -> Customer:
    """Find the customer behind ``address`` or create them; link a new WhatsApp id."""
    customer = find_customer(session, account_id, IdentityKind.PHONE, address.e164)
    if customer is None and wa_id:
        customer = find_customer(session, account_id, IdentityKind.WHATSAPP, wa_id)
    if customer is None:
        customer = _create_customer(session, account_id, address.e164, profile_name)
    if address.channel == "whatsapp":
        _link(session, customer, IdentityKind.WHATSAPP, wa_id or address.e164.lstrip("+"))
    if profile_name and not customer.display_name:
        customer.display_name = profile_name
    return customer


def _create_customer(session: Session, account_id: int, e164: str, profile_name: str | None) -> Customer:
    """A new customer with their phone identity. Two first messages from one number
    processed at once (two web or worker processes) race here: the loser's identity
    insert finds the number taken (it waits for the winner's commit), and it drops its
    own customer row and takes the winner's instead of failing.

    Two statements: the customer's INSERT (nothing about it can collide) and the
    identity's INSERT ... ON CONFLICT DO NOTHING. The identity inserted in a savepoint
    with the customer took four (a savepoint and its release around the two)."""
    customer = insert_new(session, Customer(account_id=account_id, display_name=profile_name, attributes={}))
    phone, new = insert_or_fetch(
        session, Identity(account_id=account_id, customer_id=customer.id, kind=IdentityKind.PHONE, value=e164),
        lambda: find_identity(session, account_id, IdentityKind.PHONE, e164))
    if new:
        # Known without a read: the reply is addressed through it.
        set_committed_value(customer, "identities", [phone])
        return customer
    session.delete(customer)  # ours was never seen by anyone: this transaction made it
    session.flush()
    winner = session.get(Customer, phone.customer_id)
    assert winner is not None
    return winner


def find_identity(session: Session, account_id: int, kind: IdentityKind, value: str) -> Identity | None:
    """The account's identity of ``kind`` with ``value`` (a phone number in E.164, a
    WhatsApp id, an email), whoever owns it."""
    return session.scalar(_IDENTITY, {"account": account_id, "kind": kind, "value": value})


_IDENTITY = select(Identity).where(Identity.account_id == bindparam("account"), Identity.kind == bindparam("kind"),
                                   Identity.value == bindparam("value"))


def _link(session: Session, customer: Customer, kind: IdentityKind, value: str) -> None:
    if find_customer(session, customer.account_id, kind, value) is not None:
        return
    # A concurrent link of the same value wins; anything else is a real error.
    identity, new = insert_or_fetch(
        session, Identity(account_id=customer.account_id, customer_id=customer.id, kind=kind, value=value),
        lambda: find_identity(session, customer.account_id, kind, value))
    if new:
        add_stored_identity(customer, identity)


def add_stored_identity(customer: Customer, identity: Identity) -> None:
    """Add an identity stored by its own INSERT (not through the relationship) to the
    customer's identities when they are already loaded, as stored: without it, the
    rest of the message (the handoff package, the reply's address) would not see it."""
    if "identities" in inspect(customer).dict and identity not in customer.identities:
        set_committed_value(customer, "identities", [*customer.identities, identity])


def zendesk_user_id(customer: Customer) -> int | None:
    """The customer's Zendesk user (their requester), once a handoff or a ticket linked one."""
    return next((int(i.value) for i in customer.identities if i.kind == IdentityKind.ZENDESK_USER), None)


class Unreachable(LookupError):
    """A customer has no address on the channel a message must go out on."""


def reply_address(customer: Customer, channel: str) -> str:
    """Where a written message to ``customer`` goes on ``channel`` (already the reply
    channel: ``timeline.reply_channel``): the phone number (E.164) for SMS and WhatsApp,
    the latest web chat visitor id for the web (the widget reads its messages from the
    timeline; the id names the browser to wake)."""
    kind = IdentityKind.VISITOR if channel == "web" else IdentityKind.PHONE
    found = [identity for identity in customer.identities if identity.kind == kind]
    if not found:
        raise Unreachable(f"customer {customer.id} has no {kind.value} to reach them on {channel}")
    if kind == IdentityKind.PHONE:
        return found[0].value  # as before web chat: the first number on file
    return max(found, key=lambda identity: identity.id or 0).value


def may_message(customer: Customer, channel: str) -> bool:
    """Whether anything may be sent to ``customer`` on ``channel`` (already the reply
    channel). An opt-out (STOP) is the phone number's: nothing more by SMS or WhatsApp,
    while a web chat the customer opens themselves is still answered there."""
    return customer.opted_out_at is None or channel == "web"


def reachable_address(customer: Customer, channel: str) -> str | None:
    """:func:`reply_address`, or None when the customer has none on ``channel``."""
    try:
        return reply_address(customer, channel)
    except Unreachable:
        return None
