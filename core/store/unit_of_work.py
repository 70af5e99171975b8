"""One inbox event's processing as one unit for the session: the rows it loaded stay
loaded, and what it looked up once is not looked up again, however many commits the
event takes (an outbox call commits before the vendor is called)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

_HELD = "switchboard.unit_of_work.held"
_CREATED = "switchboard.unit_of_work.created"


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
    session.info[_HELD], session.info[_CREATED] = [], set()
    try:
        yield
    finally:
        del session.info[_HELD], session.info[_CREATED]


def current(session: Session) -> object | None:
    """A token for the unit of work in progress (None outside one): what a memo keyed
    by it knows stays valid until the unit ends."""
    return session.info.get(_HELD)


def created(session: Session, instance: object) -> bool:
    """Whether the unit of work in progress inserted ``instance`` (False outside one, and
    for a row it loaded). Such a row has no history in the database beyond what this
    unit wrote, and that is in the session: a customer this message created has no
    earlier conversation, outcome or outreach delivery to look up."""
    made = session.info.get(_CREATED)
    return made is not None and id(instance) in made


def created_row(session: Session, model: type, key: Any) -> bool:
    """:func:`created` for the row of ``model`` with primary key ``key``, if the session
    holds it (never a query)."""
    if not session.info.get(_CREATED):
        return False
    instance = in_session(session, model, key)
    return instance is not None and created(session, instance)


def in_session(session: Session, model: type, key: Any) -> Any:
    """The row of ``model`` with primary key ``key`` if the session holds it, else None:
    never a query (for a row this unit would have created, and did not)."""
    return session.identity_map.get(identity_key(model, key))


def mark_created(session: Session, instance: object) -> None:
    """A row a Core INSERT stored and core.rows added to the session as loaded: created
    by this unit, as one the ORM's flush inserted (the session's event already holds it,
    so its id() names it alone until the unit ends)."""
    made = session.info.get(_CREATED)
    if made is not None:
        made.add(id(instance))


def _hold(session: Session, instance: object) -> None:
    held = session.info.get(_HELD)
    if held is not None:
        held.append(instance)


def _hold_created(session: Session, instance: object) -> None:
    # Held, the instance stays alive until the unit ends, so its id() names it alone.
    _hold(session, instance)
    made = session.info.get(_CREATED)
    if made is not None:
        made.add(id(instance))


event.listen(Session, "loaded_as_persistent", _hold)
# A row inserted by a Core statement and added as loaded (core.rows) is held like one read.
event.listen(Session, "detached_to_persistent", _hold)
event.listen(Session, "pending_to_persistent", _hold_created)
