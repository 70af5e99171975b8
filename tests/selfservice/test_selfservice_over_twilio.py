"""Self-service end to end: a signed Twilio webhook in, a grounded reply (or a handoff)
out through the sandboxed Twilio connector, with the local engine and with an LLM on
a loopback OpenAI-compatible server."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from switchboard.app import create_app
from switchboard.cli import main
from switchboard.core.knowledge.loaders import load_articles
from switchboard.core.knowledge.service import KnowledgeBase
from switchboard.core.settings import load_settings
from switchboard.core.store.models import AuditEntry, Conversation, Customer, Message, OutboxCall, PhrasingEvidence
from switchboard.intake.db import get_db

from ..conftest import PUBLIC_URL, SLACK_SECRET, TWILIO_TOKEN, ZENDESK_SECRET, with_sample_kb
from ..fakes.openai_server import FakeOpenAI
from ..signing import VendorClient

SAMPLE_KB = Path(__file__).parents[2] / "switchboard" / "data" / "sample_kb.json"
MESSAGES = "/webhooks/twilio/messages"
_sid = iter(range(1, 10_000))


def inbound(body: str, *, channel: str = "sms", sender: str = "+14155550100") -> dict[str, str]:
    n = next(_sid)
    params = {"MessageSid": f"SM{n:032x}", "AccountSid": "AC" + "1" * 32, "NumMedia": "0", "Body": body,
              "From": sender, "To": "+15005550006", "ApiVersion": "2010-04-01"}
    if channel == "whatsapp":
        params.update(From=f"whatsapp:{sender}", To="whatsapp:+14155238886", WaId=sender.lstrip("+"),
                      ProfileName="Dana")
    return params


def twilio_sends(app: Flask) -> list[dict[str, Any]]:
    with get_db(app).session() as session:
        calls = session.scalars(select(OutboxCall).where(OutboxCall.vendor == "twilio").order_by(OutboxCall.id))
        return [c.payload for c in calls]


def conversation(app: Flask) -> Conversation:
    with get_db(app).session() as session:
        return session.scalars(select(Conversation)).one()


@pytest.fixture
def shop(app: Flask) -> Flask:
    return with_sample_kb(app)


def test_a_question_the_kb_answers_gets_a_grounded_sms_reply_with_its_source(shop: Flask, vendor: VendorClient) -> None:
    assert vendor.twilio(MESSAGES, inbound("hi, how long does delivery usually take?")).status_code == 200
    [sent] = twilio_sends(shop)
    assert sent["to"] == "+14155550100" and sent["from_"] == "+15005550006"
    assert "2 to 4 working days" in sent["body"]
    assert "https://help.acme.example/articles/delivery-times" in sent["body"]
    assert sent["body"].startswith("You're chatting with a virtual assistant")  # first message discloses the bot
    assert sent["status_callback"] == PUBLIC_URL + "/webhooks/twilio/status"
    with get_db(shop).session() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "selfservice.answer")).one()
        assert entry.detail["engine"] == "local"
        assert entry.detail["sources"][0]["citation"] == "https://help.acme.example/articles/delivery-times"


@pytest.mark.parametrize("body", ["where is my parcel 😡😡", "WHERE IS MY PARCEL 😡😡"])
def test_emoji_say_how_the_customer_feels_not_what_they_ask(shop: Flask, vendor: VendorClient, body: str) -> None:
    """Angry faces after the README's own question lowered the tracking article's score
    from 0.54 to 0.34 and the customer got a menu where the plain question is answered.
    The emoji still count for the mood: the message as stored keeps them."""
    vendor.twilio(MESSAGES, inbound(body, channel="whatsapp"))
    [sent] = twilio_sends(shop)
    assert sent["body"].endswith("\nMore: https://help.acme.example/articles/track-order"), sent["body"]
    with get_db(shop).session() as session:
        assert session.scalars(select(Message).where(Message.author == "customer")).one().body == body


def test_an_agents_only_help_center_article_is_never_texted_to_a_customer(
        shop: Flask, env: dict[str, str], vendor: VendorClient, tmp_path: Path) -> None:
    """A Help Center export made with an agent's token holds articles restricted to
    agents; `kb import` leaves them out, so their words never reach a customer."""
    export = tmp_path / "help_center.json"
    export.write_text(json.dumps({"articles": [{
        "id": 360000777, "title": "Refund override code for agents", "locale": "en-us", "draft": False,
        "html_url": "https://acme.zendesk.com/hc/en-us/articles/360000777", "user_segment_id": 360000123,
        "body": "<p>To refund an order older than 90 days, use the refund override code OVR-7731.</p>"}]}))
    imported = CliRunner().invoke(main, ["kb", "import", str(export)], env=env)
    assert imported.exit_code == 0 and "restricted to a user segment" in imported.output, imported.output
    assert vendor.twilio(MESSAGES, inbound("what is the refund override code for an order older than 90 days?"))\
        .status_code == 200
    sends = twilio_sends(shop)
    assert sends and not any("OVR-7731" in sent["body"] or "360000777" in sent["body"] for sent in sends), sends


FAQ_PAGE = """# Frequently asked questions

## How long does delivery take?
Standard delivery takes 3 to 5 working days. Express delivery arrives the next working day.

## Can I change my order after placing it?
You can change the items or the address within one hour of ordering, from the Orders page.

## Do you offer gift wrapping?
Yes. Tick "gift wrap" at checkout; it costs $3 an item.

