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
from typing import TypeVar

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
