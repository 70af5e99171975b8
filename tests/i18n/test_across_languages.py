"""A customer whose language no article is written in, through signed Twilio webhooks
and the web chat: the multilingual encoder finds the English article from their own
words, and the bot quotes it with a line in their language saying it is in English;
a policy can send them to a person instead. And ``switchboard eval`` says what the
live bot does, in six languages."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from switchboard.app import create_app
from switchboard.cli import main
from switchboard.core.knowledge.records import Article
from switchboard.core.settings import load_settings
from switchboard.core.store.models import Conversation, Message
from switchboard.intake.db import get_db

from ..signing import VendorClient
from .test_language_over_twilio import MESSAGES, SPANISH, import_kb, inbound, sent, tickets

SPANISH_NOTE = "(Este artículo está en inglés: es la respuesta más cercana que tenemos.)"
SPANISH_MENU_NOTE = "(Estos artículos están en inglés: son los más cercanos que tenemos.)"


@pytest.fixture
def english_kb(app: Flask) -> Flask:
    import_kb(app)
    return app


def test_a_spanish_question_is_answered_from_the_english_article_with_a_note_in_spanish(
        english_kb: Flask, vendor: VendorClient) -> None:
    vendor.twilio(MESSAGES, inbound("¿Cuánto cuesta el envío?"))
    [reply] = sent(english_kb)
    assert reply.startswith("Está hablando con un asistente virtual."), reply
    assert "Express next-day delivery costs $9.95" in reply  # the English article, quoted as it is
    assert SPANISH_NOTE in reply
    assert reply.endswith("\nMás: https://help.acme.example/articles/delivery-costs"), reply
    with get_db(english_kb).session() as session:
        assert session.scalars(select(Conversation)).one().handoff_reason is None  # nobody was needed


def test_a_spanish_question_that_fits_no_article_clearly_gets_a_menu_in_spanish(english_kb: Flask,
                                                                                vendor: VendorClient) -> None:
    vendor.twilio(MESSAGES, inbound("Quiero devolver un artículo"))
    [menu] = sent(english_kb)
    assert "1. How do I return an item?" in menu, menu
    assert SPANISH_MENU_NOTE in menu and "Responda con el número" in menu, menu  # a menu says "these articles"
    vendor.twilio(MESSAGES, inbound("1"))
    answer = sent(english_kb)[-1]
    assert answer.endswith("\nMás: https://help.acme.example/articles/return-item"), answer
    assert SPANISH_NOTE in answer  # the article picked is English too


SPANISH_RETURNS = Article(
    id="es-returns", title="¿Cómo devuelvo un artículo?", locale="es",
    url="https://help.acme.example/es/articles/devoluciones",
    body="Puede devolver la mayoría de los artículos en los 30 días siguientes a la entrega, sin usar y en su "
         "embalaje original. Vaya a Mi cuenta > Pedidos y elija Devolver artículos.")
SPANISH_PASSWORD = Article(
    id="es-password", title="He olvidado mi contraseña", locale="es",
    url="https://help.acme.example/es/articles/contrasena",
    body="En la página de acceso elija ¿Ha olvidado su contraseña? e introduzca el correo de su cuenta. "
         "Le enviaremos un enlace para crear una nueva, válido durante una hora.")


def test_a_spanish_paraphrase_is_answered_from_the_spanish_article(app: Flask, vendor: VendorClient) -> None:
    """Same-language answers keep their article: a Spanish customer asking in other
    words than the Spanish article's gets it, not the English one."""
    import_kb(app, SPANISH, SPANISH_RETURNS, SPANISH_PASSWORD)
    vendor.twilio(MESSAGES, inbound("¿En cuántos días me llega el paquete a Madrid?"))
    [reply] = sent(app)
    assert "Las entregas en Madrid" in reply, reply
    assert reply.endswith("https://help.acme.example/es/articles/plazos-de-entrega"), reply
    assert SPANISH_NOTE not in reply


