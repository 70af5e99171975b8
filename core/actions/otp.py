"""Proving a customer is who the phone on file says: a one-time code by SMS.

Self-service may not change or disclose anything on an account until the customer
replies with the code sent to the phone number we already have for them (never one
they just typed). Codes expire, allow a few attempts, and only a salted hash of
each is stored.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from switchboard.core.actions.policy import Verification
from switchboard.core.store.models import ActionExecution, Customer, CustomerVerification

CODE_REPLY = re.compile(r"^\s*(?:code\s*[:#]?\s*)?(\d{4,10})\s*[.!]?\s*$", re.IGNORECASE)
CheckResult = Literal["verified", "wrong", "failed", "expired"]


def _hash(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


@dataclass(frozen=True)
class Issued:
    verification: CustomerVerification
    code: str  # handed to the SMS and forgotten; never stored


def issue(session: Session, customer: Customer, execution: ActionExecution, rules: Verification) -> Issued:
    """A fresh code for ``execution``; earlier pending codes of the customer stop working."""
    now = datetime.now(UTC)
    session.execute(update(CustomerVerification)
                    .where(CustomerVerification.customer_id == customer.id, CustomerVerification.status == "pending")
                    .values(status="expired").execution_options(synchronize_session=False))
    code = f"{secrets.randbelow(10 ** rules.code_digits):0{rules.code_digits}d}"
    salt = secrets.token_hex(8)
    verification = CustomerVerification(
        account_id=customer.account_id, customer_id=customer.id, execution_id=execution.id,
        code_hash=_hash(salt, code), salt=salt, attempts=0, status="pending",
        expires_at=now + timedelta(minutes=rules.expires_after_minutes), created_at=now)
    session.add(verification)
    session.flush()
    return Issued(verification, code)


def pending(session: Session, customer: Customer) -> CustomerVerification | None:
    return session.scalar(select(CustomerVerification).where(
        CustomerVerification.customer_id == customer.id, CustomerVerification.status == "pending")
        .order_by(CustomerVerification.id.desc()).limit(1))


def looks_like_code(text: str) -> str | None:
    match = CODE_REPLY.match(text or "")
    return match.group(1) if match else None


def check(verification: CustomerVerification, code: str, rules: Verification) -> CheckResult:
    """Compare in constant time; count the attempt; expire or fail the code as needed."""
    now = datetime.now(UTC)
    if now >= verification.expires_at:
        verification.status = "expired"
        return "expired"
    verification.attempts += 1
    if hmac.compare_digest(verification.code_hash, _hash(verification.salt, code)):
        verification.status, verification.verified_at = "verified", now
        return "verified"
    if verification.attempts >= rules.max_attempts:
        verification.status = "failed"
        return "failed"
    return "wrong"


def is_verified(session: Session, customer: Customer, rules: Verification) -> bool:
    """A correct code within the policy's window counts for further actions."""
    if rules.valid_for_minutes <= 0:
        return False
    since = datetime.now(UTC) - timedelta(minutes=rules.valid_for_minutes)
    return session.scalar(select(CustomerVerification.id).where(
        CustomerVerification.customer_id == customer.id, CustomerVerification.status == "verified",
        CustomerVerification.verified_at >= since).limit(1)) is not None


def issued_within(session: Session, customer: Customer, period: timedelta) -> int:
    """Codes texted to this customer in the last ``period``: re-requests are capped, so
    nobody can flood a phone with codes or farm them for guessing."""
    since = datetime.now(UTC) - period
    return int(session.scalar(select(func.count(CustomerVerification.id)).where(
        CustomerVerification.customer_id == customer.id, CustomerVerification.created_at >= since)) or 0)
