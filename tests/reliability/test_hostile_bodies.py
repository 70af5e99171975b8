"""Bodies no vendor sends: 10 MB, invalid UTF-8, a 100,000-character message.

Every webhook endpoint in the app's url_map is covered, so a new endpoint is checked
the day it is added (and this test fails if it cannot tell how to reach it)."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from flask import Flask
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import select

from switchboard.app import MAX_BODY_BYTES, create_app
from switchboard.config import load_settings
from switchboard.core.knowledge.loaders import load_articles
from switchboard.core.knowledge_base import KnowledgeBase
from switchboard.core.replies import MODEL_INPUT_CHARS
from switchboard.db import get_db
from switchboard.models import Message

from ..conftest import SLACK_SECRET, ZENDESK_SECRET
from ..fakes.openai_server import FakeOpenAI
from ..selfservice.test_selfservice_over_twilio import SAMPLE_KB, inbound
from ..signing import zendesk_signature
from .conftest import stored, vendor_for

#: Content type each webhook endpoint is called with by its vendor.
WEBHOOK_CONTENT_TYPES = {
    "/webhooks/twilio/messages": "application/x-www-form-urlencoded",
    "/webhooks/twilio/status": "application/x-www-form-urlencoded",
    "/webhooks/zendesk": "application/json",
    "/slack/events": "application/json",
}
INVALID_UTF8 = b'{"type": "event_callback", "event_id": "Ev1", "text": "caf\xe9 \xff\xfe"}'


def webhook_paths(app: Flask) -> list[str]:
    paths = sorted({rule.rule for rule in app.url_map.iter_rules()
                    if rule.rule.startswith(("/webhooks/", "/slack/")) and "POST" in (rule.methods or ())})
    unknown = [p for p in paths if p not in WEBHOOK_CONTENT_TYPES]
    assert not unknown, f"webhook endpoints with no hostile-body case, add them to WEBHOOK_CONTENT_TYPES: {unknown}"
    return paths


def _signed_headers(path: str, body: bytes) -> dict[str, str]:
    """Valid vendor signatures where the scheme signs raw bytes (Zendesk, Slack), so the
    refusal is about the encoding, not the signature. Twilio signs decoded parameters,
    which raw invalid UTF-8 cannot be; its view checks the encoding first."""
    if path == "/webhooks/zendesk":
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return {"X-Zendesk-Webhook-Signature": zendesk_signature(ZENDESK_SECRET, stamp, body),
                "X-Zendesk-Webhook-Signature-Timestamp": stamp}
    if path == "/slack/events":
        import hashlib
        import hmac

        stamp = str(int(time.time()))
        digest = hmac.new(SLACK_SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}
    return {"X-Twilio-Signature": "not-computable-over-invalid-utf8"}


def test_every_webhook_endpoint_is_known(module_app: Flask) -> None:
    assert set(webhook_paths(module_app)) == set(WEBHOOK_CONTENT_TYPES)


@pytest.mark.parametrize("path", sorted(WEBHOOK_CONTENT_TYPES))
def test_a_10_mb_body_is_refused_with_413_naming_the_limit(module_app: Flask, path: str) -> None:
    before = stored(module_app)
    body = b"A" * (10 * 1024 * 1024)
    response = module_app.test_client().post(path, data=body, content_type=WEBHOOK_CONTENT_TYPES[path],
                                             headers=_signed_headers(path, body))
    assert response.status_code == 413
    assert response.is_json and str(MAX_BODY_BYTES) in response.get_json()["error"]
    assert stored(module_app) == before


@pytest.mark.parametrize("path", sorted(WEBHOOK_CONTENT_TYPES))
def test_invalid_utf8_is_a_400_naming_the_problem(module_app: Flask, path: str) -> None:
    before = stored(module_app)
    body = INVALID_UTF8 if WEBHOOK_CONTENT_TYPES[path] == "application/json" else b"Body=caf\xe9&From=\xff"
    response = module_app.test_client().post(path, data=body, content_type=WEBHOOK_CONTENT_TYPES[path],
                                             headers=_signed_headers(path, body))
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "UTF-8" in response.get_json()["error"]
    assert stored(module_app) == before


def test_percent_encoded_invalid_utf8_in_a_twilio_form_is_refused(module_app: Flask) -> None:
    before = stored(module_app)
    response = module_app.test_client().post(
        "/webhooks/twilio/messages", data=b"Body=%FF%FE&From=%2B14155550100&To=%2B15005550006",
        content_type="application/x-www-form-urlencoded", headers={"X-Twilio-Signature": "x"})
    assert 400 <= response.status_code < 500
    assert stored(module_app) == before


# --- a 100,000-character message and the model ------------------------------------------

@pytest.fixture
def fake_llm() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def llm_app(env: dict[str, str], fake_llm: FakeOpenAI) -> Iterator[Flask]:
    app = create_app(load_settings({**env, "OPENAI_BASE_URL": fake_llm.base_url}),
                     config={"TASKS_INLINE": True, "TESTING": True})
    with get_db(app).session() as session:
        KnowledgeBase(session, app.config["DEFAULT_ACCOUNT_ID"], app.config["SETTINGS"].data_dir) \
            .import_articles(load_articles(SAMPLE_KB))
    yield app
    get_db(app).dispose()


def test_a_100000_character_message_is_truncated_before_the_model_sees_it(llm_app: Flask,
                                                                         fake_llm: FakeOpenAI) -> None:
    fake_llm.reply("We refund you within 3 working days of your return reaching our warehouse [1].")
    question = "how long does delivery take to my town? "
    body = (question * 3000)[:99_980] + " ZEBRAFINCH"  # the tail must never reach the model
    assert len(body) > 99_990
    response = vendor_for(llm_app).twilio("/webhooks/twilio/messages", inbound(body))
    assert response.status_code == 200
    [request] = fake_llm.requests
    customer_text = " ".join(m["content"] for m in request["messages"] if m["role"] == "user")
    assert "ZEBRAFINCH" not in json.dumps(request)
    assert 0 < len(customer_text) <= MODEL_INPUT_CHARS + 20
    with get_db(llm_app).session() as session:  # the record keeps what the customer wrote
        stored_body = session.scalars(select(Message.body).where(Message.direction == "inbound")).one()
        assert stored_body.endswith("ZEBRAFINCH")


def test_a_100000_character_message_is_answered_by_the_local_engine_too(module_app: Flask) -> None:
    """No LLM: intent, sentiment and retrieval read the truncated text, and the delivery
    is processed (a reply is recorded) rather than failing on the size."""
    before = stored(module_app)
    body = ("my parcel has not arrived, where is it? " * 2600)[:100_000]
    response = vendor_for(module_app).twilio("/webhooks/twilio/messages", inbound(body))
    assert response.status_code == 200
    after = stored(module_app)
    assert after["messages"] == before["messages"] + 2  # the message and the bot's reply
    assert after["outbox_calls"] == before["outbox_calls"] + 1
