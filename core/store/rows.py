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

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, Insert, Update, bindparam, insert, inspect, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from switchboard.core.store import unit_of_work

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
    return _inserted(session, _unless_taken(_dialect(session), model, returning_row=True), new)


def insert_new(session: Session, new: Row) -> Row:
    """``new`` inserted now, by one Core INSERT ... RETURNING, and returned as stored
    (defaults and id filled in; use it, not ``new``), persistent in the session and
    created by the unit of work in progress. For rows no unique key can collide on: a
    customer, a conversation, an outcome row of a conversation this unit opened (a new
    customer's first message makes all three). The ORM's flush of such a row took
    0.28-0.32 ms of CPU, this 0.21-0.26."""
    model: type = type(new)
    stored = _inserted(session, _insert_returning(model), new)
    if stored is None:  # a plain INSERT ... RETURNING returns its row or raises
        raise RuntimeError(f"INSERT of {model.__name__} returned no row")
    return stored


def _inserted(session: Session, statement: Insert, new: Row) -> Row | None:
    """``new``'s column values run through ``statement`` (an INSERT ... RETURNING every
    column), the row it returned made persistent and marked created; None if none."""
    model: type = type(new)
    _flush_first(session)
    given = vars(new)
    values = {column: given[attribute] for attribute, column in _columns(model) if attribute in given}
    row = session.execute(statement, values).first()
    if row is None:
        return None
    instance: Row = as_loaded(session, model, row._mapping)
    unit_of_work.mark_created(session, instance)
    return instance


@cache
def _insert_returning(model: type) -> Insert:
    table = model.__table__  # type: ignore[attr-defined]
    return insert(table).returning(*table.c)


def as_loaded(session: Session, model: type, stored: Mapping[Any, Any]) -> Any:
    """The ``model`` row a Core statement returned whole (``RETURNING`` every column),
    in the session as if the ORM had loaded it: every column known, nothing to flush.
    A copy the session already holds is brought up to date and returned instead, as a
    query with ``populate_existing`` would."""
    values = {attribute: stored[column] for attribute, column in _columns(model)}
    mapper: Any = inspect(model)
    held = session.identity_map.get(mapper.identity_key_from_primary_key(
        [stored[column.key] for column in mapper.primary_key]))
    if held is not None:
        for attribute, value in values.items():
            set_committed_value(held, attribute, value)
        return held
    instance = model(**values)
    make_transient_to_detached(instance)
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


def write_now(session: Session, row: Any, **values: Any) -> None:
    """Write ``values`` to ``row``'s columns now, in one UPDATE by primary key, and
    leave the row as if loaded with them: nothing for a flush to write again, and the
    row not marked changed (a changed row makes every later autoflush go through the
    ORM's whole flush, to find nothing to write).

    For the rows each message changes after reading them (its conversation's last
    message time, the message's language and enrichment, the outbox call's answer, the
    event's status): the ORM's flush of one changed row cost about 2.4 times the CPU
    of the UPDATE itself (0.24 against 0.10 ms, several times a message). A value the
    row already holds is not written; what else the row or the session has pending is
    left to the next flush (what ``values`` refer to is already stored). A row not
    stored yet (pending) only gets the values: its INSERT carries them."""
    state = inspect(row)
    if not state.persistent:
        for key, value in values.items():
            setattr(row, key, value)
        return
    current, expired = state.dict, state.expired_attributes
    # A column never set since the row was stored reads as None without a query; an
    # expired one is unknown, so written.
    changed = tuple(key for key, value in values.items()
                    if (current[key] != value if key in current else key in expired or value is not None))
    if not changed:
        return
    model: type = type(row)
    parameters = {f"new_{key}": values[key] for key in changed}
    parameters.update((f"key_{position}", value) for position, value in enumerate(state.identity))
    with session.no_autoflush:  # a flush would write this row's pending values first
        written = cast("CursorResult[Any]", session.execute(_update_of(model, changed), parameters))
    if written.rowcount != 1:  # what the ORM's flush says of a row deleted meanwhile
        raise StaleDataError(f"UPDATE of {model.__name__} {state.identity} expected to update 1 row; "
                             f"{written.rowcount} were matched")
    for key in changed:
        set_committed_value(row, key, values[key])


def column_values(row: Any) -> dict[str, Any]:
    """``row``'s column values by attribute name: to work on a plain copy and
    write back what changed with :func:`write_now`."""
    model: type = type(row)
    return {attribute: getattr(row, attribute) for attribute, _ in _columns(model)}


@cache
def _update_of(model: type, attributes: tuple[str, ...]) -> Update:
    """UPDATE of ``attributes``' columns of one ``model`` row by its primary key, built
    once per set of columns (the values come as parameters: building the statement
    and its cache key cost more than running it)."""
    mapper: Any = inspect(model)
    table = mapper.local_table
    column_of = {attribute: table.c[column] for attribute, column in _columns(model)}
    keys = [column == bindparam(f"key_{position}") for position, column in enumerate(mapper.primary_key)]
    return update(table).where(*keys).values(
        {column_of[attribute]: bindparam(f"new_{attribute}", type_=column_of[attribute].type)
         for attribute in attributes})


def insert_now(session: Session, model: type, values: dict[str, Any]) -> None:
    """Insert one ``model`` row holding ``values`` (by column) now, in the caller's
    transaction, as a Core INSERT: for rows that are written and not read back by the
    code that writes them (audit entries, one or more a message). The ORM's INSERT of
    the same row, at the next flush, cost about twice the CPU (0.29-0.40 against
    0.16-0.18 ms) and left a flush to do at the commit. Rows still pending in the
    session are flushed first, so the new row's foreign keys find them."""
    if session.new:
        session.flush()
    session.execute(_insert_of(model), values)


@cache
def _insert_of(model: type) -> Insert:
    return insert(model.__table__)  # type: ignore[attr-defined]