@pytest.fixture
def handoff_policy(env: dict[str, str], tmp_path: Path) -> Iterator[Flask]:
    shipped = Path(__file__).parents[2] / "switchboard" / "data" / "escalation_policy.yaml"
    policy = tmp_path / "policy.yaml"
    policy.write_text(shipped.read_text().replace("other_languages: answer", "other_languages: handoff"))
    app = create_app(load_settings({**env, "SWITCHBOARD_POLICY_FILE": str(policy)}),
                     config={"TASKS_INLINE": True, "TESTING": True})
    import_kb(app)
    yield app
    get_db(app).dispose()


@pytest.fixture
def handoff_vendor(handoff_policy: Flask, vendor: VendorClient) -> VendorClient:
    """The vendors, signing as ``vendor`` does, talking to the ``handoff_policy`` app."""
    return VendorClient(handoff_policy.test_client(), twilio_token=vendor.twilio_token,
                        zendesk_secret=vendor.zendesk_secret, slack_secret=vendor.slack_secret,
                        public_url=vendor.public_url)


def test_the_policy_can_send_other_languages_to_a_person(handoff_policy: Flask,
                                                         handoff_vendor: VendorClient) -> None:
    handoff_vendor.twilio(MESSAGES, inbound("¿Cuánto cuesta el envío?"))
    [notice] = sent(handoff_policy)
    assert "Express next-day" not in notice
    with get_db(handoff_policy).session() as session:
        assert session.scalars(select(Conversation)).one().handoff_reason == "language"


QUESTIONS = [
    ("How much does delivery cost?", "delivery-costs"),
    ("¿Cuánto cuesta el envío?", "delivery-costs"),
    ("Olvidé mi contraseña", "reset-password"),
    ("Mein Rabattcode funktioniert nicht", "discount-code"),
    ("Combien de temps prend la livraison de ma commande ?", "delivery-times"),
    ("Wie kann ich meine Bestellung stornieren?", "cancel-order"),
    ("Сколько стоит доставка?", "delivery-costs"),
    ("运费是多少？", "delivery-costs"),
]


def test_eval_says_what_the_live_bot_does_in_six_languages(english_kb: Flask, vendor: VendorClient,
                                                             env: dict[str, str], tmp_path: Path) -> None:
    """The proof is the product: each question's verdict from `switchboard eval` is the
    decision a customer sending it by SMS gets."""
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(json.dumps({"question": q, "expected": a}) + "\n" for q, a in QUESTIONS))
    result = CliRunner().invoke(main, ["eval", str(questions), "--json"], env=env)
    assert result.exit_code == 0, result.output
    verdicts = {o["question"]: (o["action"], o["articles"], o["choices"])
                for o in json.loads(result.stdout)["questions"]}
    live = {}
    for number, (question, _) in enumerate(QUESTIONS):
        vendor.twilio(MESSAGES, inbound(question, sender=f"+1415555{number:04d}"))
        with get_db(english_kb).session() as session:
            conversation = session.scalars(select(Conversation).order_by(Conversation.id.desc())).first()
            assert conversation is not None
            from switchboard.core.store.models import Message

            bot = session.scalars(select(Message).where(Message.conversation_id == conversation.id,
                                                        Message.author == "bot")).one()
            live[question] = (bot.meta["action"],
                              sorted({s["passage"].rsplit("#", 1)[0] for s in bot.meta.get("sources") or ()}),
                              [c["article"] for c in bot.meta.get("choices") or ()])
    for question, _ in QUESTIONS:
        action, cited, choices = verdicts[question]
        assert (action, sorted(cited), list(choices)) == live[question], question
    assert {action for action, _, _ in live.values()} & {"answer"}
    assert len({q for q, _ in QUESTIONS}) == len(QUESTIONS)


#: Unaccented Spanish the detector cannot tell from Portuguese alone (Portuguese 0.50,
#: Spanish 0.39): the number's country decides, live and in `switchboard eval` alike.
WHO_ASKS = [("cuantos dias tarda el envio", "+34612345678", "es"), ("a que hora abren", "+34612345679", "es"),
            ("cuanto dura la garantia", "", "en")]


