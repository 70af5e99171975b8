"""Two customers who turn out to be one person become one customer.

A web visitor starts as a customer of their own; when they prove by a one-time code
that a phone or email is theirs, and another customer already owns it, the two are
merged so the person has one timeline across web, SMS and WhatsApp.

The older customer survives (their id is the one Zendesk and earlier exports know).
Everything that points at the other customer moves to the survivor: every column of
every table with a foreign key to ``customers`` is found in the models' metadata, so a
table added later (web visitors, …) moves too without this module knowing it. Where a
table keeps one row per customer and something else (an outreach recipient per
campaign), the survivor's row is kept and the other's duplicate dropped. Then the
merged customer's row is deleted: a concurrent writer still holding its id fails on the
foreign key and its retry resolves the survivor through the moved identities, instead
of writing to a customer nobody will look at again.

Both customer rows are locked (ids in ascending order, so two merges of one pair never
deadlock) before anything moves: a merge racing another merge of the same pair waits,
then finds the merged customer gone and reports it as already done.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Column, CursorResult, Table, UniqueConstraint, delete, exists, select, update
from sqlalchemy.orm import Session, aliased

from switchboard.core.store.audit import audit
from switchboard.core.store.models import Base, Customer

CUSTOMERS = Customer.__table__


class MergeRefused(ValueError):
    """The two customers cannot be merged (another account, the same customer, unknown)."""


@dataclass(frozen=True)
class Merged:
    """What a merge did: who survived, who was folded in, how many rows moved per
    table (``moved``) and duplicates dropped (``dropped``); ``already`` when the other
    customer was already merged (a repeat or a lost race)."""

    survivor_id: int
    merged_id: int
    already: bool = False
    moved: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)


def customer_references() -> list[Column[Any]]:
    """Every column that points at a customer, from the models' metadata."""
    found: list[Column[Any]] = []
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table is CUSTOMERS and isinstance(fk.parent, Column):
                found.append(fk.parent)
    return found


def merge_customers(session: Session, account_id: int, first_id: int, second_id: int, *,
                    actor: str, reason: str) -> Merged:
    """Merge the customers ``first_id`` and ``second_id`` of ``account_id`` into the
    older of the two (earliest ``created_at``, then lowest id). Runs in the caller's
    transaction and is audited there (ids and counts only: never customer text).

    Idempotent: when one of them no longer exists (merged earlier, or by a concurrent
    request that won), nothing moves and ``already`` is set; the survivor is the one
    still there.
    """
    if first_id == second_id:
        raise MergeRefused(f"customer {first_id} cannot be merged into itself")
    session.flush()
    # The lock may wait for a concurrent merge: read the rows as they are once it is ours.
    rows = session.scalars(select(Customer).where(Customer.id.in_(sorted((first_id, second_id))))
                           .order_by(Customer.id).with_for_update()
                           .execution_options(populate_existing=True)).all()
    if any(row.account_id != account_id for row in rows):
        raise MergeRefused(f"customers {first_id} and {second_id} are not both of account {account_id}")
    if not rows:
        raise MergeRefused(f"neither customer {first_id} nor {second_id} exists in account {account_id}")
    if len(rows) == 1:
        gone = second_id if rows[0].id == first_id else first_id
        return Merged(survivor_id=rows[0].id, merged_id=gone, already=True)
    survivor, merged = sorted(rows, key=lambda c: (c.created_at, c.id))
    moved, dropped = _move_references(session, account_id, survivor.id, merged.id)
    _fill_profile(survivor, merged)
    merged_id = merged.id
    session.expunge(merged)
    session.execute(delete(Customer).where(Customer.id == merged_id, Customer.account_id == account_id))
    audit(session, account_id=account_id, actor=actor, action="customer.merged", subject_type="customer",
          subject_id=survivor.id, detail={"merged_customer_id": merged_id, "reason": reason,
                                          "moved": moved, "dropped": dropped})
    session.flush()
    # Loaded objects (identities, conversations) still say the merged customer: reload them.
    session.expire_all()
    return Merged(survivor_id=survivor.id, merged_id=merged_id, moved=moved, dropped=dropped)


def _move_references(session: Session, account_id: int, survivor_id: int,
                     merged_id: int) -> tuple[dict[str, int], dict[str, int]]:
    moved: dict[str, int] = {}
    dropped: dict[str, int] = {}
    for column in customer_references():
        table = column.table
        assert isinstance(table, Table)
        scope = [table.c.account_id == account_id] if "account_id" in table.c else []
        for others in _unique_partners(table, column):
            twin = aliased(table)
            clash = exists().where(twin.c[column.name] == survivor_id,
                                   *[twin.c[c.name] == table.c[c.name] for c in others])
            count = _rows(session, delete(table).where(column == merged_id, *scope, clash))
            if count:
                dropped[table.name] = dropped.get(table.name, 0) + count
        count = _rows(session, update(table).where(column == merged_id, *scope).values({column.name: survivor_id}))
        if count:
            moved[f"{table.name}.{column.name}"] = count
    return moved, dropped


def _rows(session: Session, statement: Any) -> int:
    return int(cast("CursorResult[Any]", session.execute(statement)).rowcount)


def _unique_partners(table: Table, column: Column[Any]) -> list[list[Column[Any]]]:
    """For each unique key of ``table`` that includes ``column``, its other columns:
    where the survivor already has a row with the same values, the merged customer's
    row would collide and is dropped instead of moved."""
    partners: list[list[Column[Any]]] = []
    keys = [list(c.columns) for c in table.constraints if isinstance(c, UniqueConstraint)]
    keys += [list(i.columns) for i in table.indexes if i.unique]
    for key in keys:
        if any(c is column for c in key):
            others = [c for c in key if c is not column]
            if others:
                partners.append(others)
    return partners


def _fill_profile(survivor: Customer, merged: Customer) -> None:
    """The survivor keeps what it has and takes what only the merged customer knew.
    An opt-out (STOP) on either stands: never message someone who asked not to be."""
    survivor.display_name = survivor.display_name or merged.display_name
    survivor.locale = survivor.locale or merged.locale
    survivor.timezone = survivor.timezone or merged.timezone
    survivor.created_at = min(survivor.created_at, merged.created_at)
    if merged.opted_out_at is not None:
        survivor.opted_out_at = _earliest(survivor.opted_out_at, merged.opted_out_at)
    mine, theirs = dict(survivor.attributes or {}), dict(merged.attributes or {})
    for key, value in theirs.items():
        if isinstance(value, dict) and isinstance(mine.get(key), dict):
            mine[key] = {**value, **mine[key]}
        else:
            mine.setdefault(key, value)
    survivor.attributes = mine


def _earliest(a: datetime | None, b: datetime) -> datetime:
    return b if a is None else min(a, b)

