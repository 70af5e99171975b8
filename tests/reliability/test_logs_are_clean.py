"""Secrets and customers' personal data never reach the logs.

Real flows with live (HTTP-faked) Twilio and Zendesk, an LLM on the loopback
OpenAI-compatible server, forged deliveries and failing vendors, all captured at
DEBUG from every logger (ours, Bolt's, twilio's, zenpy's, openai's, urllib3's)."""
from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
import responses
from flask import Flask

from switchboard.app import create_app
from switchboard.core.settings import load_settings
from switchboard.intake.db import get_db

from ..conftest import SLACK_SECRET, TWILIO_SID, TWILIO_TOKEN, ZENDESK_SECRET, with_sample_kb
from ..fakes.openai_server import FakeOpenAI
from ..handoff.test_handoff_to_zendesk import TWILIO_API, Fakes, agent_comment, text
from .conftest import vendor_for

OPENAI_KEY = "sk-live-0penAIsecretKEY1234567890"
ZENDESK_API_TOKEN = "zdTokenSECRET0987654321"
SLACK_BOT_TOKEN = "xoxb-1111-2222-botTOKENsecret"
SECRETS = {
    "Twilio auth token": TWILIO_TOKEN,
    "Twilio basic auth": base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode(),
    "Zendesk webhook secret": ZENDESK_SECRET,
    "Zendesk API token": ZENDESK_API_TOKEN,
    "Zendesk basic auth": base64.b64encode(f"bot@acme.test/token:{ZENDESK_API_TOKEN}".encode()).decode(),
    "Slack signing secret": SLACK_SECRET,
    "Slack bot token": SLACK_BOT_TOKEN,
    "OpenAI API key": OPENAI_KEY,
}
CARD = "4111 1111 1111 1111"
PERSONAL = {
    "card number": CARD,
    "card digits": "4111111111111111",
    "customer email": "dana.smith@example.com",
    "customer phone (E.164)": "+14155550100",
    "customer phone (digits)": "4155550100",
    "number the customer wrote": "7946 0958",
}


@pytest.fixture
def fake_llm() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def live_app(env: dict[str, str], fake_llm: FakeOpenAI) -> Iterator[Flask]:
    live = {**env, "SWITCHBOARD_SANDBOX": "0", "ZENDESK_EMAIL": "bot@acme.test", "ZENDESK_API_TOKEN": ZENDESK_API_TOKEN,
            "SLACK_BOT_TOKEN": SLACK_BOT_TOKEN, "OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": fake_llm.base_url}
    app = create_app(load_settings(live), config={"TASKS_INLINE": True, "TESTING": True})
    yield with_sample_kb(app)
    get_db(app).dispose()


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    formatter = logging.Formatter()
    parts = []
    for record in caplog.records:
        parts.append(record.getMessage())
        if record.exc_info:
            parts.append(formatter.formatException(record.exc_info))
        if record.stack_info:
            parts.append(record.stack_info)
    return "\n".join(parts)


def test_real_flows_log_no_secret_and_no_personal_data(live_app: Flask, fake_llm: FakeOpenAI,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    signed = vendor_for(live_app)
    pii = f"my card {CARD} was declined, email me at dana.smith@example.com or call 020 7946 0958"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fakes = Fakes(mock)
        # 1. a question with personal data, answered by the LLM, sent through live Twilio
        fake_llm.reply("A payment is usually declined by your bank, not by us [1].")
        fake_llm.reply("A payment is usually declined by your bank, not by us [1].")
        assert signed.twilio("/webhooks/twilio/messages", text(pii)).status_code == 200
        # 2. a model outage, then a handoff into live Zendesk
        fake_llm.fail(500, message="upstream overloaded")
        fake_llm.fail(500, message="upstream overloaded")
        assert signed.twilio("/webhooks/twilio/messages", text("when do I get my money back after a return?"))\
            .status_code == 200
        assert signed.twilio("/webhooks/twilio/messages", text("AGENT")).status_code == 200
        # 3. an agent's reply goes back to the customer by SMS
        assert signed.zendesk(agent_comment("Hi Dana, we are on it.")).status_code == 200
        # 4. a vendor refusing a send with the customer's number in its error
        mock.replace(responses.POST, TWILIO_API, status=400, json={
            "code": 21211, "message": "The 'To' number +14155550100 is not a valid phone number.", "status": 400})
        signed.zendesk(agent_comment("One more thing."))
        assert len(fakes.sent_sms()) >= 2
    # 5. forged deliveries carrying personal data
    params = text(pii)
    assert signed.twilio("/webhooks/twilio/messages", params, signature="forged").status_code == 403
    signed.zendesk({"type": "zen:event-type:ticket.created", "id": "x", "detail": {"description": pii}},
                   secret="not-the-secret")
    body = json.dumps({"type": "event_callback", "event_id": "EvPII", "team_id": "T0001",
                       "event": {"type": "message", "text": pii}})
    assert signed.slack(body, content_type="application/json", secret="not-the-secret").status_code == 401
    form = urlencode({"payload": json.dumps({"type": "block_actions", "trigger_id": "1.2", "user": {"id": "U1"},
                                            "actions": [{"action_id": "x", "value": pii}]})})
    assert signed.slack(form, content_type="application/x-www-form-urlencoded",
                        timestamp=int(time.time()) - 3600).status_code == 401

    logged = everything_logged(caplog)
    assert len(caplog.records) > 10, "the flows above should have logged something at DEBUG"
    leaks = {name: value for name, value in {**SECRETS, **PERSONAL}.items() if value in logged}
    assert not leaks, f"found in the logs: {sorted(leaks)}"
