"""insert_or_fetch on SQLite and PostgreSQL: a new row in one statement, loaded as stored;
a taken key hands back the winner's row and keeps the caller's other work; a conflict
the lookup cannot explain is the database's own error. write_now: one UPDATE, the row
left clean; insert_new: one INSERT, its row clean and created by the unit of work; the
claim's Core UPDATE and the audit's Core INSERT."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, event, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from switchboard.core.store import inbox, unit_of_work
from switchboard.core.store.audit import audit
from switchboard.core.store.models import AuditEntry, Conversation, Customer, OutboxCall
from switchboard.core.store.rows import insert_new, insert_or_fetch, write_now
from switchboard.intake.db import get_db


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


def _statements_during(app: Flask) -> tuple[list[str], Any]:
    """The statements the session's engine runs from now on, and the listener to remove."""
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(get_db(app).engine, "before_cursor_execute", seen)
    return statements, seen


def test_write_now_is_one_update_and_leaves_nothing_for_the_flush(app: Flask) -> None:
    account_id = app.config["DEFAULT_ACCOUNT_ID"]
    with get_db(app).session() as session:
        call, _ = insert_or_fetch(session, _call(account_id, "w1"), lambda: _by_key(session, account_id, "w1"))
        session.commit()
        statements, seen = _statements_during(app)
        try:
            write_now(session, call, status="sandboxed", response={"sid": "SM1"})
            assert [s.split(" SET ")[0] for s in statements] == ["UPDATE outbox_calls"], statements
            assert call.status == "sandboxed" and call.response == {"sid": "SM1"}
            assert not session.dirty  # written: a flush has nothing to do for it
            write_now(session, call, status="sandboxed")  # the value it holds: nothing to write
            session.commit()
            assert [s.split(" ")[0] for s in statements] == ["UPDATE"], statements
        finally:
            event.remove(get_db(app).engine, "before_cursor_execute", seen)
    with get_db(app).session() as session:
        stored = _by_key(session, account_id, "w1")
        assert stored is not None and stored.status == "sandboxed" and stored.response == {"sid": "SM1"}


def test_write_now_leaves_the_rows_other_changes_to_the_flush_and_a_pending_row_to_its_insert(app: Flask) -> None:
    account_id = app.config["DEFAULT_ACCOUNT_ID"]
    with get_db(app).session() as session:
        call, _ = insert_or_fetch(session, _call(account_id, "w2"), lambda: _by_key(session, account_id, "w2"))
        call.error = "set the usual way"
        write_now(session, call, status="failed")
        assert session.dirty  # the error is still to be flushed
        pending = _call(account_id, "w3")
        session.add(pending)
        write_now(session, pending, status="sandboxed")
        session.commit()
    with get_db(app).session() as session:
        stored, inserted = _by_key(session, account_id, "w2"), _by_key(session, account_id, "w3")
        assert stored is not None and (stored.status, stored.error) == ("failed", "set the usual way")
        assert inserted is not None and inserted.status == "sandboxed"


def test_write_now_to_a_row_deleted_meanwhile_is_an_error(app: Flask) -> None:
    account_id = app.config["DEFAULT_ACCOUNT_ID"]
    with get_db(app).session() as session:
        call, _ = insert_or_fetch(session, _call(account_id, "w4"), lambda: _by_key(session, account_id, "w4"))
        session.commit()
        with get_db(app).session() as other:
            other.execute(delete(OutboxCall).where(OutboxCall.id == call.id))
            other.commit()
        with pytest.raises(StaleDataError):
            write_now(session, call, status="sent")


def test_a_claim_brings_a_copy_the_session_holds_up_to_date(app: Flask) -> None:
    account_id = app.config["DEFAULT_ACCOUNT_ID"]
    with get_db(app).session() as session:
        held, _ = inbox.record(session, account_id=account_id, vendor="twilio", kind="message",
                               dedupe_key="SMclaim", payload={"Body": "hi"})
        assert held.status == "received" and held.attempts == 0
        claimed = inbox.claimed(session, held.id)
        assert claimed is held and (held.status, held.attempts) == ("processing", 1)
        assert not session.dirty and inbox.claimed(session, held.id) is None  # held by this claim
    with get_db(app).session() as session:
        fresh = inbox.claimed(session, held.id, now=datetime.now(UTC) + inbox.CLAIM_LEASE * 2)  # lease over
        assert fresh is not None and fresh.attempts == 2 and fresh.payload == {"Body": "hi"}


def test_an_audit_entry_is_one_insert_in_the_callers_transaction(app: Flask) -> None:
    account_id = app.config["DEFAULT_ACCOUNT_ID"]
    with get_db(app).session() as session:
        session.scalar(select(AuditEntry.id).limit(1))  # the transaction is open before counting
        statements, seen = _statements_during(app)
        try:
            audit(session, account_id=account_id, actor="bot", action="rolled.back")
            session.rollback()
            audit(session, account_id=account_id, actor="bot", action="kept", subject_type="message", subject_id=7)
            session.commit()
        finally:
            event.remove(get_db(app).engine, "before_cursor_execute", seen)
        # Each written when asked (the rolled-back one too), nothing more at the commit.
        assert [s.split(" (")[0] for s in statements] == ["INSERT INTO audit_log"] * 2, statements
    with get_db(app).session() as session:
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.actor == "bot")).all()
        assert actions == ["kept"]
        kept = session.scalar(select(AuditEntry).where(AuditEntry.action == "kept"))
        assert kept is not None and kept.subject_id == "7" and kept.detail == {} and kept.created_at is not None


def test_insert_new_is_one_insert_whose_row_is_stored_clean_and_created_by_the_unit(app: Flask) -> None:
    account_id = app.config["DEFAULT_ACCOUNT_ID"]
    with get_db(app).session() as session:
        customer = insert_new(session, Customer(account_id=account_id, attributes={}))
        assert not unit_of_work.created(session, customer)  # outside a unit of work nothing is "created"
        with unit_of_work.holding_rows(session):
            statements, seen = _statements_during(app)
            try:
                conversation = insert_new(session, Conversation(account_id=account_id, customer_id=customer.id,
                                                                channel="sms", status="open"))
            finally:
                event.remove(get_db(app).engine, "before_cursor_execute", seen)
            assert [s.split(" (")[0] for s in statements] == ["INSERT INTO conversations"], statements
            # The database's id and the columns' defaults are on the row, which nothing left to flush.
            assert conversation.id is not None and conversation.started_at is not None
            assert inspect(conversation).persistent and not session.dirty and not session.new
            assert unit_of_work.created(session, conversation) and not unit_of_work.created(session, customer)
            conversation.status = "human"  # the session tracks it like a row it loaded
            session.commit()
        conversation_id = conversation.id
    with get_db(app).session() as session:
        stored = session.get(Conversation, conversation_id)
        assert stored is not None and stored.status == "human" and stored.customer_id == customer.id
