"""Secrets where an operator's machine keeps them: the embedded database and its WAL,
the API key and session secret files, the access log; the one-time code that signs the
sidebar into the dashboard; and what an imported article may link to."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select, text
from twilio.request_validator import RequestValidator

from switchboard.cli import main
from switchboard.core.store.models import KbArticle
from switchboard.intake.db import get_db, make_engine, upgrade

from ..privacy.helpers import key_for
from ..signing import fixture
from .test_cli import TOKEN, free_port

PRIVATE = 0o600


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.slow
def test_serve_keeps_its_files_to_its_owner_and_no_visitor_token_in_its_log(tmp_path: Path) -> None:
    """`switchboard serve` under the usual umask (022): the database, its WAL and shared
    memory, the API key and the session secret are 0600 from the start, and the web
    chat stream's visitor token (in the URL: EventSource sends no headers) is not in the
    request log serve prints."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SWITCHBOARD_", "TWILIO_", "ZENDESK_", "SLACK_"))}
    env.update(SWITCHBOARD_DATA_DIR=str(tmp_path), TWILIO_ACCOUNT_SID="AC" + "1" * 32, TWILIO_AUTH_TOKEN=TOKEN,
               TWILIO_PHONE_NUMBER="+15005550006", SWITCHBOARD_PUBLIC_URL=f"http://127.0.0.1:{port}")
    server = subprocess.Popen([sys.executable, "-m", "switchboard.cli", "serve", "--port", str(port)], env=env,
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, umask=0o022)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "serve did not start"
                time.sleep(0.3)
        params = fixture("twilio", "inbound_sms.json")
        signature = RequestValidator(TOKEN).compute_signature(base + "/webhooks/twilio/messages", params)
        assert urlopen(Request(base + "/webhooks/twilio/messages", data=urlencode(params).encode(),
                               headers={"X-Twilio-Signature": signature}), timeout=10).status == 200
        started = urlopen(Request(base + "/chat/default/session", data=json.dumps({"token": None}).encode(),
                                  headers={"Content-Type": "application/json"}), timeout=10)
        token = json.load(started)["token"]
        with urlopen(f"{base}/chat/default/stream?token={token}&after=0", timeout=10) as stream:
            assert stream.status == 200
        files = {name: tmp_path / name for name in ("switchboard.db", "switchboard.db-wal", "switchboard.db-shm",
                                                    ".switchboard-api-key", ".switchboard-session-secret")}
        assert {name: oct(mode(path)) for name, path in files.items()} == {name: oct(PRIVATE) for name in files}
    finally:
        server.terminate()
        server.wait(timeout=20)
    output = server.stdout.read() if server.stdout else ""
    assert "/chat/default/stream?token=[redacted]&after=0" in output, output[-3000:]
    assert token not in output and token.split(".")[0] not in output


def test_a_database_an_earlier_version_left_readable_is_narrowed_to_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    path.chmod(0o644)
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        assert mode(path) == PRIVATE
    finally:
        engine.dispose()


def test_a_sidebar_sign_in_code_opens_one_dashboard_session(app: Flask) -> None:
    """The sidebar asks for a code through Zendesk's proxy and posts it to the sign-in
    page in a new window; a copy of it (history, a screen share) signs nobody in, even
    within its minute."""
    key = key_for(app)
    issued = app.test_client().post("/api/sidebar/dashboard-session", headers={"Authorization": f"Bearer {key}"})
    assert issued.status_code == 200, issued.get_data(as_text=True)
    code = issued.get_json()["code"]

    agent = app.test_client()
    assert agent.post("/dashboard/login", data={"code": code}).status_code == 302
    assert agent.get("/dashboard/").status_code == 200
    copy = app.test_client()
    again = copy.post("/dashboard/login", data={"code": code})
    assert again.status_code == 401
    assert "used already or has expired" in again.get_data(as_text=True)
    assert copy.get("/dashboard/").status_code == 302  # sent to sign in
    # A new code from the sidebar works.
    fresh = app.test_client().post("/api/sidebar/dashboard-session", headers={"Authorization": f"Bearer {key}"})
    assert copy.post("/dashboard/login", data={"code": fresh.get_json()["code"]}).status_code == 302


def test_kb_import_refuses_an_article_linking_to_anything_but_a_web_address(app: Flask, tmp_path: Path,
                                                                         env: dict[str, str]) -> None:
    articles = [{"id": "returns", "title": "Returns", "body": "Return within 30 days.",
                 "url": "https://help.example.com/returns"},
                {"id": "evil", "title": "Click me", "body": "Refunds take five days.",
                 "url": "javascript:alert(document.cookie)"}]
    path = tmp_path / "articles.json"
    path.write_text(json.dumps(articles))
    result = CliRunner().invoke(main, ["kb", "import", str(path)], env=env)
    assert result.exit_code != 0
    assert "article 'evil' ('Click me')" in result.output and "http:// or https://" in result.output, result.output
    with get_db(app).session() as session:
        assert session.scalar(select(func.count()).select_from(KbArticle)) == 0  # not even the good one

    articles[1]["url"] = "https://help.example.com/refunds"
    path.write_text(json.dumps(articles))
    assert CliRunner().invoke(main, ["kb", "import", str(path)], env=env).exit_code == 0


def test_0018_replaces_key_characters_kept_by_earlier_versions(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        upgrade(engine, "0015")
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO accounts (id, slug, name, secrets, created_at) "
                                    "VALUES (1, 'default', 'Default', '{}', '2026-11-01 00:00:00')"))
            connection.execute(text("INSERT INTO api_keys (id, account_id, name, prefix, key_hash, created_at) "
                                    "VALUES (7, 1, 'bot', 'sb_Ab3dE9x', 'h', '2026-11-01 00:00:00')"))
            connection.execute(text(
                "INSERT INTO outreach_campaigns (id, account_id, name, trigger, status, spec, created_by, created_at) "
                "VALUES (1, 1, 'Delay', 'api', 'sent', '{}', 'api:sb_Ab3dE9x', '2026-11-01 00:00:00'),"
                "       (2, 1, 'Outage', 'zendesk', 'sent', '{}', 'zendesk:ticket:5', '2026-11-01 00:00:00')"))
        upgrade(engine)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT prefix FROM api_keys")).scalar() == "sb_"
            assert connection.execute(text("SELECT created_by FROM outreach_campaigns ORDER BY id")).scalars().all() \
                == ["api:key:7:bot", "zendesk:ticket:5"]
    finally:
        engine.dispose()
