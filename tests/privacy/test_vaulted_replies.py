"""A bot reply that names a vault token ([PHONE_1], written by the model) reaches the
customer with their own value, while the timeline, where agents and the model read,
keeps the token — checked on the loopback OpenAI-compatible server's reply and the
Twilio send recorded in the outbox, after signed Twilio messages."""
from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from switchboard.db import get_db
from switchboard.models import Message, OutboxCall

from ..fakes.openai_server import FakeOpenAI
from .helpers import say
from .test_model_and_logs import fake_llm, llm_shop  # noqa: F401 - fixtures
from .test_vault_and_keys import vendor_for

PHONE = "+44 20 7946 0958"
#: The grounding gate sends only sentences an article supports, so the model's token
#: rides in one ("We will call you at [PHONE_1]" alone would be refused as unsupported).
GROUNDED = "A payment is usually declined by your bank, not by us, so we will call you at {token}."


def test_the_customer_reads_their_number_and_the_timeline_keeps_the_token(llm_shop: Flask,  # noqa: F811
                                                                          fake_llm: FakeOpenAI) -> None:  # noqa: F811
    fake_llm.reply(GROUNDED.format(token="[PHONE_1]"))
    vendor = vendor_for(llm_shop)
    say(vendor, f"my card payment was declined, why? call me on {PHONE}")

    seen = str(fake_llm.requests)  # the model wrote the token unseen:
    assert fake_llm.requests and "7946 0958" not in seen and "2079460958" not in seen
    with get_db(llm_shop).session() as session:
        [sent] = [c.payload for c in session.scalars(select(OutboxCall).where(OutboxCall.vendor == "twilio"))]
        [reply] = session.scalars(select(Message).where(Message.author == "bot")).all()
    assert GROUNDED.format(token=PHONE) in sent["body"] and "[PHONE_1]" not in sent["body"]
    assert GROUNDED.format(token="[PHONE_1]") in reply.body and "7946" not in reply.body


def test_a_token_the_conversation_does_not_hold_is_sent_as_written(llm_shop: Flask,  # noqa: F811
                                                                   fake_llm: FakeOpenAI) -> None:  # noqa: F811
    """Only this conversation's vault is opened: another customer's [PHONE_1] is theirs.
    (Here the customer typed "[PHONE_1]" literally, so the model could repeat it.)"""
    vendor = vendor_for(llm_shop)
    say(vendor, "my number is +44 20 7946 0999", sender="+14155550177")
    fake_llm.reply(GROUNDED.format(token="[PHONE_1]"))
    say(vendor, "my card payment was declined, why? call me on [PHONE_1]")
    assert len(fake_llm.requests) == 1
    with get_db(llm_shop).session() as session:
        last = session.scalars(select(OutboxCall).where(OutboxCall.vendor == "twilio")
                               .order_by(OutboxCall.id.desc())).first()
    assert last is not None and GROUNDED.format(token="[PHONE_1]") in last.payload["body"]
    assert "0999" not in last.payload["body"]
