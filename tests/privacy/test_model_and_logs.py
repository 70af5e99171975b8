"""The model, the logs and the Zendesk note see tokens, never the originals: checked on
what the loopback OpenAI-compatible server received and on every log record, at DEBUG,
for a conversation that repeats a phone number and is handed to a person."""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from switchboard.app import create_app
from switchboard.core.knowledge.loaders import load_articles
from switchboard.core.knowledge.service import KnowledgeBase
from switchboard.core.settings import load_settings
from switchboard.core.store.models import OutboxCall
from switchboard.intake.db import get_db

from ..conftest import SAMPLE_KB
from ..fakes.openai_server import FakeOpenAI
from .helpers import say
from .test_vault_and_keys import vendor_for

ORIGINALS = ("4111", "dana.smith", "example.com", "7946", "0958")


@pytest.fixture
def fake_llm() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def llm_shop(env: dict[str, str], fake_llm: FakeOpenAI) -> Iterator[Flask]:
    app = create_app(load_settings({**env, "OPENAI_BASE_URL": fake_llm.base_url, "OPENAI_API_KEY": "sk-test"}),
                     config={"TASKS_INLINE": True, "TESTING": True})
    with get_db(app).session() as session:
        KnowledgeBase(session, app.config["DEFAULT_ACCOUNT_ID"], app.config["SETTINGS"].data_dir).import_articles(
            load_articles(SAMPLE_KB))
    yield app
    get_db(app).dispose()


def test_model_logs_and_notes_see_only_tokens(llm_shop: Flask, fake_llm: FakeOpenAI,
                                              caplog: pytest.LogCaptureFixture) -> None:
    for _ in range(6):
        fake_llm.reply("A payment is usually declined by your bank, not by us [1].")
    caplog.set_level(logging.DEBUG)
    vendor = vendor_for(llm_shop)
    say(vendor, "my card 4111-1111-1111-1111 was declined, email dana.smith@example.com or call +44 20 7946 0958")
    say(vendor, "to be clear the number is +442079460958")
    say(vendor, "AGENT")

    assert fake_llm.requests, "the model was asked nothing: the test would prove nothing"
    seen = json.dumps(fake_llm.requests)
    assert not [o for o in ORIGINALS if o in seen], seen
    assert "[CARD_1]" in seen and "[EMAIL_1]" in seen and "[PHONE_1]" in seen
    assert "[PHONE_2]" not in seen  # the same number twice is the same token: the model's replies stay coherent

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert caplog.records and not [o for o in ORIGINALS if o in logged], logged

    with get_db(llm_shop).session() as session:
        notes = [c.payload for c in session.scalars(select(OutboxCall).where(OutboxCall.vendor == "zendesk"))]
    package = json.dumps(notes, ensure_ascii=False)
    assert "[CARD_1]" in package and "[PHONE_1]" in package
    assert not [o for o in ("4111", "dana.smith", "7946") if o in package], package
