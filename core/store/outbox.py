"""The outbox: every outbound vendor call, written down before it is made.

In sandbox mode the record is all that happens. Live, the record is the send intent:
its idempotency key is unique per account, so a task retried after a crash finds the
call already made (or at least already attempted) instead of sending twice.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from switchboard.core.store.models import OutboxCall
from switchboard.core.store.rows import insert_or_fetch, write_now


def record_call(
    session: Session,
    *,
    account_id: int,
    vendor: str,
    operation: str,
    payload: dict[str, Any],
    idempotency_key: str | None = None,
    attempting: bool = False,
    commit: bool = True,
) -> tuple[OutboxCall, bool]:
    """Returns (call, True) when new; (the earlier call, False) when the key was used.

    ``attempting``: a new row is stored already claimed for an attempt ("sending", its
    lease running from now), so the caller holds the right to call the vendor without
    the claim's own UPDATE, commit and re-read (:func:`claim` is for an earlier row).
    ``commit=False`` leaves the new row to the caller's commit: for a call that reaches
    nobody (the sandbox), where the record is the whole call and nothing outside the
    database must be protected from running twice."""
    now = datetime.now(UTC)
    call = OutboxCall(
        account_id=account_id, vendor=vendor, operation=operation, payload=payload,
        idempotency_key=idempotency_key, status="sending" if attempting else "pending",
        attempted_at=now if attempting else None, created_at=now,
    )
    stored, new = insert_or_fetch(session, call, lambda: session.scalar(select(OutboxCall).where(
        OutboxCall.account_id == account_id, OutboxCall.idempotency_key == idempotency_key)))
    if new and commit:
        session.commit()
    return stored, new


#: How long an attempt may stay unanswered before another worker may try again: a
#: worker killed mid-call leaves its claim behind, and this lease is what frees it.
ATTEMPT_LEASE = timedelta(minutes=2)


@dataclass(frozen=True)
class Attempt:
    """The right to call the vendor for one outbox row.

    ``taken_over_from`` is when the previous attempt began, if this one took over an
    attempt whose lease ran out: that worker may have died after the vendor accepted
    the call, so the caller must ask the vendor before calling again.
    """

    taken_over_from: datetime | None = None


def claim_attempt(session: Session, call: OutboxCall, *, now: datetime | None = None) -> bool:
    """Take the right to call the vendor for ``call``; False while another worker's
    attempt is in flight (two deliveries of one event, a double-clicked button)."""
    return claim(session, call, now=now) is not None


def claim(session: Session, call: OutboxCall, *, now: datetime | None = None) -> Attempt | None:
    """Like ``claim_attempt``, but says whether the claim took over a stale attempt.

    A fresh claim (a pending row) stays one UPDATE. A takeover is a compare-and-set on
    the stale ``attempted_at`` it read, so exactly one worker takes it over and knows
    when the attempt it replaces began.
    """
    now = now or datetime.now(UTC)
    fresh = cast("CursorResult[Any]", session.execute(
        update(OutboxCall)
        .where(OutboxCall.id == call.id, OutboxCall.status == "pending")
        .values(status="sending", attempted_at=now)
        .execution_options(synchronize_session=False)))
    if fresh.rowcount == 1:
        return _claimed(session, call, Attempt())
    stale_since = session.scalar(
        select(OutboxCall.attempted_at)
        .where(OutboxCall.id == call.id, OutboxCall.status == "sending",
               OutboxCall.attempted_at < now - ATTEMPT_LEASE))
    if stale_since is None:
        return _claimed(session, call, None)
    taken = cast("CursorResult[Any]", session.execute(
        update(OutboxCall)
        .where(OutboxCall.id == call.id, OutboxCall.status == "sending", OutboxCall.attempted_at == stale_since)
        .values(attempted_at=now)
        .execution_options(synchronize_session=False)))
    return _claimed(session, call, Attempt(taken_over_from=stale_since) if taken.rowcount == 1 else None)


def _claimed(session: Session, call: OutboxCall, attempt: Attempt | None) -> Attempt | None:
    """Commit the claim (or nothing) and show the caller the row as it now stands."""
    session.commit()
    session.refresh(call)
    return attempt


def give_back(session: Session, call: OutboxCall, attempt: Attempt, *, error: str) -> None:
    """Undo a takeover whose check with the vendor could not be made.

    The row goes back to the stale attempt it was (same ``attempted_at``), not to
    pending: the next attempt must take it over and ask the vendor again, never
    call it blindly as if nothing had been tried.
    """
    assert attempt.taken_over_from is not None, "only a takeover can be given back"
    call.status, call.attempted_at, call.error = "sending", attempt.taken_over_from, error
    session.commit()


def leave_in_flight(session: Session, call: OutboxCall, *, error: str) -> None:
    """Keep an attempt whose answer never came as it is: still "sending", its lease
    running from when it began. The vendor may have acted on it, so the next attempt
    must wait for the lease, take it over and ask the vendor, not call it blindly."""
    assert call.status == "sending", "only a claimed attempt can be left in flight"
    call.error = error
    session.commit()


def finish(
    session: Session, call: OutboxCall, *, status: str, response: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    sent = {"sent_at": datetime.now(UTC)} if status == "sent" else {}
    write_now(session, call, status=status, response=response, error=error, **sent)
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