## Which countries do you ship to?
We ship to the UK, the EU, the US and Canada. Duties outside the UK are paid by the recipient.
"""


@pytest.mark.parametrize(("question", "answer"), [
    ("can I still change my order?", "within one hour of ordering"),
    ("do you deliver to canada?", "the US and Canada"),
])
def test_a_question_on_an_faq_page_is_answered_from_its_own_section(
        app: Flask, env: dict[str, str], vendor: VendorClient, tmp_path: Path, question: str, answer: str) -> None:
    """Most small shops keep one FAQ page of many questions. Each heading's section is a
    passage of its own, so the customer gets that section's answer (not a menu of every
    article, because one passage held four topics), without their question echoed back."""
    docs = tmp_path / "help"
    docs.mkdir()
    (docs / "faq.md").write_text(FAQ_PAGE, encoding="utf-8")
    (docs / "size-guide.md").write_text("# Size guide\n\nOur clothes follow UK sizing. Between two sizes, choose "
                                        "the larger one.\n", encoding="utf-8")
    (docs / "care.md").write_text("# Caring for your clothes\n\nWash wool by hand in cold water and dry it flat.\n",
                                  encoding="utf-8")
    imported = CliRunner().invoke(main, ["kb", "import", str(docs)], env=env)
    assert imported.exit_code == 0, imported.output
    assert vendor.twilio(MESSAGES, inbound(question)).status_code == 200
    [sent] = twilio_sends(app)
    assert answer in sent["body"] and "Frequently asked questions" in sent["body"], sent["body"]
    assert "?" not in sent["body"].split("\n\n", 1)[1].split("\n")[0], sent["body"]  # no heading quoted back
    assert "1." not in sent["body"]  # not a menu


def test_a_price_in_a_help_center_table_is_answered_with_what_it_is_the_price_of(
        app: Flask, env: dict[str, str], vendor: VendorClient, tmp_path: Path) -> None:
    """Help centers keep rates in tables: the answer quotes the row, so the price stays
    with the service it is the price of."""
    export = tmp_path / "help_center.json"
    export.write_text(json.dumps({"articles": [
        {"id": 101, "title": "Delivery options and prices", "locale": "en-us", "draft": False,
         "html_url": "https://acme.zendesk.com/hc/en-us/articles/101",
         "body": "<p>Choose your delivery at checkout.</p><table><tr><th>Service</th><th>Time</th><th>Price</th></tr>"
                 "<tr><td>Standard</td><td>3-5 working days</td><td>$4.95</td></tr>"
                 "<tr><td>Express</td><td>Next working day</td><td>$9.95</td></tr></table>"},
        {"id": 102, "title": "Returns", "locale": "en-us", "draft": False,
         "html_url": "https://acme.zendesk.com/hc/en-us/articles/102",
         "body": "<p>Return unworn items within 30 days for a refund.</p>"}]}))
    imported = CliRunner().invoke(main, ["kb", "import", str(export)], env=env)
    assert imported.exit_code == 0, imported.output
    assert vendor.twilio(MESSAGES, inbound("how much is express delivery?")).status_code == 200
    [sent] = twilio_sends(app)
    # Each price with its service (a cell a paragraph quoted "Express" and "$4.95" apart).
    assert "Service: Express; Time: Next working day; Price: $9.95" in sent["body"], sent["body"]


def test_later_replies_do_not_repeat_the_disclosure(shop: Flask, vendor: VendorClient) -> None:
    vendor.twilio(MESSAGES, inbound("how long does delivery take?"))
    vendor.twilio(MESSAGES, inbound("and how much does delivery cost?"))
    first, second = twilio_sends(shop)
    assert "virtual assistant" in first["body"] and "virtual assistant" not in second["body"]
    assert "free on orders over $50" in second["body"] and "delivery-costs" in second["body"]


def test_whatsapp_questions_are_answered_on_whatsapp(shop: Flask, vendor: VendorClient) -> None:
    assert vendor.twilio(MESSAGES, inbound("why was my card declined?", channel="whatsapp")).status_code == 200
    [sent] = twilio_sends(shop)
    assert sent["to"] == "whatsapp:+14155550100" and sent["from_"] == "whatsapp:+14155238886"
    assert "declined by your bank" in sent["body"] and "card-declined" in sent["body"]


def test_a_question_the_kb_cannot_answer_gets_no_invented_answer(shop: Flask, vendor: VendorClient) -> None:
    vendor.twilio(MESSAGES, inbound("can I bring my dog to the staff christmas party?"))
    vendor.twilio(MESSAGES, inbound("the christmas party at your office, are dogs welcome?"))
    first, handoff = twilio_sends(shop)
    # At most a menu of articles to choose from (never a quoted answer), then a person.
    assert "Reply with the number, or AGENT" in first["body"] or "couldn't find that" in first["body"]
    assert "passing you to a member of our team" in handoff["body"]
    for sent in (first, handoff):
        assert "http" not in sent["body"]  # nothing cited, because nothing was claimed
    # Out of scope, by the intent model with the sentence encoder (TF-IDF alone read the second
    # message as a complaint, so the handoff was recorded as the knowledge base's low confidence).
    assert (conversation(shop).status, conversation(shop).handoff_reason) == ("human", "out_of_scope")


@pytest.mark.parametrize("text", ["AGENT", "I want to talk to a real person please", "can I speak with someone"])
def test_asking_for_a_person_hands_over_in_any_phrasing(shop: Flask, vendor: VendorClient, text: str) -> None:
    vendor.twilio(MESSAGES, inbound(text))
    [sent] = twilio_sends(shop)
    assert "passing you to a member of our team" in sent["body"]
    assert conversation(shop).handoff_reason == "explicit_request"


@pytest.mark.parametrize(("text", "told"), [
    ("are you a real person or a bot?", "virtual assistant"),
    ("¿estoy hablando con un robot o con una persona?", "asistente virtual"),
    ("bist du ein Mensch?", "virtuellen Assistenten"),
    ("who am I talking to?", "virtual assistant"),  # was handed over as a request for a person
])
def test_asking_whether_a_person_answers_is_told_the_truth_and_the_way_to_one(shop: Flask, vendor: VendorClient,
                                                                              text: str, told: str) -> None:
    """A question about who answers, not a request for one: "real person" no longer hands
    over by itself. AGENT, as the reply says, still does."""
    vendor.twilio(MESSAGES, inbound(text))
    [sent] = twilio_sends(shop)
    assert told in sent["body"] and "AGENT" in sent["body"], sent
    assert conversation(shop).handoff_reason is None
    vendor.twilio(MESSAGES, inbound("AGENT"))
    assert conversation(shop).handoff_reason == "explicit_request"


@pytest.mark.parametrize("text", ["I need help with something", "help me please", "I need assistance"])
def test_asking_for_help_without_saying_with_what_is_asked_what_is_needed(shop: Flask, vendor: VendorClient,
                                                                          text: str) -> None:
    """"Help me please" was a request for a person to the shipped intent model (0.93) and
    handed over at once; "pls help" got "I couldn't find that". The bot asks what they
    need, and AGENT still reaches a person."""
    vendor.twilio(MESSAGES, inbound(text))
    [sent] = twilio_sends(shop)
    assert "How can I help you today?" in sent["body"], sent
    assert conversation(shop).handoff_reason is None
    vendor.twilio(MESSAGES, inbound("I need a person to help me"))
    assert conversation(shop).handoff_reason == "explicit_request"


def with_photo(params: dict[str, str], number: int = 1) -> dict[str, str]:
    return {**params, "NumMedia": "1", "MediaContentType0": "image/jpeg",
            "MediaUrl0": f"https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM{number}/Media/ME{number}"}


def test_a_photo_sent_without_words_is_asked_about_not_searched(shop: Flask, vendor: VendorClient) -> None:
    """A WhatsApp photo with no text was searched as an empty question: "I couldn't find
    that in our help center", a failed answer toward a person. It is acknowledged and the
    customer asked what they need; no failure is counted, so their question is answered
    and a second photo is acknowledged again."""
    vendor.twilio(MESSAGES, with_photo(inbound("", channel="whatsapp")))
    [sent] = twilio_sends(shop)
    assert "I got your attachment" in sent["body"] and "AGENT" in sent["body"], sent
    vendor.twilio(MESSAGES, with_photo(inbound(" ", channel="whatsapp"), 2))
    assert "I got your attachment" in twilio_sends(shop)[-1]["body"]
    vendor.twilio(MESSAGES, with_photo(inbound("my kettle arrived broken", channel="whatsapp"), 3))
    assert "articles/damaged-item" in twilio_sends(shop)[-1]["body"]
    assert conversation(shop).handoff_reason is None
    with get_db(shop).session() as session:
        replies = session.scalars(select(Message).where(Message.author == "bot").order_by(Message.id)).all()
    assert [(m.meta["action"], m.meta.get("reason")) for m in replies][:2] == [("clarify", None)] * 2


def test_asking_whether_it_is_a_bot_and_for_a_person_hands_over(shop: Flask, vendor: VendorClient) -> None:
    vendor.twilio(MESSAGES, inbound("are you a bot? I want a human"))
    assert conversation(shop).handoff_reason == "explicit_request"


def test_a_vip_asking_whether_a_person_answers_goes_to_one(shop: Flask, vendor: VendorClient) -> None:
    """The request for a person is not what fires, the customer's tier still is."""
    vendor.twilio(MESSAGES, inbound("hello"))
    with get_db(shop).session() as session:
        session.scalars(select(Customer)).one().tier = "vip"
        session.commit()
    vendor.twilio(MESSAGES, inbound("are you a real person?"))
    assert conversation(shop).handoff_reason == "vip"


