"""The append-only audit log. The database refuses UPDATE and DELETE on it."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.models import AuditEntry


def audit(
    session: Session,
    *,
    account_id: int,
    actor: str,
    action: str,
    subject_type: str | None = None,
    subject_id: str | int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an entry to the caller's transaction (it commits with the change it records)."""
    entry = AuditEntry(
        account_id=account_id, actor=actor, action=action, subject_type=subject_type,
        subject_id=None if subject_id is None else str(subject_id), detail=detail or {},
        created_at=datetime.now(UTC),
    )
    session.add(entry)
    return entry


def entries(
    session: Session, account_id: int, *, subject_type: str | None = None,
    subject_id: str | None = None, limit: int = 200,
) -> Sequence[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.account_id == account_id)
    if subject_type:
        query = query.where(AuditEntry.subject_type == subject_type)
    if subject_id:
        query = query.where(AuditEntry.subject_id == subject_id)
    return session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)).all()
