"""The sessions' connection pool on PostgreSQL: a connection that sat idle is pinged
before it is lent (a restarted database is reconnected to), one returned a moment ago
is not (a ping per checkout cost a worker several round trips a message)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from switchboard.app import create_app
from switchboard.core.settings import load_settings
from switchboard.intake import db

from ..conftest import base_env


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


def test_a_request_whose_connection_the_database_dropped_ends_cleanly_and_gives_it_back(
        pg_url: str, tmp_path: Path) -> None:
    """The soak run's PostgreSQL outage (bench/soak.py): a request's session held a
    connection in a transaction when the database dropped it. Closing the session at the
    end of the request must not raise (the answer the request chose stands, instead of
    gunicorn's bare 500), must give the connection back to the pool, and must leave no
    broken session behind for the next request."""
    app = create_app(load_settings(base_env(tmp_path, pg_url)), config={"TESTING": True})
    database, admin = db.get_db(app), db.make_engine(pg_url)
    try:
        with app.app_context():
            dropped = int(db.session().execute(text("SELECT pg_backend_pid()")).scalar_one())  # in a transaction
            _terminate(admin, dropped)
        assert database.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        with app.app_context():
            assert int(db.session().execute(text("SELECT pg_backend_pid()")).scalar_one()) != dropped
    finally:
        database.dispose()
        admin.dispose()
