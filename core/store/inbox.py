"""The inbox: every verified webhook delivery, recorded before the vendor's 2xx.

Recording is the only thing a webhook view does besides verifying; processing happens
later, by event id, exactly once:
- a unique (account, vendor, dedupe_key) turns duplicate deliveries into one row;
- a conditional UPDATE "claims" the row, so two workers handed the same id (a sweep
  re-enqueued it while the first copy was still queued) cannot both process it;
- the handler's writes and the "done" mark commit in one transaction;
- a claim older than the lease is taken back, so a worker killed mid-task does not
  strand its event.
"""
from __future__ import annotations

import json
import logging
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, partial
from typing import Any, cast

from sqlalchemy import Connection, Engine, Insert, Table, and_, bindparam, or_, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from switchboard.core.store.group_commit import GroupCommit
from switchboard.core.store.models import InboxEvent
from switchboard.core.store.rows import as_loaded, insert_or_fetch, write_now
from switchboard.core.store.unit_of_work import holding_rows

log = logging.getLogger(__name__)

Handler = Callable[[Session, InboxEvent], None]
CLAIM_LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8


class UnknownEventKind(LookupError):
    """No handler is registered for an event kind; the event is kept for inspection."""


def record(
    session: Session,
    *,
    account_id: int,
    vendor: str,
    kind: str,
    dedupe_key: str,
    payload: dict[str, Any],
) -> tuple[InboxEvent, bool]:
    """Store the event; returns (event, True) when new, (existing event, False) for a
    duplicate delivery. Commits, because the vendor's 2xx must mean "stored"."""
    event = InboxEvent(
        account_id=account_id, vendor=vendor, kind=kind, dedupe_key=dedupe_key[:200],
        payload=payload, status="received", received_at=datetime.now(UTC),
    )
    def find() -> InboxEvent | None:
        return session.scalar(select(InboxEvent).where(
            InboxEvent.account_id == account_id, InboxEvent.vendor == vendor,
            InboxEvent.dedupe_key == dedupe_key[:200]))

    stored, new = insert_or_fetch(session, event, find)
    if new:
        session.commit()
        return stored, True
    session.execute(
        update(InboxEvent)
        .where(InboxEvent.id == stored.id)
        .values(duplicates=InboxEvent.duplicates + 1)
    )
    session.commit()
    return stored, False


def record_delivery(engine: Engine, *, account_id: int, vendor: str, kind: str, dedupe_key: str,
                    payload: dict[str, Any]) -> tuple[int, bool]:
    """What :func:`record` does, for the webhook path: (event id, True) when new,
    (existing id, False) for a duplicate, committed before returning.

    Deliveries that reach this process together are stored together: one INSERT ...
    ON CONFLICT DO NOTHING RETURNING for all of them (core.group_commit), a statement
    compiled once, on ``engine``'s own connection (the webhooks' engine: on
    PostgreSQL autocommit, so the insert is its own transaction, one round trip).
    Through the ORM session the same insert cost three times the CPU, and the request
    holds nothing else the event must commit with."""
    return _writer(engine).submit(Delivery(account_id, vendor, kind, dedupe_key[:200], payload))


@dataclass(frozen=True)
class Delivery:
    """One verified webhook delivery, as the inbox stores it."""

    account_id: int
    vendor: str
    kind: str
    dedupe_key: str
    payload: dict[str, Any]

    @property
    def key(self) -> tuple[int, str, str]:
        """What makes two deliveries one event (the inbox's unique key)."""
        return self.account_id, self.vendor, self.dedupe_key

    def row(self, received_at: datetime) -> dict[str, Any]:
        return {"account_id": self.account_id, "vendor": self.vendor, "kind": self.kind,
                "dedupe_key": self.dedupe_key, "payload": self.payload, "status": "received",
                "received_at": received_at, "attempts": 0, "duplicates": 0}


_writers: weakref.WeakKeyDictionary[Engine, GroupCommit[Delivery, tuple[int, bool]]] = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


def _writer(engine: Engine) -> GroupCommit[Delivery, tuple[int, bool]]:
    writer = _writers.get(engine)
    if writer is None:
        with _writers_lock:
            writer = _writers.get(engine)
            if writer is None:
                writer = GroupCommit(partial(record_deliveries, engine), max_batch=DELIVERIES_PER_WRITE)
                _writers[engine] = writer
    return writer


#: The most deliveries one INSERT carries: a web process has a few threads, so more
#: rarely wait at once; the bound keeps a burst's statement (and its wait) short.
DELIVERIES_PER_WRITE = 32


def record_deliveries(engine: Engine, deliveries: Sequence[Delivery]) -> Sequence[tuple[int, bool] | Exception]:
    """The deliveries waiting together, stored in one statement: each one's (id, new),
    or the error its caller raises (so a 5xx makes the vendor retry). A batch the
    database refused is stored one delivery at a time, so one bad delivery cannot fail
    the others."""
    try:
        return _store_reconnecting(engine, deliveries)
    except SQLAlchemyError:
        if len(deliveries) == 1:
            raise
    outcomes: list[tuple[int, bool] | Exception] = []
    for delivery in deliveries:
        try:
            outcomes.extend(_store_reconnecting(engine, [delivery]))
        except SQLAlchemyError as exc:
            outcomes.append(exc)
    return outcomes


