"""Issue 42, item 1: whoever writes help-center text must not be able to make the bot
text out what a customer typed. A vault token ([CARD_1]) is opened in a message to the
customer only when it is their own contact detail (a phone or an email they wrote in
this conversation) and the reply did not get it from an article; the outbox records
the token, and only the request to Twilio carries the value.

Through signed Twilio messages, with Twilio's Messages API faked at the HTTP layer
(``responses``), the model on the loopback OpenAI-compatible server, and an agent's
reply as a signed Zendesk webhook."""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses
from flask import Flask
from sqlalchemy import select

from switchboard.app import create_app
from switchboard.core.knowledge.loaders import load_articles
from switchboard.core.knowledge.service import KnowledgeBase
from switchboard.core.settings import load_settings
from switchboard.core.store.models import KbArticle, Message, OutboxCall
from switchboard.intake.db import get_db

from ..conftest import SAMPLE_KB
from ..fakes.openai_server import FakeOpenAI
from ..handoff.test_handoff_to_zendesk import Fakes
from ..signing import VendorClient
from ..webchat.conftest import Visitor
from ..webchat.test_api_handoff import agent_reply, hand_over
from .helpers import LiveVendors, say
from .test_model_and_logs import fake_llm  # noqa: F401 - fixture
from .test_vault_and_keys import vendor_for

CARD = "4111 1111 1111 1111"
PHONE = "+44 20 7946 0958"
#: The help-center author's bait: the customer's own card token in a stock answer.
BAIT = "We can see the charge on your card [CARD_1]. "


def digits(text: str) -> str:
    return re.sub(r"[^0-9]", "", text)


def no_card(text: str) -> bool:
    """Neither the number as typed nor its digits run together (JSON, form encoding)."""
    return "4111" not in text and "4111111111111111" not in digits(text)


def baited_kb(tmp_path: Path) -> Path:
    """The sample shop, its "charged twice" article edited to name [CARD_1]."""
    data = json.loads(SAMPLE_KB.read_text())
    for article in data["articles"]:
        if article["id"] == "charged-twice":
            article["body"] = BAIT + article["body"]
    path = tmp_path / "baited_kb.json"
    path.write_text(json.dumps(data))
    return path


def live_app(env: dict[str, str], kb: Path, **extra: str) -> Flask:
    """Live Twilio (no sandbox): every send is an HTTP request the fake receives."""
    app = create_app(load_settings({**env, "SWITCHBOARD_SANDBOX": "0", **extra}),
                     config={"TASKS_INLINE": True, "TESTING": True})
    with get_db(app).session() as session:
        KnowledgeBase(session, app.config["DEFAULT_ACCOUNT_ID"], app.config["SETTINGS"].data_dir).import_articles(
            load_articles(kb))
    return app


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield LiveVendors(mock)


@pytest.fixture
def baited_shop(env: dict[str, str], tmp_path: Path) -> Iterator[Flask]:
    app = live_app(env, baited_kb(tmp_path))
    yield app
    get_db(app).dispose()


def outbox_rows(app: Flask) -> list[str]:
    with get_db(app).session() as session:
        return [json.dumps([c.payload, c.response, c.error]) for c in session.scalars(select(OutboxCall))]


def test_an_article_naming_a_card_token_never_texts_the_customers_card(baited_shop: Flask, fakes: Fakes) -> None:
    vendor = vendor_for(baited_shop)
    say(vendor, f"I paid with my card {CARD} yesterday")
    say(vendor, "I have been charged twice for one order, why?")

    sent = fakes.sent_sms()
    answer = sent[-1]["Body"]
    assert "authorisation hold" in answer, sent  # the baited article answered
    assert all(no_card(sms["Body"]) for sms in sent), sent
    rows = outbox_rows(baited_shop)
    assert rows and all(no_card(row) for row in rows), rows


