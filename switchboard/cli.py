"""The `switchboard` command."""
from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import click
from flask import Flask

from switchboard.config import load_settings
from switchboard.errors import ConfigError
from switchboard.resources import data_file, manifests_dir

if TYPE_CHECKING:  # imported where used: `switchboard --help` need not load the models
    from sqlalchemy.orm import Session

    from switchboard.config import Settings
    from switchboard.core.evaluation import Configuration, Outcome
    from switchboard.core.intents import TrainingSet
    from switchboard.core.records import Article
    from switchboard.models import Account

#: A click command, or the function it is made from, as option decorators take it.
Command = TypeVar("Command", bound=Callable[..., Any])


def _app(**config: object) -> Flask:
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


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 to be reached from other machines.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
def serve(host: str, port: int) -> None:
    """Serve the web app. Without SWITCHBOARD_REDIS_URL everything runs in this process."""
    app = _app()
    settings = app.config["SETTINGS"]
    runner = app.extensions.get("switchboard.runner")
    if runner is not None:
        runner.start_sweeper()
        ensure_sample_kb(app)
    from switchboard.access_log import werkzeug_request_handler
    from switchboard.core import accounts
    from switchboard.dashboard import API_KEY_FILE
    from switchboard.db import get_db
    from switchboard.private_files import create_private

    with get_db(app).session() as session:
        default = accounts.by_slug(session, accounts.DEFAULT_SLUG)
        assert default is not None
        default_id = default.id
        where = where_to_go(f"http://{host}:{port}", default, settings, answers_here=runner is not None)
        key_file = settings.data_dir / API_KEY_FILE
        create_private(key_file, lambda: accounts.create_api_key(session, default, "serve") + "\n")
    if runner is not None:  # this process answers the customers: load before the first one writes
        from switchboard.core.warmup import warm_up

        click.echo("Loading the models so the first answer is quick:", nl=False)
        with get_db(app).session() as session:
            for loaded in warm_up(session, default_id, settings):
                click.echo(f" {loaded.what} {loaded.seconds:.1f} s,", nl=False)
        click.echo(" done.")
    mode = "embedded (tasks in this process)" if settings.embedded else "with Redis workers"
    click.echo(f"Switchboard on http://{host}:{port} — {mode}; database {settings.database_url}")
    click.echo(f"API key for the default account is in {key_file}")
    click.echo("\n".join(where))
    app.run(host=host, port=port, threaded=True, use_reloader=False, request_handler=werkzeug_request_handler())


def where_to_go(base: str, default: Account, settings: Settings, *, answers_here: bool) -> list[str]:
    """What `serve` prints after it starts: the pages a newcomer tries first (README's
    tour), and why the playground is not among them when it is off."""
    from switchboard.playground import off_reason

    off = off_reason(default, settings) if answers_here else "the playground needs `switchboard serve` without Redis"
    lines = ["Try it:"]
    lines.append(f"  {base}/playground  play the customer on SMS or WhatsApp (this machine only)" if off is None
                 else f"  ({off})")
    lines += [f"  {base}/chat/demo  the web chat widget on a demo page",
              f"  {base}/dashboard  the supervisors' dashboard (sign in with the API key)",
              "  switchboard zendesk preview  the Zendesk sidebar app, run in another terminal"]
    return lines


@main.command()
@click.option("--concurrency", default=2, show_default=True, type=int,
              help="How many tasks this worker runs at once (worker processes).")
@click.option("--beat/--no-beat", default=True, show_default=True, help="Also run the periodic sweep.")
def worker(concurrency: int, beat: bool) -> None:
    """Run a Celery worker (and beat) against SWITCHBOARD_REDIS_URL."""
    settings = load_settings()
    if settings.embedded:
        raise click.ClickException("set SWITCHBOARD_REDIS_URL: without it tasks run inside `switchboard serve`")
    args = [sys.executable, "-m", "celery", "-A", "switchboard.worker", "worker",
            f"--concurrency={concurrency}", "--loglevel=INFO"]
    if beat:
        args.append("--beat")
    # Celery replaces this process (same pid) rather than running as its child: a process
    # manager's SIGTERM then reaches Celery itself, which finishes the tasks in hand (warm
    # shutdown) and exits. As a child it was orphaned, still running, when this one died.
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, args)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations to SWITCHBOARD_DATABASE_URL."""
    from switchboard.db import Database, current_revision

    settings = load_settings()
    database = Database(settings.database_url, settings)
    before = current_revision(database.engine)
    database.upgrade()
    after = current_revision(database.engine)
    if before == after:
        click.echo(f"database already at the newest migration ({after}): nothing to do")
    else:
        click.echo(f"database migrated from {before or 'empty'} to {after}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON list, newest last.")
@ACCOUNT_OPTION
def outbox(as_json: bool, slug: str) -> None:
    """Show the outbound calls recorded in the outbox."""
    from switchboard.core import accounts
    from switchboard.core import outbox as outbox_core
    from switchboard.db import get_db

    app = _app()
    with get_db(app).session() as session:
        account = accounts.by_slug(session, slug)
        if account is None:
            raise click.ClickException(f"no account {slug!r}")
        rows = [outbox_core.as_json(call) for call in outbox_core.calls(session, account.id)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['created_at']}  {row['vendor']:8} {row['operation']:20} {row['status']:9} "
                   f"{json.dumps(row['payload'])[:100]}")


@main.group()
def accounts() -> None:
    """Accounts (one per company helpdesk) and their API keys."""


@accounts.command("key")
@ACCOUNT_OPTION
@click.option("--name", default="cli", show_default=True,
              help="What the key is for (e.g. zendesk-app), to tell keys apart later.")
def accounts_key(slug: str, name: str) -> None:
    """Create an API key and print it (only its hash is stored)."""
    from switchboard.core import accounts as core
    from switchboard.db import get_db

    with get_db(_app()).session() as session:
        account = core.by_slug(session, slug)
        if account is None:
            raise click.ClickException(f"no account {slug!r}: see `switchboard accounts list`")
        click.echo(core.create_api_key(session, account, name))


@accounts.command("list")
def accounts_list() -> None:
    """List the accounts: slug, name, and the Zendesk subdomain, Twilio number and Slack
    workspace that route webhooks to each (tab-separated)."""
    from switchboard.core import accounts as core
    from switchboard.db import get_db

    with get_db(_app()).session() as session:
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
    from switchboard.core.accounts import whatsapp_address
    from switchboard.core.identity import InvalidAddress, to_e164

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
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    from switchboard.db import get_db
    from switchboard.models import Account

    with get_db(_app()).session() as session:
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
    from switchboard.core.accounts import settable_names
    from switchboard.core.actions.config import load_actions_config
    from switchboard.errors import SwitchboardError

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
    or the secret of a system in actions.yaml
    (shop_api_token); or the environment variable the default account reads for it
    (TWILIO_AUTH_TOKEN, SWITCHBOARD_SLACK_APPROVAL_CHANNEL, SHOP_API_TOKEN)."""
    from switchboard.core import accounts as core
    from switchboard.db import get_db

    app = _app()
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
        core.set_setting(account, name, value, app.config["SETTINGS"])  # a secret is stored sealed
        session.commit()
    click.echo(f"{name} set for {slug}")


