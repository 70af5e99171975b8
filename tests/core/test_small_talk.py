"""The request inside a polite message: greetings, pleasantries, thanks and sign-offs
come off; a message that is only small talk stays whole, and words that merely look
like a greeting ("hiking", "morning delivery") stay part of the question."""
from __future__ import annotations

import pytest

from switchboard.core.intents.store import default_intent_model
from switchboard.core.understanding.enrichment import enrich
from switchboard.core.understanding.small_talk import asks_who_answers, request_part, small_talk_only


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
    # Thanks for the help, appreciation and wishes: politeness, whatever the words.
    ("How do I reset my password? Thank you for your help!", "How do I reset my password?"),
    ("Where is my parcel? Many thanks in advance for your help!", "Where is my parcel?"),
    ("my card was declined. Appreciate any help!", "my card was declined."),
    ("Where is my refund? Any help would be appreciated.", "Where is my refund?"),
    ("Where is my refund? Would appreciate a quick answer, thanks", "Where is my refund?"),
    ("Hi! can I change my address? Have a nice day!", "can I change my address?"),
    ("My card is blocked.\nBest,\nAnna", "My card is blocked."),
    ("Where is my order? Thanks & regards, Raj", "Where is my order?"),
    ("¿Dónde está mi pedido? Gracias por su ayuda", "¿Dónde está mi pedido?"),
    ("Wo ist mein Paket? Danke für Ihre Hilfe", "Wo ist mein Paket?"),
    ("Où est mon colis ? Merci pour votre aide", "Où est mon colis ?"),
    ("Where is my parcel? Thank you, I really appreciate it :)", "Where is my parcel?"),
    ("where is my parcel? thx in advance 🙏", "where is my parcel?"),
    ("Where is my parcel? ¡Muchas gracias de antemano! Saludos, Lucía", "Where is my parcel?"),
    ("How do I return an item?\n\nYours faithfully,\nRobert Hughes", "How do I return an item?"),
    ("Is the typo fixed? ty", "Is the typo fixed?"),
    ("Where is my parcel? bye", "Where is my parcel?"),
    ("Thanks! That solved it. Goodbye", "That solved it."),
    ("¿Cuánto cuesta el envío? Hasta luego", "¿Cuánto cuesta el envío?"),
    ("Wann kommt mein Paket? Tschüss", "Wann kommt mein Paket?"),
    ("Où est mon colis ? Au revoir", "Où est mon colis ?"),
])
def test_the_greeting_and_thanks_around_a_request_come_off(message: str, asked: str) -> None:
    assert request_part(message) == asked


@pytest.mark.parametrize("message", [
    "hi", "hey hey", "Hello? Anyone there?", "thanks so much!", "Good morning, how are you?", "regards", "ummm",
    "thanks for your help", "Thank you for your help!", "Any help would be appreciated.", "Have a nice day!",
])
def test_a_message_that_is_only_small_talk_stays_whole(message: str) -> None:
    assert request_part(message) == message


@pytest.mark.parametrize("message", [
    "hiking boots in stock?", "morning delivery slots?", "your order?", "best price for a laptop?",
    "Umbrella stand in stock?", "ERROR 404 on checkout",
    "what is the warranty", "I got it, thanks for the refund", "What is the best, cheapest plan?",
    "I would appreciate your help with my refund", "thanks for the replacement, but it is broken too",
    "tyres in stock?", "is the shop open :)",
])
def test_words_that_only_look_like_greetings_stay(message: str) -> None:
    assert request_part(message) == message