def test_eval_reads_a_question_as_the_live_bot_reads_it_from_the_number_it_comes_from(
        english_kb: Flask, vendor: VendorClient, env: dict[str, str], tmp_path: Path) -> None:
    questions = tmp_path / "questions.csv"
    questions.write_text("question,expected,phone\n" + "".join(f"{q},delivery-times,{phone}\n"
                                                               for q, phone, _ in WHO_ASKS))
    result = CliRunner().invoke(main, ["eval", str(questions), "--json"], env=env)
    assert result.exit_code == 0, result.output
    evaluated = json.loads(result.stdout)["questions"]
    assert [o["language"] for o in evaluated] == [language for _, _, language in WHO_ASKS]
    for number, (question, phone, _) in enumerate(WHO_ASKS):
        vendor.twilio(MESSAGES, inbound(question, sender=phone or f"+1415555{number:04d}"))
    with get_db(english_kb).session() as session:
        customers = [m for m in session.scalars(select(Message).order_by(Message.id)) if m.author == "customer"]
        bots = [m for m in session.scalars(select(Message).order_by(Message.id)) if m.author == "bot"]
    assert [m.meta["language"] for m in customers] == [o["language"] for o in evaluated]
    assert [b.meta["action"] for b in bots] == [o["action"] for o in evaluated]
    # Replayed, each stored first message is read from its number's country again.
    replayed = CliRunner().invoke(main, ["eval", "replay", "--since", "2000-01-01", "--json"], env=env)
    assert replayed.exit_code == 0, replayed.output
    report = json.loads(replayed.stdout)
    assert [(m["was"]["language"], m["now"]["language"]) for m in report["messages"]] == [
        (language, language) for _, _, language in WHO_ASKS]
    assert report["changed"] == 0


def test_eval_names_a_phone_it_cannot_read(english_kb: Flask, env: dict[str, str], tmp_path: Path) -> None:
    questions = tmp_path / "questions.csv"
    questions.write_text("question,expected,phone\nhow long is delivery?,delivery-times,612 34 56 78\n")
    result = CliRunner().invoke(main, ["eval", str(questions)], env=env)
    assert result.exit_code != 0
    assert "line 2: the phone '612 34 56 78' is not a number in international format" in result.output


def test_a_german_question_is_not_read_as_angry_for_spelling_an_english_word(english_kb: Flask,
                                                                            vendor: VendorClient) -> None:
    """"die" is German for "the" and, to the English sentiment lexicon, death: this plain
    question scored -0.83 and went to a person as "very negative"."""
    vendor.twilio(MESSAGES, inbound("Wie viel kostet die Expresslieferung für die Bestellung?"))
    [reply] = sent(english_kb)
    assert "Express next-day delivery costs $9.95" in reply, reply
    with get_db(english_kb).session() as session:
        conversation = session.scalars(select(Conversation)).one()
        assert conversation.handoff_reason is None


def test_a_french_question_about_the_shortest_delivery_is_not_a_legal_matter(english_kb: Flask,
                                                                            vendor: VendorClient) -> None:
    """"court" is French for "short": as a bare legal keyword it handed this question to a
    person ("legal matter"); the policy now names court proceedings, not the word."""
    vendor.twilio(MESSAGES, inbound("Quel est le délai de livraison le plus court ?"))
    with get_db(english_kb).session() as session:
        assert session.scalars(select(Conversation)).one().handoff_reason is None
    assert "https://help.acme.example/articles/" in sent(english_kb)[-1]


RUSSIAN_DELIVERY = Article(
    id="ru-delivery", title="Сколько идёт доставка?", locale="ru",
    url="https://help.acme.example/ru/articles/dostavka",
    body="Доставка по Москве занимает 1–2 рабочих дня, по остальной России — от 3 до 7 рабочих дней.")
RUSSIAN_RETURNS = Article(
    id="ru-returns", title="Как вернуть товар?", locale="ru",
    url="https://help.acme.example/ru/articles/vozvrat",
    body="Большинство товаров можно вернуть в течение 30 дней после доставки, неиспользованными и в "
         "оригинальной упаковке. Откройте «Мой аккаунт» > «Заказы» и выберите «Вернуть товар».")
RUSSIAN_PASSWORD = Article(
    id="ru-password", title="Я забыл пароль", locale="ru",
    url="https://help.acme.example/ru/articles/parol",
    body="На странице входа нажмите «Забыли пароль?» и введите адрес электронной почты. Мы пришлём ссылку "
         "для нового пароля, она действует один час.")


