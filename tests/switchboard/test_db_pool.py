"""The sessions' connection pool on PostgreSQL: a connection that sat idle is pinged
before it is lent (a restarted database is reconnected to), one returned a moment ago
is not (a ping per checkout cost a worker several round trips a message)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from switchboard import db


def _backend(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def _terminate(admin: Engine, pid: int) -> None:
    """What a database restart does to the pool's connection."""
    with admin.connect() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar() is True


@pytest.fixture
def engines(pg_url: str) -> Iterator[tuple[Engine, Engine]]:
    engine, admin = db.make_engine(pg_url), db.make_engine(pg_url)
    yield engine, admin
    engine.dispose()
    admin.dispose()


def test_an_idle_connection_the_database_dropped_is_replaced_before_it_is_lent(
        engines: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch) -> None:
    engine, admin = engines
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)  # every returned connection counts as idle
    dropped = _backend(engine)
    _terminate(admin, dropped)
    assert _backend(engine) != dropped  # pinged, found dead, replaced: the statement never saw it


def test_a_connection_used_a_moment_ago_is_lent_without_a_ping_and_a_drop_fails_one_statement(
        engines: tuple[Engine, Engine]) -> None:
    engine, admin = engines
    dropped = _backend(engine)
    _terminate(admin, dropped)
    with pytest.raises(OperationalError) as raised:
        _backend(engine)  # lent as it was: no ping within PING_AFTER_IDLE_SECONDS
    assert raised.value.connection_invalidated
    assert _backend(engine) != dropped  # SQLAlchemy dropped the pool's connections: the next works
