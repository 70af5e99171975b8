"""`switchboard accounts` and `config`: the companies served and how each is connected."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import click

from switchboard.cli.base import ACCOUNT_OPTION, main, open_app
from switchboard.core import settings as config
from switchboard.core.errors import ConfigError, SwitchboardError
from switchboard.core.settings import load_settings, vault_reveal_rules

if TYPE_CHECKING:  # imported where used: `switchboard --help` need not load the models

    pass





@main.group()
def accounts() -> None:
    """Accounts (one per company helpdesk) and their API keys."""

@accounts.command("key")
@ACCOUNT_OPTION
@click.option("--name", default="cli", show_default=True,
              help="What the key is for (e.g. zendesk-app), to tell keys apart later.")
def accounts_key(slug: str, name: str) -> None:
    """Create an API key and print it (only its hash is stored)."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core import accounts as core
    from switchboard.intake.db import get_db

    with get_db(open_app()).session() as session:
        account = core.by_slug(session, slug)
        if account is None:
            raise click.ClickException(f"no account {slug!r}: see `switchboard accounts list`")
        click.echo(core.create_api_key(session, account, name))


@accounts.command("list")
def accounts_list() -> None:
    """List the accounts: slug, name, and the Zendesk subdomain, Twilio number and Slack
    workspace that route webhooks to each (tab-separated)."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core import accounts as core
    from switchboard.intake.db import get_db

    with get_db(open_app()).session() as session:
        for account in core.all_accounts(session):
            click.echo(f"{account.slug}\t{account.name}\tzendesk={account.zendesk_subdomain}\t"
                       f"twilio={account.twilio_phone_number}\tslack={account.slack_team_id}")


#: Lower-case letters, digits and hyphens, not starting with a hyphen; fits Account.slug.
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
#: The columns that tell accounts apart, each as the option that sets it.
UNIQUE_OPTIONS = {"zendesk_subdomain": "--zendesk-subdomain", "twilio_phone_number": "--twilio-phone-number",
                  "twilio_whatsapp_number": "--twilio-whatsapp-number", "slack_team_id": "--slack-team-id"}


def _slug(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Refuse a slug before the database is opened, naming the rule it breaks: it is
    typed in commands and URLs, where spaces and capitals only cause trouble."""
    if SLUG.fullmatch(value):
        return value
    wrong = [c for c in dict.fromkeys(value) if not (c == "-" or (c.isascii() and (c.islower() or c.isdigit())))]
    if wrong:
        problem = "has " + ", ".join(repr(c) for c in wrong)
    elif value.startswith("-"):
        problem = "starts with a hyphen"
    else:
        problem = "is empty" if not value else "is longer than 64 characters"
    raise click.BadParameter(f"{value!r} {problem}: a slug is lower-case letters, digits and hyphens "
                             "(not first), e.g. 'globex-eu'")


