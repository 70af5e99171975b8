"""gunicorn's workers each create the default account as they boot: on a fresh
PostgreSQL database two of them race, and the loser must take the winner's row instead
of failing to boot (gunicorn then shuts the whole server down: "Worker failed to boot")."""
from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from switchboard.core.accounts import DEFAULT_SLUG, ensure_default_account
from switchboard.core.settings import load_settings
from switchboard.core.store.models import Account
from switchboard.intake.db import make_engine
from tests.conftest import migrated_schema


@pytest.fixture
def fresh_pg() -> Iterator[str]:
    """A migrated schema with no account in it yet, as on a first start."""
    with migrated_schema("sb_boot_") as url:
        yield url


def test_a_worker_booting_beside_another_takes_its_default_account(fresh_pg: str) -> None:
    settings = load_settings({"SWITCHBOARD_DATABASE_URL": fresh_pg, "TWILIO_PHONE_NUMBER": "+15005550006"})
    engine = make_engine(fresh_pg)
    first, second = Session(engine), Session(engine)
    try:
        # The first worker has inserted the row and not yet committed.
        winner = Account(slug=DEFAULT_SLUG, name="Default account", secrets={})
        first.add(winner)
        first.flush()
        found: dict[str, object] = {}

        def boot() -> None:
            try:
                found["id"] = ensure_default_account(second, settings).id
            except Exception as error:  # noqa: BLE001 - the test reports what the boot raised
                found["error"] = error

        thread = threading.Thread(target=boot)
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive(), "the second insert should wait on the unique slug"
        first.commit()
        thread.join(timeout=10)
        assert not thread.is_alive()
        assert "error" not in found, found.get("error")
        assert found["id"] == winner.id
        with Session(engine) as check:
            assert check.scalar(select(func.count()).select_from(Account)) == 1
            stored = check.scalar(select(Account))
            assert stored is not None and stored.twilio_phone_number == "+15005550006"  # refreshed by the loser
    finally:
        first.close()
        second.close()
        engine.dispose()
