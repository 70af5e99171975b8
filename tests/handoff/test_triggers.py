"""Each escalation trigger, through signed Twilio webhooks: the conversation is handed
over, the ticket (recorded by the sandbox Zendesk connector) says which trigger fired."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select, update

from switchboard.app import create_app
from switchboard.core.customers import identity
from switchboard.core.errors import ConfigError
from switchboard.core.knowledge.records import Article
from switchboard.core.knowledge.service import KnowledgeBase
from switchboard.core.settings import load_settings
from switchboard.core.store.models import Conversation, Customer, OutboxCall
from switchboard.intake.db import get_db

from ..signing import VendorClient

SAMPLE_KB = Path(__file__).parents[2] / "switchboard" / "data" / "sample_kb.json"
_n = iter(range(1, 100_000))


def say(vendor: VendorClient, body: str) -> None:
    params = {"MessageSid": f"SM{next(_n):032x}", "AccountSid": "AC" + "1" * 32, "Body": body,
              "From": "+14155550100", "To": "+15005550006", "NumMedia": "0"}
    assert vendor.twilio("/webhooks/twilio/messages", params).status_code == 200


def customer_with(app: Flask, **fields: object) -> None:
    with get_db(app).session() as session:
        customer = identity.resolve_customer(session, app.config["DEFAULT_ACCOUNT_ID"],
                                             identity.parse_twilio_address("+14155550100"))
        for name, value in fields.items():
            setattr(customer, name, value)
        session.commit()


def handed_over(app: Flask) -> tuple[str | None, list[str]]:
    with get_db(app).session() as session:
        conversation = session.scalars(select(Conversation).order_by(Conversation.id.desc())).first()
        tickets = session.scalars(select(OutboxCall).where(OutboxCall.operation == "tickets.create")).all()
        tags = tickets[-1].payload["ticket"]["tags"] if tickets else []
        return (conversation.handoff_reason if conversation else None), tags


@pytest.mark.parametrize(("messages", "trigger"), [
    (["Someone used my card without permission, I think I was scammed"], "fraud"),
    (["I am going to take you to court over this, my lawyer will be in touch"], "legal"),
    (["I want to make a formal complaint about your service"], "complaint"),
    (["please close my account and cancel my subscription"], "cancellation"),
    (["Why is my delivery so late?! This is ridiculous and infuriating"], "negative_sentiment"),
    (["can I talk to someone real"], "explicit_request"),
    (["can a member of staff call me back"], "explicit_request"),
    # Words no keyword lists: the intent model's, like its fraud examples.
    (["there are charges on my card I never made"], "fraud"),
    (["what is the capital of Peru and its population", "the capital of Peru, how many people live there"],
     "out_of_scope"),
])
def test_each_message_trigger_hands_over_with_its_reason(shop: Flask, vendor: VendorClient, messages: list[str],
                                                          trigger: str) -> None:
    for message in messages:
        say(vendor, message)
    reason, tags = handed_over(shop)
    assert reason == trigger
    assert f"handoff_{trigger}" in tags


@pytest.mark.parametrize(("message", "trigger"), [
    # Each of these was answered or offered a menu while the keyword nets spoke English only.
    ("quiero cancelar mi suscripción", "cancellation"),
    ("je veux résilier mon abonnement", "cancellation"),
    ("ich möchte mein Abo kündigen", "cancellation"),
    ("bitte löschen Sie mein Konto", "cancellation"),
    ("quero cancelar minha assinatura", "cancellation"),
    ("voglio disdire il mio abbonamento", "cancellation"),
    ("no reconozco este cargo en mi tarjeta", "fraud"),
    ("mi hanno rubato la carta, è una truffa", "fraud"),
    ("ich werde einen Anwalt einschalten", "legal"),
    ("je vais saisir la CNIL", "legal"),
    # Detected without a catalog; the intent model reads these scripts only when like its examples.
    ("Меня обманули, это мошенничество", "fraud"),
    ("我的卡被盗刷了", "fraud"),
    ("カードが不正利用されました", "fraud"),
    ("Я подам в суд", "legal"),
    ("我要起诉你们", "legal"),
    ("소송을 걸겠습니다", "legal"),
    ("Я хочу поговорить с оператором", "explicit_request"),
    ("Хочу поговорити з оператором", "explicit_request"),
    ("转人工", "explicit_request"),
    ("オペレーターと話したいです", "explicit_request"),
    ("상담원과 통화하고 싶어요", "explicit_request"),
    ("Хочу отменить подписку", "cancellation"),
    ("我要取消订阅", "cancellation"),
    ("Я хочу подать жалобу", "complaint"),
    ("我要投诉你们的服务", "complaint"),
])
def test_the_keyword_triggers_hold_in_the_detected_languages(shop: Flask, vendor: VendorClient,
                                                            message: str, trigger: str) -> None:
    say(vendor, message)
    reason, tags = handed_over(shop)
    assert reason == trigger
    assert f"handoff_{trigger}" in tags


@pytest.mark.parametrize("message", ["Как отменить заказ?", "我想取消订单", "注文をキャンセルしたい",
                                     "мой оператор связи не доставляет SMS"])
def test_an_order_or_a_phone_network_is_no_trigger_in_those_languages(shop: Flask, vendor: VendorClient,
                                                                      message: str) -> None:
    say(vendor, message)
    assert handed_over(shop)[0] is None  # logged as resolved by the bot, not handed over


@pytest.mark.parametrize("message", ["quiero cancelar mi pedido", "quero cancelar o meu pedido"])
def test_cancelling_an_order_stays_the_bots_in_every_language(shop: Flask, vendor: VendorClient,
                                                             message: str) -> None:
    """An order is not the customer leaving: only an account, a subscription, a plan or
    a contract goes to the retention team."""
    say(vendor, message)
    assert handed_over(shop)[0] is None  # logged as resolved by the bot, not handed over
    with get_db(shop).session() as session:
        [sent] = session.scalars(select(OutboxCall).where(OutboxCall.vendor == "twilio")).all()
    assert "articles/cancel-order" in sent.payload["body"], sent.payload


@pytest.mark.parametrize(("question", "article"), [
    # legal at 0.93 (tests/core/test_intent_familiarity.py)
    ("I need to know access rights for people to my google drive documents.", "sharing"),
    # thanks at 0.46, in scope: was told "You're welcome" for a question
    ("Hello, sorry to bother you, but sorting the rows of a spreadsheet by one column.", "sort-data"),
])
def test_another_domains_question_the_model_misreads_is_answered_from_its_article(
        shop: Flask, vendor: VendorClient, question: str, article: str) -> None:
    """A help center about documents and spreadsheets: the shipped intent model, which
    knows a shop's intents, routes these questions to legal or to thanks, but they are
    like none of those examples, so no trigger fires, no polite close is sent, and the
    article answers."""
    with get_db(shop).session() as session:
        KnowledgeBase(session, shop.config["DEFAULT_ACCOUNT_ID"], shop.config["SETTINGS"].data_dir).import_articles([
            Article(id="sort-data", title="Sort data in a spreadsheet",
                    body="Select the cells you want to sort, then choose Data > Sort range and pick the "
                         "column to sort by, A to Z or Z to A.",
                    url="https://help.sheets.example/articles/sort-data"),
            Article(id="sharing", title="See who has access to your documents",
                    body="Open the document and choose Share > Manage access: it lists everyone who can "
                         "view, comment on or edit the document, and lets you change or remove their access.",
                    url="https://help.sheets.example/articles/sharing")])
    say(vendor, question)
    reason, tags = handed_over(shop)
    assert (reason, tags) == (None, [])
    with get_db(shop).session() as session:
        [sent] = session.scalars(select(OutboxCall).where(OutboxCall.vendor == "twilio")).all()
    assert f"articles/{article}" in sent.payload["body"], sent.payload


def test_a_customer_reporting_their_own_mistake_is_answered_not_handed_over(shop: Flask,
                                                                         vendor: VendorClient) -> None:
    """Read as very negative (-0.81) for "mistake" and "wrong", this plain question was
    handed over by the negative_sentiment trigger; it is searched like any other."""
    say(vendor, "I made a mistake in my address when ordering, the house number is wrong, can I still fix it?")
    assert handed_over(shop)[0] is None  # logged as resolved by the bot, not handed over
    with get_db(shop).session() as session:
        [sent] = session.scalars(select(OutboxCall).where(OutboxCall.vendor == "twilio")).all()
    # Offered first in a menu, by the sample knowledge base's own title.
    assert "1. Can I change my delivery address?" in sent.payload["body"], sent.payload


def test_vip_customers_go_to_a_person_with_high_priority(shop: Flask, vendor: VendorClient) -> None:
    customer_with(shop, tier="vip")
    say(vendor, "how long does delivery take?")
    reason, tags = handed_over(shop)
    assert reason == "vip" and "vip" in tags
    with get_db(shop).session() as session:
        ticket = session.scalars(select(OutboxCall).where(OutboxCall.operation == "tickets.create")).one()
        assert ticket.payload["ticket"]["priority"] == "high"


def test_high_value_customers_go_to_a_person(shop: Flask, vendor: VendorClient) -> None:
    customer_with(shop, attributes={"lifetime_value": 12000})
    say(vendor, "how long does delivery take?")
    assert handed_over(shop)[0] == "high_value"


def test_repeated_contacts_within_the_window_go_to_a_person(shop: Flask, vendor: VendorClient) -> None:
    customer_with(shop)
    with get_db(shop).session() as session:
        customer = session.scalars(select(Customer)).one()
        for days_ago in (5, 2):
            session.add(Conversation(account_id=customer.account_id, customer_id=customer.id, channel="sms",
                                     status="closed", started_at=datetime.now(UTC) - timedelta(days=days_ago)))
        session.commit()
    say(vendor, "how long does delivery take?")
    assert handed_over(shop)[0] == "repeat_contact"


def test_a_falling_mood_goes_to_a_person(shop: Flask, vendor: VendorClient) -> None:
    say(vendor, "Hi, great, thanks so much, I love your shop! How long does delivery take?")
    say(vendor, "ok. and how much does delivery cost?")
    # Sadder, not a complaint: "the delivery cost is annoying and disappointing" is one, and
    # the complaint trigger comes first in the policy (the intent model read it as a late
    # delivery before it read messages with the sentence encoder).
    say(vendor, "oh. that's a bit sad, I hoped it would be cheaper")
    assert handed_over(shop)[0] in ("falling_sentiment", "negative_sentiment")


def test_too_many_turns_with_the_bot_goes_to_a_person(shop: Flask, vendor: VendorClient) -> None:
    questions = ["how long does delivery take?", "how much does delivery cost?", "do you ship internationally?",
                 "which payment methods do you accept?", "when will I get my refund?", "how do I return an item?",
                 "what does the warranty cover?"]
    for question in questions:
        say(vendor, question)
    assert handed_over(shop)[0] == "too_many_turns"


@pytest.mark.parametrize("close", ["thanks!", "👍", "ok great"])
def test_thanks_after_many_turns_is_a_close_not_a_ticket(shop: Flask, vendor: VendorClient, close: str) -> None:
    """"👍" after the sixth answer was handed over as too many turns: a Zendesk ticket for
    an agent to read "👍". The next question still goes to a person."""
    for question in ["how long does delivery take?", "how much does delivery cost?", "do you ship internationally?",
                     "which payment methods do you accept?", "when will I get my refund?", "how do I return an item?"]:
        say(vendor, question)
    say(vendor, close)
    assert handed_over(shop)[0] is None  # logged as resolved by the bot, not handed over
    say(vendor, "what does the warranty cover?")
    assert handed_over(shop)[0] == "too_many_turns"


def test_too_long_with_the_bot_goes_to_a_person(shop: Flask, vendor: VendorClient) -> None:
    say(vendor, "how long does delivery take?")
    with get_db(shop).session() as session:
        session.execute(update(Conversation).values(started_at=datetime.now(UTC) - timedelta(minutes=20)))
        session.commit()
    say(vendor, "how much does delivery cost?")
    assert handed_over(shop)[0] == "too_long_with_bot"


def test_a_bad_policy_file_is_refused_at_start_up_naming_line_and_field(env: dict[str, str], tmp_path: Path) -> None:
    default = (Path(__file__).parents[2] / "switchboard" / "data" / "escalation_policy.yaml").read_text()
    broken = tmp_path / "policy.yaml"
    broken.write_text(default.replace("below: -0.6", "below: low", 1))
    assert "below: low" in broken.read_text()
    with pytest.raises(ConfigError, match=r"line \d+: triggers\.negative_sentiment\.below"):
        create_app(load_settings({**env, "SWITCHBOARD_POLICY_FILE": str(broken)}))
