"""A person proves a phone or email is theirs with a one-time code, and joins the
customer who owns it.

The code is made, delivered and checked by the vendor (``ports.Verifier``: Twilio
Verify); what the core keeps is the bookkeeping that limits abuse, and that lives in
the outbox rows of those calls, keyed so the limits are exact lookups:

- sends: ``verify-send:<subject>:<hour>:<n>``, n = 1..SEND_LIMIT per clock hour; the
  sends of this hour and the last are read (2 × SEND_LIMIT keys) and those within the
  past hour counted, so the limit is a sliding hour;
- checks: ``verify-check:<send row id>:<n>``, n = 1..CHECK_LIMIT: after CHECK_LIMIT
  wrong codes the verification is dead, and only a new code helps.

The ``subject`` is who asks (a web visitor: ``visitor:<id>``), so one visitor's limits
never block another's. But a new chat is a new visitor, so the phone or email itself has
limits too, whoever asks: TARGET_SEND_LIMIT codes and TARGET_CHECK_LIMIT tries in any
hour. Otherwise anyone could keep guessing a code (Twilio Verify sends the same pending
code again to a number asked for again) and keep texting its owner by opening new chats.
Those are kept as metric events under keys unique per account
(``verification.target_send:<digest of the address>:<hour>:<n>``), exact lookups too;
a visitor who wrote five wrong codes can still ask for a new one and try again, once.

Once a code is approved, :func:`join_verified` links the phone or email to the person's
customer, or merges that customer with the one who already owns it (``core.customers.merge``), and
remembers which identity was proven (``attributes["verified"]``).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.core import ports
from switchboard.core.customers.identity import InvalidAddress, add_stored_identity, find_identity, to_e164
from switchboard.core.customers.merge import merge_customers
from switchboard.core.outcomes import metrics
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import Account, Customer, Identity, IdentityKind, MetricEvent, OutboxCall
from switchboard.core.store.rows import insert_or_fetch

SEND_LIMIT = 5
SEND_WINDOW = timedelta(hours=1)
CHECK_LIMIT = 5
#: Per phone or email, whichever visitors ask: codes sent, and codes tried, in any hour.
TARGET_SEND_LIMIT = SEND_LIMIT
TARGET_CHECK_LIMIT = 2 * CHECK_LIMIT
TARGET_SEND = "verification.target_send"
TARGET_CHECK = "verification.target_check"
#: How long a sent code can be checked (Twilio Verify's default validity is 10 minutes).
CODE_VALIDITY = timedelta(minutes=10)
VENDOR = "twilio_verify"
KINDS = {"phone": IdentityKind.PHONE, "email": IdentityKind.EMAIL}
CHANNEL_OF = {"phone": "sms", "email": "email"}
EMAIL = re.compile(r"[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
                   r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.[a-z]{2,63}")


class VerificationError(Exception):
    """Why a code was not sent or not accepted, in words for the person who asked."""


class InvalidTarget(VerificationError):
    """Not a phone number or email address we can send a code to."""


class TooManySends(VerificationError):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WrongCode(VerificationError):
    def __init__(self, message: str, remaining: int) -> None:
        super().__init__(message)
        self.remaining = remaining


class TooManyTries(VerificationError):
    """CHECK_LIMIT wrong codes (or the vendor's own limit): this code is dead."""


class NoCodeSent(VerificationError):
    """Nothing to check: no code was sent to that address lately, or it expired."""


class Busy(VerificationError):
    """Two requests of one person raced for the same send or check: try again."""


@dataclass(frozen=True)
class Target:
    kind: str  # "phone" | "email"
    value: str  # E.164 or a lower-cased email address

    @property
    def identity_kind(self) -> IdentityKind:
        return KINDS[self.kind]

    @property
    def masked(self) -> str:
        return mask(self.kind, self.value)


def normalise(kind: object, raw: object, *, region: str | None = None) -> Target:
    """The address as stored and sent: E.164 for a phone (national forms read in
    ``region``), lower case for an email. Raises InvalidTarget naming what is wrong."""
    if kind not in KINDS:
        raise InvalidTarget("kind must be \"phone\" or \"email\"")
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 254:
        raise InvalidTarget(f"value must be a {kind} (a non-empty string of at most 254 characters)")
    if kind == "phone":
        try:
            return Target("phone", to_e164(raw.strip(), region))
        except InvalidAddress:
            raise InvalidTarget("value is not a phone number we can text: write it with its country code, "
                                "e.g. +44 7700 900123") from None
    email = raw.strip().lower()
    if not EMAIL.fullmatch(email):
        raise InvalidTarget("value is not an email address (name@example.com)")
    return Target("email", email)


def mask(kind: str, value: str) -> str:
    """What is shown back, enough to recognise: "+14155550100" → "+1•••••••0100",
    "ada@example.com" → "a••@example.com"."""
    if kind == "email":
        name, _, domain = value.partition("@")
        return f"{name[:1]}{'•' * max(2, len(name) - 1)}@{domain}"
    return f"{value[:2]}{'•' * max(0, len(value) - 6)}{value[-4:]}"


# -- sending --------------------------------------------------------------------------------

def _send_keys(subject: str, now: datetime) -> list[str]:
    hour = int(now.timestamp() // SEND_WINDOW.total_seconds())
    return [f"verify-send:{subject}:{h}:{n}" for h in (hour - 1, hour) for n in range(1, SEND_LIMIT + 1)]


def _sends(session: Session, account_id: int, subject: str, now: datetime) -> list[OutboxCall]:
    """This subject's sends of this clock hour and the last, oldest first."""
    return list(session.scalars(select(OutboxCall).where(
        OutboxCall.account_id == account_id, OutboxCall.idempotency_key.in_(_send_keys(subject, now)))
        .order_by(OutboxCall.id)))


def send_code(session: Session, account: Account, settings: Settings, *, subject: str, target: Target,
              locale: str | None = None, now: datetime | None = None) -> OutboxCall:
    """Have the vendor send a code to ``target``; returns the recorded send. At most
    SEND_LIMIT per subject in any hour (TooManySends carries when the next may go).
    Vendor errors (``ports.VendorError``/``VendorUnavailable``) are the caller's to word."""
    now = now or datetime.now(UTC)
    sends = _sends(session, account.id, subject, now)
    recent = [s for s in sends if s.created_at > now - SEND_WINDOW]
    if len(recent) >= SEND_LIMIT:
        wait = (recent[0].created_at + SEND_WINDOW - now).total_seconds()
        raise TooManySends(f"{SEND_LIMIT} codes were sent in the last hour: try again in "
                           f"{max(1, round(wait / 60))} minute(s)", retry_after=max(1.0, wait))
    busy_for = _take_target_slot(session, account.id, TARGET_SEND, target, TARGET_SEND_LIMIT, now)
    if busy_for is not None:
        raise TooManySends(f"{TARGET_SEND_LIMIT} codes were sent to that {target.kind} in the last hour: try again "
                           f"in {max(1, round(busy_for / 60))} minute(s)", retry_after=max(1.0, busy_for))
    hour = int(now.timestamp() // SEND_WINDOW.total_seconds())
    taken = {s.idempotency_key for s in sends}
    key = next(k for n in range(1, SEND_LIMIT + 1) if (k := f"verify-send:{subject}:{hour}:{n}") not in taken)
    result = _verifier(session, account, settings).start(to=target.value, channel=CHANNEL_OF[target.kind],
                                                         idempotency_key=key, locale=locale)
    if result.repeated and result.call.payload.get("to") != target.value:
        raise Busy("another request is sending a code right now: try again")
    audit(session, account_id=account.id, actor=subject, action="verification.sent",
          subject_type="outbox_call", subject_id=result.call.id, detail={"kind": target.kind})
    return result.call


# -- checking -------------------------------------------------------------------------------

def _latest_send(session: Session, account_id: int, subject: str, target: Target, now: datetime) -> OutboxCall:
    for sent in reversed(_sends(session, account_id, subject, now)):
        if sent.payload.get("to") != target.value:
            continue
        if sent.status not in ("sent", "sandboxed") or not (sent.response or {}).get("sid"):
            break
        if sent.created_at <= now - CODE_VALIDITY:
            raise NoCodeSent("that code has expired: ask for a new one")
        return sent
    raise NoCodeSent(f"no code was sent to that {target.kind} lately: ask for one first")


def check_code(session: Session, account: Account, settings: Settings, *, subject: str, target: Target,
               code: object, now: datetime | None = None) -> None:
    """Accept ``code`` for the latest code sent to ``target`` by ``subject``, or raise
    WrongCode (tries left), TooManyTries (the code is dead) or NoCodeSent. Every check
    is audited (kind and outcome only)."""
    now = now or datetime.now(UTC)
    if not isinstance(code, str) or not code.strip() or len(code.strip()) > 10 or not code.strip().isdigit():
        raise WrongCode("code must be the digits we sent", remaining=CHECK_LIMIT)
    sent = _latest_send(session, account.id, subject, target, now)
    keys = [f"verify-check:{sent.id}:{n}" for n in range(1, CHECK_LIMIT + 1)]
    checks = {c.idempotency_key: c for c in session.scalars(select(OutboxCall).where(
        OutboxCall.account_id == account.id, OutboxCall.idempotency_key.in_(keys)))}
    if any((c.response or {}).get("valid") for c in checks.values() if c.status in ("sent", "sandboxed")):
        return  # approved already: a repeat of the request that succeeded
    wrong = [c for c in checks.values() if c.status in ("sent", "sandboxed", "failed")]
    if len(wrong) >= CHECK_LIMIT:
        raise TooManyTries(f"{CHECK_LIMIT} wrong codes: this code no longer works. Ask for a new one")
    wait = _take_target_slot(session, account.id, TARGET_CHECK, target, TARGET_CHECK_LIMIT, now)
    if wait is not None:
        raise TooManyTries(f"{TARGET_CHECK_LIMIT} codes were tried for that {target.kind} in the last hour: try "
                           f"again in {max(1, round(wait / 60))} minute(s)")
    key = next(k for k in keys if k not in checks or checks[k].status not in ("sent", "sandboxed", "failed"))
    try:
        result = _verifier(session, account, settings).check(verification_sid=str((sent.response or {})["sid"]),
                                                             code=code.strip(), idempotency_key=key)
    except ports.VerificationGone as exc:
        _audit_check(session, account.id, subject, sent, target, "dead")
        raise TooManyTries(f"this code no longer works ({exc}). Ask for a new one") from None
    if result.repeated:
        raise Busy("another check of this code is running: try again")
    if not result.response.get("valid"):
        _audit_check(session, account.id, subject, sent, target, "wrong")
        remaining = max(CHECK_LIMIT - len(wrong) - 1, 0)
        if remaining == 0:
            raise WrongCode("That code is not right, and that was the last try: ask for a new code.", remaining=0)
        raise WrongCode(f"That code is not right: check the latest message we sent and try again "
                        f"({remaining} tries left).", remaining=remaining)
    _audit_check(session, account.id, subject, sent, target, "approved")


def _take_target_slot(session: Session, account_id: int, what: str, target: Target, limit: int,
                      now: datetime) -> float | None:
    """Count one ``what`` (a send, a try) against ``target``: None when taken, or the
    seconds until one of its ``limit`` slots of the sliding hour is free. Taken before
    the vendor is called, so a request that then fails still counts, and two requests
    racing for the last slot cannot both have it (the key is unique)."""
    digest = hashlib.sha256(f"{target.kind}:{target.value}".encode()).hexdigest()[:32]
    hour = int(now.timestamp() // SEND_WINDOW.total_seconds())
    keys = [f"{what}:{digest}:{h}:{n}" for h in (hour - 1, hour) for n in range(1, limit + 1)]
    taken = {event.dedupe_key: event.occurred_at for event in session.scalars(select(MetricEvent).where(
        MetricEvent.account_id == account_id, MetricEvent.dedupe_key.in_(keys)))}
    recent = sorted(at for at in taken.values() if at > now - SEND_WINDOW)
    if len(recent) >= limit:
        return (recent[0] + SEND_WINDOW - now).total_seconds()
    for key in keys[limit:]:  # this hour's
        if key not in taken and metrics.record(session, account_id, what, at=now, dedupe_key=key) is not None:
            return None
    return 60.0  # others took this hour's last slots meanwhile


def _audit_check(session: Session, account_id: int, subject: str, sent: OutboxCall, target: Target,
                 outcome: str) -> None:
    audit(session, account_id=account_id, actor=subject, action=f"verification.{outcome}",
          subject_type="outbox_call", subject_id=sent.id, detail={"kind": target.kind})


def _verifier(session: Session, account: Account, settings: Settings) -> ports.Verifier:
    factory = ports.current().verifier
    if factory is None:
        raise ports.PortsNotInstalled("No one-time code service is installed (Ports.verifier): "
                                      "switchboard.wiring.install() installs Twilio Verify.")
    return factory(session, account, settings)


# -- joining the customer who owns it ---------------------------------------------------------

def join_verified(session: Session, account_id: int, customer_id: int, target: Target, *, actor: str) -> int:
    """Give the proven ``target`` to customer ``customer_id``: link it when nobody has
    it, or merge with the customer who does (the older of the two survives). Returns
    the customer the person is now; idempotent, and safe when two requests race."""
    kind = target.identity_kind

    def owner() -> Identity | None:
        return find_identity(session, account_id, kind, target.value)

    identity = owner() or insert_or_fetch(
        # A concurrent link of the same value wins the unique key; then it is a merge.
        session, Identity(account_id=account_id, customer_id=customer_id, kind=kind, value=target.value), owner)[0]
    survivor = customer_id
    merged = identity.customer_id != customer_id
    if merged:
        survivor = merge_customers(session, account_id, customer_id, identity.customer_id, actor=actor,
                                   reason=f"verified_{target.kind}").survivor_id
    customer = session.get(Customer, survivor)
    assert customer is not None
    if identity.customer_id == customer.id:
        add_stored_identity(customer, identity)
    identity_id = identity.id
    verified: dict[str, Any] = dict((customer.attributes or {}).get("verified") or {})
    verified[target.kind] = identity_id
    customer.attributes = {**(customer.attributes or {}), "verified": verified,
                           "verified_latest": target.kind}
    audit(session, account_id=account_id, actor=actor, action="identity.verified", subject_type="customer",
          subject_id=survivor, detail={"kind": target.kind, "identity_id": identity_id,
                                       "merged": merged})
    session.flush()
    return survivor


def verified_identity(session: Session, customer: Customer, kind: str) -> Identity | None:
    """The customer's identity of ``kind`` proven by a code, if it is still theirs."""
    identity_id = ((customer.attributes or {}).get("verified") or {}).get(kind)
    identity = session.get(Identity, identity_id) if identity_id else None
    if identity is None or identity.customer_id != customer.id:
        return None
    return identity


def verified_summary(session: Session, customer: Customer) -> dict[str, str] | None:
    """``{"kind", "masked"}`` of the latest proven phone or email, or None: what a web
    visitor's session shows."""
    latest = (customer.attributes or {}).get("verified_latest")
    for kind in ([latest] if latest in KINDS else []) + list(KINDS):
        identity = verified_identity(session, customer, kind)
        if identity is not None:
            return {"kind": kind, "masked": mask(kind, identity.value)}
    return None