def _e164(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A Twilio number as Twilio writes it in webhooks (E.164; a WhatsApp sender as
    ``whatsapp:+E.164``), so inbound deliveries find the account. A number in another
    format is refused, not stored as typed and then never matched."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.accounts import whatsapp_address
    from switchboard.core.customers.identity import InvalidAddress, to_e164

    if not value:
        return value
    whatsapp = param.name == "twilio_whatsapp_number"
    raw = value.removeprefix("whatsapp:") if whatsapp else value
    try:
        number = to_e164(raw)
    except InvalidAddress:
        number = None
    if number is None or number != raw.replace(" ", "").replace("-", ""):
        raise click.BadParameter(f"{value!r} is not a number in E.164 form: write it as Twilio shows it, with the "
                                 "country code, e.g. +15005550006")
    return whatsapp_address(number) if whatsapp else number


@accounts.command("add")
@click.argument("slug", callback=_slug)
@click.option("--name", required=True, help="The company's name, as customers are told it.")
@click.option("--zendesk-subdomain", help="Its Zendesk subdomain (acme for acme.zendesk.com).")
@click.option("--twilio-account-sid", help="Its Twilio Account SID (AC…), or the subaccount's.")
@click.option("--twilio-phone-number", callback=_e164, help="Its Twilio SMS number, E.164 (+15005550006).")
@click.option("--twilio-whatsapp-number", callback=_e164,
              help="Its WhatsApp sender, E.164 (+14155238886; stored as whatsapp:+14155238886).")
@click.option("--slack-team-id", help="Its Slack workspace id (T…), for approvals and the digest.")
def accounts_add(slug: str, name: str, **fields: str | None) -> None:
    """Add a further account (the default one comes from the environment). SLUG is its
    short name in commands: lower-case letters, digits and hyphens."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    from switchboard.core.store.models import Account
    from switchboard.intake.db import get_db

    with get_db(open_app()).session() as session:
        if session.scalar(select(Account.id).where(Account.slug == slug)) is not None:
            raise click.ClickException(f"account {slug!r} already exists: see it with `switchboard accounts list`")
        for column, option in UNIQUE_OPTIONS.items():
            value = fields.get(column)
            owner = value and session.scalar(select(Account.slug).where(getattr(Account, column) == value))
            if owner:
                raise click.ClickException(f"{option} {value}: account {owner!r} already has it (one helpdesk is "
                                           "one account); see `switchboard accounts list`")
        session.add(Account(slug=slug, name=name, secrets={}, **fields))
        try:
            session.commit()
        except IntegrityError:  # another `accounts add` won the race since the checks above
            raise click.ClickException(f"account {slug!r} (or one with the same subdomain, number or team) was "
                                       "just added by someone else: see `switchboard accounts list`") from None
    click.echo(f"added {slug}; set its secrets with `switchboard accounts set-secret {slug} NAME`")


def _secret_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """NAME as it is stored (lower case), from either spelling a person has at hand: the
    environment variable the default account uses (SHOP_API_TOKEN, as actions.yaml names
    it) or the stored name (shop_api_token). Checked before --value is prompted for."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.accounts import settable_names
    from switchboard.core.actions.config import load_actions_config

    try:
        systems = load_actions_config(load_settings().actions_file).systems.values()
    except SwitchboardError as exc:
        raise click.ClickException(str(exc)) from None
    names = settable_names(system.auth.secret for system in systems if system.auth is not None)
    for stored, variable in names.items():
        if value.lower() == stored or value.upper() == variable:
            return stored
    raise click.BadParameter(f"{value!r} is not a secret or setting of an account; use one of "
                             f"{', '.join(names)} (or its environment variable, e.g. {names['twilio_auth_token']})")


@accounts.command("set-secret")
@click.argument("slug")
@click.argument("name", callback=_secret_name)
@click.option("--value", prompt=True, hide_input=True,
              help="The value; without it you are asked for it, unechoed, which keeps it out of shell history.")
def accounts_set_secret(slug: str, name: str, value: str) -> None:
    """Set a secret or setting NAME of account SLUG (the default account reads the
    environment instead).

    NAME, in any case, is one of twilio_auth_token, zendesk_webhook_secret,
    zendesk_api_token, slack_bot_token, zendesk_email, zendesk_app_public_key,
    slack_digest_channel, slack_approval_channel, outreach_approvers,
    outreach_quiet_hours, outreach_rate, voice_support_number, voice_support_queue,
    voice_hours, voice_timezone, voice_language, voice_name, vault_reveal, retention_days,
    webchat_origins, webchat_name, webchat_colour, webchat_greeting, twilio_verify_service_sid,
    kb_approvers, help_center_section_id, agent_handle_minutes, qa_rubric_file, guardrails_file,
    dispositions_file (a file's path, checked before it is stored), or the secret of a system in actions.yaml
    (shop_api_token); or the environment variable the default account reads for it
    (TWILIO_AUTH_TOKEN, SWITCHBOARD_SLACK_APPROVAL_CHANNEL, SHOP_API_TOKEN)."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core import accounts as core
    from switchboard.intake.db import get_db

    app = open_app()
    with get_db(app).session() as session:
        account = core.by_slug(session, slug)
        if account is None:
            raise click.ClickException(f"no account {slug!r}: see `switchboard accounts list`")
        if account.slug == core.DEFAULT_SLUG:
            variable = core.settable_names().get(name, name.upper())
            raise click.ClickException(f"the default account reads {variable} from the environment: set it there "
                                       "(further accounts are added with `switchboard accounts add`)")
        _check_setting(name, value, slug)
        _check_privacy_setting(name, value)
        _check_quality_file(name, value)
        core.set_setting(account, name, value, app.config["SETTINGS"])  # a secret is stored sealed
        session.commit()
    click.echo(f"{name} set for {slug}")


def _check_setting(name: str, value: str, slug: str) -> None:
    """Refuse a setting the account could not use, with the rule the environment's own
    variable is held to: a bad value stored here would only fail later, mid-campaign."""

    checks = {"outreach_rate": config.outreach_rate, "outreach_quiet_hours": config.outreach_quiet_hours,
              "outreach_approvers": config.outreach_approvers, "kb_approvers": config.outreach_approvers,
              "webchat_origins": config.webchat_origins,
              "webchat_colour": config.webchat_colour, "twilio_verify_service_sid": config.verify_service_sid,
              "agent_handle_minutes": config.handle_minutes}
    if name in checks:
        try:
            checks[name](value, f"{name} of account {slug!r}")
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None


def _check_quality_file(name: str, value: str) -> None:
    """A rubric, guardrail or disposition file is read on every conversation's end: one
    that is missing or does not parse is refused now, with its line and what to fix."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.quality.files import QualityFileError
    from switchboard.core.quality.policy import parse_policy
    from switchboard.core.quality.rubric import parse_rubric
    from switchboard.core.quality.wrapup import parse_taxonomy

    parse = {"qa_rubric_file": parse_rubric, "guardrails_file": parse_policy, "dispositions_file": parse_taxonomy}
    if name not in parse:
        return
    path = Path(value.strip()).expanduser()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"{name} {value!r}: cannot be read ({exc}); give the path of a UTF-8 YAML file "
                                 "that every web and worker host can read") from None
    try:
        parse[name](text, str(path))
    except QualityFileError as exc:
        raise click.BadParameter(f"{exc}; fix the file and set it again") from None


