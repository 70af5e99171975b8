"""Engine, sessions and migrations.

Views and tasks get a session scoped to the Flask app context, removed at teardown, so
a Celery task (which runs inside an app context) never leaks a connection.
"""
from __future__ import annotations

import functools
import logging
import os
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import InterfaceError, InvalidatePoolError, OperationalError
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from switchboard.core.resources import package_path

if TYPE_CHECKING:
    from switchboard.core.settings import Settings

MIGRATIONS = package_path("migrations")
#: The largest id an ``Integer`` column holds on PostgreSQL. An id from a request beyond
#: it is not found (or refused by name) before it reaches the driver, which would fail.
MAX_ID = 2**31 - 1


class Database:
    def __init__(self, url: str, settings: Settings | None = None) -> None:
        self.url = url
        #: What migrations read beyond the schema (0019 seals secrets with the vault's keys).
        self.settings = settings
        self.engine = make_engine(url)
        self.sessions = scoped_session(sessionmaker(self.engine, expire_on_commit=False))
        self.intake = make_intake_engine(url)
        _databases.add(self)

    def forget_inherited_connections(self) -> None:
        """In a forked child: drop (without closing) the parent's pooled connections and
        session, so this process opens its own. Closing them would end the parent's
        transactions on a socket the two processes share."""
        self.sessions.registry.clear()
        self.engine.dispose(close=False)
        self.intake.dispose(close=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A short-lived session for code running outside a request (CLI, threads)."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    def upgrade(self) -> None:
        upgrade(self.engine, settings=self.settings)

    def dispose(self) -> None:
        self.sessions.remove()
        self.engine.dispose()
        self.intake.dispose()


#: Every Database of this process, for the fork hook below.
_databases: weakref.WeakSet[Database] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """Celery's prefork pool, gunicorn with --preload and multiprocessing all fork a
    parent that has already used the database (migrations, bootstrap, the sweeper). Two
    processes on one PostgreSQL socket read each other's replies: the first tasks fail
    with OperationalError/ProgrammingError and an event stays claimed until its lease
    ends. SQLAlchemy's advice is ``engine.dispose(close=False)`` in the child; doing it
    at fork time covers every way of forking. (redis-py pools check the pid themselves.)"""
    for database in list(_databases):
        database.forget_inherited_connections()


os.register_at_fork(after_in_child=_after_fork_in_child)


def make_engine(url: str) -> Engine:
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        _private_sqlite_file(url)
    else:
        kwargs.update(pool_size=5, max_overflow=10)
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        _ping_when_idle(engine)
    return engine


#: A pooled connection returned this recently is lent again without a ping first.
PING_AFTER_IDLE_SECONDS = 1.0
_RETURNED_AT = "switchboard.returned_at"


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's pool_pre_ping, for connections that sat idle: a restarted
    PostgreSQL is reconnected to without manual steps. pool_pre_ping pings at every
    checkout, and a session gives its connection back at every commit: a worker paid
    3.4 round trips a message for pings (0.05-0.10 ms of CPU each) on connections it
    had used a few milliseconds before. A database that restarts within the second
    after a connection's last use fails that connection's next statement instead;
    SQLAlchemy then drops the pool's connections, the task is retried or the webhook
    answers 503, and the vendor delivers again. (SQLAlchemy's documented recipe: a
    checkout listener raising DisconnectionError gets a fresh connection.)"""
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED_AT)
        if returned is None or time.monotonic() - returned < PING_AFTER_IDLE_SECONDS:
            return  # a new connection, or one in use a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_connection, None):
                raise InvalidatePoolError(f"the database dropped an idle connection: {exc}") from exc
            raise


def make_intake_engine(url: str) -> Engine:
    """The webhooks' engine, a pool apart from the sessions' (a request that holds a
    session connection never waits for a second one from the same pool).

    On PostgreSQL each INSERT (one delivery, or the several that arrived together:
    core.group_commit) commits by itself (autocommit: no BEGIN and COMMIT round trips);
    one thread of a process writes at a time, so the pool rarely lends more than one
    connection. Connections are not pinged before each use: one
    a database restart broke fails that one statement, SQLAlchemy then drops every
    connection of the pool, and the caller retries once (core.inbox.record_delivery),
    so no delivery pays for a ping to spare the rare restart a retry."""
    if url.startswith("sqlite"):
        return make_engine(url)
    return create_engine(url, future=True, isolation_level="AUTOCOMMIT", pool_size=5, max_overflow=10)


def _private_sqlite_file(url: str) -> None:
    """The embedded database holds every conversation, the vault's ciphertexts and the
    hashed keys: readable by its owner only. SQLite would create it with the process's
    umask (0644 as a rule); created here first, empty and 0600, it keeps that mode, and
    SQLite gives its -wal and -shm files the database file's mode. A file an earlier
    version left readable by others is narrowed the same way, with its -wal and -shm."""
    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return
    except FileExistsError:
        pass
    except OSError:
        return  # a folder that does not exist: SQLite's own error names it
    for name in (path, f"{path}-wal", f"{path}-shm"):
        try:
            if os.stat(name).st_mode & 0o077:
                os.chmod(name, 0o600)
        except OSError:
            continue  # absent, or another user's: not ours to change


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the web thread read while a task thread writes; foreign keys are off by
    # default in SQLite and we rely on them.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config(engine: Engine, settings: Settings | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    config.attributes["settings"] = settings  # None: a migration that needs them loads the environment's
    return config


def upgrade(engine: Engine, revision: str = "head", *, settings: Settings | None = None) -> None:
    command.upgrade(alembic_config(engine, settings), revision)


@functools.cache
def head_revision() -> str | None:
    """The newest migration this installation ships. Read once a process: the revision
    files are part of the installed package and do not change while it runs, and reading
    them (Alembic compiles all of them) costs about 50 ms, which every app start paid."""
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at (None: an empty database, never migrated)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def init_app(app: Flask) -> None:
    database = Database(app.config["SETTINGS"].database_url, app.config["SETTINGS"])
    app.extensions["switchboard.db"] = database

    @app.teardown_appcontext
    def _remove_session(_exc: BaseException | None) -> None:
        try:
            database.sessions.remove()
        except (OperationalError, InterfaceError) as exc:
            # The database dropped the session's connection during the request (a restart,
            # a failover): the rollback that closing starts with failed, so the connection
            # was neither closed nor given back, and the broken session is still the
            # context's. Invalidating closes it without a rollback and returns the
            # connection to the pool; the answer the request chose (a 503 from the
            # webhooks' handler) stands, where the error would have become gunicorn's 500.
            logging.getLogger(__name__).warning("session closed on a dropped database connection: %s",
                                                type(exc.orig).__name__ if exc.orig else type(exc).__name__)
            database.sessions.registry().invalidate()
            database.sessions.registry.clear()


def get_db(app: Flask | None = None) -> Database:
    return (app or current_app).extensions["switchboard.db"]


def session() -> Session:
    """The session of the current app context."""
    return get_db().sessions()
