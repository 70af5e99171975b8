"""The handoff summary's first sentence: the topic it names is the topic of the message
it quotes, so an agent never reads "wants help with payment issue" above a question about
a late order."""
from __future__ import annotations

from switchboard.core.helpdesk.summary import extractive
from switchboard.core.store.models import Message


def customer(number: int, body: str, intent: str) -> Message:
    return Message(id=number, author="customer", direction="inbound", body=body,
                   meta={"enrichment": {"intent": intent}})


def test_the_topic_named_is_the_quoted_messages() -> None:
    summary = extractive([customer(1, "my order A1001 never came, where is it?", "delivery_delay"),
                          customer(2, "ok thanks", "thanks"),
                          customer(3, "also my card was charged twice", "payment_issue")])
    assert summary.startswith('The customer wants help with delivery delay: "my order A1001 never came'), summary
    assert 'Their latest message: "also my card was charged twice"' in summary


def test_a_quoted_message_without_a_topic_takes_the_latest_one() -> None:
    summary = extractive([customer(1, "my order A1001 never came, where is it?", "oos"),
                          customer(2, "and I was charged twice for it", "payment_issue")])
    assert summary.startswith("The customer wants help with payment issue:"), summary
