"""Start-up checks on the database: schema up to date, default account present."""
from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask

from switchboard.core.accounts import ensure_default_account
from switchboard.db import alembic_config, get_db
from switchboard.errors import ConfigError


def schema_is_current(app: Flask) -> bool:
    database = get_db(app)
    head = ScriptDirectory.from_config(alembic_config(database.engine)).get_current_head()
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head


def init_app(app: Flask) -> None:
    database = get_db(app)
    if not schema_is_current(app):
        if database.url.startswith("sqlite"):
            database.upgrade()  # the embedded default upgrades itself
        else:
            raise ConfigError(
                "the database schema is not up to date: run `switchboard db upgrade` "
                "(with the same SWITCHBOARD_DATABASE_URL) before starting Switchboard."
            )
    with database.session() as session:
        app.config["DEFAULT_ACCOUNT_ID"] = ensure_default_account(session, app.config["SETTINGS"]).id
