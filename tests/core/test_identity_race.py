"""Two first messages from one number, processed at the same moment by two processes,
make one customer: the second insert waits on the unique identity, then takes the
first customer instead of failing (which left the event unprocessed under gunicorn)."""
from __future__ import annotations

import threading
import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from switchboard.core.customers.identity import Address, resolve_customer
from switchboard.core.store.models import Account, Customer, Identity
from switchboard.intake.db import make_engine

NUMBER = "+14155550123"


def test_concurrent_first_contacts_resolve_to_one_customer(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        with Session(engine) as setup:
            # The session's PostgreSQL schema is shared with other tests: an account of our own.
            account = Account(slug=f"race-{uuid.uuid4().hex[:8]}", name="Race", secrets={})
            setup.add(account)
            setup.commit()
            account_id = account.id
        first, second = Session(engine), Session(engine)
        winner = resolve_customer(first, account_id, Address("whatsapp", NUMBER), wa_id="14155550123")
        found: dict[str, int] = {}

        def race() -> None:
            # Runs its lookup before the first commits: sees nothing, inserts, waits on
            # the unique index until the first transaction commits.
            found["id"] = resolve_customer(second, account_id, Address("whatsapp", NUMBER),
                                           wa_id="14155550123").id
            second.commit()

        thread = threading.Thread(target=race)
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive(), "the second insert should wait for the first transaction"
        first.commit()
        thread.join(timeout=10)
        assert not thread.is_alive()
        assert found["id"] == winner.id
        with Session(engine) as check:
            assert check.scalar(select(func.count()).select_from(Customer)
                                .where(Customer.account_id == account_id)) == 1
            assert check.scalar(select(func.count()).select_from(Identity)
                                .where(Identity.account_id == account_id)) == 2  # phone + WhatsApp id
        first.close()
        second.close()
    finally:
        engine.dispose()