def _check_setting(name: str, value: str, slug: str) -> None:
    """Refuse a setting the account could not use, with the rule the environment's own
    variable is held to: a bad value stored here would only fail later, mid-campaign."""
    from switchboard import config

    checks = {"outreach_rate": config.outreach_rate, "outreach_quiet_hours": config.outreach_quiet_hours,
              "outreach_approvers": config.outreach_approvers, "webchat_origins": config.webchat_origins,
              "webchat_colour": config.webchat_colour, "twilio_verify_service_sid": config.verify_service_sid}
    if name in checks:
        try:
            checks[name](value, f"{name} of account {slug!r}")
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None


def _check_privacy_setting(name: str, value: str) -> None:
    """The vault and retention settings are read on use: a bad one is refused here, not
    when an agent clicks Reveal or the nightly purge runs."""
    from switchboard.config import vault_reveal_rules

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
    from switchboard.core.accounts import DEFAULT_SLUG
    from switchboard.models import Account
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


def _default_account(app: Flask, slug: str = "default") -> Account:
    from switchboard.core import accounts as core
    from switchboard.db import get_db

    with get_db(app).session() as session:
        account = core.by_slug(session, slug)
    if account is None:
        raise click.ClickException(f"no account {slug!r}: see `switchboard accounts list`")
    return account


@main.group()
def kb() -> None:
    """The knowledge base self-service answers from."""


@kb.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@ACCOUNT_OPTION
def kb_import(path: Path, slug: str) -> None:
    """Load articles from a JSON/JSONL file or a folder of Markdown/HTML files.

    Re-importing updates changed articles by id and never duplicates them."""
    from switchboard.core.knowledge.calibration import expectation
    from switchboard.core.knowledge.errors import KnowledgeBaseFormatError
    from switchboard.core.knowledge.loaders import load_articles
    from switchboard.core.knowledge.service import KnowledgeBase
    from switchboard.db import get_db

    app = _app()
    account = _default_account(app, slug)
    try:
        articles = load_articles(path)
    except KnowledgeBaseFormatError as exc:
        raise click.ClickException(str(exc)) from None
    _check_links(articles)
    with get_db(app).session() as session, click.progressbar(
            length=len(articles), label=f"Importing {len(articles)} article{'' if len(articles) == 1 else 's'}") as bar:
        result = KnowledgeBase.of(session, account.id, app.config["SETTINGS"]).import_articles(
            articles, progress=bar.update)
    click.echo(f"{result.added} added, {result.updated} updated, {result.unchanged} unchanged; "
               f"{result.passages} passages indexed")
    _say_escaped(result.escaped)
    click.echo(expectation(result.calibration))


def _check_links(articles: Sequence[Article]) -> None:
    """An article's link is sent to customers as the answer's source (SMS, WhatsApp, the
    web chat, the agent's sidebar): only a web address may be one. A ``javascript:`` or
    ``data:`` link is refused before anything is imported, naming the article."""
    for article in articles:
        if article.url is None:
            continue
        parts = urlsplit(article.url)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise click.ClickException(
                f"article {article.id!r} ({article.title[:80]!r}) has the link {article.url[:100]!r}: an article's "
                "url must be an http:// or https:// address (customers are sent it as the source). Fix or remove "
                "its url and import again; nothing was imported.")


@kb.command("sync")
@ACCOUNT_OPTION
def kb_sync(slug: str) -> None:
    """Pull Zendesk Help Center articles changed since the last sync."""
    from switchboard.core import ports
    from switchboard.core.knowledge.calibration import expectation
    from switchboard.core.knowledge.service import KnowledgeBase
    from switchboard.db import get_db

    app = _app()
    settings = app.config["SETTINGS"]
    account = _default_account(app, slug)
    with get_db(app).session() as session:
        helpdesk = ports.current().helpdesk(session, account, settings)
        try:
            result = KnowledgeBase.of(session, account.id, settings).sync_help_center(helpdesk.help_center_pages)
        except ports.VendorRateLimited as exc:
            raise click.ClickException(f"Zendesk's rate limit: run the sync again in {exc.retry_after:.0f} s") from None
        except (ports.VendorError, ports.VendorUnavailable) as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"{result.added} added, {result.updated} updated or unpublished, {result.unchanged} unchanged; "
               f"{result.passages} passages indexed")
    _say_escaped(result.escaped)
    if result.passages:
        click.echo(expectation(result.calibration))


