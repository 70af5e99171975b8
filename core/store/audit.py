"""The append-only audit log. The database refuses UPDATE and DELETE on it."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, and_, cast, or_, select
from sqlalchemy.orm import Session

from switchboard.core.store.models import ActionExecution, AuditEntry, Conversation
from switchboard.core.store.rows import insert_now


def audit(
    session: Session,
    *,
    account_id: int,
    actor: str,
    action: str,
    subject_type: str | None = None,
    subject_id: str | int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add an entry to the caller's transaction (it commits with the change it records,
    or is rolled back with it). Written at once (rows.insert_now): every message the bot
    answers is audited, and the ORM's insert cost about twice the CPU."""
    insert_now(session, AuditEntry, {
        "account_id": account_id, "actor": actor, "action": action, "subject_type": subject_type,
        "subject_id": None if subject_id is None else str(subject_id), "detail": detail or {},
        "created_at": datetime.now(UTC)})


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


EXPORT_FIELDS = ("id", "created_at", "actor", "action", "subject_type", "subject_id", "detail")


def ticket_trail(session: Session, account_id: int, ticket_id: int, *, limit: int = 100_000) -> Sequence[AuditEntry]:
    """Everything audited about one Zendesk ticket, newest first: entries about the ticket,
    about the conversation handed over into it (the handoff, the bot's answers before it),
    and about the governed actions run for it."""
    conversations = select(cast(Conversation.id, String)).where(Conversation.account_id == account_id,
                                                                Conversation.zendesk_ticket_id == ticket_id)
    executions = select(cast(ActionExecution.id, String)).where(ActionExecution.account_id == account_id,
                                                                ActionExecution.zendesk_ticket_id == ticket_id)
    about = or_(
        and_(AuditEntry.subject_type == "ticket", AuditEntry.subject_id == str(ticket_id)),
        and_(AuditEntry.subject_type == "conversation", AuditEntry.subject_id.in_(conversations)),
        and_(AuditEntry.subject_type == "action_execution", AuditEntry.subject_id.in_(executions)),
    )
    return session.scalars(select(AuditEntry).where(AuditEntry.account_id == account_id, about)
                           .order_by(AuditEntry.id.desc()).limit(limit)).all()


def export(session: Session, account_id: int, *, fmt: str = "jsonl", subject_type: str | None = None,
           subject_id: str | None = None) -> str:
    """The audit trail oldest first, as JSON Lines or CSV (detail as a JSON column). A
    ticket's trail includes its conversation's and its governed actions' entries."""
    if subject_type == "ticket" and subject_id is not None and subject_id.isascii() and subject_id.isdigit():
        rows = list(reversed(ticket_trail(session, account_id, int(subject_id))))
    else:
        rows = list(reversed(entries(session, account_id, subject_type=subject_type, subject_id=subject_id,
                                     limit=100_000)))
    records = [{"id": e.id, "created_at": e.created_at.isoformat(), "actor": e.actor, "action": e.action,
                "subject_type": e.subject_type, "subject_id": e.subject_id, "detail": e.detail} for e in rows]
    if fmt == "jsonl":
        return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    for record in records:
        writer.writerow({**record, "detail": json.dumps(record["detail"], ensure_ascii=False)})
    return out.getvalue()