def test_a_russian_question_is_answered_from_the_russian_article(app: Flask, vendor: VendorClient) -> None:
    """Russian (and Chinese, Japanese, Korean…) was outside the languages detection knew,
    so a Russian question was taken for English and searched among the English articles
    only: the Russian article was never found."""
    import_kb(app, RUSSIAN_DELIVERY, RUSSIAN_RETURNS, RUSSIAN_PASSWORD)
    vendor.twilio(MESSAGES, inbound("Сколько дней идёт посылка в Москву?"))
    [reply] = sent(app)
    assert "Доставка по Москве занимает 1–2 рабочих дня" in reply, reply
    assert reply.endswith("https://help.acme.example/ru/articles/dostavka"), reply
    assert "(This article is in" not in reply


ROMANIAN_DELIVERY = Article(
    id="ro-livrare", title="Cât durează livrarea?", locale="ro",
    url="https://help.acme.example/ro/articole/livrare",
    body="Livrarea standard durează între 3 și 5 zile lucrătoare. Livrarea expres ajunge în ziua "
         "lucrătoare următoare dacă plasezi comanda înainte de ora 14:00.")
ROMANIAN_PAYMENT = Article(
    id="ro-plata", title="Ce metode de plată acceptați?", locale="ro",
    url="https://help.acme.example/ro/articole/plata",
    body="Acceptăm carduri Visa și Mastercard, PayPal și transfer bancar. Plata ramburs nu este disponibilă.")
ROMANIAN_ADDRESS = Article(
    id="ro-adresa", title="Pot schimba adresa de livrare?", locale="ro",
    url="https://help.acme.example/ro/articole/adresa",
    body="Poți schimba adresa de livrare cât timp comanda nu a fost expediată. Intră în contul tău, "
         "deschide comanda și alege Modifică adresa.")


def test_a_language_detection_does_not_know_is_learnt_from_the_articles(app: Flask, vendor: VendorClient) -> None:
    """Romanian is none of the languages detection tells by default: a Romanian help
    center's customers were read as Turkish, French or English, and their own articles
    quoted "(This article is in Romanian: it is the closest answer we have.)", as if from
    another language. The languages a knowledge base is written in are told too."""
    import_kb(app, ROMANIAN_DELIVERY, ROMANIAN_PAYMENT, ROMANIAN_ADDRESS)
    vendor.twilio(MESSAGES, inbound("Cum modific adresa de livrare?"))
    [reply] = sent(app)
    assert "Poți schimba adresa de livrare cât timp comanda nu a fost expediată." in reply, reply
    assert reply.endswith("https://help.acme.example/ro/articole/adresa"), reply
    assert "(This article is in" not in reply
    with get_db(app).session() as session:
        [question] = [m for m in session.scalars(select(Message)) if m.author == "customer"]
        assert question.meta["language"] == "ro" and question.meta["enrichment"]["language"] == "ro"


def test_the_country_of_a_texters_number_names_a_language_to_tell(english_kb: Flask, vendor: VendorClient) -> None:
    """Swedish is none of the languages detection tells by default, and "Var är mitt
    paket?" reads as German among them: a Swede texting from +46 got German texts and a
    German line saying the article is English. The number's country (Sweden) makes
    Swedish a candidate; with no Swedish catalog the texts are English."""
    swedish = "Var är mitt paket? Jag beställde förra veckan"
    vendor.twilio(MESSAGES, inbound(swedish, sender="+46701234567"))
    vendor.twilio(MESSAGES, inbound(swedish, sender="+14155550123"))  # the same words from a US number
    from_sweden, from_the_us = sent(english_kb)
    assert "(These articles are in English: they are the closest we have.)" in from_sweden, from_sweden  # a menu
    assert "Sie " not in from_sweden and "Englisch" in from_the_us, from_the_us
    with get_db(english_kb).session() as session:
        languages = [(m.meta["language"], m.meta["enrichment"]["language"])
                     for m in session.scalars(select(Message).order_by(Message.id)) if m.author == "customer"]
    assert languages == [("sv", "sv"), ("de", "de")]


