"""Engine, sessions and migrations.

Views and tasks get a session scoped to the Flask app context, removed at teardown, so
a Celery task (which runs inside an app context) never leaks a connection.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from flask import Flask, current_app
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, scoped_session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = scoped_session(sessionmaker(self.engine, expire_on_commit=False))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A short-lived session for code running outside a request (CLI, threads)."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    def upgrade(self) -> None:
        upgrade(self.engine)

    def dispose(self) -> None:
        self.sessions.remove()
        self.engine.dispose()


def make_engine(url: str) -> Engine:
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        # pool_pre_ping: a restarted PostgreSQL is reconnected to without manual steps.
        kwargs.update(pool_pre_ping=True, pool_size=5, max_overflow=10)
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the web thread read while a task thread writes; foreign keys are off by
    # default in SQLite and we rely on them.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def init_app(app: Flask) -> None:
    database = Database(app.config["SETTINGS"].database_url)
    app.extensions["switchboard.db"] = database

    @app.teardown_appcontext
    def _remove_session(_exc: BaseException | None) -> None:
        database.sessions.remove()


def get_db(app: Flask | None = None) -> Database:
    return (app or current_app).extensions["switchboard.db"]


def session() -> Session:
    """The session of the current app context."""
    return get_db().sessions()