def test_once_a_person_has_the_conversation_the_bot_stays_quiet(shop: Flask, vendor: VendorClient) -> None:
    vendor.twilio(MESSAGES, inbound("AGENT"))
    vendor.twilio(MESSAGES, inbound("how long does delivery take?"))
    vendor.twilio(MESSAGES, inbound("hello??"))
    handoff, ack = twilio_sends(shop)  # no answer; one acknowledgement for the burst
    assert "passing you to a member of our team" in handoff["body"]
    assert ack["body"].startswith("Thanks, we have your message") and "http" not in ack["body"]


def test_stop_opts_out_and_nothing_is_sent_until_start(shop: Flask, vendor: VendorClient) -> None:
    vendor.twilio(MESSAGES, inbound("STOP"))
    vendor.twilio(MESSAGES, inbound("how long does delivery take?"))
    assert twilio_sends(shop) == []
    with get_db(shop).session() as session:
        assert session.scalars(select(Customer)).one().opted_out_at is not None
    vendor.twilio(MESSAGES, inbound("START"))
    vendor.twilio(MESSAGES, inbound("how long does delivery take?"))
    assert len(twilio_sends(shop)) == 1


def test_a_duplicate_delivery_gets_one_reply(shop: Flask, vendor: VendorClient) -> None:
    params = inbound("how long does delivery take?")
    vendor.twilio(MESSAGES, params)
    vendor.twilio(MESSAGES, params)
    assert len(twilio_sends(shop)) == 1


# --- with an LLM on a loopback OpenAI-compatible server -----------------------------------

@pytest.fixture
def fake_llm() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def llm_shop(env: dict[str, str], fake_llm: FakeOpenAI) -> Iterator[Flask]:
    app = create_app(load_settings({**env, "OPENAI_BASE_URL": fake_llm.base_url,
                                    "SWITCHBOARD_MODEL_FAST": "small-model", "SWITCHBOARD_MODEL_STRONG": "big-model"}),
                     config={"TASKS_INLINE": True, "TESTING": True})
    yield with_sample_kb(app)
    get_db(app).dispose()


@pytest.fixture
def llm_vendor(llm_shop: Flask) -> VendorClient:
    return VendorClient(llm_shop.test_client(), twilio_token=TWILIO_TOKEN, zendesk_secret=ZENDESK_SECRET,
                        slack_secret=SLACK_SECRET, public_url=PUBLIC_URL)


REFUND_QUESTION = "when will I get my refund after my return reaches your warehouse?"


def not_an_action(fake_llm: FakeOpenAI) -> None:
    """The first model call for a message naming a refund is the action router's (is this
    a request to run the refund tool?); the model says it is not."""
    fake_llm.reply("NONE")


def drafting_requests(fake_llm: FakeOpenAI) -> list[dict[str, Any]]:
    return [r for r in fake_llm.requests if "answer_v1" in json.dumps(r["messages"])]


def test_llm_drafts_a_cited_answer(llm_shop: Flask, llm_vendor: VendorClient, fake_llm: FakeOpenAI) -> None:
    not_an_action(fake_llm)
    fake_llm.reply("We refund you within 3 working days of your return reaching our warehouse [1].")
    llm_vendor.twilio(MESSAGES, inbound(REFUND_QUESTION))
    router, _ = fake_llm.requests
    assert "tools" in router
    [request] = drafting_requests(fake_llm)
    assert request["model"] == "small-model"
    assert "answer_v1" in json.dumps(request["messages"])
    [sent] = twilio_sends(llm_shop)
    assert "within 3 working days" in sent["body"]
    assert "https://help.acme.example/articles/refund-timing" in sent["body"]
    assert "[1]" not in sent["body"]
    with get_db(llm_shop).session() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "selfservice.answer")).one()
        assert (entry.detail["engine"], entry.detail["model"], entry.detail["prompt_version"]) == (
            "llm", "small-model", "answer_v1")


