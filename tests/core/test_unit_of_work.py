"""core.unit_of_work on SQLite and PostgreSQL: within one inbox event's unit of work the
rows it inserted are known as created (and only those), the rows it loaded stay loaded,
and nothing of it outlives the unit."""
from __future__ import annotations

import gc

from flask import Flask
from sqlalchemy import select

from switchboard.core.customers.identity import Address, _create_customer, resolve_customer
from switchboard.core.store import unit_of_work
from switchboard.core.store.models import Customer
from switchboard.intake.db import get_db


def test_rows_the_unit_inserted_are_created_and_rows_it_loaded_are_not(app: Flask) -> None:
    account_id = app.config["DEFAULT_ACCOUNT_ID"]
    with get_db(app).session() as session:
        existing = resolve_customer(session, account_id, Address("sms", "+14155550101"))
        session.commit()
        existing_id = existing.id
        del existing
        session.expunge_all()
        assert not unit_of_work.created(session, session.get(Customer, existing_id))  # outside a unit
        with unit_of_work.holding_rows(session):
            loaded = session.scalars(select(Customer).where(Customer.id == existing_id)).one()
            new = resolve_customer(session, account_id, Address("sms", "+14155550102"))
            session.commit()  # an event commits several times; the unit spans them
            assert unit_of_work.created(session, new)
            assert unit_of_work.created_row(session, Customer, new.id)
            assert not unit_of_work.created(session, loaded)
            assert not unit_of_work.created_row(session, Customer, existing_id)
            new_id = new.id
            del new, loaded
            gc.collect()
            # Held: the unit still answers from memory once the caller let go of the rows.
            assert unit_of_work.created_row(session, Customer, new_id)
        assert not unit_of_work.created_row(session, Customer, new_id)  # the unit ended


def test_the_loser_of_a_race_is_not_created_the_winners_row_is_not_either(app: Flask) -> None:
    """Two first messages from one number: the second unit's insert collides, and it
    takes the first unit's customer, which it loaded rather than inserted."""
    account_id = app.config["DEFAULT_ACCOUNT_ID"]
    database = get_db(app)
    with database.session() as first:
        winner = resolve_customer(first, account_id, Address("sms", "+14155550103"))
        first.commit()
        winner_id = winner.id
    with database.session() as second, unit_of_work.holding_rows(second):
        # The lookup ran before the winner committed (as in a race): insert straight away.
        taken = _create_customer(second, account_id, "+14155550103", None)
        assert taken.id == winner_id
        assert not unit_of_work.created(second, taken)
