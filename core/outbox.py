"""The outbox: every outbound vendor call, written down before it is made.

In sandbox mode the record is all that happens. Live, the record is the send intent:
its idempotency key is unique per account, so a task retried after a crash finds the
call already made (or at least already attempted) instead of sending twice.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
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