def _say_escaped(escaped: tuple[str, ...]) -> None:
    """Name the articles whose token-shaped text was escaped, so their authors can reword them."""
    if escaped:
        shown = ", ".join(escaped[:10]) + (f" and {len(escaped) - 10} more" if len(escaped) > 10 else "")
        click.echo(f"{len(escaped)} article(s) contained text shaped like a vault token ([CARD_1]); it was stored "
                   f"as (CARD_1) so no reply can fill it with a customer's value: {shown}")


@kb.command("search")
@click.argument("question")
@ACCOUNT_OPTION
@click.option("-k", default=5, show_default=True, help="How many passages to show.")
def kb_search(question: str, slug: str, k: int) -> None:
    """Show what retrieval finds for a question, with its signals."""
    from switchboard.core.knowledge.service import KnowledgeBase, KnowledgeBaseEmpty
    from switchboard.db import get_db

    app = _app()
    account = _default_account(app, slug)
    with get_db(app).session() as session:
        try:
            hits = KnowledgeBase.of(session, account.id, app.config["SETTINGS"]).search(question, k=k)
        except KnowledgeBaseEmpty as exc:
            raise click.ClickException(str(exc)) from None
    for hit in hits:
        signals = " ".join(f"{name}={value:.2f}" for name, value in sorted(hit.signals.items()))
        click.echo(f"{hit.score:6.3f}  {hit.passage.title}  ({hit.passage.citation})  {signals}")