def test_a_word_two_languages_share_is_read_in_the_language_of_the_texters_country(
        english_kb: Flask, vendor: VendorClient) -> None:
    """"reembolso" is Spanish and Portuguese; the detector says Portuguese (0.57 against
    0.34), so a Spaniard texting from +34 was answered in Portuguese. Their number's
    country makes Spanish the likelier; from Brazil it stays Portuguese."""
    vendor.twilio(MESSAGES, inbound("reembolso", sender="+34612345678"))
    vendor.twilio(MESSAGES, inbound("reembolso", sender="+5511912345678"))
    with get_db(english_kb).session() as session:
        languages = [(m.meta["language"], m.meta["enrichment"]["language"])
                     for m in session.scalars(select(Message).order_by(Message.id)) if m.author == "customer"]
    assert languages == [("es", "es"), ("pt", "pt")]
    from_spain, from_brazil = sent(english_kb)
    assert "(Estos artículos están en inglés" in from_spain, from_spain  # menus, in each one's language
    assert "(Estes artigos estão em inglês" in from_brazil, from_brazil


def test_a_spanish_question_from_a_us_number_is_read_in_spanish(english_kb: Flask, vendor: VendorClient) -> None:
    """A US number makes English likelier, and made a clearly Spanish question ("¿Qué
    formas de pago aceptan?": Spanish 0.51, English 0.04 to the detector) unclear once
    English weighed three times: the customer was answered in English. A likely language
    makes itself likelier, never another one less clear."""
    vendor.twilio(MESSAGES, inbound("¿Qué formas de pago aceptan?", sender="+14155550177"))
    with get_db(english_kb).session() as session:
        [message] = [m for m in session.scalars(select(Message)) if m.author == "customer"]
        assert message.meta["language"] == "es"
    [reply] = sent(english_kb)
    assert reply.startswith("Está hablando con un asistente virtual"), reply
    assert "(Este artículo está en inglés" in reply or "(Estos artículos están en inglés" in reply, reply


def test_a_japanese_question_is_told_in_english_that_the_article_is_english(english_kb: Flask,
                                                                            vendor: VendorClient) -> None:
    """No catalog speaks Japanese, so the replies are English; the line saying the article
    is in English is there (a Japanese question was taken for English and had none)."""
    vendor.twilio(MESSAGES, inbound("配送料はいくらですか？"))
    [reply] = sent(english_kb)
    assert "Express next-day delivery costs $9.95" in reply, reply
    assert "(This article is in English: it is the closest answer we have.)" in reply, reply


def test_the_line_names_the_language_in_the_language_it_is_written_in(english_kb: Flask,
                                                                     vendor: VendorClient) -> None:
    """A Dutch customer reads the English line (no Dutch catalog), so the language is named
    in English: it said "This article is in Engels"."""
    vendor.twilio(MESSAGES, inbound("Hoe lang duurt de levering?"))
    [reply] = sent(english_kb)
    assert "(This article is in English: it is the closest answer we have.)" in reply, reply


def test_a_russian_customer_is_routed_as_russian(handoff_policy: Flask, handoff_vendor: VendorClient) -> None:
    handoff_vendor.twilio(MESSAGES, inbound("Сколько стоит доставка?"))
    [ticket] = tickets(handoff_policy)
    assert "lang_ru" in ticket["tags"], ticket["tags"]
    assert "language: Russian (ru)" in ticket["comment"]["body"]
    with get_db(handoff_policy).session() as session:
        assert session.scalars(select(Conversation)).one().handoff_reason == "language"


def test_a_russian_customer_s_ticket_says_what_they_asked_for(handoff_policy: Flask,
                                                              handoff_vendor: VendorClient) -> None:
    """The intent model's English examples share no letter with Cyrillic, so every Russian
    message was out of scope: no intent on the ticket, nothing for routing to go by."""
    handoff_vendor.twilio(MESSAGES, inbound("Где мой заказ?"))
    [ticket] = tickets(handoff_policy)
    assert {"lang_ru", "intent_order_status"} <= set(ticket["tags"]), ticket["tags"]


