"""`switchboard serve`, `worker` and `chat`: running Switchboard and talking to it."""
from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click
from flask import Flask

from switchboard.cli.base import main, open_app
from switchboard.core.resources import data_file
from switchboard.core.settings import load_settings
from switchboard.core.store.private_files import create_private

if TYPE_CHECKING:  # imported where used: `switchboard --help` need not load the models

    from switchboard.core.settings import Settings
    from switchboard.core.store.models import Account





@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 to be reached from other machines.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
def serve(host: str, port: int) -> None:
    """Serve the web app. Without SWITCHBOARD_REDIS_URL everything runs in this process."""
    app = open_app()
    settings = app.config["SETTINGS"]
    runner = app.extensions.get("switchboard.runner")
    if runner is not None:
        runner.start_sweeper()
        ensure_sample_kb(app)
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.apps.dashboard import API_KEY_FILE
    from switchboard.core import accounts
    from switchboard.intake.db import get_db
    from switchboard.web.access_log import werkzeug_request_handler

    with get_db(app).session() as session:
        default = accounts.by_slug(session, accounts.DEFAULT_SLUG)
        assert default is not None
        default_id = default.id
        where = where_to_go(f"http://{host}:{port}", default, settings, answers_here=runner is not None)
        key_file = settings.data_dir / API_KEY_FILE
        create_private(key_file, lambda: accounts.create_api_key(session, default, "serve") + "\n")
    if runner is not None:  # this process answers the customers: load before the first one writes
        # Imported when the command runs, not at the top: `switchboard --help` need not load them.
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
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.web.playground import off_reason

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


@main.command()
@click.option("--phone", default="+15550100099", show_default=True,
              help="the customer you play (the playground's is +15550100001: another conversation)")
@click.option("--channel", type=click.Choice(["sms", "whatsapp"]), default="sms", show_default=True,
              help="The channel the customer writes on.")
def chat(phone: str, channel: str) -> None:
    """Play the customer in the terminal (Twilio must be sandboxed: nothing is sent)."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core import accounts as core
    from switchboard.intake.db import get_db
    from switchboard.web.playground import enabled, simulate

    app = open_app()
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


SAMPLE_KB = data_file("sample_kb.json")


def ensure_sample_kb(app: Flask) -> None:
    """A newcomer's empty knowledge base gets the small sample one, so the first
    question already has something to be answered from."""
    # Imported when the command runs, not at the top: `switchboard --help` need not load them.
    from switchboard.core import accounts as core
    from switchboard.core.knowledge.loaders import load_articles
    from switchboard.core.knowledge.service import KnowledgeBase
    from switchboard.intake.db import get_db

    with get_db(app).session() as session:
        account = core.by_slug(session, core.DEFAULT_SLUG)
        assert account is not None
        knowledge = KnowledgeBase.of(session, account.id, app.config["SETTINGS"])
        if not knowledge.articles():
            knowledge.import_articles(load_articles(SAMPLE_KB))
            click.echo(f"Loaded the sample knowledge base ({SAMPLE_KB.name}, a demo shop's articles); "
                       "`switchboard kb import PATH` adds yours beside them.")