def _check_privacy_setting(name: str, value: str) -> None:
    """The vault and retention settings are read on use: a bad one is refused here, not
    when an agent clicks Reveal or the nightly purge runs."""

    if name == "vault_reveal":
        try:
            vault_reveal_rules(value, name="vault_reveal")
        except ConfigError as exc:
            raise click.BadParameter(str(exc)) from None
    elif name == "retention_days" and value.strip().lower() != "off" and not (
            value.strip().isdigit() and int(value) >= 1):
        raise click.BadParameter(f"retention_days {value!r}: use a number of days (1 or more), or off")


@main.command("config")
def show_config() -> None:
    """Print the effective settings, secrets masked, and each vendor's mode (live, or
    sandboxed because asked to or because its credentials are not set)."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core.accounts import DEFAULT_SLUG
    from switchboard.core.store.models import Account
    from switchboard.wiring import vendor_modes

    try:
        settings = load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    # The default account as every process makes it from the environment
    # (accounts.ensure_default_account), held in memory only: `config` writes nothing.
    default = Account(slug=DEFAULT_SLUG, zendesk_subdomain=settings.zendesk_subdomain,
                      twilio_account_sid=settings.twilio_account_sid, secrets={})
    click.echo(json.dumps({**settings.public(), "vendors": vendor_modes(default, settings)}, indent=2))