def test_thanks_in_a_language_without_a_catalog_is_thanks_not_a_handoff(english_kb: Flask,
                                                                        vendor: VendorClient) -> None:
    """"Спасибо!" was read as out of scope, searched for among the English articles and,
    with nothing to offer, handed to a person as a language the bot cannot serve."""
    vendor.twilio(MESSAGES, inbound("Здравствуйте! Сколько стоит доставка?"))
    vendor.twilio(MESSAGES, inbound("Спасибо!"))
    replies = sent(english_kb)
    assert "Express next-day delivery costs $9.95" in replies[0], replies[0]
    assert replies[-1].endswith("You're welcome! If anything else comes up, just write here."), replies[-1]
    with get_db(english_kb).session() as session:
        assert session.scalars(select(Conversation)).one().handoff_reason is None


CHINESE_REFUNDS = Article(
    id="zh-refund", title="退款什么时候到账？", locale="zh",
    url="https://help.acme.example/zh/articles/tuikuan",
    body="我们收到退货后会在两个工作日内处理退款。退款会在五个工作日内退回到您的原支付方式。"
         "礼品卡购买的商品将退回为礼品卡余额。如需发票，请在我的账户中下载。")
CHINESE_DELIVERY = Article(
    id="zh-delivery", title="配送需要多长时间？", locale="zh",
    url="https://help.acme.example/zh/articles/peisong",
    body="标准配送需要三到五个工作日。快递配送第二天送达，下午两点前下单有效。节假日期间请多预留一到两天。")
HINDI_REFUNDS = Article(
    id="hi-refund", title="मेरा रिफंड कब आएगा?", locale="hi",
    url="https://help.acme.example/hi/articles/refund",
    body="वापसी मिलने के बाद हम दो कार्यदिवसों में रिफंड शुरू करते हैं। रिफंड पाँच कार्यदिवसों में आपके मूल भुगतान "
         "माध्यम में आ जाता है। गिफ्ट कार्ड से खरीदे गए सामान का पैसा गिफ्ट कार्ड में लौटता है। चालान आपके खाते में मिलता है।")
HINDI_DELIVERY = Article(
    id="hi-delivery", title="डिलीवरी में कितना समय लगता है?", locale="hi",
    url="https://help.acme.example/hi/articles/delivery",
    body="सामान्य डिलीवरी में तीन से पाँच कार्यदिवस लगते हैं। एक्सप्रेस डिलीवरी अगले दिन पहुँचती है।")


@pytest.mark.parametrize(("articles", "question", "quoted", "left_out", "url"), [
    ((CHINESE_REFUNDS, CHINESE_DELIVERY), "退款多久能到账？", "退款会在五个工作日内退回到您的原支付方式。",
     ("如需发票",), "https://help.acme.example/zh/articles/tuikuan"),
    ((HINDI_REFUNDS, HINDI_DELIVERY), "मेरा रिफंड कितने दिनों में आएगा?",
     "रिफंड पाँच कार्यदिवसों में आपके मूल भुगतान माध्यम में आ जाता है।", ("चालान", "।."),
     "https://help.acme.example/hi/articles/refund"),
], ids=["chinese", "hindi"])
def test_an_answer_quotes_the_sentences_that_answer_not_the_paragraph(
        app: Flask, vendor: VendorClient, articles: tuple[Article, ...], question: str, quoted: str,
        left_out: tuple[str, ...], url: str) -> None:
    """Chinese writes no space after its full stop "。", Hindi ends a sentence with "।": a
    paragraph was one sentence, so the answer quoted all of it (invoices and gift cards
    for a refund-timing question; a full stop appended after the Hindi "।")."""
    import_kb(app, *articles)
    vendor.twilio(MESSAGES, inbound(question))
    [reply] = sent(app)
    assert quoted in reply, reply
    for text in left_out:
        assert text not in reply, reply
    assert reply.endswith(url), reply


