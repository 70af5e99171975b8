"""The request inside a polite message: greetings, pleasantries, thanks and sign-offs
come off; a message that is only small talk stays whole, and words that merely look
like a greeting ("hiking", "morning delivery") stay part of the question."""
from __future__ import annotations

import pytest

from switchboard.core.enrichment import enrich
from switchboard.core.intent_store import default_intent_model
from switchboard.core.small_talk import request_part


@pytest.mark.parametrize(("message", "asked"), [
    ("Hi, where is my parcel?", "where is my parcel?"),
    ("hi where is my parcel", "where is my parcel"),
    ("Hello! how long does delivery take?", "how long does delivery take?"),
    ("Good morning, my card was declined", "my card was declined"),
    ("Morning! can I change my address", "can I change my address"),
    ("Hi there, hope you are well. Where is my refund?", "Where is my refund?"),
    ("Hi, how are you? where is my parcel?", "where is my parcel?"),
    ("Dear support team,\nmy order never arrived.\nKind regards,\nAnna Smith", "my order never arrived."),
    ("how do I return an item? thanks, Anna", "how do I return an item?"),
    ("where is my parcel thanks", "where is my parcel"),
    ("I want to talk to a human thx", "I want to talk to a human"),
    ("Is my data safe? Cheers", "Is my data safe?"),
    ("My card is blocked. Regards, John", "My card is blocked."),
    ("Thanks! And how do I return an item?", "And how do I return an item?"),
    ("Hola, ¿dónde está mi pedido? Gracias", "¿dónde está mi pedido?"),
    ("Bonjour, je n'ai pas reçu mon colis. Merci beaucoup", "je n'ai pas reçu mon colis."),
    ("Hallo, wo ist mein Paket? Viele Grüße, Jan", "wo ist mein Paket?"),
    ("Olá, quero devolver um produto. Obrigado", "quero devolver um produto."),
    ("Merhaba, siparişim nerede? Teşekkürler", "siparişim nerede?"),
    ("مرحبا، أين طلبي؟ شكرا", "أين طلبي؟"),
    ("Refund not received\nHi team,\n\nI returned my jacket.\n\nKind regards,\nAnna Smith",
     "Refund not received\n\nI returned my jacket."),  # a ticket: its subject line, then the email
    ("Where is my order\nHello,\nit has been 10 days.\nThanks,\nTom", "Where is my order\nit has been 10 days."),
    ("um hi yeah where is my parcel", "where is my parcel"),  # a caller, transcribed
    ("uh, hello, my card was declined", "my card was declined"),
])
def test_the_greeting_and_thanks_around_a_request_come_off(message: str, asked: str) -> None:
    assert request_part(message) == asked


@pytest.mark.parametrize("message", [
    "hi", "hey hey", "Hello? Anyone there?", "thanks so much!", "Good morning, how are you?", "regards", "ummm",
    "thanks for your help",
])
def test_a_message_that_is_only_small_talk_stays_whole(message: str) -> None:
    assert request_part(message) == message


@pytest.mark.parametrize("message", [
    "hiking boots in stock?", "morning delivery slots?", "your order?", "best price for a laptop?",
    "Umbrella stand in stock?", "ERROR 404 on checkout",
    "what is the warranty", "I got it, thanks for the refund",
])
def test_words_that_only_look_like_greetings_stay(message: str) -> None:
    assert request_part(message) == message


@pytest.mark.parametrize("message", [
    "Hi, I was charged twice for one order", "Good morning! I was charged twice for one order",
    "I was charged twice for one order. Thanks, Sam",
    "Hello, hope you're well. I was charged twice for one order",
])
def test_the_intent_of_a_polite_message_is_its_requests(message: str) -> None:
    """The shipped model called such messages greetings or thanks, and the customer was
    asked "How can I help you today?" instead of being answered."""
    model = default_intent_model()
    plain = enrich("I was charged twice for one order", intent_model=model)
    polite = enrich(message, intent_model=model)
    assert polite.intent == plain.intent and polite.intent not in ("greeting", "thanks")
    assert polite.sentiment == plain.sentiment


def test_small_talk_alone_keeps_its_intent() -> None:
    model = default_intent_model()
    assert enrich("Good morning!", intent_model=model).intent == "greeting"
    assert enrich("thank you so much, that's all", intent_model=model).intent == "thanks"


def test_only_a_few_pieces_come_off_however_many_there_are() -> None:
    """A real message opens and closes with one to three pieces; the bound keeps the
    work linear for one made of thousands ("thanks " 14,000 times took 99 s unbounded)."""
    from switchboard.core.small_talk import _MAX_PIECES

    assert request_part("where is my parcel" + " thanks" * 20) == "where is my parcel" + " thanks" * (20 - _MAX_PIECES)
    assert request_part("hi, " * 20 + "where is my parcel") == "hi, " * (20 - _MAX_PIECES) + "where is my parcel"
