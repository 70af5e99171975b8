"""Insert a row unless a concurrent writer already did: the one shape every idempotent
write in the core takes (inbox events, outbox calls, campaigns, governed actions,
customers and their identities).

The insert runs in a savepoint, so losing the race undoes only our insert, never the
caller's other uncommitted work; the winner's row, found by the caller's lookup, is
returned instead. Only the caller knows which unique key collided, so it supplies the
lookup; a collision the lookup cannot explain is a real error and is raised as it came.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

Row = TypeVar("Row")


def insert_or_fetch(session: Session, new: Row | Callable[[], Row],
                    find: Callable[[], Row | None]) -> tuple[Row, bool]:
    """Insert ``new`` (a row, or a function that adds related rows to the session and
    returns the one to hand back); returns (that row, True), or (the row ``find()``
    returns, False) when a unique key was already taken."""
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
    """The id of a new ``model`` row holding ``values``, or None when one of its unique
    keys is already taken: INSERT ... ON CONFLICT DO NOTHING RETURNING id, one round
    trip where :func:`insert_or_fetch` takes a savepoint, an insert and a release. For
    hot paths whose caller needs only to know whether the row is new."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return session.scalar(dialect.insert(model).values(**values).on_conflict_do_nothing()
                          .returning(model.id))  # type: ignore[attr-defined]
