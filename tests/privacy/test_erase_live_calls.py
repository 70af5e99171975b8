"""Erasure reaches a live call's transcript: the caller's and the agent's lines on the
timeline and the transcription callbacks in the inbox (which carry no phone number,
only the call's id), on PostgreSQL, walking every text and JSON column."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from switchboard.app import create_app
from switchboard.core.settings import load_settings
from switchboard.intake.db import get_db

from ..conftest import _truncate_postgres, base_env
from ..webhooks.twilio.test_live_calls import heard, put_through, signed
from .helpers import key_for, traces

CALLER = "+14155550100"  # the voice fixtures' caller
MARKERS = ("zorbamark", "4155550100")

pytestmark = pytest.mark.slow  # PostgreSQL


@pytest.fixture
def pg_line(pg_url: str, tmp_path: Path) -> Iterator[Flask]:
    _truncate_postgres(pg_url)
    env = {**base_env(tmp_path, pg_url), "SWITCHBOARD_VOICE_SUPPORT_NUMBER": "+15005550010"}
    app = create_app(load_settings(env), config={"TASKS_INLINE": True, "TESTING": True})
    yield app
    get_db(app).dispose()


def test_erasing_the_caller_erases_the_calls_transcript(pg_line: Flask) -> None:
    client = signed(pg_line)
    put_through(client)
    heard(client, "Hi, this is Quill Zorbamark, my parcel never came.")
    heard(client, "Thanks Mr Zorbamark, let me check that for you.", track="outbound_track")
    with get_db(pg_line).session() as session:
        before = traces(session, MARKERS)
    assert {"messages.body", "inbox_events.payload"} <= set(before), before

    erased = pg_line.test_client().post("/api/customers/erase", json={"identity": CALLER},
                                        headers={"Authorization": f"Bearer {key_for(pg_line)}"})

    assert erased.status_code == 200, erased.get_data(as_text=True)
    with get_db(pg_line).session() as session:
        assert traces(session, MARKERS) == {}