def test_personal_data_never_reaches_the_model(llm_shop: Flask, llm_vendor: VendorClient, fake_llm: FakeOpenAI) -> None:
    fake_llm.reply("A payment is usually declined by your bank, not by us [1].")
    llm_vendor.twilio(MESSAGES, inbound(
        "my card 4111-1111-1111-1111 was declined, email me at dana.smith@example.com or call +44 20 7946 0958"))
    [request] = fake_llm.requests
    seen = json.dumps(request)
    for secret in ("4111", "dana.smith", "example.com", "7946"):
        assert secret not in seen
    assert "[CARD_1]" in seen and "[EMAIL_1]" in seen and "[PHONE_1]" in seen


def test_a_refused_llm_draft_falls_back_to_the_local_answer(llm_shop: Flask, llm_vendor: VendorClient,
                                                            fake_llm: FakeOpenAI) -> None:
    """The model's invented voucher is never sent; the article's own words still are."""
    not_an_action(fake_llm)
    fake_llm.reply("We refund you within 3 working days of your return reaching our warehouse [1]. "
                   "You will also receive a $20 voucher for the inconvenience [1].")
    llm_vendor.twilio(MESSAGES, inbound(REFUND_QUESTION))
    [sent] = twilio_sends(llm_shop)
    assert "voucher" not in sent["body"]
    assert "3 working days" in sent["body"] and "https://help.acme.example/articles/refund-timing" in sent["body"]
    assert conversation(llm_shop).status == "open"
    with get_db(llm_shop).session() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "selfservice.answer")).one()
        assert entry.detail["engine"] == "local"


def test_a_model_outage_hands_the_customer_to_a_person(llm_shop: Flask, llm_vendor: VendorClient,
                                                       fake_llm: FakeOpenAI) -> None:
    fake_llm.fail(503).fail(503)  # down for the action router and for the draft
    llm_vendor.twilio(MESSAGES, inbound(REFUND_QUESTION))
    assert len(fake_llm.requests) == 2
    [sent] = twilio_sends(llm_shop)
    assert "passing you to a member of our team" in sent["body"]
    assert conversation(llm_shop).handoff_reason == "model_unavailable"


def test_a_plain_yes_is_an_answer_not_an_opt_in(shop: Flask, vendor: VendorClient) -> None:
    vendor.twilio(MESSAGES, inbound("how long does delivery take?"))
    vendor.twilio(MESSAGES, inbound("yes"))
    with get_db(shop).session() as session:
        assert not session.scalars(select(AuditEntry).where(AuditEntry.action.like("consent.%"))).all()


def test_an_llm_reply_without_citation_markers_still_cites_its_source(llm_shop: Flask, llm_vendor: VendorClient,
                                                                      fake_llm: FakeOpenAI) -> None:
    not_an_action(fake_llm)
    fake_llm.reply("We refund you within 3 working days of your return reaching our warehouse.")
    llm_vendor.twilio(MESSAGES, inbound(REFUND_QUESTION))
    [sent] = twilio_sends(llm_shop)
    assert "3 working days" in sent["body"]
    assert "https://help.acme.example/articles/refund-timing" in sent["body"]


def _menu_titles(body: str) -> list[str]:
    return [line.split(". ", 1)[1] for line in body.splitlines() if line[:2] in {f"{n}." for n in range(1, 4)}]


def test_a_one_word_question_gets_a_menu_and_the_number_picked_gets_that_answer(shop: Flask,
                                                                                 vendor: VendorClient) -> None:
    vendor.twilio(MESSAGES, inbound("refund?"))
    [menu] = twilio_sends(shop)
    titles = _menu_titles(menu["body"])
    assert 1 <= len(titles) <= 3 and "When will I get my refund?" in titles, menu["body"]
    assert "AGENT" in menu["body"].splitlines()[-1] and "http" not in menu["body"]
    vendor.twilio(MESSAGES, inbound(str(titles.index("When will I get my refund?") + 1)))
    _, answer = twilio_sends(shop)
    assert "https://help.acme.example/articles/refund-timing" in answer["body"]
    assert "working days" in answer["body"]


def test_a_picked_title_is_what_the_answer_answers_and_what_a_follow_up_is_read_with(
        shop: Flask, vendor: VendorClient) -> None:
    """"refund", then "How do I return an item?" off the menu, wants the return steps, not
    only the sentence that says "refund"; "and how long does it take?" next is about the
    return: answered from the return article, not as delivery times (its words alone fit
    that article)."""
    vendor.twilio(MESSAGES, inbound("refund"))
    [menu] = twilio_sends(shop)
    titles = _menu_titles(menu["body"])
    vendor.twilio(MESSAGES, inbound(str(titles.index("How do I return an item?") + 1)))
    _, answer = twilio_sends(shop)
    assert "You can return most items within 30 days" in answer["body"], answer["body"]
    assert "articles/return-item" in answer["body"]
    vendor.twilio(MESSAGES, inbound("and how long does it take?"))
    *_, follow_up = twilio_sends(shop)
    assert "Standard delivery within the country" not in follow_up["body"], follow_up["body"]
    assert "within 30 days" in follow_up["body"] and "articles/return-item" in follow_up["body"], follow_up["body"]


#: Follow-ups about the answer just sent whose own words fit another article: each is
#: answered from the article the conversation is about (they got delivery times, the
#: returns article and delivery costs).
ABOUT_THE_ANSWER = [
    ("What does the warranty cover?", "how long is it?", "2-year warranty", "articles/warranty"),
    ("I have been charged twice", "when will I get it back?", "within 3 to 5 working days", "articles/charged-twice"),
    ("How do I return an item?", "is it free?", "Returns are free for faulty items", "articles/return-item"),
    ("Do you ship internationally?", "how much does that cost?", "the cost is shown at checkout",
     "articles/international-shipping"),
    # the article's sentence not sent yet (the one sent shares "dispatched" too)
    ("Can I change my delivery address?", "what if it's already dispatched?", "Once the order has been dispatched",
     "articles/change-address"),
    # a time bound said without a number ("until your order is dispatched"): delivery times
    ("Can I change my delivery address?", "how long do I have?", "until your order is dispatched",
     "articles/change-address"),
]