def _store_reconnecting(engine: Engine, deliveries: Sequence[Delivery]) -> list[tuple[int, bool]]:
    try:
        return _insert(engine, deliveries)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        # The database restarted since this pooled connection was opened; SQLAlchemy has
        # discarded the pool's connections, so the retry opens a new one.
        return _insert(engine, deliveries)


def _insert(engine: Engine, deliveries: Sequence[Delivery]) -> list[tuple[int, bool]]:
    now = datetime.now(UTC)
    rows = [d.row(now) for d in deliveries]
    if engine.dialect.name == "postgresql":
        new = _inserted_by_driver(engine, rows)
        if len(new) == len(deliveries):  # nearly every write: no duplicate among them
            return [(new[delivery.key], True) for delivery in deliveries]
        with engine.begin() as connection:
            outcomes = _outcomes(connection, deliveries, new)
    else:
        with engine.begin() as connection:
            stored = connection.execute(_NEW_EVENTS, rows).all()
            outcomes = _outcomes(connection, deliveries,
                                 {(row.account_id, row.vendor, row.dedupe_key): row.id for row in stored})
    # A row that collided and is gone again (deleted in between) is stored again, once
    # this transaction has ended (SQLite: it holds the database's write lock).
    return [outcome or _insert(engine, [delivery])[0] for outcome, delivery in zip(outcomes, deliveries, strict=True)]


def _outcomes(connection: Connection, deliveries: Sequence[Delivery],
              new: dict[tuple[int, str, str], int]) -> list[tuple[int, bool] | None]:
    """Each delivery's (id, new), from the rows its INSERT stored (``new``, by key),
    counting the others as duplicates; None for one whose row is gone again."""
    new = dict(new)
    outcomes: list[tuple[int, bool] | None] = []
    for delivery in deliveries:
        # The first of a key's deliveries got the row; a second copy in the same
        # batch, like one the table already held, is a duplicate.
        new_id = new.pop(delivery.key, None)
        if new_id is None:
            existing = connection.execute(_DUPLICATE, {"account": delivery.account_id, "vendor_": delivery.vendor,
                                                       "key": delivery.dedupe_key}).scalar()
            outcomes.append(None if existing is None else (existing, False))
        else:
            outcomes.append((new_id, True))
    return outcomes


def _inserted_by_driver(engine: Engine, rows: Sequence[Mapping[str, Any]]) -> dict[tuple[int, str, str], int]:
    """What :data:`_NEW_EVENTS` does on SQLite, for PostgreSQL, sent through the pooled
    connection's driver cursor: the same statement cost twice the CPU through
    SQLAlchemy's execution (0.19-0.21 against 0.11-0.13 ms a delivery, pool checkout
    included), a tenth of a webhook's. The id of each row stored, by key. Errors are
    SQLAlchemy's, as a Connection raises them (the webhook answers 503 on an
    OperationalError); a connection the database dropped is discarded with the rest of
    the pool, and ``connection_invalidated`` tells the caller to try again once."""
    statement = _driver_insert(tuple(rows[0]), len(rows))  # every row is a Delivery.row: the same columns
    parameters = [json.dumps(value) if column == "payload" else value for row in rows for column, value in row.items()]
    dbapi_error = engine.dialect.loaded_dbapi.Error
    pooled = None
    try:
        pooled = engine.raw_connection()
        cursor = pooled.cursor()
        try:
            cursor.execute(statement, parameters)
            return {(account_id, vendor, key): event_id for event_id, account_id, vendor, key in cursor.fetchall()}
        finally:
            cursor.close()
    except dbapi_error as exc:
        dropped = engine.dialect.is_disconnect(exc, pooled and pooled.dbapi_connection, None)
        if dropped and pooled is not None:
            pooled.invalidate(exc)
            engine.dispose()  # the pool's other connections went with the database
        raise DBAPIError.instance(statement, parameters, exc, dbapi_error, connection_invalidated=dropped,
                                  dialect=engine.dialect) from exc
    finally:
        if pooled is not None:
            pooled.close()


@cache
def _driver_insert(columns: tuple[str, ...], count: int) -> str:
    """The INSERT ... ON CONFLICT DO NOTHING RETURNING of ``count`` rows of ``columns``,
    in the driver's own parameter style (psycopg's %s); the payload goes as JSON text,
    as SQLAlchemy's JSONB type sends it."""
    row = "(" + ", ".join("%s::jsonb" if column == "payload" else "%s" for column in columns) + ")"
    return (f"INSERT INTO {_EVENTS.name} ({', '.join(columns)}) VALUES {', '.join([row] * count)} "
            "ON CONFLICT DO NOTHING RETURNING id, account_id, vendor, dedupe_key")


