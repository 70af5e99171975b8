"""`switchboard texts`: the words customers are sent, per language."""
from __future__ import annotations

from typing import TYPE_CHECKING

import click

from switchboard.cli.base import ACCOUNT_OPTION, main, open_app

if TYPE_CHECKING:  # imported where used: `switchboard --help` need not load the models

    pass





@main.group()
def texts() -> None:
    """The fixed texts customers receive, per language (message catalogs and overrides)."""

@texts.command("list")
@click.option("--language", default="en", show_default=True, help="Show the texts in this language (es, fr, de…).")
@ACCOUNT_OPTION
def texts_list(language: str, slug: str) -> None:
    """Every text's key and what a customer receives in LANGUAGE (with this account's overrides)."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core import accounts
    from switchboard.core.texts import i18n
    from switchboard.intake.db import get_db

    with get_db(open_app()).session() as session:
        account = accounts.by_slug(session, slug)
        if account is None:
            raise click.ClickException(f"no account {slug!r}: see `switchboard accounts list`")
        shown = i18n.texts_for(session, account.id, language)
        overridden = i18n.overrides(session, account.id).get(language, {})
        for key, source in sorted(i18n.load_all().items()):
            mark = " (override)" if key in overridden else ""
            click.echo(f"{key}{mark}: {shown(source)}")


@texts.command("set")
@click.argument("key")
@click.argument("text", required=False)
@click.option("--language", required=True, help="Two-letter language code (en, es, fr, de, pt, it…).")
@click.option("--remove", is_flag=True, help="Drop the override: the catalog's text is sent again.")
@ACCOUNT_OPTION
def texts_set(key: str, text: str | None, language: str, remove: bool, slug: str) -> None:
    """Override the text KEY in one language for an account (keep its {placeholders})."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core import accounts
    from switchboard.core.texts import i18n
    from switchboard.intake.db import get_db

    if (text is None) == (not remove):
        raise click.ClickException("give the new TEXT, or --remove to go back to the catalog's text")
    with get_db(open_app()).session() as session:
        account = accounts.by_slug(session, slug)
        if account is None:
            raise click.ClickException(f"no account {slug!r}: see `switchboard accounts list`")
        try:
            i18n.set_override(session, account.id, language, key, None if remove else text)
        except (i18n.UnknownText, i18n.InvalidOverride) as exc:
            raise click.ClickException(str(exc).strip("'\"")) from None
    click.echo(f"{key} ({language}): {'catalog text restored' if remove else 'override saved'}")


@texts.command("check")
def texts_check() -> None:
    """Fail when a catalog misses, or has a stale, translation of a text."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.texts import i18n

    problems = [p for language in i18n.CATALOG_LANGUAGES for p in i18n.catalog_problems(language)]
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        raise click.ClickException(f"{len(problems)} catalog problem(s)")
    click.echo(f"{len(i18n.load_all())} texts translated in {', '.join(i18n.CATALOG_LANGUAGES)}")