def test_an_imported_article_keeps_no_token_shaped_text(baited_shop: Flask) -> None:
    """Neutralised at import: "[CARD_1]" is stored and indexed as "(CARD_1)"."""
    with get_db(baited_shop).session() as session:
        body = session.scalars(select(KbArticle.body).where(KbArticle.external_id == "charged-twice")).one()
    assert "[CARD_1]" not in body and "(CARD_1)" in body


@pytest.fixture
def llm_live_shop(env: dict[str, str], fake_llm: FakeOpenAI) -> Iterator[Flask]:  # noqa: F811
    app = live_app(env, SAMPLE_KB, OPENAI_BASE_URL=fake_llm.base_url, OPENAI_API_KEY="sk-test")
    yield app
    get_db(app).dispose()


#: The grounding gate sends only sentences an article supports, so the model's token
#: rides in one.
GROUNDED = "A payment is usually declined by your bank, not by us, so we will call you at {token}."


def test_the_customers_own_phone_reaches_twilio_and_the_outbox_keeps_the_token(
        llm_live_shop: Flask, fake_llm: FakeOpenAI, fakes: Fakes) -> None:  # noqa: F811
    fake_llm.reply(GROUNDED.format(token="[PHONE_1]"))
    say(vendor_for(llm_live_shop), f"my card payment was declined, why? call me on {PHONE}")

    [sms] = fakes.sent_sms()
    assert GROUNDED.format(token=PHONE) in sms["Body"]  # the customer reads their number
    with get_db(llm_live_shop).session() as session:
        [call] = session.scalars(select(OutboxCall).where(OutboxCall.vendor == "twilio")).all()
        [reply] = session.scalars(select(Message).where(Message.author == "bot")).all()
    assert GROUNDED.format(token="[PHONE_1]") in call.payload["body"]
    assert "7946" not in json.dumps([call.payload, call.response])
    assert GROUNDED.format(token="[PHONE_1]") in reply.body


def test_a_token_the_conversation_does_not_hold_is_sent_as_written(llm_live_shop: Flask,  # noqa: F811
                                                                   fake_llm: FakeOpenAI, fakes: Fakes) -> None:  # noqa: F811
    """Only this conversation's vault is opened: another customer's [PHONE_1] is theirs.
    (Here the customer typed "[PHONE_1]" literally, so the model could repeat it.)"""
    vendor = vendor_for(llm_live_shop)
    say(vendor, "my number is +44 20 7946 0999", sender="+14155550177")
    fake_llm.reply(GROUNDED.format(token="[PHONE_1]"))
    say(vendor, "my card payment was declined, why? call me on [PHONE_1]")

    assert len(fake_llm.requests) == 1
    last = fakes.sent_sms()[-1]
    assert last["To"] == "+14155550100" and GROUNDED.format(token="[PHONE_1]") in last["Body"]
    assert "0999" not in last["Body"]


def test_a_card_token_the_model_writes_is_never_opened(llm_live_shop: Flask, fake_llm: FakeOpenAI,  # noqa: F811
                                                       fakes: Fakes) -> None:
    """Cards, IBANs and national ids never leave in a message, whoever wrote the token."""
    fake_llm.reply(GROUNDED.format(token="[CARD_1]"))
    say(vendor_for(llm_live_shop), f"my card {CARD} payment was declined, why?")

    [sms] = fakes.sent_sms()
    assert "[CARD_1]" in sms["Body"] and no_card(sms["Body"])
    assert all(no_card(row) for row in outbox_rows(llm_live_shop))


def test_an_agents_text_naming_a_token_shows_the_token_in_the_widget(shop: Flask, vendor: VendorClient) -> None:
    """The widget opens what the bot was allowed to open, never an agent's text."""
    visitor = Visitor(shop.test_client())
    visitor.start()
    visitor.say(f"call me back on {PHONE}")
    ticket = hand_over(visitor, shop)
    before = visitor.messages()[-1]["id"]

    assert vendor.zendesk(agent_reply(ticket, body="We will call [PHONE_1] today.")).status_code == 200

    [reply] = visitor.messages(after=before)
    assert reply["author"] == "agent" and reply["text"] == "We will call [PHONE_1] today."