@pytest.mark.parametrize(("question", "follow_up", "said", "cited"), ABOUT_THE_ANSWER)
def test_a_follow_up_about_the_answer_just_sent_is_answered_from_its_article(
        shop: Flask, vendor: VendorClient, question: str, follow_up: str, said: str, cited: str) -> None:
    vendor.twilio(MESSAGES, inbound(question))
    vendor.twilio(MESSAGES, inbound(follow_up))
    first, second = twilio_sends(shop)
    assert cited in first["body"], first["body"]
    assert said in second["body"] and cited in second["body"], second["body"]


def test_a_follow_up_naming_another_articles_topic_is_answered_from_that_article(
        shop: Flask, vendor: VendorClient) -> None:
    """"It says delivered but it's not here" after the tracking answer points back ("it")
    but names the missing-parcel article's topic in full: it got the tracking article
    again, which shares only a synonym ("dispatched") with it."""
    vendor.twilio(MESSAGES, inbound("Where is my parcel?"))
    vendor.twilio(MESSAGES, inbound("it says delivered but it's not here"))
    first, second = twilio_sends(shop)
    assert "articles/track-order" in first["body"], first["body"]
    assert second["body"].endswith("articles/missing-parcel"), second["body"]


def test_a_follow_up_naming_nothing_is_answered_for_what_the_conversation_named(
        shop: Flask, vendor: VendorClient) -> None:
    """"How much is that?" after "and express?" asks the express price: it got the first
    price the costs article states, the standard one."""
    for text in ("How long does delivery take?", "and express?", "how much is that?"):
        vendor.twilio(MESSAGES, inbound(text))
    *_, express, price = twilio_sends(shop)
    assert express["body"].startswith("Express delivery arrives the next working day"), express["body"]
    assert "Express next-day delivery costs $9.95" in price["body"], price["body"]
    assert price["body"].endswith("articles/delivery-costs"), price["body"]


def test_a_follow_up_the_answer_just_sent_cannot_answer_is_offered_both_ways(
        shop: Flask, vendor: VendorClient) -> None:
    """"How much is it?" after the password answer: nothing in that article says a price,
    and on its own words it is delivery costs, which the conversation does not point at;
    both readings are offered, no answer outright."""
    vendor.twilio(MESSAGES, inbound("I forgot my password"))
    vendor.twilio(MESSAGES, inbound("how much is it?"))
    _, follow_up = twilio_sends(shop)
    offered = _menu_titles(follow_up["body"])
    assert offered[0] == "I forgot my password" and "How much does delivery cost?" in offered, follow_up["body"]
    with get_db(shop).session() as session:
        menus = session.scalars(select(AuditEntry).where(AuditEntry.action == "selfservice.choices"))
        assert [m.detail["reason"] for m in menus] == ["follow_up_unclear"]


def test_a_follow_up_pointing_back_that_fits_nothing_on_its_own_offers_the_conversations_article_first(
        shop: Flask, vendor: VendorClient) -> None:
    """"What if it still doesn't come?" after the password answer: its own words fit no
    article clearly, and it got a menu of the card-declined, cancel-order and
    close-account articles. The article the conversation is about leads the menu, and a
    pick of it is answered for the question read with the conversation."""
    vendor.twilio(MESSAGES, inbound("I forgot my password"))
    vendor.twilio(MESSAGES, inbound("what if it still doesn't come?"))
    _, menu = twilio_sends(shop)
    assert _menu_titles(menu["body"])[0] == "I forgot my password", menu["body"]
    vendor.twilio(MESSAGES, inbound("1"))
    *_, answer = twilio_sends(shop)
    assert answer["body"].endswith("articles/reset-password"), answer["body"]


def test_a_number_the_menu_does_not_have_gets_the_menu_again(shop: Flask, vendor: VendorClient) -> None:
    """"7" under three articles was read as a question of no words: "I couldn't find
    that", and after one more miss a person."""
    vendor.twilio(MESSAGES, inbound("refund"))
    [menu] = twilio_sends(shop)
    titles = _menu_titles(menu["body"])
    vendor.twilio(MESSAGES, inbound("7"))
    _, again = twilio_sends(shop)
    assert _menu_titles(again["body"]) == titles and "couldn't find" not in again["body"], again["body"]
    vendor.twilio(MESSAGES, inbound(str(titles.index("When will I get my refund?") + 1)))
    *_, answer = twilio_sends(shop)
    assert "articles/refund-timing" in answer["body"], answer["body"]
    assert conversation(shop).handoff_reason is None


def test_menus_the_customer_picked_from_are_not_failed_answers(shop: Flask, vendor: VendorClient) -> None:
    """The policy hands over after two failed answers (repeated_failures); a menu whose
    article the customer then picked answered them, so two such menus and a new
    question get an answer, not a person."""
    for question in ("refund", "my parcel"):
        vendor.twilio(MESSAGES, inbound(question))
        *_, menu = twilio_sends(shop)
        assert _menu_titles(menu["body"]), menu["body"]
        vendor.twilio(MESSAGES, inbound("1"))
    vendor.twilio(MESSAGES, inbound("which payment methods do you accept?"))
    *_, answer = twilio_sends(shop)
    assert "articles/payment-methods" in answer["body"], answer["body"]
    assert conversation(shop).status == "open"  # not handed over


def test_a_menu_choice_can_be_named_by_the_words_of_its_title(shop: Flask, vendor: VendorClient) -> None:
    vendor.twilio(MESSAGES, inbound("my parcel"))
    [menu] = twilio_sends(shop)
    titles = _menu_titles(menu["body"])
    assert {"My parcel says delivered but I haven't received it",
            "Where is my order? Tracking your parcel"} <= set(titles), menu["body"]
    vendor.twilio(MESSAGES, inbound("the tracking one"))
    _, answer = twilio_sends(shop)
    assert "https://help.acme.example/articles/track-order" in answer["body"], answer["body"]
    assert "Reply with the number" not in answer["body"]