@kb.group("phrasings", invoke_without_command=True)
@ACCOUNT_OPTION
@click.option("--status", type=click.Choice(["active", "pending", "removed"]), help="Only phrasings in this state.")
@click.pass_context
def kb_phrasings(ctx: click.Context, slug: str, status: str | None) -> None:
    """What the bot learned of how customers ask for each article.

    A phrasing is active (retrieval uses it) once two different customers picked the
    same article off the bot's menu for the same question, or one agent vouched for it
    (inserted or thumbed up a suggestion, or linked the article in a reply); pending
    until then. Remove one with `switchboard kb phrasings remove ID`."""
    if ctx.invoked_subcommand is not None:
        return
    from switchboard.core.knowledge import phrasings
    from switchboard.db import get_db

    app = _app()
    account = _default_account(app, slug)
    with get_db(app).session() as session:
        found = phrasings.list_phrasings(session, account.id, status=status)
    if not found:
        click.echo(f"nothing learned yet for {account.slug}: phrasings come from customers' menu picks and "
                   "agents' verdicts on suggestions")
        return
    click.echo(f"{'ID':<6} {'STATUS':<8} {'EVIDENCE':<24} {'LEARNED (UTC)':<17} ARTICLE — PHRASING")
    for p in found:
        evidence = f"{_count(p.customers, 'customer')}, {_count(p.agents, 'agent')}"
        title = p.article_title or f"(article {p.article_id} is no longer in the knowledge base)"
        click.echo(f"{p.id:<6} {p.status:<8} {evidence:<24} {p.learned_at:%Y-%m-%d %H:%M} {title} — {p.text!r}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@kb_phrasings.command("remove")
@click.argument("phrasing_id", type=int)
@click.option("--account", "slug", default=None,
              help="The account to work on, by slug (default: the one given to `kb phrasings`, else default).")
@click.pass_context
def kb_phrasings_remove(ctx: click.Context, phrasing_id: int, slug: str | None) -> None:
    """Stop the bot using phrasing ID, for good: no evidence, old or new, brings it back."""
    from switchboard.core.knowledge import phrasings
    from switchboard.db import get_db

    app = _app()
    parent = ctx.parent.params.get("slug") if ctx.parent else None
    account = _default_account(app, slug or parent or "default")
    with get_db(app).session() as session:
        try:
            removed, now = phrasings.remove_phrasing(session, account.id, phrasing_id, actor="cli")
        except phrasings.PhrasingError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    if now:
        click.echo(f"removed phrasing {removed.id} ({removed.text!r} for article {removed.article_id}); "
                   "every process stops using it at its next message")
    else:
        click.echo(f"phrasing {removed.id} was already removed")


@main.group()
def intents() -> None:
    """The intent model that routes messages (and knows when it does not know)."""


@intents.command("fit", short_help="Fit the account's model on a CSV plus the shipped examples.")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@ACCOUNT_OPTION
@click.option("--replace", is_flag=True,
              help="Fit on the CSV's rows only, leaving out the shipped examples (greetings and thanks "
                   "included): the model then knows only what the CSV teaches it.")
def intents_fit(csv_file: Path, slug: str, replace: bool) -> None:
    """Fit the account's intent model on a CSV with columns text,category, added to the
    examples Switchboard ships (greetings, thanks, order status…). A row with the text of
    a shipped example takes its place; rows labelled oos train the out-of-scope detector.

    The model is used at once by every web process and worker. The last three fitted
    models are kept: `switchboard intents revert` goes back to the previous one."""
    from switchboard.core.intent_store import save_intent_model
    from switchboard.core.intent_vectors import intent_encoder, shipped_vectors
    from switchboard.core.intents import IntentDataError, IntentModel, read_training_csv, training_set
    from switchboard.core.knowledge.errors import EmbeddingsUnavailableError
    from switchboard.db import get_db

    app = _app()
    account = _default_account(app, slug)
    embeddings = app.config["SETTINGS"].embeddings
    try:
        # The model keeps its encoder for good: a fit never falls back to words alone.
        encoder = intent_encoder(embeddings)
    except EmbeddingsUnavailableError as exc:
        raise click.ClickException(f"{exc} (SWITCHBOARD_EMBEDDINGS={embeddings}: the intent model reads "
                                   "messages with this encoder)") from None
    try:
        texts, labels = read_training_csv(csv_file)
        training = training_set(texts, labels, replace=replace)
        model = IntentModel.fit(list(training.texts), list(training.labels), encoder=encoder,
                                known_vectors=shipped_vectors(encoder) if encoder is not None else None)
    except IntentDataError as exc:
        raise click.ClickException(str(exc)) from None
    with get_db(app).session() as session:
        version = save_intent_model(session, account.id, model, training, actor="cli")
    click.echo(_fitted_on(training))
    click.echo(f"{len(model.labels)} intents; out-of-scope below confidence {model.threshold:.2f}. Stored as "
               f"version {version}, used at once by every web process and worker; "
               f"`switchboard intents revert --account {slug}` goes back to the previous model.")


def _fitted_on(training: TrainingSet) -> str:
    """What the model learnt from, said so that nobody is surprised by what it no longer knows."""
    from switchboard.core.small_talk import SMALL_TALK_INTENTS

    new = (f"{len(training.new_intents)} new intent{'' if len(training.new_intents) == 1 else 's'}: "
           f"{', '.join(training.new_intents)}" if training.new_intents else "no new intents")
    if training.replace:
        missing = sorted(SMALL_TALK_INTENTS - training.your_intents)
        lost = (f" Greetings and thanks are no longer small talk unless your CSV teaches them: it has no "
                f"{' or '.join(missing)} rows, so \"hi\" or \"thanks so much\" goes to one of your intents "
                "or out of scope." if missing else "")
        return (f"Fitted on your {training.yours:,} examples only ({new}): --replace left out the shipped "
                f"examples (greetings, thanks, order status…), and this model knows none of them.{lost}")
    overridden = ""
    if training.overridden:
        overridden = (f"; {training.overridden:,} of yours had the text of a shipped example and took its place"
                      + (f", {training.relabelled:,} in another intent" if training.relabelled else ""))
    return (f"Fitted on {training.shipped:,} shipped examples + {training.yours:,} of yours "
            f"({new}{overridden}).")


@intents.command("revert", short_help="Go back to the account's previous model.")
@ACCOUNT_OPTION
def intents_revert(slug: str) -> None:
    """Go back to the account's previous intent model: the newest fitted one is discarded
    and the one fitted before it is used again, or the shipped default when no earlier
    one is kept. Each revert goes one more step back (it never returns to the model it
    discarded: fit that CSV again for it). Used at once by every web process and worker."""
    from switchboard.core.intent_store import NothingToRevert, RevertRaced, revert_intent_model
    from switchboard.db import get_db

    app = _app()
    account = _default_account(app, slug)
    with get_db(app).session() as session:
        try:
            reverted = revert_intent_model(session, account.id, actor="cli")
        except NothingToRevert as exc:
            raise click.ClickException(f"nothing to revert for account {slug!r}: {exc}. "
                                       "Fit a model with `switchboard intents fit CSV`.") from None
        except RevertRaced as exc:
            raise click.ClickException(f"account {slug!r}: {exc}") from None
    discarded = f"The model fitted as version {reverted.discarded.version} was discarded"
    if reverted.current is None:
        click.echo(f"{discarded}. No earlier fitted model is kept: account {slug!r} routes with the shipped "
                   "default model again, used at once by every web process and worker.")
        return
    left = (f"{reverted.earlier} earlier fitted model{'' if reverted.earlier == 1 else 's'} left to revert to"
            if reverted.earlier else "the next revert goes back to the shipped default model")
    click.echo(f"{discarded}. Account {slug!r} routes with version {reverted.current.version} again "
               f"({_fit_of(reverted.current.meta)}), used at once by every web process and worker; {left}.")


def _fit_of(meta: Mapping[str, Any]) -> str:
    """A stored model's training, from its metadata (models fitted before the counts were
    recorded have only their number of intents)."""
    intents = f"{meta.get('labels', '?')} intents"
    if meta.get("mode") == "replaced":
        return f"{intents}, fitted on {meta.get('your_examples', 0):,} examples of yours only"
    if meta.get("mode") == "added":
        return (f"{intents}, fitted on {meta.get('shipped_examples', 0):,} shipped examples + "
                f"{meta.get('your_examples', 0):,} of yours")
    return intents


@intents.command("predict")
@ACCOUNT_OPTION
def intents_predict(slug: str) -> None:
    """One message per line on stdin; one JSON object per line on stdout. A message
    flagged out of scope also gets its best in-scope intent and that intent's confidence."""
    from switchboard.core.intent_store import intent_model
    from switchboard.db import get_db

    app = _app()
    account = _default_account(app, slug)
    with get_db(app).session() as session:
        settings = app.config["SETTINGS"]
        model = intent_model(session, settings.data_dir, account.id, embeddings=settings.embeddings)
    for line in sys.stdin:
        text = line.rstrip("\n")
        if not text.strip():
            continue
        p = model.predict([text])[0]
        line = {"text": p.text, "intent": p.intent, "confidence": round(p.confidence, 4), "in_scope": p.in_scope}
        if not p.in_scope:  # how close it came, and to what: the confidence is this intent's
            line.update(best_intent=p.best_intent, best_confidence=round(p.confidence, 4))
        click.echo(json.dumps(line))


class _DefaultCommandGroup(click.Group):
    """A group whose first argument may be the default command's: `switchboard eval FILE`
    is `switchboard eval run FILE`, while `eval replay` keeps its name."""

    default_command = "run"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


EVAL_SETTINGS = ("kb", "policy", "engine", "model", "intents")


def _eval_options(prefix: str = "") -> Callable[[Command], Command]:
    """--kb/--policy/--engine/--model/--intents, or their --compare-* twins."""
    flag, name = (f"--{prefix}-", f"{prefix}_") if prefix else ("--", "")
    default = "the first configuration's" if prefix else "the live one"
    options = [
        click.option(f"{flag}kb", f"{name}kb", type=click.Path(exists=True, path_type=Path),
                     help=f"Knowledge base from a JSON/JSONL file or folder, indexed in memory (default: {default})."),
        click.option(f"{flag}policy", f"{name}policy", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help=f"Escalation policy file (default: {default})."),
        click.option(f"{flag}engine", f"{name}engine", type=click.Choice(["local", "llm"]),
                     help=f"Drafting engine (default: {default}: llm when OPENAI_* is set, else local)."),
        click.option(f"{flag}model", f"{name}model", help="LLM model name, with the llm engine."),
        click.option(f"{flag}intents", f"{name}intents", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help=f"Intent model: a saved .skops file, or a training .csv to fit (default: {default})."),
    ]

    def decorate(command: Command) -> Command:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _eval_configuration(session: Session, account: Account, settings: Settings,
                        chosen: Mapping[str, Any]) -> Configuration:
    """``chosen`` holds what click parsed for the options of :func:`_eval_options`, by
    name without the prefix (each of the type that option declares), or nothing."""
    from switchboard.core.evaluation import configuration

    return configuration(session, account, settings, kb_file=chosen.get("kb"), policy_file=chosen.get("policy"),
                         engine=chosen.get("engine"), model=chosen.get("model"), intents_file=chosen.get("intents"))


@main.group("eval", cls=_DefaultCommandGroup)
def eval_group() -> None:
    """Prove a change before customers meet it: `switchboard eval QUESTIONS.csv`.

    Questions run through the live decision path (redaction, intents, retrieval, the
    escalation policy, drafting, grounding) with nothing sent and nothing stored."""


@eval_group.command("run")
@click.argument("questions_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_eval_options()
@click.option("--compare", is_flag=True,
              help="Also run a second configuration: this one with the --compare-* options, or the live one.")
@_eval_options("compare")
@ACCOUNT_OPTION
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of the table.")
def eval_run(questions_file: Path, compare: bool, slug: str, as_json: bool, **chosen: object) -> None:
    """Run the questions of QUESTIONS_FILE and show each decision with the counts.

    QUESTIONS_FILE is .csv or .jsonl with `question` and `expected`: the id of the
    article that answers it, or `handoff` when a person should take it."""
    from switchboard.core import evaluation
    from switchboard.db import get_db
    from switchboard.errors import SwitchboardError

    first = {key: chosen[key] for key in EVAL_SETTINGS if chosen[key] is not None}
    second = {key: chosen[f"compare_{key}"] for key in EVAL_SETTINGS if chosen[f"compare_{key}"] is not None}
    compare = compare or bool(second)
    if compare and not first and not second:
        raise click.UsageError("--compare needs a difference: give --kb/--policy/… for the first configuration "
                               "or --compare-kb/--compare-policy/… for the second.")
    app = _app()
    account = _default_account(app, slug)
    settings = app.config["SETTINGS"]
    with get_db(app).session() as session:
        try:
            questions = evaluation.read_questions(questions_file)
            configs = [_eval_configuration(session, account, settings, first)]
            if compare:
                configs.append(_eval_configuration(session, account, settings, {**first, **second} if second else {}))
            with click.progressbar(length=len(questions) * len(configs), file=sys.stderr,
                                   label=f"Evaluating {len(questions)} questions") as bar:
                runs = [evaluation.evaluate(questions, config, progress=bar.update) for config in configs]
        except SwitchboardError as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            session.rollback()
    reports: list[dict[str, Any]] = [
        {"configuration": c.description, "counts": evaluation.counts(r), "questions": [o.as_json() for o in r],
         "expected": c.retriever.calibration if c.retriever is not None else {}}
        for c, r in zip(configs, runs, strict=True)]
    differ = evaluation.changed(*runs) if compare else []
    if as_json:
        body = reports[0] if not compare else {"a": reports[0], "b": reports[1], "changed": [
            {"question": a.question, "expected": a.expected, "a": a.as_json(), "b": b.as_json()} for a, b in differ]}
        click.echo(json.dumps(body, indent=2))
        return
    if not compare:
        from switchboard.core.knowledge.calibration import expectation

        for line in _eval_table(runs[0]):
            click.echo(line)
        click.echo(_eval_summary(reports[0]["counts"]))
        click.echo(expectation(reports[0]["expected"]))
        return
    for tag, report in zip("AB", reports, strict=True):
        click.echo(f"{tag}: " + ", ".join(f"{k} {v}" for k, v in report["configuration"].items()))
        click.echo(f"   {_eval_summary(report['counts'])}")
    click.echo(f"{len(differ)} of {len(questions)} questions decided differently (A → B):")
    for a, b in differ:
        click.echo(f"  {_clip(a.question, 50):50}  expected {a.expected}: {_eval_cell(a)} → {_eval_cell(b)}")


@eval_group.command("replay")
@click.option("--since", required=True, type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
              help="Replay conversations whose first message came on or after this day (UTC).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), help="… and before this one.")
@_eval_options()
@ACCOUNT_OPTION
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of the table.")
@click.option("--all", "show_all", is_flag=True, help="List every message, not only those decided differently.")
def eval_replay(since: datetime, until: datetime | None, slug: str, as_json: bool, show_all: bool,
                **chosen: Any) -> None:
    """Decide stored first messages again and show what would now be decided differently.

    Customers' first messages (stored redacted) run under the current configuration,
    or the one the options describe, and are compared with the bot's recorded reply."""
    from datetime import UTC

    from switchboard.core import evaluation
    from switchboard.db import get_db
    from switchboard.errors import SwitchboardError

    app = _app()
    account = _default_account(app, slug)
    settings = app.config["SETTINGS"]
    with get_db(app).session() as session:
        try:
            recorded, skipped = evaluation.first_messages(
                session, account.id, since.replace(tzinfo=UTC), until.replace(tzinfo=UTC) if until else None)
            config = _eval_configuration(session, account, settings, {k: v for k, v in chosen.items() if v})
            with click.progressbar(length=len(recorded), file=sys.stderr,
                                   label=f"Replaying {len(recorded)} first messages") as bar:
                results = evaluation.replay(recorded, config, progress=bar.update)
        except SwitchboardError as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            session.rollback()
    differ = evaluation.replay_changed(results)
    changed_ids = {m.message_id for m, _ in differ}
    rows: list[dict[str, Any]] = [
        {"message_id": m.message_id, "conversation_id": m.conversation_id, "received_at": m.received_at.isoformat(),
         "text": m.text, "was": {"action": m.action, "articles": list(m.articles)}, "now": o.as_json(),
         "changed": m.message_id in changed_ids} for m, o in (results if show_all or as_json else differ)]
    if as_json:
        click.echo(json.dumps({"configuration": config.description, "replayed": len(results), "skipped": skipped,
                               "changed": len(differ), "messages": rows}, indent=2))
        return
    for row in rows:
        was = row["was"]["action"] + (f" {','.join(row['was']['articles'])}" if row["was"]["articles"] else "")
        click.echo(f"{row['received_at'][:16]}  #{row['message_id']:<6} {_clip(row['text'], 50):50}  "
                   f"{was} → {_eval_cell_json(row['now'])}")
    click.echo(f"{len(differ)} of {len(results)} first messages would now be decided differently"
               f"{f' ({skipped} answered by a keyword or the action engine not replayed)' if skipped else ''}.")


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def _eval_cell(outcome: Outcome) -> str:
    return _eval_cell_json(outcome.as_json())


def _eval_cell_json(row: Mapping[str, Any]) -> str:
    shown = row["choices"] if row["action"] == "choices" else row["articles"]
    detail = ",".join(shown) or row["reason"] or ""
    return f"{row['action']} {detail}".strip()


def _eval_table(outcomes: Sequence[Outcome]) -> list[str]:
    lines = [f"{'#':>3}  {'verdict':22} {'decision':34} {'score':>5}  {'expected':18} question"]
    for n, o in enumerate(outcomes, 1):
        score = "" if o.score is None else f"{o.score:.2f}"
        lines.append(f"{n:>3}  {o.verdict.replace('_', ' '):22} {_clip(_eval_cell(o), 34):34} {score:>5}  "
                     f"{_clip(o.expected or '', 18):18} {_clip(o.question, 60)}")
    return lines


def _eval_summary(c: dict[str, int]) -> str:
    return (f"{c['right']}/{c['questions']} right — answered right {c['answered_right']}, answered wrong "
            f"{c['answered_wrong']}, choices offered {c['choices']} ({c['choices_with_right']} with the right "
            f"article), clarified {c['clarified']}, handed over {c['handed_over']} ({c['handed_over_right']} "
            f"right), other {c['other']}")


@main.command()
@click.option("--phone", default="+15550100099", show_default=True,
              help="the customer you play (the playground's is +15550100001: another conversation)")
@click.option("--channel", type=click.Choice(["sms", "whatsapp"]), default="sms", show_default=True,
              help="The channel the customer writes on.")
def chat(phone: str, channel: str) -> None:
    """Play the customer in the terminal (Twilio must be sandboxed: nothing is sent)."""
    from switchboard.core import accounts as core
    from switchboard.db import get_db
    from switchboard.playground import enabled, simulate

    app = _app()
    settings = app.config["SETTINGS"]
    ensure_sample_kb(app)
    with app.app_context(), get_db(app).session() as session:
        account = core.by_slug(session, core.DEFAULT_SLUG)
        if account is None or not enabled(account, settings):
            raise click.ClickException("Twilio is live: unset TWILIO_* or set SWITCHBOARD_SANDBOX=1 to chat")
        click.echo(f"You are the customer {phone}. Empty line or Ctrl-D to quit.")
        seen = 0
        handed_over = False
        while True:
            try:
                text = input("you> ").strip()
            except EOFError:
                break
            if not text:
                break
            view = simulate(session, settings, text=text, phone=phone, channel=channel)
            for m in view["messages"][seen:]:
                if m["author"] == "text":  # a sandboxed text outside the conversation (a one-time code)
                    click.echo(click.style(f"sms to you> {m['body']}", fg="yellow"))
                elif m["author"] != "customer":
                    click.echo(f"{m['author']}> {m['body']}")
                    if m["action"]:
                        reason = ': ' + m['reason'] if m['reason'] else ''
                        click.echo(click.style(f"      [{m['action']}{reason}]", dim=True))
            seen = len(view["messages"])
            conversation = view["conversation"] or {}
            if conversation.get("status") == "human" and not handed_over:
                handed_over = True
                click.echo(click.style(
                    f"      [a person has this conversation now ({conversation.get('handoff_reason')}): the bot "
                    "stays quiet; their replies from Zendesk reach this customer by SMS/WhatsApp]", fg="cyan"))


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
    from switchboard.core.audit import export
    from switchboard.db import get_db

    for name, value in (("--ticket", ticket), ("--conversation", conversation)):
        if value is not None and not value.isdigit():
            raise click.ClickException(f"{name} {value!r}: give the number of a Zendesk ticket or conversation, "
                                       "e.g. --ticket 100017")
    app = _app()
    account = _default_account(app, slug)
    subject_type, subject_id = ("ticket", ticket) if ticket else (("conversation", conversation) if conversation
                                                                   else (None, None))
    with get_db(app).session() as session:
        click.echo(export(session, account.id, fmt=fmt, subject_type=subject_type, subject_id=subject_id), nl=False)


@main.group()
def customers() -> None:
    """Data-subject requests: erase or export one customer's data; vault keys and retention."""


def _customer_request(slug: str, identity: str, work: Callable[[Session, Account, Any, Settings], Any]) -> Any:
    from switchboard.core.privacy import UnknownCustomer, find_customer
    from switchboard.db import get_db

    app = _app()
    account = _default_account(app, slug)
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
    from switchboard.core.privacy import erase
    from switchboard.core.vault import vault_for

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
    from switchboard.core.privacy import export
    from switchboard.core.vault import vault_for

    data = _customer_request(slug, identity, lambda session, account, customer, settings: export(
        session, account, customer, vault_for(settings), actor="cli"))
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


#: How `customers purge` names what it purged (core.privacy.purge_expired's keys).
PURGED_WORDS = {"vault_entries": "vaulted originals", "messages": "message texts", "suggestions": "suggestions",
                "inbox_events": "received webhook payloads", "outbox_calls": "outbound call payloads"}


@customers.command("purge")
@click.option("--json", "as_json", is_flag=True, help="The counts per account as JSON (accounts with none left out).")
def customers_purge(as_json: bool) -> None:
    """Run the retention purge now (beat runs it daily): originals and transcripts older
    than each account's retention period."""
    from switchboard.core.accounts import all_accounts
    from switchboard.core.privacy import purge_expired, retention_days
    from switchboard.db import get_db

    app = _app()
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
                setting = ("SWITCHBOARD_RETENTION_DAYS" if account.slug == "default"
                           else f"its retention_days setting (switchboard accounts set-secret {account.slug} …)")
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
    from switchboard.core.accounts import all_accounts, reseal_secrets
    from switchboard.core.vault import rotate_all, vault_for
    from switchboard.db import get_db

    app = _app()
    with get_db(app).session() as session:
        vault = vault_for(app.config["SETTINGS"])
        count = rotate_all(session, vault)
        secrets = sum(reseal_secrets(account, vault) for account in all_accounts(session))
        session.commit()
    click.echo(f"{count} vaulted values re-encrypted with the newest key; {secrets} account secrets re-sealed")


@main.command()
@ACCOUNT_OPTION
@click.option("--days", default=7, show_default=True, type=click.IntRange(min=1),
              help="How many days it covers: the preview counts today up to now, --send the whole days "
                   "before today, as the weekly schedule does.")
@click.option("--send", is_flag=True, help="Post it to the digest channel (SWITCHBOARD_SLACK_DIGEST_CHANNEL).")
def digest(slug: str, days: int, send: bool) -> None:
    """The supervisors' digest of agent assist and knowledge gaps (JSON preview, or --send)."""
    from switchboard.core.digest import as_json, compute_digest, recent_period, send_digest
    from switchboard.db import get_db
    from switchboard.tasks import digest_channel

    app = _app()
    settings = app.config["SETTINGS"]
    account = _default_account(app, slug)
    with get_db(app).session() as session:
        if send:
            channel = digest_channel(account, settings)
            if not channel:
                raise click.ClickException("set SWITCHBOARD_SLACK_DIGEST_CHANNEL (e.g. #support-leads) to send it")
            result = send_digest(session, account, settings, channel=channel, days=days)
            click.echo(f"digest {'already sent' if result.repeated else 'sent'} to {channel}")
            return
        start, end = recent_period(days=days)
        click.echo(json.dumps(as_json(compute_digest(session, account.id, start=start, end=end)), indent=2))


@main.command()
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day (UTC).")
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last day (UTC), included.")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True,
              help="JSON, or CSV with every figure.")
@ACCOUNT_OPTION
@click.option("--channel", help="Only this channel (sms, whatsapp).")
@click.option("--tier", help="Only customers of this tier.")
@click.option("--intent", help="Only conversations about this intent.")
def report(start: datetime, end: datetime, fmt: str, slug: str, channel: str | None, tier: str | None,
           intent: str | None) -> None:
    """Outcome figures for conversations started in a period (the dashboard's figures):
    JSON, or CSV with every figure (segments, days, escalation reasons, suggestions,
    outreach). Days between 2000-01-01 and 2099-12-31, at most 1096 days apart."""
    from switchboard.core.metrics_figures import CSV_FIELDS, FiguresError, Filters, csv_rows, figures
    from switchboard.db import get_db

    try:  # before opening the database: a wrong date is the user's to fix
        filters = Filters(start.date(), end.date(), channel, tier, intent)
    except FiguresError as exc:
        raise click.BadParameter(str(exc), param_hint="--from/--to") from None
    app = _app()
    account = _default_account(app, slug)
    with get_db(app).session() as session:
        data = figures(session, account.id, filters)
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
        return
    import csv

    # "raise": a figure added to the JSON but not to CSV_FIELDS fails loudly, never vanishes.
    writer = csv.DictWriter(sys.stdout, fieldnames=CSV_FIELDS, extrasaction="raise", lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(data))


@main.group()
def texts() -> None:
    """The fixed texts customers receive, per language (message catalogs and overrides)."""


@texts.command("list")
@click.option("--language", default="en", show_default=True, help="Show the texts in this language (es, fr, de…).")
@ACCOUNT_OPTION
def texts_list(language: str, slug: str) -> None:
    """Every text's key and what a customer receives in LANGUAGE (with this account's overrides)."""
    from switchboard.core import accounts, i18n
    from switchboard.db import get_db

    with get_db(_app()).session() as session:
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
    from switchboard.core import accounts, i18n
    from switchboard.db import get_db

    if (text is None) == (not remove):
        raise click.ClickException("give the new TEXT, or --remove to go back to the catalog's text")
    with get_db(_app()).session() as session:
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
    from switchboard.core import i18n

    problems = [p for language in i18n.CATALOG_LANGUAGES for p in i18n.catalog_problems(language)]
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        raise click.ClickException(f"{len(problems)} catalog problem(s)")
    click.echo(f"{len(i18n.load_all())} texts translated in {', '.join(i18n.CATALOG_LANGUAGES)}")


@main.group()
def zendesk() -> None:
    """Zendesk set-up."""


@zendesk.command("provision")
@click.option("--manifests", "manifests_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder with webhook.json (and triggers/); default: the shipped manifests/zendesk.")
def zendesk_provision(manifests_dir: Path | None) -> None:
    """Create or update Switchboard's Zendesk webhook (and triggers), idempotently."""
    from switchboard.connectors.zendesk_admin import ProvisionError, provision_from_settings

    try:
        report = provision_from_settings(load_settings(), manifests_dir=manifests_dir)
    except (ProvisionError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    for line in report.lines():
        click.echo(line)


@zendesk.command("package-app")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder to write the zip into.")
@click.option("--app-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The app folder; default: the shipped Zendesk sidebar app.")
@click.option("--domain", "domains", multiple=True,
              help="Host of this deployment (e.g. support.example.com) allowed to receive the secure token.")
def zendesk_package_app(out_dir: Path, app_dir: Path | None, domains: tuple[str, ...]) -> None:
    """Validate the Zendesk sidebar app and zip it for upload (Admin Center > Apps > Upload private app)."""
    from switchboard.apps.zendesk.packager import DEFAULT_APP_DIR, InvalidZendeskApp, package_app

    if not out_dir.exists():
        if not out_dir.parent.is_dir():
            raise click.ClickException(f"--out {out_dir}: {out_dir.parent} does not exist; give a folder that "
                                       "exists, or a new one inside one")
        out_dir.mkdir()
        click.echo(f"created {out_dir}", err=True)
    if not domains:
        click.echo("warning: no --domain: Zendesk sends the app's API key only to the hosts in its domain "
                   "whitelist, so this zip cannot reach your Switchboard. Package again with --domain "
                   "HOST (e.g. support.example.com), the host of SWITCHBOARD_PUBLIC_URL.", err=True)
    try:
        path = package_app(app_dir or DEFAULT_APP_DIR, out_dir, domains=domains)
    except InvalidZendeskApp as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(str(path))


@zendesk.command("preview")
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="The running Switchboard.")
@click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path),
              help="File holding an account API key; default: .switchboard-api-key in the data folder "
                   "(`switchboard serve` writes it).")
