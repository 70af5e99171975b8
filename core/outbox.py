"""The outbox: every outbound vendor call, written down before it is made.

In sandbox mode the record is all that happens. Live, the record is the send intent:
its idempotency key is unique per account, so a task retried after a crash finds the
call already made (or at least already attempted) instead of sending twice.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from switchboard.models import OutboxCall


def record_call(
    session: Session,
    *,
    account_id: int,
    vendor: str,
    operation: str,
    payload: dict[str, Any],
    idempotency_key: str | None = None,
) -> tuple[OutboxCall, bool]:
    """Returns (call, True) when new; (the earlier call, False) when the key was used."""
    call = OutboxCall(
        account_id=account_id, vendor=vendor, operation=operation, payload=payload,
        idempotency_key=idempotency_key, status="pending", created_at=datetime.now(UTC),
    )
    try:
        with session.begin_nested():
            session.add(call)
        session.commit()
        return call, True
    except IntegrityError:
        session.rollback()
    earlier = session.scalar(
        select(OutboxCall).where(
            OutboxCall.account_id == account_id, OutboxCall.idempotency_key == idempotency_key
        )
    )
    assert earlier is not None
    return earlier, False


#: How long an attempt may stay unanswered before another worker may try again: a
#: worker killed mid-call leaves its claim behind, and this lease is what frees it.
ATTEMPT_LEASE = timedelta(minutes=2)


def claim_attempt(session: Session, call: OutboxCall, *, now: datetime | None = None) -> bool:
    """Take the right to call the vendor for ``call``; False while another worker's
    attempt is in flight (two deliveries of one event, a double-clicked button)."""
    now = now or datetime.now(UTC)
    result = session.execute(
        update(OutboxCall)
        .where(OutboxCall.id == call.id,
               or_(OutboxCall.status == "pending",
                   and_(OutboxCall.status == "sending", OutboxCall.attempted_at < now - ATTEMPT_LEASE)))
        .values(status="sending", attempted_at=now)
        .execution_options(synchronize_session=False))
    session.commit()
    session.refresh(call)
    return result.rowcount == 1


def finish(
    session: Session, call: OutboxCall, *, status: str, response: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    call.status, call.response, call.error = status, response, error
    if status == "sent":
        call.sent_at = datetime.now(UTC)
    session.commit()


def calls(session: Session, account_id: int, *, limit: int = 500) -> Sequence[OutboxCall]:
    """The newest ``limit`` calls of one account, oldest first."""
    newest = (
        select(OutboxCall.id)
        .where(OutboxCall.account_id == account_id)
        .order_by(OutboxCall.id.desc())
        .limit(limit)
        .subquery()
    )
    return session.scalars(
        select(OutboxCall).where(OutboxCall.id.in_(select(newest))).order_by(OutboxCall.id)
    ).all()


def as_json(call: OutboxCall) -> dict[str, Any]:
    """The documented outbox shape: vendor, operation, payload, created_at (+ status)."""
    return {
        "id": call.id,
        "vendor": call.vendor,
        "operation": call.operation,
        "payload": call.payload,
        "status": call.status,
        "created_at": call.created_at.isoformat(),
    }
