"""A visitor's messages through the widget's API: answered from the knowledge base with
the sources as links, choices as buttons, recorded once per client_id, and the
conversation still there after a reload."""
from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from switchboard.core.store.models import (
    Conversation,
    Customer,
    Identity,
    IdentityKind,
    InboxEvent,
    Message,
    WebVisitor,
)
from switchboard.intake.db import get_db

from .conftest import Visitor, inbox, outbox, timeline

DELIVERY_URL = "https://help.acme.example/articles/delivery-times"


def test_a_question_gets_a_grounded_answer_with_its_sources_as_links(visitor: Visitor, shop: Flask) -> None:
    visitor.say("How long does delivery take?", client_id="first")

    mine, answer = visitor.messages()
    assert (mine["author"], mine["text"], mine["client_id"]) == ("customer", "How long does delivery take?", "first")
    assert answer["author"] == "bot" and answer["id"] > mine["id"]
    assert "2 to 4 working days" in answer["text"]
    assert {"title": "How long does delivery take?", "url": DELIVERY_URL} in answer["sources"]
    # The source is shown once, as the list of links: not also as the SMS's "More: <link>" line.
    assert DELIVERY_URL not in answer["text"] and "More:" not in answer["text"], answer["text"]
    assert answer["at"].endswith("Z") and answer["client_id"] is None
    # On the record as a web conversation, delivered through the outbox without a vendor call.
    [event] = inbox(shop)
    assert (event.vendor, event.kind, event.status, event.dedupe_key) == (
        "webchat", "webchat.message", "done", f"{visitor.visitor}:first")
    [delivery] = outbox(shop, "webchat")
    assert delivery.payload["to"] == visitor.visitor and delivery.status == "sent"
    assert delivery.response is not None and delivery.response["status"] == "delivered"
    assert outbox(shop, "twilio") == []
    with get_db(shop).session() as session:
        conversation = session.scalars(select(Conversation)).one()
        assert conversation.channel == "web"
        assert {m.channel for m in session.scalars(select(Message))} == {"web"}


def test_two_questions_get_both_answers_with_both_sources_as_links(visitor: Visitor) -> None:
    visitor.say("Do you ship to Canada? And how much does delivery cost?")
    _, answer = visitor.messages()
    assert [s["url"] for s in answer["sources"]] == ["https://help.acme.example/articles/international-shipping",
                                                     "https://help.acme.example/articles/delivery-costs"]
    assert "over 40 countries" in answer["text"] and "$4.95" in answer["text"], answer["text"]
    assert "http" not in answer["text"] and "More:" not in answer["text"], answer["text"]


def test_an_answer_only_after_what_the_widget_already_has(visitor: Visitor) -> None:
    visitor.say("How long does delivery take?")
    first = visitor.messages()
    assert visitor.messages(after=first[-1]["id"]) == []
    assert visitor.messages(after=first[0]["id"]) == first[1:]


def test_a_repeated_client_id_is_accepted_and_processed_once(visitor: Visitor, shop: Flask) -> None:
    first = visitor.send("How long does delivery take?", client_id="retry-me")
    again = visitor.send("How long does delivery take?", client_id="retry-me")

    assert (first.status_code, first.get_json()) == (202, {"client_id": "retry-me"})
    assert (again.status_code, again.get_json()) == (202, {"client_id": "retry-me"})
    [event] = inbox(shop)
    assert event.duplicates == 1
    assert [m.author for m in timeline(shop)] == ["customer", "bot"]
    assert len(outbox(shop, "webchat")) == 1


def test_a_menu_of_articles_comes_as_buttons_whose_value_picks_like_an_sms_reply(visitor: Visitor,
                                                                                 shop: Flask) -> None:
    visitor.say("refund")  # three articles of the sample shop speak of refunds: a menu
    menu = visitor.messages()[-1]
    assert menu["author"] == "bot" and len(menu["choices"]) == 4, menu
    *articles, none = menu["choices"]
    assert [c["value"] for c in articles] == ["1", "2", "3"]
    assert none == {"label": "None of these", "value": "None of these"}  # sends its label, read as none
    for n, choice in enumerate(articles, 1):
        assert f"{n}. {choice['label']}" in menu["text"]
    # Buttons, not a number to type: the SMS's "Reply with the number…" is left out.
    assert menu["text"].splitlines()[-1] == f"3. {articles[2]['label']}", menu["text"]
    assert "Reply with the number" not in menu["text"]
    assert timeline(shop)[-1].body.endswith("Reply with the number, or AGENT to talk to a person.")  # the record

    picked = menu["choices"][1]
    visitor.say(picked["value"])

    answer = visitor.messages(after=menu["id"])[-1]
    assert answer["author"] == "bot" and answer["choices"] == []
    assert picked["label"] in [source["title"] for source in answer["sources"]]


def test_none_of_these_in_the_customers_language_asks_again(shop: Flask) -> None:
    visitor = Visitor(shop.test_client())
    visitor.start(locale="es-ES")
    visitor.say("Quiero un reembolso de mi pedido")
    menu = visitor.messages()[-1]
    none = menu["choices"][-1]
    assert none == {"label": "Ninguno de estos", "value": "Ninguno de estos"}, menu
    visitor.say(none["value"])
    reply = visitor.messages(after=menu["id"])[-1]
    assert reply["author"] == "bot" and reply["choices"] == [], reply
    assert reply["text"].startswith("Lo siento, ninguno encaja."), reply


