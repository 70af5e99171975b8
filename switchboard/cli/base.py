"""What every `switchboard` command shares: the group, the app it opens, the account option."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click
from flask import Flask

from switchboard.core.errors import ConfigError

if TYPE_CHECKING:  # imported where used: `switchboard --help` need not load the models

    from switchboard.core.store.models import Account

#: A click command, or the function it is made from, as option decorators take it.
Command = TypeVar("Command", bound=Callable[..., Any])


def open_app(**config: object) -> Flask:
    """The app, as the command needs it; a configuration mistake is one line, not a traceback."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.app import create_app

    try:
        return create_app(config=dict(config))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


class _SwitchboardGroup(click.Group):
    """Every command that opens the database (through create_app, a migration or a later
    query) goes through here, so one that cannot be reached is one line naming the
    setting to check, never a driver's traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        # Imported when the command runs, not at the top: `switchboard --help` need not load them.
        from sqlalchemy.exc import OperationalError

        try:
            return super().invoke(ctx)
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            check = ("that its folder exists and is writable" if type(exc.orig).__module__.startswith("sqlite3")
                     else "that its server is running")
            raise click.ClickException(f"cannot use the database ({reason}): check SWITCHBOARD_DATABASE_URL "
                                       f"and {check}") from None


#: Every command that works on one account takes it the same way.
ACCOUNT_OPTION = click.option("--account", "slug", default="default", show_default=True,
                              help="The account to work on, by slug (see `switchboard accounts list`).")


@click.group(cls=_SwitchboardGroup)
def main() -> None:
    """Switchboard: AI self-service, handoff to Zendesk, agent assist and outreach."""

def account_named(app: Flask, slug: str = "default") -> Account:
    """The account `--account` names, or a message saying where to find the slugs."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core import accounts as core
    from switchboard.intake.db import get_db

    with get_db(app).session() as session:
        account = core.by_slug(session, slug)
    if account is None:
        raise click.ClickException(f"no account {slug!r}: see `switchboard accounts list`")
    return account