@pytest.mark.parametrize("pick", ["the second one", "2nd please", "number two", "option 2"])
def test_a_menu_choice_can_be_named_by_its_place(shop: Flask, vendor: VendorClient, pick: str) -> None:
    """"the second one" was searched as a question and handed to a person (out of scope)."""
    vendor.twilio(MESSAGES, inbound("my parcel"))
    [menu] = twilio_sends(shop)
    second = _menu_titles(menu["body"])[1]
    vendor.twilio(MESSAGES, inbound(pick))
    _, answer = twilio_sends(shop)
    slug = {"My parcel says delivered but I haven't received it": "missing-parcel",
            "Where is my order? Tracking your parcel": "track-order"}.get(second, "?")
    assert f"articles/{slug}" in answer["body"], (second, answer["body"])
    assert conversation(shop).handoff_reason is None


def test_a_spanish_customer_picks_by_place_in_spanish(shop: Flask, vendor: VendorClient) -> None:
    vendor.twilio(MESSAGES, inbound("Mi artículo llegó roto", sender="+34600100200"))
    [menu] = twilio_sends(shop)
    titles = _menu_titles(menu["body"])
    place = titles.index("My item arrived damaged or faulty")
    vendor.twilio(MESSAGES, inbound(("el primero", "el segundo", "el tercero")[place], sender="+34600100200"))
    _, answer = twilio_sends(shop)
    assert "articles/damaged-item" in answer["body"] and "Más:" in answer["body"], answer["body"]
    assert conversation(shop).handoff_reason is None  # was handed over for its language


@pytest.mark.parametrize("none", ["none of these", "None of them.", "neither"])
def test_none_of_these_asks_again_and_teaches_nothing(shop: Flask, vendor: VendorClient, none: str) -> None:
    """It was searched as a question: another menu of three unrelated articles."""
    vendor.twilio(MESSAGES, inbound("my parcel"))
    vendor.twilio(MESSAGES, inbound(none))
    _, reply = twilio_sends(shop)
    assert reply["body"].startswith("Sorry none of those fit. Could you say it in other words?"), reply["body"]
    with get_db(shop).session() as session:
        assert session.scalars(select(PhrasingEvidence)).all() == []  # no pick to learn from
    assert conversation(shop).handoff_reason is None


def test_a_short_reply_pointing_back_at_a_menu_is_read_with_its_question(shop: Flask, vendor: VendorClient) -> None:
    """"refund", its menu, then "how long does it take?": on its own words a delivery
    question, answered with delivery times. And "is it free?" picks nothing: its "is" was
    read as naming "Where is my order?", a pick the bot learned from."""
    vendor.twilio(MESSAGES, inbound("refund"))
    vendor.twilio(MESSAGES, inbound("how long does it take?"))
    _, answer = twilio_sends(shop)
    assert "articles/refund-timing" in answer["body"], answer["body"]
    vendor.twilio(MESSAGES, inbound("my parcel", sender="+14155550111"))
    vendor.twilio(MESSAGES, inbound("is it free?", sender="+14155550111"))
    with get_db(shop).session() as session:
        assert session.scalars(select(PhrasingEvidence)).all() == []


def test_something_else_after_a_menu_is_a_new_question(shop: Flask, vendor: VendorClient) -> None:
    vendor.twilio(MESSAGES, inbound("refund?"))
    vendor.twilio(MESSAGES, inbound("how long does delivery take?"))
    _, answer = twilio_sends(shop)
    assert "articles/delivery-times" in answer["body"]


@pytest.mark.parametrize("thanks", ["thanks!", "ok thanks", "Okay, thank you", "vale gracias", "👍", "ok", "cool :)"])
def test_thanks_gets_a_polite_close(shop: Flask, vendor: VendorClient, thanks: str) -> None:
    """"ok thanks" was read as "ok" and told nothing was found in the help center."""
    vendor.twilio(MESSAGES, inbound("how long does delivery take?"))
    vendor.twilio(MESSAGES, inbound(thanks))
    _, close = twilio_sends(shop)
    assert any(welcome in close["body"] for welcome in ("You're welcome", "De nada")), close["body"]
    assert "How can I help you today" not in close["body"] and "couldn't find" not in close["body"]


@pytest.mark.parametrize("text", [
    "Good morning! How long does delivery usually take?",
    "Hello, hope you're well. How long does delivery usually take?",
    "how long does delivery usually take? Thanks, Sam",
    "How long does delivery usually take? Thank you for your help!",
    "Hi, how long does delivery usually take? Any help would be appreciated.",
    "How long does delivery usually take? Thank you, I really appreciate it :)",
])
def test_a_question_wrapped_in_a_greeting_or_thanks_is_answered(shop: Flask, vendor: VendorClient, text: str) -> None:
    """Not "How can I help you today?": the greeting is not what the customer asks."""
    vendor.twilio(MESSAGES, inbound(text))
    [sent] = twilio_sends(shop)
    assert "2 to 4 working days" in sent["body"] and "articles/delivery-times" in sent["body"], sent["body"]


def test_a_thumbs_up_after_an_answer_is_no_failed_answer(shop: Flask, vendor: VendorClient) -> None:
    """"👍" was told "I couldn't find that in our help center", a failed answer: one more
    miss and the customer was handed to a person."""
    for message in ("how long does delivery take?", "👍", "zzkq"):
        vendor.twilio(MESSAGES, inbound(message))
    *_, thumbs, vague = twilio_sends(shop)
    assert "You're welcome" in thumbs["body"], thumbs["body"]
    assert "I'm passing you" not in vague["body"] and conversation(shop).status == "open", vague["body"]


def test_i_have_a_question_waits_for_the_question(shop: Flask, vendor: VendorClient) -> None:
    """"I have a question" got a menu of three articles (a failed answer), and the vague
    message after it went to a person before the customer had asked anything."""
    for message in ("hi", "I have a question", "about my order", "where is my parcel?"):
        vendor.twilio(MESSAGES, inbound(message))
    _, waiting, vague, answer = twilio_sends(shop)
    assert waiting["body"] == "How can I help you today?", waiting["body"]
    assert "I'm passing you" not in vague["body"], vague["body"]
    assert "articles/track-order" in answer["body"] and conversation(shop).status == "open", answer["body"]


def test_a_greeting_alone_is_greeted(shop: Flask, vendor: VendorClient) -> None:
    vendor.twilio(MESSAGES, inbound("Good morning!"))
    [sent] = twilio_sends(shop)
    assert "How can I help you today" in sent["body"]


