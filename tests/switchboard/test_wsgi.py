"""`gunicorn 'switchboard.wsgi:app'` in embedded mode retries what an in-process task
left behind, as `switchboard serve` does: an accepted event whose processing never
happened (the process died, or its handler failed) is swept and processed."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from switchboard.app import create_app
from switchboard.core import accounts
from switchboard.core.settings import load_settings
from switchboard.core.store import inbox
from switchboard.core.store.models import InboxEvent
from switchboard.intake.db import get_db

from ..conftest import base_env
from ..reliability.conftest import free_port
from ..selfservice.test_selfservice_over_twilio import inbound

pytestmark = pytest.mark.slow  # starts gunicorn


def test_gunicorn_entry_point_sweeps_events_left_behind(tmp_path: Path) -> None:
    env = {**base_env(tmp_path, f"sqlite:///{tmp_path / 'sb.db'}"), "SWITCHBOARD_SWEEP_INTERVAL_SECONDS": "1",
           "SWITCHBOARD_SWEEP_AFTER_SECONDS": "1"}
    app = create_app(load_settings(env), config={"TESTING": True})
    with get_db(app).session() as session:
        account = accounts.by_slug(session, "default")
        assert account is not None
        form = inbound("What are your opening hours?")
        event, _ = inbox.record(session, account_id=account.id, vendor="twilio", kind="twilio.message",
                                dedupe_key=form["MessageSid"], payload=form)
        # Accepted a minute ago, never processed: the process that took it died.
        session.execute(update(InboxEvent).where(InboxEvent.id == event.id)
                        .values(received_at=datetime.now(UTC) - timedelta(minutes=1)))
        session.commit()
        event_id = event.id
    get_db(app).dispose()

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", "switchboard.wsgi:app"],
        env={**os.environ, **env}, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        status = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and status != "done":
            time.sleep(0.5)
            with get_db(app).session() as session:
                status = session.scalar(select(InboxEvent.status).where(InboxEvent.id == event_id))
        assert status == "done", f"the event is still {status!r}"
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    assert b"Traceback" not in err, err.decode(errors="replace")[-2000:]
