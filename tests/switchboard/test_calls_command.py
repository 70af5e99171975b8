"""`switchboard calls play`: a transcribed call played end to end, on the plain sandboxed
default (recorded as the playground records) and, with a Twilio auth token, posted signed
to a running Switchboard over HTTP, as Twilio posts."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from switchboard.app import create_app
from switchboard.cli import main
from switchboard.core.settings import load_settings
from switchboard.core.store.models import Conversation, InboxEvent, Message, OutboxCall
from switchboard.intake.db import get_db

from ..conftest import PUBLIC_URL, TWILIO_SID, TWILIO_TOKEN

CALL_FILE = """# a short call
agent: This call may be recorded for quality purposes.
caller: Where is my parcel? My card is 4111 1111 1111 1111.
agent: I'll send you the tracking link today.
"""


def plain_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'sb.db'}", "SWITCHBOARD_DATA_DIR": str(tmp_path),
            "SWITCHBOARD_SANDBOX": "1", **extra}


def played(app: Flask) -> tuple[list[Message], list[OutboxCall], int | None]:
    with get_db(app).session() as session:
        lines = [m for m in session.scalars(select(Message).order_by(Message.id)) if m.meta.get("transcript")]
        notes = [c for c in session.scalars(select(OutboxCall)) if (c.idempotency_key or "").startswith("call-summary")]
        ticket = session.scalars(select(Conversation)).one().zendesk_ticket_id
    return lines, notes, ticket


def test_a_call_plays_on_the_plain_sandboxed_default(tmp_path: Path) -> None:
    call_file = tmp_path / "call.txt"
    call_file.write_text(CALL_FILE)

    result = CliRunner().invoke(main, ["calls", "play", str(call_file), "--pace", "0"], env=plain_env(tmp_path))

    assert result.exit_code == 0, result.output
    assert "recording the call's deliveries here" in result.output
    app = create_app(load_settings(plain_env(tmp_path)))
    lines, notes, ticket = played(app)
    assert [(m.author, m.body) for m in lines] == [
        ("agent", "This call may be recorded for quality purposes."),
        ("customer", "Where is my parcel? My card is [CARD]."),
        ("agent", "I'll send you the tracking link today.")]
    assert f"ticket #{ticket}" in result.output
    [note] = notes
    assert "Identity check before account details — MISSING" in note.payload["ticket"]["comment"]["body"]
    get_db(app).dispose()


def test_a_bad_call_file_is_refused_with_the_line_to_fix(tmp_path: Path) -> None:
    call_file = tmp_path / "call.txt"
    call_file.write_text("caller: hello\nnarrator: the agent picks up\n")

    result = CliRunner().invoke(main, ["calls", "play", str(call_file)], env=plain_env(tmp_path))

    assert result.exit_code != 0 and f"{call_file}:2" in result.output and "caller: what they say" in result.output


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], Flask]]:
    """A Switchboard with Twilio's credentials, serving HTTP on a loopback port."""
    env = plain_env(tmp_path, TWILIO_ACCOUNT_SID=TWILIO_SID, TWILIO_AUTH_TOKEN=TWILIO_TOKEN,
                    TWILIO_PHONE_NUMBER="+15005550006", SWITCHBOARD_PUBLIC_URL=PUBLIC_URL)
    app = create_app(load_settings(env), config={"TASKS_INLINE": True, "TESTING": True})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", env, app
    server.shutdown()
    get_db(app).dispose()


def test_with_an_auth_token_the_call_is_posted_signed_to_the_running_switchboard(
        running: tuple[str, dict[str, str], Flask], tmp_path: Path) -> None:
    url, env, app = running
    call_file = tmp_path / "call.txt"
    call_file.write_text(CALL_FILE)

    result = CliRunner().invoke(main, ["calls", "play", str(call_file), "--pace", "0", "--url", url], env=env)

    assert result.exit_code == 0, result.output
    assert "signed with the account's Twilio auth token" in result.output
    lines, notes, _ = played(app)
    assert [m.author for m in lines] == ["agent", "customer", "agent"] and len(notes) == 1
    with get_db(app).session() as session:
        kinds = sorted({e.kind for e in session.scalars(select(InboxEvent))})
    assert kinds == ["twilio.voice", "twilio.voice.speech", "twilio.voice.status", "twilio.voice.transcription"]