@pytest.mark.parametrize(("greeting", "welcome"), [
    ("hola", "¿En qué puedo ayudarle hoy?"),
    ("Olá!", "Como posso ajudar hoje?"),
    ("ciao", "Come posso aiutarla oggi?"),
])
def test_a_greeting_in_another_language_is_greeted_in_it(shop: Flask, vendor: VendorClient, greeting: str,
                                                         welcome: str) -> None:
    """Too short for the language detector, and from a US number: it was greeted in English."""
    vendor.twilio(MESSAGES, inbound(greeting))
    vendor.twilio(MESSAGES, inbound("ok"))  # a short reply keeps the conversation's language
    first, second = twilio_sends(shop)
    assert welcome in first["body"] and "How can I help" not in first["body"], first["body"]
    assert "How can I help" not in second["body"] and "You're welcome" not in second["body"], second["body"]


def test_money_back_for_a_broken_item_is_answered_with_the_refund_the_article_gives(shop: Flask,
                                                                                   vendor: VendorClient) -> None:
    """The quote was "We are sorry! You do not need to send a broken item back …": the
    article's refund was left out because it says "refund", not "money"."""
    vendor.twilio(MESSAGES, inbound("My kettle arrived broken and I want my money back"))
    [sent] = twilio_sends(shop)
    assert "full refund" in sent["body"] and "articles/damaged-item" in sent["body"], sent["body"]
    assert "We are sorry!" not in sent["body"]


def test_an_article_that_opens_with_yes_is_answered_yes_with_its_reason(shop: Flask, vendor: VendorClient) -> None:
    from switchboard.core.knowledge.records import Article

    with get_db(shop).session() as session:
        KnowledgeBase(session, shop.config["DEFAULT_ACCOUNT_ID"], shop.config["SETTINGS"].data_dir).import_articles([
            Article(id="gift-wrap", title="Do you offer gift wrapping?",
                    body="Yes. Gift wrapping costs $3 per item and you can add it at checkout.",
                    url="https://help.acme.example/articles/gift-wrap")])
    vendor.twilio(MESSAGES, inbound("do you offer gift wrapping for presents?"))
    [sent] = twilio_sends(shop)
    assert "Yes." in sent["body"] and "$3 per item" in sent["body"], sent["body"]
    assert "https://help.acme.example/articles/gift-wrap" in sent["body"]


#: The same first question, plain and wrapped in what customers write around it.
FIRST_QUESTIONS = ["how long does delivery take?",
                   "Good morning, hope you are well! How long does delivery take? Thanks, Sam"]


@pytest.mark.parametrize("first_question", FIRST_QUESTIONS)
def test_a_follow_up_question_is_read_with_the_conversation(shop: Flask, vendor: VendorClient,
                                                            first_question: str) -> None:
    vendor.twilio(MESSAGES, inbound(first_question))
    vendor.twilio(MESSAGES, inbound("and how much is express?"))
    first, follow_up = twilio_sends(shop)
    assert "articles/delivery-times" in first["body"]
    assert "$9.95" in follow_up["body"] and "articles/delivery-costs" in follow_up["body"], follow_up["body"]


@pytest.mark.parametrize("first_question", FIRST_QUESTIONS)
def test_a_follow_up_that_names_only_its_subject_is_answered_from_the_earlier_question(
        shop: Flask, vendor: VendorClient, first_question: str) -> None:
    vendor.twilio(MESSAGES, inbound(first_question))
    vendor.twilio(MESSAGES, inbound("what about express?"))
    _, follow_up = twilio_sends(shop)
    assert "next working day" in follow_up["body"] and "articles/delivery-times" in follow_up["body"], \
        follow_up["body"]


def test_a_new_short_question_after_an_answer_is_not_read_as_a_follow_up(shop: Flask, vendor: VendorClient) -> None:
    vendor.twilio(MESSAGES, inbound("how long does delivery take?"))
    vendor.twilio(MESSAGES, inbound("refund?"))
    _, second = twilio_sends(shop)
    assert "delivery-times" not in second["body"] and "When will I get my refund?" in second["body"], second["body"]


def test_a_paraphrase_sharing_no_word_with_the_article_is_answered_from_it(shop: Flask, vendor: VendorClient) -> None:
    """The default install fuses sentence embeddings into retrieval: "login" and "remember"
    appear nowhere in "I forgot my password", yet that is the answer. Lexical retrieval
    alone (SWITCHBOARD_EMBEDDINGS=none) can only offer it in a menu."""
    from switchboard.core.knowledge.analysis import content_words

    question = "I can't remember my login"
    [article] = [a for a in load_articles(SAMPLE_KB) if a.id == "reset-password"]
    assert not set(content_words(question)) & set(content_words(f"{article.title} {article.body}"))

    vendor.twilio(MESSAGES, inbound(question))
    [sent] = twilio_sends(shop)
    assert "https://help.acme.example/articles/reset-password" in sent["body"], sent["body"]
    assert "Forgot password" in sent["body"] and "Reply with the number" not in sent["body"]

    # The same decision over a lexical-only index offers the article in a menu instead.
    from switchboard.core.bot.escalation_file import load_policy
    from switchboard.core.conversation.evaluation import Configuration, Question, evaluate
    from switchboard.core.intents.store import default_intent_model
    from switchboard.core.knowledge.chunking import chunk_articles
    from switchboard.core.knowledge.retrieval import build_retriever

    lexical = build_retriever(chunk_articles(load_articles(SAMPLE_KB)), "none")
    config = Configuration(description={}, policy=load_policy(), intent_model=default_intent_model(),
                           retriever=lexical)
    [outcome] = evaluate([Question(question, "reset-password")], config)
    assert outcome.action == "choices" and outcome.verdict == "choices_with_right"


def test_a_paraphrase_in_other_words_is_answered_from_its_article(shop: Flask, vendor: VendorClient) -> None:
    """"post" and "abroad" are not the article's words: the multilingual encoder and the
    help center's own confidence answer it (WordLlama's shipped confidence offered it
    first in a menu)."""
    vendor.twilio(MESSAGES, inbound("can you post stuff abroad?"))
    [answer] = twilio_sends(shop)
    assert answer["body"].endswith("https://help.acme.example/articles/international-shipping"), answer["body"]
    assert not _menu_titles(answer["body"])