def test_a_spanish_follow_up_about_an_english_answer_is_answered_from_its_article(english_kb: Flask,
                                                                               vendor: VendorClient) -> None:
    """"¿Cuánto dura?" after the warranty answer asks how long the warranty lasts: it got
    a menu of delivery articles (its words alone say "how long")."""
    vendor.twilio(MESSAGES, inbound("¿Qué cubre la garantía?"))
    vendor.twilio(MESSAGES, inbound("¿cuánto dura?"))
    first, follow_up = sent(english_kb)
    assert first.endswith("articles/warranty"), first
    assert "2-year warranty" in follow_up and follow_up.endswith("\nMás: https://help.acme.example/articles/warranty")
    assert SPANISH_NOTE in follow_up, follow_up


def test_a_spanish_message_asking_two_things_gets_both_english_articles(english_kb: Flask,
                                                                      vendor: VendorClient) -> None:
    """Two questions in Spanish, each fitting its own English article: both quoted, each
    with its citation, and one line in Spanish saying they are in English (it got a menu
    of both)."""
    vendor.twilio(MESSAGES, inbound("¿Hacen envíos a Canadá? ¿Y cuánto cuesta el envío?"))
    [reply] = sent(english_kb)
    assert "Responda con el número" not in reply, reply
    assert "Más: https://help.acme.example/articles/international-shipping\n\n" in reply, reply
    assert reply.endswith(f"Más: https://help.acme.example/articles/delivery-costs\n{SPANISH_MENU_NOTE}"), reply


GERMAN_NOTE = "(Dieser Artikel ist auf Englisch: Er ist die passendste Antwort, die wir haben.)"


@pytest.mark.parametrize(("first", "follow_up", "note"), [
    ("Wie lange dauert die Lieferung?", "und Express?", GERMAN_NOTE),
    ("Combien de temps prend la livraison ?", "et en express ?",
     "(Cet article est en anglais : c'est la réponse la plus proche que nous ayons.)"),
])
def test_a_short_follow_up_in_another_language_is_read_with_the_question_before(
        english_kb: Flask, vendor: VendorClient, first: str, follow_up: str, note: str) -> None:
    """"und Express?" after the delivery times answer asks about express delivery: on its
    own words it got a menu of three delivery articles. Read with the question answered
    before (as "and express?" is in English), it gets the sentence that names express."""
    vendor.twilio(MESSAGES, inbound(first))
    vendor.twilio(MESSAGES, inbound(follow_up))
    answer, reply = sent(english_kb)
    assert answer.endswith("articles/delivery-times"), answer
    assert reply.startswith("Express delivery arrives the next working day"), reply
    assert note in reply and reply.endswith("articles/delivery-times"), reply


def test_a_short_question_of_its_own_after_an_answer_is_not_read_as_a_follow_up(english_kb: Flask,
                                                                                vendor: VendorClient) -> None:
    """"¿y una devolución?" after the delivery times answer asks about returns: the
    conversation's delivery question does not take it over."""
    vendor.twilio(MESSAGES, inbound("¿Cuánto tarda el envío?"))
    vendor.twilio(MESSAGES, inbound("¿y una devolución?"))
    reply = sent(english_kb)[-1]
    assert "delivery-times" not in reply and "How long does delivery take?" not in reply, reply
    assert "How do I return an item?" in reply or reply.endswith("articles/return-item"), reply


def test_a_spanish_customer_handed_over_after_a_menu_is_handed_over_for_the_policys_reason(
        english_kb: Flask, vendor: VendorClient) -> None:
    """A customer who missed a menu and then wrote something the bot cannot place is
    handed over for that (out of scope after a failed answer), in Spanish as in English.
    It was filed as "no article in the customer's language": tagged needs_language in
    Zendesk, counted as a language handoff on the dashboard, although an English article
    had just been offered and the ticket is routed by its language all the same."""
    for number, (question, reply) in enumerate([("my order never came", "what do you mean"),
                                                ("Mi pedido no ha llegado", "¿qué quiere decir?")]):
        sender = f"+1415555{number:04d}"
        vendor.twilio(MESSAGES, inbound(question, sender=sender))
        vendor.twilio(MESSAGES, inbound(reply, sender=sender))
    with get_db(english_kb).session() as session:
        conversations = session.scalars(select(Conversation).order_by(Conversation.id)).all()
        menus = [m.meta.get("action") for m in session.scalars(
            select(Message).where(Message.author == "bot").order_by(Message.id))]
    assert menus[0] == "choices" and "choices" in menus[1:], menus  # each first question got a menu
    assert [c.handoff_reason for c in conversations] == ["out_of_scope", "out_of_scope"]
    spanish = tickets(english_kb)[-1]
    assert "lang_es" in spanish["tags"] and "needs_language" not in spanish["tags"], spanish["tags"]


