"""insert_or_fetch on SQLite and PostgreSQL: a new row in one statement, loaded as stored;
a taken key hands back the winner's row and keeps the caller's other work; a conflict
the lookup cannot explain is the database's own error."""
from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from switchboard.core.rows import insert_or_fetch
from switchboard.db import get_db
from switchboard.models import AuditEntry, OutboxCall


def _call(account_id: int, key: str, **given: Any) -> OutboxCall:
    return OutboxCall(account_id=account_id, vendor="twilio", operation="messages.create",
                      payload={"Body": "hi"}, idempotency_key=key, **given)


def _by_key(session: Session, account_id: int, key: str) -> OutboxCall | None:
    return session.scalar(select(OutboxCall).where(OutboxCall.account_id == account_id,
                                                   OutboxCall.idempotency_key == key))


def test_a_new_row_is_one_statement_and_comes_back_as_stored(app: Flask) -> None:
    account_id = app.config["DEFAULT_ACCOUNT_ID"]
    database = get_db(app)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    with database.session() as session:
        session.scalar(select(OutboxCall.id).limit(1))  # the transaction is open before counting
        event.listen(database.engine, "before_cursor_execute", seen)
        try:
            stored, new = insert_or_fetch(session, _call(account_id, "k1"),
                                          lambda: _by_key(session, account_id, "k1"))
        finally:
            event.remove(database.engine, "before_cursor_execute", seen)
        assert new and len(statements) == 1 and statements[0].lstrip().upper().startswith("INSERT"), statements
        # The column defaults the database applied are on the returned row, which the
        # session tracks: a change to it is written by the next flush.
        assert stored.id is not None and stored.status == "pending" and stored.created_at is not None
        stored.status = "sandboxed"
        session.commit()
    with database.session() as session:
        assert _by_key(session, account_id, "k1").status == "sandboxed"  # type: ignore[union-attr]


def test_a_taken_key_returns_the_winners_row_and_keeps_the_callers_other_work(app: Flask) -> None:
    account_id = app.config["DEFAULT_ACCOUNT_ID"]
    with get_db(app).session() as session:
        first, new = insert_or_fetch(session, _call(account_id, "k2"), lambda: _by_key(session, account_id, "k2"))
        assert new
        session.commit()
    with get_db(app).session() as session:
        session.add(AuditEntry(account_id=account_id, actor="test", action="kept", subject_type="x",
                               subject_id="1", detail={}))
        again, new = insert_or_fetch(session, _call(account_id, "k2", status="sending"),
                                     lambda: _by_key(session, account_id, "k2"))
        assert not new and again.id == first.id and again.status == "pending"
        session.commit()
        assert session.scalar(select(AuditEntry.action).where(AuditEntry.action == "kept")) == "kept"
        assert len(session.scalars(select(OutboxCall).where(OutboxCall.idempotency_key == "k2")).all()) == 1


def test_a_conflict_the_lookup_cannot_explain_is_the_databases_error(app: Flask) -> None:
    account_id = app.config["DEFAULT_ACCOUNT_ID"]
    with get_db(app).session() as session:
        first, _ = insert_or_fetch(session, _call(account_id, "k3"), lambda: _by_key(session, account_id, "k3"))
        session.commit()
        session.expunge(first)
        with pytest.raises(IntegrityError):  # the same primary key, which the lookup does not look for
            insert_or_fetch(session, _call(account_id, "k4", id=first.id), lambda: _by_key(session, account_id, "k4"))
