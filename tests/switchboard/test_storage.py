"""Guarantees the database itself gives: append-only audit, one row per delivery."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import Flask
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DatabaseError, IntegrityError

from switchboard.core.store import audit, inbox
from switchboard.core.store.models import AuditEntry, InboxEvent
from switchboard.intake.db import get_db


def test_audit_log_refuses_updates_and_deletes(app: Flask) -> None:
    account_id = app.config["DEFAULT_ACCOUNT_ID"]
    with get_db(app).session() as session:
        audit.audit(session, account_id=account_id, actor="agent:7", action="suggestion.inserted")
        session.commit()
        with pytest.raises(DatabaseError, match="append-only"):
            session.execute(update(AuditEntry).values(actor="someone else"))
            session.commit()
        session.rollback()
        with pytest.raises(DatabaseError, match="append-only"):
            session.execute(delete(AuditEntry))
            session.commit()
        session.rollback()
        assert session.scalars(select(AuditEntry.actor)).all() == ["agent:7"]


def test_concurrent_identical_deliveries_store_one_event(app: Flask) -> None:
    account_id = app.config["DEFAULT_ACCOUNT_ID"]

    def deliver(_: int) -> bool:
        with get_db(app).session() as session:
            return inbox.record(session, account_id=account_id, vendor="twilio", kind="twilio.message",
                                dedupe_key="SMsame", payload={"n": 1})[1]

    with ThreadPoolExecutor(max_workers=10) as pool:
        created = list(pool.map(deliver, range(30)))
    assert created.count(True) == 1
    with get_db(app).session() as session:
        assert session.scalar(select(func.count()).select_from(InboxEvent)) == 1
        assert session.scalars(select(InboxEvent)).one().duplicates == 29


def test_deliveries_stored_together_each_get_their_own_id_copies_and_old_keys_as_duplicates(app: Flask) -> None:
    account_id, engine = app.config["DEFAULT_ACCOUNT_ID"], get_db(app).intake

    def delivery(key: str) -> inbox.Delivery:
        return inbox.Delivery(account_id, "twilio", "twilio.message", key, {"MessageSid": key})

    [(old_id, old_new)] = inbox.record_deliveries(engine, [delivery("SMold")])
    outcomes = inbox.record_deliveries(engine, [delivery("SMa"), delivery("SMb"), delivery("SMa"), delivery("SMold")])
    with get_db(app).session() as session:
        stored = {e.dedupe_key: e for e in session.scalars(select(InboxEvent))}
    assert old_new is True
    assert outcomes == [(stored["SMa"].id, True), (stored["SMb"].id, True), (stored["SMa"].id, False),
                        (old_id, False)]
    assert {key: e.duplicates for key, e in stored.items()} == {"SMold": 1, "SMa": 1, "SMb": 0}


def test_a_delivery_the_database_refuses_fails_alone_and_the_others_of_its_batch_are_stored(app: Flask) -> None:
    account_id, engine = app.config["DEFAULT_ACCOUNT_ID"], get_db(app).intake
    good = inbox.Delivery(account_id, "twilio", "twilio.message", "SMgood", {})
    orphan = inbox.Delivery(account_id + 1000, "twilio", "twilio.message", "SMorphan", {})  # no such account
    also = inbox.Delivery(account_id, "twilio", "twilio.message", "SMalso", {})
    first, refused, second = inbox.record_deliveries(engine, [good, orphan, also])
    assert isinstance(refused, IntegrityError)
    with get_db(app).session() as session:
        stored = dict(session.execute(select(InboxEvent.dedupe_key, InboxEvent.id)).all())
    assert (first, second) == ((stored["SMgood"], True), (stored["SMalso"], True))


def test_concurrent_distinct_deliveries_each_get_the_id_of_their_own_row(app: Flask) -> None:
    account_id, engine = app.config["DEFAULT_ACCOUNT_ID"], get_db(app).intake

    def deliver(n: int) -> tuple[str, tuple[int, bool]]:
        key = f"SM{n:04d}"
        return key, inbox.record_delivery(engine, account_id=account_id, vendor="twilio", kind="twilio.message",
                                          dedupe_key=key, payload={"n": n})

    with ThreadPoolExecutor(max_workers=16) as pool:
        answered = dict(pool.map(deliver, range(400)))
    with get_db(app).session() as session:
        stored = dict(session.execute(select(InboxEvent.dedupe_key, InboxEvent.id)).all())
    assert answered == {key: (event_id, True) for key, event_id in stored.items()}
    assert len(stored) == 400


def test_a_stored_delivery_keeps_its_payload_as_the_json_object_it_was(app: Flask) -> None:
    account_id, engine = app.config["DEFAULT_ACCOUNT_ID"], get_db(app).intake
    payload = {"Body": "Où est mon colis ? 配達 ☕ \"quoted\" \\ back", "NumMedia": "0", "Nested": {"a": [1, None]}}
    [(event_id, new)] = inbox.record_deliveries(engine, [inbox.Delivery(account_id, "twilio", "twilio.message",
                                                                        "SMjson", payload)])
    with get_db(app).session() as session:
        event = session.get(InboxEvent, event_id)
        assert new and event is not None and event.payload == payload
        # Stored as an object the database can query, not as a JSON string.
        num_media = InboxEvent.payload["NumMedia"].as_string()
        assert session.scalar(select(num_media).where(InboxEvent.id == event_id)) == "0"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite has no server to drop it
def test_a_delivery_whose_pooled_connection_the_database_dropped_is_stored_on_a_new_one(app: Flask) -> None:
    account_id, engine = app.config["DEFAULT_ACCOUNT_ID"], get_db(app).intake

    def deliver(key: str) -> tuple[int, bool]:
        return inbox.record_deliveries(engine, [inbox.Delivery(account_id, "twilio", "twilio.message", key, {})])[0]

    deliver("SMbefore")  # the pool now holds a connection
    with engine.connect() as connection:
        backends = {connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()}
    with get_db(app).session() as session:  # as a database restart would: every webhook connection ends
        session.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY(:pids)"),
                        {"pids": list(backends)})
    event_id, new = deliver("SMafter")
    with get_db(app).session() as session:
        assert new and session.get(InboxEvent, event_id) is not None
        assert session.scalar(select(InboxEvent.dedupe_key).where(InboxEvent.id == event_id)) == "SMafter"


def test_a_claimed_event_is_not_processed_twice(app: Flask) -> None:
    account_id = app.config["DEFAULT_ACCOUNT_ID"]
    calls: list[int] = []
    with get_db(app).session() as session:
        event, _ = inbox.record(session, account_id=account_id, vendor="slack", kind="slack.test",
                                dedupe_key="k", payload={})
        handlers = {"slack.test": lambda s, e: calls.append(e.id)}
        assert inbox.process(session, event.id, handlers) == "done"
        assert inbox.process(session, event.id, handlers) == "done"
    assert calls == [event.id]


def test_failing_handler_leaves_the_event_for_a_retry_then_parks_it(app: Flask) -> None:
    account_id = app.config["DEFAULT_ACCOUNT_ID"]

    def broken(_s: object, _e: object) -> None:
        raise RuntimeError("vendor down")

    with get_db(app).session() as session:
        event, _ = inbox.record(session, account_id=account_id, vendor="slack", kind="slack.test",
                                dedupe_key="k2", payload={})
        for attempt in range(1, inbox.MAX_ATTEMPTS + 1):
            with pytest.raises(RuntimeError):
                inbox.process(session, event.id, {"slack.test": broken})
            session.expire_all()
            stored = session.get(InboxEvent, event.id)
            assert stored is not None and stored.attempts == attempt
            assert stored.status == ("failed" if attempt == inbox.MAX_ATTEMPTS else "received")
        assert "vendor down" in (stored.error or "")


def test_unknown_event_kinds_are_parked_with_a_named_error(app: Flask) -> None:
    from switchboard.tasks import handlers

    with app.app_context(), get_db(app).session() as session:
        event, _ = inbox.record(session, account_id=app.config["DEFAULT_ACCOUNT_ID"], vendor="twilio",
                                kind="twilio.fax", dedupe_key="FX1", payload={})
        with pytest.raises(inbox.UnknownEventKind):
            inbox.process(session, event.id, handlers())
        session.expire_all()
        stored = session.get(InboxEvent, event.id)
        assert stored is not None and stored.status == "failed" and "twilio.fax" in (stored.error or "")
