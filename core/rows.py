"""Insert a row unless a concurrent writer already did: the one shape every idempotent
write in the core takes (inbox events, outbox calls, campaigns, governed actions,
customers and their identities).

Losing the race undoes only our insert, never the caller's other uncommitted work (ON
CONFLICT DO NOTHING for a single row, a savepoint for several); the winner's row, found
by the caller's lookup, is returned instead. Only the caller knows which unique key
collided, so it supplies the lookup; a collision the lookup cannot explain is a real
error and is raised as it came.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached

Row = TypeVar("Row")


def insert_or_fetch(session: Session, new: Row | Callable[[], Row],
                    find: Callable[[], Row | None]) -> tuple[Row, bool]:
    """Insert ``new`` (a row, or a function that adds related rows to the session and
    returns the one to hand back); returns (the stored row, True), or (the row
    ``find()`` returns, False) when a unique key was already taken.

    A single row is one INSERT ... ON CONFLICT DO NOTHING RETURNING, whose result is
    the row as stored, put in the session as if loaded (use the returned row, not
    ``new``): one round trip where a savepoint takes three, on paths that write an
    outbox call or an identity per message. A conflict the lookup cannot explain (the
    winner's row gone again, or another unique key) takes the savepoint path, which
    stores the row or raises the database's own error."""
    if not callable(new):
        stored = _stored(session, new)
        if stored is not None:
            return stored, True
        existing = find()
        if existing is not None:
            return existing, False
    return _insert_in_savepoint(session, new, find)


def _stored(session: Session, new: Row) -> Row | None:
    """``new`` inserted unless taken, as the row the database stored (its defaults and
    id filled in), persistent in the session; None when a unique key was taken.

    A Core statement and a row made persistent by hand: the ORM's own INSERT ...
    RETURNING of an entity (its bulk-insert path) cost twice the CPU for one row, on
    every message's timeline entries and outbox calls."""
    model: type = type(new)
    _flush_first(session)
    given = vars(new)
    values = {column: given[attribute] for attribute, column in _columns(model) if attribute in given}
    row = session.execute(_unless_taken(_dialect(session), model, returning_row=True), values).first()
    if row is None:
        return None
    stored = row._mapping
    instance: Row = model(**{attribute: stored[column] for attribute, column in _columns(model)})
    make_transient_to_detached(instance)  # as loaded: every column known, nothing to flush
    session.add(instance)
    return instance


def _flush_first(session: Session) -> None:
    """What the ORM's statements do before they run (a Core one does not): pending rows
    go first, so the new row's foreign keys find them and a lookup after a conflict sees
    them. Not inside ``session.no_autoflush``."""
    if session.autoflush:
        session.flush()


@cache
def _columns(model: type) -> tuple[tuple[str, str], ...]:
    """(attribute, column key) of each column ``model`` maps."""
    mapper: Any = inspect(model)
    return tuple((prop.key, prop.columns[0].key) for prop in mapper.column_attrs)


def _dialect(session: Session) -> str:
    return "postgresql" if session.get_bind().dialect.name == "postgresql" else "sqlite"


@cache
def _unless_taken(dialect: str, model: type, *, returning_row: bool) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING the row (or its id) into ``model``'s
    table, built once per model: the values come as the execution's parameters, so the
    statement object and its cache key are not built again for every row (they cost
    more than the insert)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = model.__table__  # type: ignore[attr-defined]
    return insert(table).on_conflict_do_nothing().returning(*table.c if returning_row else [table.c.id])


def _insert_in_savepoint(session: Session, new: Row | Callable[[], Row],
                         find: Callable[[], Row | None]) -> tuple[Row, bool]:
    try:
        with session.begin_nested():
            if callable(new):
                row = new()
            else:
                row = new
                session.add(row)
            session.flush()
        return row, True
    except IntegrityError:
        existing = find()
        if existing is None:
            raise
        return existing, False


def insert_unless_taken(session: Session, model: type, values: dict[str, Any]) -> Any:
    """The id of a new ``model`` row holding ``values`` (by column), or None when one of
    its unique keys is already taken: INSERT ... ON CONFLICT DO NOTHING RETURNING id, one
    round trip where :func:`insert_or_fetch` takes a savepoint, an insert and a release.
    For hot paths whose caller needs only to know whether the row is new."""
    _flush_first(session)
    return session.execute(_unless_taken(_dialect(session), model, returning_row=False), values).scalar()
