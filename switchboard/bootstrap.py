"""Start-up checks on the database: schema up to date, default account present."""
from __future__ import annotations

from filelock import FileLock
from flask import Flask
from sqlalchemy.engine import make_url

from switchboard.core.accounts import ensure_default_account
from switchboard.core.bot.escalation_file import PolicyError
from switchboard.core.calls.script import ScriptError, load_script
from switchboard.core.conversation.inbound import policy, routing
from switchboard.core.errors import ConfigError
from switchboard.core.helpdesk.routing import RoutingError
from switchboard.intake.db import current_revision, get_db, head_revision


def schema_is_current(app: Flask) -> bool:
    return current_revision(get_db(app).engine) == head_revision()


def init_app(app: Flask) -> None:
    database = get_db(app)
    if not schema_is_current(app):
        if database.url.startswith("sqlite"):
            _upgrade_embedded(app)  # the embedded default upgrades itself
        else:
            raise ConfigError(
                "the database schema is not up to date: run `switchboard db upgrade` "
                "(with the same SWITCHBOARD_DATABASE_URL) before starting Switchboard."
            )
    _check_policy_files(app)
    with database.session() as session:
        app.config["DEFAULT_ACCOUNT_ID"] = ensure_default_account(session, app.config["SETTINGS"]).id


def _upgrade_embedded(app: Flask) -> None:
    """Migrate the embedded SQLite database, one process at a time: gunicorn starts its
    workers at once, and two migrating together fail ("table accounts already exists"),
    which makes gunicorn shut the whole server down. The others wait on a lock file
    beside the database, then find the schema current."""
    database = get_db(app)
    path = make_url(database.url).database
    if not path or path == ":memory:":
        database.upgrade()  # a private database: nobody to race
        return
    with FileLock(f"{path}.migrate.lock"):
        if not schema_is_current(app):
            database.upgrade()


def _check_policy_files(app: Flask) -> None:
    """A bad escalation policy, routing file or call script stops start-up, naming line
    and field, instead of failing on the first customer message (or agent's line)."""
    settings = app.config["SETTINGS"]
    try:
        policy(settings)
        routing(settings)
        load_script(settings.call_script_file)
    except (PolicyError, RoutingError, ScriptError) as exc:
        raise ConfigError(str(exc)) from None