@click.option("--port", default=0, type=int,
              help="Port of the stand-in workspace page; default: a free one (the address is printed).")
@click.option("--ticket", type=int, help="Ticket to open first; default: the newest one the bot handed over.")
def zendesk_preview(url: str, key_file: Path | None, port: int, ticket: int | None) -> None:
    """Preview the sidebar app in a local stand-in of Zendesk's agent workspace, against a running Switchboard."""
    from switchboard.apps.zendesk.preview_server import KEY_FILE_NAME, PreviewError, serve_preview

    try:
        key_file = key_file or load_settings().data_dir / KEY_FILE_NAME
        serve_preview(url, key_file=key_file, port=port, ticket=ticket, echo=click.echo)
    except (PreviewError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None


@main.group()
def slack() -> None:
    """The Slack app (approvals, digest)."""


SLACK_MANIFEST = manifests_dir() / "slack.yaml"
MANIFEST_PLACEHOLDER = "https://switchboard.example.com"


@slack.command("manifest")
@click.option("--url", required=True, help="The public origin Slack calls, e.g. https://support.example.com.")
@click.option("--file", "manifest_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Manifest template; default: manifests/slack.yaml.")
def slack_manifest(url: str, manifest_file: Path | None) -> None:
    """Print the Slack app manifest (YAML) for this deployment: paste it at api.slack.com/apps → Create New App."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc or parts.path.strip("/"):
        raise click.ClickException(f"--url {url!r}: give the public https origin only, "
                                   "e.g. https://support.example.com (Slack requires https request URLs).")
    path = manifest_file or SLACK_MANIFEST
    click.echo(path.read_text().replace(MANIFEST_PLACEHOLDER, url.rstrip("/")), nl=False)


SAMPLE_KB = data_file("sample_kb.json")


def ensure_sample_kb(app: Flask) -> None:
    """A newcomer's empty knowledge base gets the small sample one, so the first
    question already has something to be answered from."""
    from switchboard.core import accounts as core
    from switchboard.core.knowledge.loaders import load_articles
    from switchboard.core.knowledge.service import KnowledgeBase
    from switchboard.db import get_db

    with get_db(app).session() as session:
        account = core.by_slug(session, core.DEFAULT_SLUG)
        assert account is not None
        knowledge = KnowledgeBase.of(session, account.id, app.config["SETTINGS"])
        if not knowledge.articles():
            knowledge.import_articles(load_articles(SAMPLE_KB))
            click.echo(f"Loaded the sample knowledge base ({SAMPLE_KB.name}, a demo shop's articles); "
                       "`switchboard kb import PATH` adds yours beside them.")


if __name__ == "__main__":
    main()
