"""The `switchboard` command as a newcomer and an operator use it."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import click
import pytest
import yaml
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from switchboard.app import create_app
from switchboard.cli import main
from switchboard.core.accounts import by_slug, settable_names
from switchboard.core.actions.config import load_actions_config
from switchboard.core.settings import load_settings
from switchboard.core.store.models import Conversation, OutboxCall
from switchboard.intake.db import get_db
from switchboard.vendors.http_action import HttpActionConnector

from ..actions.order_server import TOKEN as SHOP_TOKEN
from ..actions.order_server import OrderServer
from ..signing import VendorClient, fixture

TOKEN = "12345678901234567890123456789012"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_runs_embedded_with_no_servers_and_processes_a_signed_webhook(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SWITCHBOARD_", "TWILIO_", "ZENDESK_", "SLACK_"))}
    env.update(SWITCHBOARD_DATA_DIR=str(tmp_path), TWILIO_ACCOUNT_SID="AC" + "1" * 32,
               TWILIO_AUTH_TOKEN=TOKEN, TWILIO_PHONE_NUMBER="+15005550006",
               SWITCHBOARD_PUBLIC_URL=f"http://127.0.0.1:{port}")
    server = subprocess.Popen([sys.executable, "-m", "switchboard.cli", "serve", "--port", str(port)],
                              env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                assert json.load(urlopen(base + "/healthz", timeout=1)) == {"status": "ok"}
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "serve did not start"
                time.sleep(0.3)
        assert (tmp_path / "switchboard.db").exists()  # SQLite in the working directory, migrated
        params = fixture("twilio", "inbound_sms.json")
        signature = RequestValidator(TOKEN).compute_signature(base + "/webhooks/twilio/messages", params)
        answer = urlopen(Request(base + "/webhooks/twilio/messages", data=urlencode(params).encode(),
                                 headers={"X-Twilio-Signature": signature}), timeout=5)
        assert answer.status == 200
        key = (tmp_path / ".switchboard-api-key").read_text().strip()
        conversations: list[dict[str, object]] = []
        for _ in range(50):  # the embedded runner processes on its own thread
            conversations = json.load(urlopen(Request(base + "/api/conversations",
                                                      headers={"Authorization": f"Bearer {key}"}), timeout=5))
            if conversations:
                break
            time.sleep(0.1)
        assert len(conversations) == 1 and conversations[0]["channel"] == "sms"
    finally:
        server.terminate()
        server.wait(timeout=10)
    # The models the first message needs were loaded, saying so, before the service
    # announced itself: a newcomer's first message does not wait behind "Sending…".
    output = server.stdout.read() if server.stdout else ""
    loading = next((line for line in output.splitlines() if line.startswith("Loading the models")), "")
    for stage in ("language detection", "intent model", "knowledge index"):
        assert stage in loading, output
    assert loading.endswith("done.") and output.index(loading) < output.index("Switchboard on http://"), output
    # Then where to go: the tour's pages, and why the playground is not one of them here.
    base = f"http://127.0.0.1:{port}"
    for line in (f"  {base}/chat/demo  the web chat widget on a demo page",
                 f"  {base}/dashboard  the supervisors' dashboard (sign in with the API key)",
                 "  switchboard zendesk preview  the Zendesk sidebar app, run in another terminal",
                 "  (the playground is off because Twilio is live: it never texts real customers)"):
        assert line in output.splitlines(), output


def test_serve_on_a_laptop_names_the_playground_first(app: Flask) -> None:
    """With every vendor sandboxed (`switchboard serve` with nothing configured) the
    playground is the first page named, and it is served."""
    from switchboard.cli.serve import where_to_go

    settings = app.config["SETTINGS"]
    with get_db(app).session() as session:
        default = by_slug(session, "default")
        assert default is not None
        lines = where_to_go("http://127.0.0.1:8000", default, settings, answers_here=True)
    assert lines[:2] == ["Try it:", "  http://127.0.0.1:8000/playground  play the customer on SMS or WhatsApp "
                                    "(this machine only)"]
    client = app.test_client()
    for line in lines[1:4]:
        assert client.get(line.split()[0].removeprefix("http://127.0.0.1:8000")).status_code in (200, 302), line


def test_config_reports_the_bad_variable(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["config"], env={"SWITCHBOARD_REDIS_URL": "nonsense"})
    assert result.exit_code != 0
    assert "SWITCHBOARD_REDIS_URL" in result.output


def test_config_says_each_vendor_is_sandboxed_and_why(tmp_path: Path) -> None:
    """`sandbox: false` alone read as "live" while every vendor without credentials is
    sandboxed: each vendor's mode is shown, with what to set to go live."""
    unset = ("SWITCHBOARD_SANDBOX", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "ZENDESK_SUBDOMAIN",
             "ZENDESK_EMAIL", "ZENDESK_API_TOKEN", "SLACK_BOT_TOKEN")
    base: dict[str, str | None] = {"SWITCHBOARD_DATA_DIR": str(tmp_path), **dict.fromkeys(unset)}
    result = CliRunner().invoke(main, ["config"], env=base)
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["sandbox"] is False
    assert shown["vendors"]["twilio"].startswith("sandbox (set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
    assert shown["vendors"]["zendesk"].startswith("sandbox (set ZENDESK_SUBDOMAIN")
    assert shown["vendors"]["slack"].startswith("sandbox (set SLACK_BOT_TOKEN")
    live = CliRunner().invoke(main, ["config"], env={
        **base, "TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_AUTH_TOKEN": "t" * 32})
    assert json.loads(live.output)["vendors"]["twilio"] == "live", live.output
    asked = CliRunner().invoke(main, ["config"], env={
        **base, "SWITCHBOARD_SANDBOX": "1", "TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_AUTH_TOKEN": "t" * 32})
    assert json.loads(asked.output)["vendors"]["twilio"].startswith("sandbox (SWITCHBOARD_SANDBOX=1)")
    assert not list(tmp_path.iterdir())  # config writes nothing


def test_db_upgrade_then_accounts_and_keys(tmp_path: Path) -> None:
    data = tmp_path / "not-yet"  # `db upgrade` first in a fresh directory makes the data folder, as `serve` does
    env = {"SWITCHBOARD_DATABASE_URL": f"sqlite:///{data / 'x.db'}", "SWITCHBOARD_DATA_DIR": str(data)}
    runner = CliRunner()
    first = runner.invoke(main, ["db", "upgrade"], env=env)
    assert first.exit_code == 0, first.output
    # An empty database is migrated, and says so: from nothing to the chain's head.
    head = sorted(p.name for p in (Path(__file__).parents[2] / "switchboard/migrations/versions").glob("0*.py"))[-1]
    assert re.fullmatch(rf"database migrated from empty to {head[:4]}\w*\n", first.output), first.output
    again = runner.invoke(main, ["db", "upgrade"], env=env)
    assert again.output.startswith(f"database already at the newest migration ({head[:4]}"), again.output
    added = runner.invoke(main, ["accounts", "add", "globex", "--name", "Globex",
                                 "--twilio-phone-number", "+15005550009"], env=env)
    assert added.exit_code == 0, added.output
    listed = runner.invoke(main, ["accounts", "list"], env=env)
    assert "globex" in listed.output and "default" in listed.output
    key = runner.invoke(main, ["accounts", "key", "--account", "globex"], env=env)
    assert key.exit_code == 0 and key.output.startswith("sb_")
    missing = runner.invoke(main, ["accounts", "key", "--account", "nobody"], env=env)
    assert missing.exit_code != 0 and "no account 'nobody'" in missing.output


def test_an_added_accounts_whatsapp_number_receives_its_messages(env: dict[str, str]) -> None:
    """The sender is typed as Twilio's console shows it (+1…); Twilio's webhooks say
    ``To=whatsapp:+1…``. The account must own those deliveries and answer from it."""
    runner = CliRunner()
    globex_sid, globex_token = "AC" + "2" * 32, "98765432109876543210987654321098"
    added = runner.invoke(main, ["accounts", "add", "globex", "--name", "Globex", "--twilio-account-sid", globex_sid,
                                 "--twilio-whatsapp-number", "+1 415 555 0199"], env=env)
    assert added.exit_code == 0, added.output
    secret = runner.invoke(main, ["accounts", "set-secret", "globex", "twilio_auth_token", "--value", globex_token],
                           env=env)
    assert secret.exit_code == 0, secret.output
    app = create_app(load_settings(env), config={"TASKS_INLINE": True, "TESTING": True})
    params = {**fixture("twilio", "inbound_whatsapp.json"), "To": "whatsapp:+14155550199", "AccountSid": globex_sid}
    vendor = VendorClient(app.test_client(), twilio_token=globex_token, zendesk_secret="-", slack_secret="-",
                          public_url=env["SWITCHBOARD_PUBLIC_URL"])
    assert vendor.twilio("/webhooks/twilio/messages", params).status_code == 200
    with get_db(app).session() as session:
        globex = by_slug(session, "globex")
        assert globex is not None and globex.twilio_whatsapp_number == "whatsapp:+14155550199"
        [conversation] = session.scalars(select(Conversation)).all()
        assert (conversation.account_id, conversation.channel) == (globex.id, "whatsapp")
        replies = session.scalars(select(OutboxCall).where(OutboxCall.account_id == globex.id)).all()
        assert replies and all(call.payload["from_"] == "whatsapp:+14155550199" for call in replies), \
            [call.payload for call in replies]
    get_db(app).dispose()


@pytest.mark.parametrize("number", ["4155550199", "(415) 555-0199", "+1 415 555 0199 ext 2"])
def test_accounts_add_refuses_a_number_twilio_would_never_send(tmp_path: Path, number: str) -> None:
    env = {"SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "SWITCHBOARD_DATA_DIR": str(tmp_path)}
    bad = CliRunner().invoke(main, ["accounts", "add", "globex", "--name", "Globex", "--twilio-phone-number", number],
                             env=env)
    assert bad.exit_code == 2, bad.output
    assert "is not a number in E.164 form" in bad.output and "+15005550006" in bad.output
    assert not (tmp_path / "x.db").exists()  # refused before the database is opened


@pytest.mark.parametrize(("name", "value", "rule"), [
    ("outreach_rate", "fast", "'fast' is not a number of messages per second"),
    ("outreach_rate", "0", "use a rate above 0"),
    ("outreach_quiet_hours", "9pm-8am", "use HH:MM-HH:MM (e.g. 21:00-08:00), or off"),
    ("outreach_approvers", "U012AB,dana@acme.test", "'dana@acme.test' is not a Slack user id"),
    ("agent_handle_minutes", "six", "'six' is not a number of minutes"),
    ("agent_handle_minutes", "600", "at most 480 (a working day)"),
])
def test_set_secret_refuses_an_outreach_setting_the_account_could_not_use(tmp_path: Path, name: str, value: str,
                                                                         rule: str) -> None:
    env = {"SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "SWITCHBOARD_DATA_DIR": str(tmp_path)}
    runner = CliRunner()
    assert runner.invoke(main, ["accounts", "add", "globex", "--name", "Globex"], env=env).exit_code == 0
    good = {"outreach_rate": "2.5", "outreach_quiet_hours": "off", "outreach_approvers": "U012AB,W34CD",
            "agent_handle_minutes": "7.5"}[name]
    assert runner.invoke(main, ["accounts", "set-secret", "globex", name, "--value", good], env=env).exit_code == 0
    bad = runner.invoke(main, ["accounts", "set-secret", "globex", name, "--value", value], env=env)
    assert bad.exit_code == 1 and f"{name} of account 'globex'" in bad.output and rule in bad.output, bad.output
    app = create_app(load_settings(env))
    with get_db(app).session() as session:
        globex = by_slug(session, "globex")
        assert globex is not None and globex.secrets[name] == good  # the good value stands
    get_db(app).dispose()


@pytest.mark.parametrize(("slug", "rule"), [
    ("Bad Slug!", "'Bad Slug!' has 'B', ' ', 'S', '!'"),
    ("-globex", "starts with a hyphen"),
    ("g" * 65, "is longer than 64 characters"),
])
def test_accounts_add_refuses_a_slug_naming_the_rule_it_breaks(tmp_path: Path, slug: str, rule: str) -> None:
    env = {"SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "SWITCHBOARD_DATA_DIR": str(tmp_path)}
    bad = CliRunner().invoke(main, ["accounts", "add", "--name", "Bad", "--", slug], env=env)
    assert bad.exit_code == 2, bad.output
    assert rule in bad.output and "lower-case letters, digits and hyphens" in bad.output
    assert not (tmp_path / "x.db").exists()  # refused before the database is opened


def test_accounts_add_twice_is_one_line_saying_it_exists(database_url: str, tmp_path: Path) -> None:
    env = {"SWITCHBOARD_DATABASE_URL": database_url, "SWITCHBOARD_DATA_DIR": str(tmp_path)}
    runner = CliRunner()
    first = runner.invoke(main, ["accounts", "add", "globex", "--name", "Globex", "--zendesk-subdomain", "globex"],
                          env=env)
    assert first.exit_code == 0, first.output
    again = runner.invoke(main, ["accounts", "add", "globex", "--name", "Globex"], env=env)
    assert again.exit_code == 1
    assert again.output == "Error: account 'globex' already exists: see it with `switchboard accounts list`\n"
    same_helpdesk = runner.invoke(main, ["accounts", "add", "globex-eu", "--name", "Globex EU",
                                         "--zendesk-subdomain", "globex"], env=env)
    assert same_helpdesk.exit_code == 1 and len(same_helpdesk.output.splitlines()) == 1
    assert "--zendesk-subdomain globex: account 'globex' already has it" in same_helpdesk.output
    listed = runner.invoke(main, ["accounts", "list"], env=env).output.splitlines()
    assert [line.split("\t")[0] for line in listed] == ["default", "globex"]


@pytest.mark.parametrize("name", ["SHOP_API_TOKEN", "shop_api_token"])
def test_set_secret_takes_the_name_actions_yaml_documents_and_the_system_receives_it(tmp_path: Path,
                                                                                     name: str) -> None:
    """actions.yaml names its secret SHOP_API_TOKEN and documents `set-secret ACCOUNT
    shop_api_token`: either spelling reaches the order system in the auth header."""
    with OrderServer({"A1001": {"id": "A1001", "status": "shipped"}}) as shop:
        actions = tmp_path / "actions.yaml"
        actions.write_text(yaml.safe_dump({"systems": {"shop": {
            "base_url": shop.base_url, "sandbox": False,
            "auth": {"header": "Authorization", "value": "Bearer {secret}", "secret": "SHOP_API_TOKEN"}}}}))
        env = {"SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "SWITCHBOARD_DATA_DIR": str(tmp_path),
               "SWITCHBOARD_ACTIONS_FILE": str(actions)}
        runner = CliRunner()
        assert runner.invoke(main, ["accounts", "add", "globex", "--name", "Globex"], env=env).exit_code == 0
        result = runner.invoke(main, ["accounts", "set-secret", "globex", name], env=env, input=f"{SHOP_TOKEN}\n")
        assert result.exit_code == 0, result.output
        assert SHOP_TOKEN not in result.output and "shop_api_token set for globex" in result.output

        settings = load_settings(env)
        app = create_app(settings)
        try:
            with get_db(app).session() as session:
                globex = by_slug(session, "globex")
                assert globex is not None
                config = load_actions_config(settings.actions_file)
                answer = HttpActionConnector(session, globex, settings, system=config.systems["shop"]).run(
                    config.operation("order_lookup"), {"order_id": "A1001"}, idempotency_key="lookup-1")
        finally:
            get_db(app).dispose()
    assert answer["status"] == "shipped"
    assert [call["headers"]["Authorization"] for call in shop.received] == [f"Bearer {SHOP_TOKEN}"]


def test_set_secret_refuses_an_unknown_name_and_the_default_account_naming_what_to_do(tmp_path: Path) -> None:
    env = {"SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "SWITCHBOARD_DATA_DIR": str(tmp_path)}
    runner = CliRunner()
    assert runner.invoke(main, ["accounts", "add", "globex", "--name", "Globex"], env=env).exit_code == 0
    typo = runner.invoke(main, ["accounts", "set-secret", "globex", "shop_token"], env=env)
    assert typo.exit_code == 2 and "'shop_token' is not a secret or setting of an account" in typo.output
    assert "shop_api_token" in typo.output and "slack_approval_channel" in typo.output
    assert "Value:" not in typo.output  # refused before the value is asked for
    default = runner.invoke(main, ["accounts", "set-secret", "default", "twilio_auth_token", "--value", "x"], env=env)
    assert default.exit_code == 1
    assert "the default account reads TWILIO_AUTH_TOKEN from the environment" in default.output
    missing = runner.invoke(main, ["accounts", "set-secret", "globx", "SHOP_API_TOKEN", "--value", "x"], env=env)
    assert missing.exit_code == 1 and "no account 'globx': see `switchboard accounts list`" in missing.output
    channel = runner.invoke(main, ["accounts", "set-secret", "globex", "SWITCHBOARD_SLACK_APPROVAL_CHANNEL",
                                   "--value", "C0APPROVALS"], env=env)
    assert channel.exit_code == 0 and "slack_approval_channel set for globex" in channel.output


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in group.commands.items():
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from command_paths(command, (*prefix, name))


def undocumented(help_text: str) -> list[str]:
    """What `--help` shows without a word about it: the command itself (nothing between
    the usage and the options) and each option whose row has no description (click's
    own "[default: …]" and "[required]" say nothing of what the option is for)."""
    before, _, options = help_text.partition("\nOptions:\n")
    usage, _, description = before.partition("\n\n")
    missing = [] if description.strip() else ["the command"]
    rows: list[list[str]] = []  # [term, description text...]
    for line in options.split("\n\n")[0].splitlines():
        if line.startswith("  -"):
            term, _, text = line.strip().partition("  ")
            rows.append([term, text])
        elif rows:
            rows[-1].append(line)
    for term, *text in rows:
        if not re.sub(r"\[(default: [^]]*|required)\]", "", " ".join(text)).strip():
            missing.append(term)
    return missing


def test_every_command_and_option_says_what_it_is_for() -> None:
    runner = CliRunner()
    shown = {}
    for path in [(), *command_paths(main)]:
        result = runner.invoke(main, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        shown[" ".join(path)] = undocumented(result.output)
    assert {command: missing for command, missing in shown.items() if missing} == {}
    assert {"accounts list", "accounts set-secret", "serve", "digest", "kb search"} <= set(shown)
    secret_help = runner.invoke(main, ["accounts", "set-secret", "--help"]).output
    assert [name for name in settable_names() if name not in secret_help] == []


@pytest.mark.parametrize("command", [["accounts", "list"], ["db", "upgrade"], ["digest"],
                                     ["kb", "search", "where is my order"]])
def test_an_unreachable_database_is_one_line_naming_the_setting(tmp_path: Path, command: list[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    env = {"SWITCHBOARD_DATABASE_URL": f"postgresql+psycopg://nobody@127.0.0.1:{port}/none",
           "SWITCHBOARD_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(main, command, env=env)
    assert result.exit_code == 1 and "SWITCHBOARD_DATABASE_URL" in result.output
    assert f"port {port} failed" in result.output  # the database's own reason, not a guess
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_a_sqlite_file_that_cannot_be_opened_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    env = {"SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'missing' / 'x.db'}",
           "SWITCHBOARD_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(main, ["db", "upgrade"], env=env)
    assert result.exit_code == 1 and result.output == (
        "Error: cannot use the database (unable to open database file): check SWITCHBOARD_DATABASE_URL and that "
        "its folder exists and is writable\n")


def test_postgres_that_is_not_migrated_is_refused_with_the_command_to_run(pg_url: str) -> None:
    from sqlalchemy import text

    from switchboard.intake.db import make_engine

    schema = "sb_unmigrated_" + str(os.getpid())
    engine = make_engine(pg_url.split("?")[0])
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
    try:
        url = pg_url.split("?")[0] + f"?options=-csearch_path%3D{schema}"
        result = CliRunner().invoke(main, ["accounts", "list"], env={"SWITCHBOARD_DATABASE_URL": url})
        assert result.exit_code != 0
        assert "switchboard db upgrade" in result.output
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


def test_outbox_json_lists_recorded_calls_newest_last(tmp_path: Path) -> None:
    env = {"SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "SWITCHBOARD_DATA_DIR": str(tmp_path),
           "SWITCHBOARD_SANDBOX": "1"}
    result = CliRunner().invoke(main, ["chat"], env=env, input="how long does delivery take?\nAGENT\n\n")
    assert result.exit_code == 0, result.output
    listed = CliRunner().invoke(main, ["outbox", "--json"], env=env)
    calls = json.loads(listed.output)
    assert [c["operation"] for c in calls] == ["messages.create", "messages.create", "users.create_or_update",
                                               "tickets.create"]
    assert all(set(c) >= {"vendor", "operation", "payload", "created_at"} for c in calls)
    # `switchboard chat`'s own customer:
    assert calls[0]["vendor"] == "twilio" and calls[0]["payload"]["to"] == "+15550100099"
    assert calls[-1]["vendor"] == "zendesk" and calls[-1]["payload"]["ticket"]["comment"]["public"] is False