_EVENTS = cast(Table, InboxEvent.__table__)


#: The inbox insert on SQLite (PostgreSQL: :func:`_inserted_by_driver`), built once so
#: its compiled form is cached; for several rows SQLAlchemy sends one multi-row INSERT.
#: Each stored row comes back with its key; a row whose key was taken, as nothing.
_NEW_EVENTS: Insert = sqlite.insert(_EVENTS).on_conflict_do_nothing().returning(
    _EVENTS.c.id, _EVENTS.c.account_id, _EVENTS.c.vendor, _EVENTS.c.dedupe_key)


_DUPLICATE = (
    update(_EVENTS)
    .where(_EVENTS.c.account_id == bindparam("account"), _EVENTS.c.vendor == bindparam("vendor_"),
           _EVENTS.c.dedupe_key == bindparam("key"))
    .values(duplicates=_EVENTS.c.duplicates + 1)
    .returning(_EVENTS.c.id)
)


def claim(session: Session, event_id: int, *, now: datetime | None = None) -> bool:
    """Take the event for processing; False when it is done or another worker holds it."""
    return claimed(session, event_id, now=now) is not None


def claimed(session: Session, event_id: int, *, now: datetime | None = None) -> InboxEvent | None:
    """Take the event for processing and return it as the claim left it (UPDATE ...
    RETURNING: no second round trip to read it); None when it is done or another
    worker holds it."""
    now = now or datetime.now(UTC)
    row = session.execute(_CLAIM, {"claimed_id": event_id, "lease_start": now - CLAIM_LEASE,
                                   "claimed_now": now}).first()
    # As the claim left it; a copy loaded earlier in this session is brought up to date.
    event = None if row is None else as_loaded(session, InboxEvent, row._mapping)
    session.commit()
    return event


#: Built once: building the statement and its cache key cost more than running it. A
#: Core statement, the event made persistent from what it returns (rows.as_loaded): with
#: its commit, 0.46-0.52 ms of CPU where the ORM's UPDATE ... RETURNING of the entity
#: took 0.55-0.59.
_CLAIM = (
    update(_EVENTS)
    .where(
        _EVENTS.c.id == bindparam("claimed_id"),
        or_(
            _EVENTS.c.status == "received",
            and_(_EVENTS.c.status == "processing", _EVENTS.c.claimed_at < bindparam("lease_start")),
        ),
    )
    .values(status="processing", claimed_at=bindparam("claimed_now"), attempts=_EVENTS.c.attempts + 1)
    .returning(*_EVENTS.c)
)


def process(session: Session, event_id: int, handlers: Mapping[str, Handler]) -> str:
    """Run the event's handler once. Returns the event's resulting status.

    A handler failure is recorded and re-raised, so the caller (a Celery task) can
    retry with backoff; after MAX_ATTEMPTS the event is parked as ``failed``.
    """
    with holding_rows(session):
        return _process(session, event_id, handlers)


def _process(session: Session, event_id: int, handlers: Mapping[str, Handler]) -> str:
    try:
        event = claimed(session, event_id)
    except Exception:
        # A claim that failed (its connection dropped by a database restart) leaves the
        # session to be rolled back: a caller going on with it (the batch task's next
        # event) must find it usable, as after a handler's failure below.
        session.rollback()
        raise
    if event is None:
        event = session.get(InboxEvent, event_id)
        return event.status if event else "missing"
    attempts, kind = event.attempts, event.kind
    handler = handlers.get(kind)
    try:
        if handler is None:
            raise UnknownEventKind(
                f"no handler for {event.kind!r}; the event is kept as failed for inspection"
            )
        handler(session, event)
        write_now(session, event, status="done", processed_at=datetime.now(UTC), error=None)
        session.commit()
        return "done"
    except Exception as exc:
        session.rollback()
        final = isinstance(exc, UnknownEventKind) or attempts >= MAX_ATTEMPTS
        session.execute(
            update(InboxEvent)
            .where(InboxEvent.id == event_id)
            .values(status="failed" if final else "received", error=f"{type(exc).__name__}: {exc}"[:2000])
        )
        session.commit()
        log.warning("inbox event %s (%s) failed: %s", event_id, kind, type(exc).__name__)
        raise


def status(session: Session, event_id: int) -> str | None:
    return session.scalar(select(InboxEvent.status).where(InboxEvent.id == event_id))


def due_for_sweep(
    session: Session, *, older_than: timedelta, now: datetime | None = None, limit: int = 500
) -> list[int]:
    """Events accepted but not processed: their enqueue was lost (Redis down, worker
    killed) or their claim expired. The sweep enqueues them again."""
    now = now or datetime.now(UTC)
    rows = session.scalars(
        select(InboxEvent.id)
        .where(
            or_(
                and_(InboxEvent.status == "received", InboxEvent.received_at < now - older_than),
                and_(InboxEvent.status == "processing", InboxEvent.claimed_at < now - CLAIM_LEASE),
            )
        )
        .order_by(InboxEvent.id)
        .limit(limit)
    )
    return list(rows)