def test_a_session_resumes_with_its_token_after_a_reload_and_shows_the_history(shop: Flask) -> None:
    browser = Visitor(shop.test_client())
    first = browser.start(locale="en-GB")
    assert first["messages"] == [] and first["verified"] is None and first["notify"] == "none"
    assert first["visitor"].startswith("v_") and len(first["visitor"]) == 24
    browser.say("How long does delivery take?")
    shown = browser.messages()

    reloaded = Visitor(shop.test_client())  # a new page load: nothing but the stored token
    again = reloaded.start(token=first["token"])

    assert again["visitor"] == first["visitor"]
    assert again["messages"] == shown
    with get_db(shop).session() as session:
        [visitor] = session.scalars(select(WebVisitor)).all()
        customer = session.get(Customer, visitor.customer_id)
        assert customer is not None and customer.locale == "en-GB"
        assert [(i.kind, i.value) for i in customer.identities] == [(IdentityKind.VISITOR, first["visitor"])]


def test_a_bad_or_foreign_token_starts_a_new_visitor(shop: Flask) -> None:
    browser = Visitor(shop.test_client())
    first = browser.start()
    tampered = first["token"][:-2] + ("AA" if not first["token"].endswith("AA") else "BB")

    fresh = Visitor(shop.test_client()).start(token=tampered)

    assert fresh["visitor"] != first["visitor"] and fresh["messages"] == []
    with get_db(shop).session() as session:
        assert len(session.scalars(select(WebVisitor)).all()) == 2


def test_an_sms_customer_and_a_web_visitor_stay_two_customers(visitor: Visitor, shop: Flask, vendor) -> None:  # type: ignore[no-untyped-def]
    params = {"MessageSid": "SM" + "7" * 32, "AccountSid": "AC" + "1" * 32, "Body": "Where is my parcel?",
              "NumMedia": "0", "From": "+14155550100", "To": "+15005550006"}
    assert vendor.twilio("/webhooks/twilio/messages", params).status_code == 200
    visitor.say("How long does delivery take?")

    with get_db(shop).session() as session:
        by_kind = {i.kind: i.customer_id for i in session.scalars(select(Identity))}
        assert by_kind[IdentityKind.PHONE] != by_kind[IdentityKind.VISITOR]
        web = session.scalars(select(Conversation).where(Conversation.customer_id == by_kind[IdentityKind.VISITOR]))
        assert [c.channel for c in web] == ["web"]
        sms = session.scalars(select(Conversation).where(Conversation.customer_id == by_kind[IdentityKind.PHONE]))
        assert [c.channel for c in sms] == ["sms"]
    # The widget shows the visitor's conversation only.
    assert "Where is my parcel?" not in [m["text"] for m in visitor.messages()]
    assert [c.payload["to"] for c in outbox(shop, "twilio")] == ["+14155550100"]


def test_a_card_number_typed_in_the_chat_is_vaulted_and_never_stored_in_clear(visitor: Visitor, shop: Flask) -> None:
    visitor.say("my card 4111 1111 1111 1111 was charged twice")

    mine = visitor.messages()[0]
    assert "4111" not in mine["text"] and "[CARD_1]" in mine["text"]
    with get_db(shop).session() as session:
        [event] = session.scalars(select(InboxEvent)).all()
        assert "4111" not in str(event.payload)
        assert all("4111" not in m.body for m in session.scalars(select(Message)))


def test_stop_in_the_chat_is_a_message_not_an_opt_out(visitor: Visitor, shop: Flask) -> None:
    """STOP and HELP are Twilio's SMS keywords: in the chat nothing is unsubscribed, and
    the next question is still answered."""
    visitor.say("STOP")
    visitor.say("How long does delivery take?")

    with get_db(shop).session() as session:
        customer = session.scalars(select(Customer)).one()
        assert customer.opted_out_at is None
    assert "2 to 4 working days" in visitor.messages()[-1]["text"]
    assert all("unsubscribed" not in m["text"] for m in visitor.messages())


def test_a_visitor_writing_spanish_is_answered_from_the_english_article_with_a_note(visitor: Visitor) -> None:
    """No article is written in Spanish: the multilingual encoder finds the English one
    from the visitor's own words, and the answer says, in Spanish, that it is English."""
    visitor.say("Olvidé mi contraseña")
    _, answer = visitor.messages()
    assert answer["author"] == "bot" and "Forgot password" in answer["text"], answer
    assert "(Este artículo está en inglés: es la respuesta más cercana que tenemos.)" in answer["text"], answer


def test_a_visitor_s_browser_language_is_told_though_no_article_is_in_it(shop: Flask) -> None:
    """Swedish is none of the languages detection tells by default: "Var är mitt paket?"
    read as German, and the Swedish visitor got German texts. The browser's language is a
    candidate (detection still has to find it in the words); Swedish has no catalog, so the
    texts are English."""
    browser = Visitor(shop.test_client())
    browser.start(locale="sv-SE")
    browser.say("Var är mitt paket? Jag beställde förra veckan")
    reply = browser.messages()[-1]
    assert reply["author"] == "bot"
    assert "Artikel" not in reply["text"] and "Sie " not in reply["text"], reply["text"]
    with get_db(shop).session() as session:
        [question] = [m for m in session.scalars(select(Message)) if m.author == "customer"]
        assert (question.meta["language"], question.meta["enrichment"]["language"]) == ("sv", "sv")
