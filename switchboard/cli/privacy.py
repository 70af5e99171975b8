"""`switchboard audit` and `customers`: exports, erasure, retention and key rotation."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from switchboard.cli.base import ACCOUNT_OPTION, account_named, main, open_app

if TYPE_CHECKING:  # imported where used: `switchboard --help` need not load the models
    from sqlalchemy.orm import Session

    from switchboard.core.settings import Settings
    from switchboard.core.store.models import Account





@main.group()
def audit() -> None:
    """The append-only audit log."""

@audit.command("export")
@ACCOUNT_OPTION
@click.option("--ticket", help="Only entries about this Zendesk ticket.")
@click.option("--conversation", help="Only entries about this conversation.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True,
              help="One JSON object per line, or CSV for a spreadsheet.")
def audit_export(slug: str, ticket: str | None, conversation: str | None, fmt: str) -> None:
    """Write the audit trail to stdout, oldest first."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.store.audit import export
    from switchboard.intake.db import get_db

    for name, value in (("--ticket", ticket), ("--conversation", conversation)):
        if value is not None and not value.isdigit():
            raise click.ClickException(f"{name} {value!r}: give the number of a Zendesk ticket or conversation, "
                                       "e.g. --ticket 100017")
    app = open_app()
    account = account_named(app, slug)
    subject_type, subject_id = ("ticket", ticket) if ticket else (("conversation", conversation) if conversation
                                                                   else (None, None))
    with get_db(app).session() as session:
        click.echo(export(session, account.id, fmt=fmt, subject_type=subject_type, subject_id=subject_id), nl=False)


@main.group()
def customers() -> None:
    """Data-subject requests: erase or export one customer's data; vault keys and retention."""

def _customer_request(slug: str, identity: str, work: Callable[[Session, Account, Any, Settings], Any]) -> Any:
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.customer_data.subject_requests import UnknownCustomer, find_customer
    from switchboard.intake.db import get_db

    app = open_app()
    account = account_named(app, slug)
    with get_db(app).session() as session:
        account = session.merge(account)
        try:
            customer = find_customer(session, account.id, identity)
        except UnknownCustomer as exc:
            raise click.ClickException(str(exc)) from None
        result = work(session, account, customer, app.config["SETTINGS"])
        session.commit()
    return result


@customers.command("erase")
@click.argument("identity")
@ACCOUNT_OPTION
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def customers_erase(identity: str, slug: str, yes: bool) -> None:
    """Remove a customer's personal data everywhere it is stored (IDENTITY: a phone with its
    country code, an email, or customer:<id>); metrics and an audit entry stay."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.customer_data.subject_requests import erase
    from switchboard.core.pii.vault import vault_for

    if not yes:
        click.confirm(f"Erase every message, identity and vaulted value of {identity}? This cannot be undone",
                      abort=True)
    erased = _customer_request(slug, identity, lambda session, account, customer, settings: erase(
        session, account, customer, vault_for(settings), actor="cli"))
    click.echo(json.dumps({"erased": erased.rows}, indent=2))


@customers.command("export")
@click.argument("identity")
@ACCOUNT_OPTION
def customers_export(identity: str, slug: str) -> None:
    """Print everything stored about a customer as JSON (data-subject access)."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.customer_data.subject_requests import export
    from switchboard.core.pii.vault import vault_for

    data = _customer_request(slug, identity, lambda session, account, customer, settings: export(
        session, account, customer, vault_for(settings), actor="cli"))
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


#: How `customers purge` names what it purged (core.customer_data.subject_requests.purge_expired's keys).
PURGED_WORDS = {"vault_entries": "vaulted originals", "messages": "message texts", "suggestions": "suggestions",
                "inbox_events": "received webhook payloads", "outbox_calls": "outbound call payloads"}


@customers.command("purge")
@click.option("--json", "as_json", is_flag=True, help="The counts per account as JSON (accounts with none left out).")
def customers_purge(as_json: bool) -> None:
    """Run the retention purge now (beat runs it daily): originals and transcripts older
    than each account's retention period."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.accounts import all_accounts, secret_variable
    from switchboard.core.customer_data.subject_requests import purge_expired, retention_days
    from switchboard.intake.db import get_db

    app = open_app()
    settings = app.config["SETTINGS"]
    done: dict[str, dict[str, int]] = {}
    lines: list[str] = []
    with get_db(app).session() as session:
        for account in all_accounts(session):
            days = retention_days(account, settings)
            purged = purge_expired(session, account, settings)
            session.commit()
            if purged:
                done[account.slug] = purged
            if days is None:
                setting = secret_variable(account, "retention_days")
                lines.append(f"{account.slug}: nothing to purge: no retention period, everything is kept "
                             f"(set {setting})")
            elif not purged:
                lines.append(f"{account.slug}: nothing to purge: nothing older than {days} days")
            else:
                counts = ", ".join(f"{PURGED_WORDS.get(table, table)} {n}" for table, n in purged.items())
                lines.append(f"{account.slug}: purged what was older than {days} days: {counts}")
    click.echo(json.dumps(done, indent=2) if as_json else "\n".join(lines))


@customers.command("rotate-keys")
def customers_rotate_keys() -> None:
    """Re-encrypt every vaulted value, and the further accounts' secrets, with the newest
    key of SWITCHBOARD_VAULT_KEYS, after which the older keys can be removed."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.accounts import all_accounts, reseal_secrets
    from switchboard.core.pii.vault import rotate_all, vault_for
    from switchboard.intake.db import get_db

    app = open_app()
    with get_db(app).session() as session:
        vault = vault_for(app.config["SETTINGS"])
        count = rotate_all(session, vault)
        secrets = sum(reseal_secrets(account, vault) for account in all_accounts(session))
        session.commit()
    click.echo(f"{count} vaulted values re-encrypted with the newest key; {secrets} account secrets re-sealed")