#: A first question that gets a menu, and a reply to it: a pick by number or by place,
#: "none of these", a number the menu does not have; in English and Spanish.
MENU_REPLIES = [("my order never came", "2"), ("my order never came", "none of these"),
                ("my order never came", "7"), ("Mi pedido no ha llegado", "el primero"),
                ("Mi pedido no ha llegado", "ninguno")]


def test_eval_reads_a_reply_to_a_menu_as_the_live_bot_does(english_kb: Flask, vendor: VendorClient,
                                                          env: dict[str, str], tmp_path: Path) -> None:
    """A follow-up row after a menu is a reply to that menu in `switchboard eval` too: a
    pick is answered from the article picked and "none of these" asks for other words.
    Eval searched "2" as a question and handed "none of these" over, where SMS answered
    and asked."""
    questions = tmp_path / "questions.csv"
    questions.write_text("question,expected,previous\n" + "".join(f"{reply},missing-parcel,{first}\n"
                                                                  for first, reply in MENU_REPLIES))
    result = CliRunner().invoke(main, ["eval", str(questions), "--json"], env=env)
    assert result.exit_code == 0, result.output
    evaluated = [(o["action"], o["articles"], o["choices"]) for o in json.loads(result.stdout)["questions"]]
    for number, (first, reply) in enumerate(MENU_REPLIES):
        vendor.twilio(MESSAGES, inbound(first, sender=f"+1415555{number:04d}"))
        vendor.twilio(MESSAGES, inbound(reply, sender=f"+1415555{number:04d}"))
    with get_db(english_kb).session() as session:
        bots = session.scalars(select(Message).where(Message.author == "bot").order_by(Message.id)).all()
    assert [b.meta["action"] for b in bots[0::2]] == ["choices"] * len(MENU_REPLIES)
    live = [(b.meta["action"], sorted({s["passage"].rsplit("#", 1)[0] for s in b.meta.get("sources") or ()}),
             [c["article"] for c in b.meta.get("choices") or ()]) for b in bots[1::2]]
    assert evaluated == live
    assert [action for action, _, _ in live] == ["answer", "clarify", "choices", "answer", "clarify"]
    assert live[0][1] == [bots[0].meta["choices"][1]["article"]]  # "2": the second article offered


@pytest.mark.parametrize(("question", "setback", "clarify", "menu"), [
    ("¿Cuánto cuesta el envío?", "no entiendo", "No encontré", "Responda con el número"),
    ("Combien coûte la livraison ?", "ça n'a pas aidé", "Je n'ai pas trouvé", "Répondez avec le numéro"),
])
def test_an_answer_disowned_in_another_language_is_not_searched_as_a_question(
        english_kb: Flask, vendor: VendorClient, question: str, setback: str, clarify: str, menu: str) -> None:
    """"No entiendo" or "ça n'a pas aidé" after an answer says the answer did not help, as
    "that didn't help" does: the customer is asked to say it in other words (or offered
    the other articles their question could mean). "No entiendo" was searched as a
    question and got a menu of articles sharing nothing with it; "ça n'a pas aidé" got
    the same answer again."""
    vendor.twilio(MESSAGES, inbound(question))
    vendor.twilio(MESSAGES, inbound(setback))
    with get_db(english_kb).session() as session:
        answer, reply = session.scalars(select(Message).where(Message.author == "bot").order_by(Message.id)).all()
    assert answer.meta["action"] == "answer"
    assert (reply.meta["action"], reply.meta["reason"]) in {("clarify", "did_not_help"), ("choices", "did_not_help")}
    assert "delivery-costs" not in [c["article"] for c in reply.meta.get("choices") or ()]  # not the one just sent
    assert reply.body.startswith(clarify) or menu in reply.body, reply.body
