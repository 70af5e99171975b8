"""Bodies no vendor sends: 10 MB, invalid UTF-8, a 100,000-character message.

Every webhook endpoint in the app's url_map is covered, so a new endpoint is checked
the day it is added (and this test fails if it cannot tell how to reach it)."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode

import pytest
from flask import Flask
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from switchboard.app import MAX_BODY_BYTES, create_app
from switchboard.core.knowledge.loaders import load_articles
from switchboard.core.knowledge.service import KnowledgeBase
from switchboard.core.pii.redaction import MODEL_INPUT_CHARS, TRUNCATION_MARKER
from switchboard.core.settings import load_settings
from switchboard.core.store.models import AuditEntry, InboxEvent, Message, OutboxCall, Suggestion
from switchboard.core.understanding.enrichment import sentiment_score
from switchboard.intake.db import get_db

from ..conftest import PUBLIC_URL, SLACK_SECRET, TWILIO_TOKEN, ZENDESK_SECRET
from ..fakes.openai_server import FakeOpenAI
from ..selfservice.test_selfservice_over_twilio import SAMPLE_KB, inbound
from ..signing import fixture, zendesk_signature
from .conftest import stored, vendor_for

#: Content type each webhook endpoint is called with by its vendor.
WEBHOOK_CONTENT_TYPES = {
    "/webhooks/twilio/messages": "application/x-www-form-urlencoded",
    "/webhooks/twilio/status": "application/x-www-form-urlencoded",
    "/webhooks/twilio/voice": "application/x-www-form-urlencoded",
    "/webhooks/twilio/voice/gather": "application/x-www-form-urlencoded",
    "/webhooks/twilio/voice/status": "application/x-www-form-urlencoded",
    "/webhooks/twilio/voice/transcription": "application/x-www-form-urlencoded",
    "/webhooks/zendesk": "application/json",
    "/slack/events": "application/json",
}
INVALID_UTF8 = b'{"type": "event_callback", "event_id": "Ev1", "text": "caf\xe9 \xff\xfe"}'
#: Complete Twilio deliveries (every required parameter) but for one Latin-1 byte.
_TWILIO_COMMON = b"AccountSid=AC" + b"1" * 32 + b"&To=%2B15005550006&MessageSid=SMutf8"
_TWILIO_CALL = b"AccountSid=AC" + b"1" * 32 + b"&To=%2B15005550006&From=%2B14155550199&CallSid=CAutf8"
INVALID_UTF8_FORM = {
    "/webhooks/twilio/messages": _TWILIO_COMMON + b"&From=%2B14155550199&Body=caf\xe9+au+lait",
    "/webhooks/twilio/status": _TWILIO_COMMON + b"&MessageStatus=deliv\xe9red",
    "/webhooks/twilio/voice": _TWILIO_CALL + b"&CallStatus=ringing&CallerName=Jos\xe9",
    "/webhooks/twilio/voice/gather": _TWILIO_CALL + b"&CallStatus=in-progress&SpeechResult=caf\xe9+au+lait",
    "/webhooks/twilio/voice/status": _TWILIO_CALL + b"&CallStatus=compl\xe9ted",
    "/webhooks/twilio/voice/transcription": b"AccountSid=AC" + b"1" * 32 + b"&CallSid=CAutf8&TranscriptionSid=GTutf8"
    b"&SequenceId=2&TranscriptionEvent=transcription-content&Track=inbound_track&Final=true"
    b"&TranscriptionData=%7B%22transcript%22%3A%22caf\xe9%22%7D",
}
#: The query Switchboard puts in its own URL (the <Gather> action's turn), signed with it.
QUERIES = {"/webhooks/twilio/voice/gather": "?turn=1"}


def webhook_paths(app: Flask) -> list[str]:
    paths = sorted({rule.rule for rule in app.url_map.iter_rules()
                    if rule.rule.startswith(("/webhooks/", "/slack/")) and "POST" in (rule.methods or ())})
    unknown = [p for p in paths if p not in WEBHOOK_CONTENT_TYPES]
    assert not unknown, f"webhook endpoints with no hostile-body case, add them to WEBHOOK_CONTENT_TYPES: {unknown}"
    return paths


def _signed_headers(path: str, body: bytes) -> dict[str, str]:
    """Valid vendor signatures, so a refusal is about the body, not the signature.
    Zendesk and Slack sign the raw bytes. Twilio signs the URL and the decoded
    parameters, so its signature is computed as Twilio's own RequestValidator would over
    these parameters decoded with replacement characters (invalid bytes cannot be
    decoded any other way); test_the_signed_twilio_case_is_validly_signed proves it is."""
    if path == "/webhooks/zendesk":
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return {"X-Zendesk-Webhook-Signature": zendesk_signature(ZENDESK_SECRET, stamp, body),
                "X-Zendesk-Webhook-Signature-Timestamp": stamp}
    if path == "/slack/events":  # slack_sdk's generate_signature decodes the body first: sign the bytes as v0 does
        stamp = str(int(time.time()))
        digest = hmac.new(SLACK_SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}
    params = _twilio_params(body)
    return {"X-Twilio-Signature": RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC_URL + path, params)}


def _twilio_params(body: bytes) -> dict[str, str]:
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def _invalid_utf8_body(path: str) -> bytes:
    if WEBHOOK_CONTENT_TYPES[path] == "application/json":
        return INVALID_UTF8
    return INVALID_UTF8_FORM[path]


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
    body = _invalid_utf8_body(path)
    response = module_app.test_client().post(path, data=body, content_type=WEBHOOK_CONTENT_TYPES[path],
                                             headers=_signed_headers(path, body))
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "UTF-8" in response.get_json()["error"]
    assert stored(module_app) == before


@pytest.mark.parametrize("path", sorted(INVALID_UTF8_FORM))
def test_the_signed_twilio_case_is_validly_signed(module_app: Flask, path: str) -> None:
    """The control for the invalid-UTF-8 case: the very signature it carries is accepted
    for the same parameters sent as valid UTF-8, so its 400 is the encoding check."""
    body = _invalid_utf8_body(path)
    url = path + QUERIES.get(path, "")
    headers = _signed_headers(url, body)
    valid = urlencode(_twilio_params(body)).encode()
    response = module_app.test_client().post(url, data=valid, content_type="application/x-www-form-urlencoded",
                                             headers=headers)
    assert response.status_code in (200, 204), response.get_data(as_text=True)


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
    question = "I forgot my password, how do I reset it? "
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


#: A question the sample knowledge base answers, then a furious tail. Read whole, VADER
#: scores it -1.0 (negative, and the ticket's priority goes to high), after some 90 s;
#: read to the limit, it is a neutral question. What the models return shows how much
#: they read.
CALM_HEAD = ("how long does delivery take to my town? " * 100)[:MODEL_INPUT_CHARS]
FURIOUS_TAIL = "This is awful, terrible and horrible, I hate you all!!! " * 2000
READ_LIMIT = MODEL_INPUT_CHARS + len(TRUNCATION_MARKER)


def long_message() -> str:
    body = (CALM_HEAD + " " + FURIOUS_TAIL)[:99_980] + " ZEBRAFINCH"
    assert len(body) > 99_990 and sentiment_score(FURIOUS_TAIL[:2000]) < -0.6  # the tail would decide
    return body


def test_a_100000_character_message_is_answered_by_the_local_engine_too(module_app: Flask) -> None:
    """No LLM: intent, sentiment and retrieval read the truncated text (the stored
    enrichment is the calm head's, not the furious tail's), and the delivery is processed
    (a reply is recorded) rather than failing on the size."""
    before = stored(module_app)
    params = inbound(long_message())
    response = vendor_for(module_app).twilio("/webhooks/twilio/messages", params)
    assert response.status_code == 200
    after = stored(module_app)
    assert after["messages"] == before["messages"] + 2  # the message and the bot's reply
    assert after["outbox_calls"] == before["outbox_calls"] + 1
    with get_db(module_app).session() as session:
        message = session.scalars(select(Message).where(Message.external_id == params["MessageSid"])).one()
        assert message.body.endswith("ZEBRAFINCH")  # the record keeps what the customer wrote
        assert message.meta["enrichment"]["sentiment_label"] == "neutral", message.meta["enrichment"]


def _ticket_created(ticket_id: str, description: str) -> dict[str, object]:
    payload = fixture("zendesk", "ticket_created.json")
    payload["id"] = f"long-{ticket_id}"
    payload["detail"] = {**payload["detail"], "id": ticket_id, "subject": "Delivery question",
                         "description": description}
    return payload


def test_a_100000_character_ticket_reaches_no_model_beyond_the_limit(llm_app: Flask, fake_llm: FakeOpenAI) -> None:
    """The Zendesk path: intent and sentiment written back to the ticket, and the
    retrieval behind the agent's suggestions, read at most the limit of a 100,000-
    character ticket; no request to the LLM carries more either."""
    response = vendor_for(llm_app).zendesk(_ticket_created("5158", long_message()))
    assert response.status_code == 200, response.get_data(as_text=True)
    with get_db(llm_app).session() as session:
        [event] = session.scalars(select(InboxEvent)).all()
        assert (event.status, event.error) == ("done", None)
        queries = list(session.scalars(select(Suggestion.query).where(Suggestion.zendesk_ticket_id == 5158)))
        queries_chars = [len(q) for q in queries] + [
            entry.detail["query_chars"] for entry in session.scalars(
                select(AuditEntry).where(AuditEntry.action == "assist.no_suggestion"))]
        [update] = [call.payload["ticket"] for call in session.scalars(
            select(OutboxCall).where(OutboxCall.vendor == "zendesk", OutboxCall.operation == "tickets.update"))]
    assert queries_chars and all(0 < n <= READ_LIMIT for n in queries_chars), queries_chars
    assert not any("ZEBRAFINCH" in q or "awful" in q for q in queries)
    assert "sentiment_neutral" in update["additional_tags"], update  # the calm head, not the tail
    assert update.get("priority") != "high", update
    for request in fake_llm.requests:
        assert "ZEBRAFINCH" not in json.dumps(request)
        assert all(len(m["content"]) <= READ_LIMIT for m in request["messages"] if m["role"] == "user")