def _handoff_note(app: Flask) -> str:
    with get_db(app).session() as session:
        [call] = session.scalars(select(OutboxCall).where(OutboxCall.vendor == "zendesk",
                                                          OutboxCall.operation == "tickets.create")).all()
        return str(call.payload["ticket"]["comment"]["body"])


def _summary_line(note: str) -> str:
    return note.split("SUMMARY\n", 1)[1].splitlines()[0]


def test_the_handoff_summary_is_the_models_when_the_timeline_supports_it(llm_shop: Flask, llm_vendor: VendorClient,
                                                                         fake_llm: FakeOpenAI) -> None:
    not_an_action(fake_llm)
    fake_llm.reply("The customer says order A1001 never came and asks for a real person.")
    llm_vendor.twilio(MESSAGES, inbound("my order A1001 never came, I want to talk to a real person"))
    summary_requests = [r for r in fake_llm.requests if "Summarise this" in json.dumps(r["messages"])]
    assert len(summary_requests) == 1
    assert "order A1001 never came" in json.dumps(summary_requests[0]["messages"])
    assert _summary_line(_handoff_note(llm_shop)) == (
        "- The customer says order A1001 never came and asks for a real person.")


def test_a_model_summary_the_timeline_does_not_support_is_not_used(llm_shop: Flask, llm_vendor: VendorClient,
                                                                   fake_llm: FakeOpenAI) -> None:
    not_an_action(fake_llm)
    fake_llm.reply("The customer was promised a refund of 250 dollars by a manager.")
    llm_vendor.twilio(MESSAGES, inbound("my order A1001 never came, I want to talk to a real person"))
    summary = _summary_line(_handoff_note(llm_shop))
    assert "250" not in summary and "my order A1001 never came" in summary, summary


#: Messages asking two things, each fitting its own article: both answered in one reply,
#: in the order asked (the first got a menu of both; the second its first question's
#: answer only).
TWO_QUESTIONS = [
    ("Do you ship to Canada? And how much does delivery cost?",
     ["articles/international-shipping", "articles/delivery-costs"]),
    ("How do I return an item? When will I get my refund?", ["articles/return-item", "articles/refund-timing"]),
    # a request stated, then a question ("I need to …" asks as "How do I …?" does)
    ("I need to change my delivery address. How much does delivery cost?",
     ["articles/change-address", "articles/delivery-costs"]),
    # numbered in one line, as texted (read whole, only the second was answered)
    ("1) where is my parcel 2) can i change the address", ["articles/track-order", "articles/change-address"]),
]


@pytest.mark.parametrize(("message", "cited"), TWO_QUESTIONS)
def test_a_message_asking_two_things_gets_both_answers(
        shop: Flask, vendor: VendorClient, message: str, cited: list[str]) -> None:
    vendor.twilio(MESSAGES, inbound(message))
    [reply] = twilio_sends(shop)
    body = reply["body"]
    assert all(c in body for c in cited) and body.index(cited[0]) < body.index(cited[1]), body
    assert "Reply with the number" not in body, body
    with get_db(shop).session() as session:
        [answered] = session.scalars(select(AuditEntry).where(AuditEntry.action == "selfservice.answer"))
        assert [s["passage"].split("#")[0] for s in answered.detail["sources"]] == [
            c.removeprefix("articles/") for c in cited]


def test_a_question_in_words_no_rule_knows_is_answered_as_the_bare_question_is(
        shop: Flask, vendor: VendorClient) -> None:
    """The wrapper dilutes the message (read whole: a menu); its question alone fits the
    article the whole message leads to, and is answered (core/bot/asking_part.py)."""
    vendor.twilio(MESSAGES, inbound("I'd be grateful for your help with the following: how long do I have to "
                                    "return an item?\n\nThank you in advance,\nPriya"))
    [reply] = twilio_sends(shop)
    assert "articles/return-item" in reply["body"] and "30 days" in reply["body"], reply["body"]
    assert "Reply with the number" not in reply["body"], reply["body"]


def test_a_second_question_that_names_nothing_leaves_the_message_whole(shop: Flask, vendor: VendorClient) -> None:
    """"If not, can I return it?" fits no article on its own: the message is answered as
    one question (cancelling), not half-answered twice."""
    vendor.twilio(MESSAGES, inbound("Can I cancel my order? If not can I return it?"))
    [reply] = twilio_sends(shop)
    assert "articles/cancel-order" in reply["body"] and "articles/return-item" not in reply["body"], reply["body"]


def test_a_second_question_about_the_first_is_not_read_as_a_question_of_its_own(
        shop: Flask, vendor: VendorClient) -> None:
    """"How long would that take?" is about delivering to Australia: read whole, the
    message was answered with domestic delivery times. It is searched as its first
    question, which offers the shipping-abroad article."""
    vendor.twilio(MESSAGES, inbound("Do you deliver to Australia? How long would that take?"))
    [reply] = twilio_sends(shop)
    assert "articles/delivery-times" not in reply["body"], reply["body"]
    assert _menu_titles(reply["body"])[0] == "Do you ship internationally?", reply["body"]


def test_a_new_question_that_would_get_the_answer_just_sent_gets_the_other_articles(
        shop: Flask, vendor: VendorClient) -> None:
    """"what cards do you take then?" after the declined-card answer was sent that answer
    again, word for word; its own words lead back to it, and the payment methods come next."""
    vendor.twilio(MESSAGES, inbound("my card was declined"))
    vendor.twilio(MESSAGES, inbound("what cards do you take then?"))
    first, second = twilio_sends(shop)
    assert "articles/card-declined" in first["body"], first["body"]
    assert _menu_titles(second["body"])[0] == "Which payment methods do you accept?", second["body"]
    assert "Why was my card declined?" not in second["body"], second["body"]


def test_a_follow_up_pointing_back_may_get_the_same_sentences_again(shop: Flask, vendor: VendorClient) -> None:
    vendor.twilio(MESSAGES, inbound("Can I change my delivery address?"))
    vendor.twilio(MESSAGES, inbound("can I do it online?"))
    first, second = twilio_sends(shop)
    assert "Edit address" in first["body"] and "Edit address" in second["body"], second["body"]
