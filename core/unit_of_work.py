"""One inbox event's processing as one unit for the session: the rows it loaded stay
loaded, and what it looked up once is not looked up again, however many commits the
event takes (an outbox call commits before the vendor is called)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.orm import Session

_HELD = "switchboard.unit_of_work.held"


@contextmanager
def holding_rows(session: Session) -> Iterator[None]:
    """Keep every row the session loads or stores until the block ends.

    The session's identity map holds rows weakly: a row the handler read and let go
    (the conversation's outcome row, the customer's identities) was read again by the
    next ``session.get`` of it, two or three times a message. Held, the session answers
    from memory, as it already did for rows a variable still held; nothing else changes
    (a query still reads the database, a commit still leaves rows loaded)."""
    if session.info.get(_HELD) is not None:  # nested: the outer block holds
        yield
        return
    session.info[_HELD] = []
    try:
        yield
    finally:
        del session.info[_HELD]


def current(session: Session) -> object | None:
    """A token for the unit of work in progress (None outside one): what a memo keyed
    by it knows stays valid until the unit ends."""
    return session.info.get(_HELD)


def _hold(session: Session, instance: object) -> None:
    held = session.info.get(_HELD)
    if held is not None:
        held.append(instance)


event.listen(Session, "loaded_as_persistent", _hold)
event.listen(Session, "pending_to_persistent", _hold)