@pytest.mark.parametrize("message", [
    "Hi, I was charged twice for one order", "Good morning! I was charged twice for one order",
    "I was charged twice for one order. Thanks, Sam",
    "Hello, hope you're well. I was charged twice for one order",
    "I was charged twice for one order. Thank you for your help!",
    "I was charged twice for one order. Appreciate any help!",
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


@pytest.mark.parametrize(("message", "asked"), [
    ("Здравствуйте! Где моя посылка?", "Где моя посылка?"),
    ("Где моя посылка? Спасибо, Анна", "Где моя посылка?"),
    ("Привіт, де моя посилка? Дякую", "де моя посилка?"),
    ("你好，我的包裹在哪里？谢谢！", "我的包裹在哪里？"),
    ("こんにちは。荷物はどこですか？ありがとうございます", "荷物はどこですか？"),
    ("안녕하세요, 택배 어디 있어요? 감사합니다", "택배 어디 있어요?"),
    ("Γειά σας, πού είναι το δέμα μου; Ευχαριστώ", "πού είναι το δέμα μου"),  # ";" is its question mark
    ("שלום, איפה החבילה שלי? תודה", "איפה החבילה שלי?"),
    ("สวัสดีครับ พัสดุของฉันอยู่ที่ไหน ขอบคุณครับ", "พัสดุของฉันอยู่ที่ไหน"),
    ("नमस्ते, मेरा पार्सल कहाँ है? धन्यवाद", "मेरा पार्सल कहाँ है?"),
])
def test_small_talk_comes_off_in_every_detected_language(message: str, asked: str) -> None:
    assert request_part(message) == asked


@pytest.mark.parametrize(("message", "intent"), [
    ("Спасибо!", "thanks"), ("Дякую!", "thanks"), ("谢谢！", "thanks"), ("ありがとうございます", "thanks"),
    ("감사합니다", "thanks"), ("Ευχαριστώ!", "thanks"), ("תודה רבה", "thanks"), ("ขอบคุณครับ", "thanks"),
    ("धन्यवाद", "thanks"), ("Здравствуйте", "greeting"), ("你好", "greeting"), ("こんにちは", "greeting"),
    ("안녕하세요", "greeting"), ("Hello? Anyone there?", "greeting"), ("Have a nice day!", "thanks"),
    ("Dear Betty,", "greeting"),  # "ty" inside a name is no thanks
])
def test_small_talk_alone_is_small_talk_in_every_detected_language(message: str, intent: str) -> None:
    """The model learned small talk from English examples and read "Спасибо!" or "你好"
    as out of scope: the bot searched the help center for it."""
    assert enrich(message, intent_model=default_intent_model()).intent == intent


@pytest.mark.parametrize("message", [
    "пока не пришла посылка", "Спасибо за возврат денег?", "thanks for the refund", "ok thanks, and the refund?",
])
def test_a_message_with_more_than_small_talk_is_not_small_talk_alone(message: str) -> None:
    assert small_talk_only(message) is None


def test_only_a_few_pieces_come_off_however_many_there_are() -> None:
    """A real message opens and closes with one to three pieces; the bound keeps the
    work linear for one made of thousands ("thanks " 14,000 times took 99 s unbounded)."""
    from switchboard.core.understanding.small_talk import _MAX_PIECES

    assert request_part("where is my parcel" + " thanks" * 20) == "where is my parcel" + " thanks" * (20 - _MAX_PIECES)
    assert request_part("hi, " * 20 + "where is my parcel") == "hi, " * (20 - _MAX_PIECES) + "where is my parcel"


@pytest.mark.parametrize("message", [
    "Where is my parcel? Thank u so so much!!",
    "Where is my parcel? Cheers mate, legend",
])
def test_a_request_beside_thanks_small_talk_does_not_know_is_still_the_request(message: str) -> None:
    """Thanks the patterns miss: the model judges each sentence, and the request wins
    ("You're welcome" was the reply to every one of these)."""
    from switchboard.core.understanding.small_talk import request_part

    # The model without the sentence encoder reads the whole message as thanks, routed
    # or just below its cut (the default one no longer does): the sentences must decide.
    model = default_intent_model("none")
    assert model.predict([request_part(message)])[0].best_intent == "thanks"  # what decided before
    assert enrich(message, intent_model=model).intent == enrich("Where is my parcel?", intent_model=model).intent
    shipped = default_intent_model()
    assert enrich(message, intent_model=shipped).intent == enrich("Where is my parcel?", intent_model=shipped).intent


@pytest.mark.parametrize(("message", "intent"), [
    ("Thanks! That solved it. Bye", "thanks"), ("ty!", "thanks"), ("Good morning! How are you?", "greeting"),
    ("Great, thanks. Have a nice day!", "thanks"),
])
def test_small_talk_in_several_sentences_stays_small_talk(message: str, intent: str) -> None:
    assert enrich(message, intent_model=default_intent_model()).intent == intent


def test_sentences_are_cut_at_end_marks_and_lines() -> None:
    from switchboard.core.understanding.small_talk import sentences

    assert sentences("Where is it? Thanks!\n\nAnna") == ["Where is it?", "Thanks!", "Anna"]
    assert sentences("v1.2 is out... right?  ok") == ["v1.2 is out...", "right?", "ok"]
    assert sentences("  ") == []


@pytest.mark.parametrize(("message", "resolved_only"), [
    ("That solved it.", True), ("that worked!", True), ("Problem solved!", True), ("Eso fue todo.", True),
    ("Das hat geholfen.", True), ("That solved my card issue but now my parcel is late", False),
    ("it worked but the kettle is broken", False),
    ("that answers it", True), ("that answers my question", True), ("that helps", True), ("this works?", False),
])
def test_a_sentence_saying_the_answer_worked_is_a_close(message: str, resolved_only: bool) -> None:
    """Read by the model alone, "That solved it." sits near a damaged-item complaint
    (0.46 on one machine, out of scope on another): the words decide, not the margin."""
    from switchboard.core.understanding.small_talk import resolved

    assert resolved(message) is resolved_only


def test_thanks_and_the_answer_worked_is_not_a_complaint() -> None:
    shipped = default_intent_model()
    for message in ("Thanks! That solved it.", "That solved it. Thank you!", "Perfect, that worked. Bye"):
        assert enrich(message, intent_model=shipped).intent in {"thanks", "greeting"}


@pytest.mark.parametrize("text", [
    "are you a bot?", "Are you a real person or a bot?", "am I talking to a robot?", "Hi, are you a real person?",
    "r u human?", "is this an automated reply?", "¿eres un robot?", "estoy hablando con una persona real?",
    "es-tu un robot ?", "Êtes-vous un humain ?", "bist du ein Bot?", "Sind Sie ein echter Mensch?",
    "você é um robô?", "sei un bot?",
    # who answers, asked without naming either (was handed to a person as a request for one)
    "who am I talking to?", "Who's this?", "¿Con quién hablo?", "À qui je parle ?", "Mit wem spreche ich?",
    "com quem estou falando?", "con chi sto parlando?",
])
def test_asking_who_answers_is_recognised_in_every_catalog_language(text: str) -> None:
    assert asks_who_answers(text)


@pytest.mark.parametrize("text", [
    "I want to talk to a real person", "are you a bot? I want a human", "are you open on sunday?",
    "is this a scam", "is it a real diamond?", "bist du da?", "can I speak to a human",
    "who are you sending my parcel with", "who is this parcel for?", "who am I talking to? I want a human",
])
def test_a_request_or_another_question_is_not_asking_who_answers(text: str) -> None:
    assert not asks_who_answers(text)


@pytest.mark.parametrize(("message", "intent", "asked"), [
    ("ok thanks", "thanks", "ok thanks"),
    ("Okay, thank you!", "thanks", "Okay, thank you!"),
    ("vale, gracias", "thanks", "vale, gracias"),
    ("d'accord merci", "thanks", "d'accord merci"),
    ("alles klar, danke", "thanks", "alles klar, danke"),
    ("ok", "thanks", "ok"),  # an acknowledgement closes, as thanks does
    ("cool 👍", "thanks", "cool 👍"), ("👍", "thanks", "👍"), ("👍🏽", "thanks", "👍🏽"), ("🙏", "thanks", "🙏"),
    (":)", "thanks", ":)"), ("got it!", "thanks", "got it!"), ("ok great thanks", "thanks", "great"),
    ("super, merci", "thanks", "super, merci"),
    ("😡", None, "😡"), ("👎", None, "👎"),
    # the customer has not asked yet: greeted, not searched (a menu, then a person)
    ("I have a question", "greeting", "I have a question"), ("quick question!", "greeting", "quick question!"),
    ("Can you help me please?", "greeting", "Can you help me please?"), ("I need help", "greeting", "I need help"),
    ("tengo una duda", "greeting", "tengo una duda"), ("Ich habe eine Frage", "greeting", "Ich habe eine Frage"),
    ("I have a question: where is my parcel?", None, "where is my parcel?"),
    ("I need help with my order", None, "I need help with my order"),
    ("ok so where is my parcel?", None, "so where is my parcel?"),
    ("Great, my parcel still has not come", None, "my parcel still has not come"),
    ("Great Britain delivery times?", None, "Great Britain delivery times?"),  # an adjective, kept
])
def test_an_acknowledgement_before_thanks_or_a_question_is_small_talk(message: str, intent: str | None,
                                                                      asked: str) -> None:
    """"ok thanks" was read as "ok": out of scope, and the customer was told nothing was found."""
    assert small_talk_only(message) == intent
    assert request_part(message) == asked
