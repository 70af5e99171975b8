"""Voice end to end: signed Twilio voice webhooks in Twilio's documented shapes, the TwiML
answered read with xml.etree (what Twilio would play and do), and what was stored and
sent through the sandboxed (or HTTP-faked) connectors."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import responses
from flask import Flask
from sqlalchemy import select

from switchboard.app import create_app
from switchboard.core.calls import voice
from switchboard.core.knowledge.loaders import load_articles
from switchboard.core.knowledge.service import KnowledgeBase
from switchboard.core.settings import load_settings
from switchboard.core.store import inbox
from switchboard.core.store.models import (
    Account,
    AuditEntry,
    Conversation,
    Customer,
    InboxEvent,
    Message,
    MetricEvent,
    OutboxCall,
)
from switchboard.intake.db import get_db
from switchboard.tasks import handlers
from switchboard.vendors.twilio.voice import render

from ...actions.test_injection_and_llm import import_injected_article
from ...conftest import PUBLIC_URL, SLACK_SECRET, TWILIO_TOKEN, ZENDESK_SECRET
from ...handoff.test_handoff_to_zendesk import TICKET_ID, ZENDESK, Fakes
from ...i18n.test_language_over_twilio import SPANISH, import_kb
from ...signing import VendorClient, fixture

SAMPLE_KB = Path(__file__).parents[3] / "switchboard" / "data" / "sample_kb.json"
CALLER = "+14155550100"
SUPPORT_LINE = "+15005550010"
CALL = fixture("twilio", "voice_incoming_call.json")["CallSid"]


def make_app(env: dict[str, str], **extra: str) -> Flask:
    app = create_app(load_settings({**env, **extra}), config={"TASKS_INLINE": True, "TESTING": True})
    with get_db(app).session() as session:
        KnowledgeBase(session, app.config["DEFAULT_ACCOUNT_ID"], app.config["SETTINGS"].data_dir).import_articles(
            load_articles(SAMPLE_KB))
    return app


def closed_now() -> str:
    """Business hours that do not include the present hour, whatever day it is."""
    hour = datetime.now(UTC).hour
    start = (hour + 2) % 22
    return f"Mon-Sun {start:02d}:00-{start + 1:02d}:00"


@pytest.fixture
def line(env: dict[str, str]) -> Iterator[Flask]:
    """The shop with a support line to put callers through to, always open."""
    app = make_app(env, SWITCHBOARD_VOICE_SUPPORT_NUMBER=SUPPORT_LINE)
    yield app
    get_db(app).dispose()


def signed(app: Flask) -> VendorClient:
    return VendorClient(app.test_client(), twilio_token=TWILIO_TOKEN, zendesk_secret=ZENDESK_SECRET,
                        slack_secret=SLACK_SECRET, public_url=PUBLIC_URL)


def twiml(response: Any) -> ET.Element:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/xml"
    root = ET.fromstring(response.get_data())
    assert root.tag == "Response"
    return root


def call(client: VendorClient, **changes: str) -> ET.Element:
    return twiml(client.deliver("twilio", "voice_incoming_call.json", **changes))


def say(client: VendorClient, speech: str, *, turn: int, confidence: str = "0.93", **changes: str) -> ET.Element:
    params = {**fixture("twilio", "voice_speech_result.json"), "SpeechResult": speech, "Confidence": confidence,
              **changes}
    return twiml(client.twilio(f"/webhooks/twilio/voice/gather?turn={turn}", params))


def spoken(root: ET.Element) -> str:
    return " ".join(element.text or "" for element in root.iter("Say"))


def gather_of(root: ET.Element) -> ET.Element:
    [gather] = root.findall("Gather")
    return gather


def timeline(app: Flask) -> list[Message]:
    with get_db(app).session() as session:
        return list(session.scalars(select(Message).order_by(Message.id)))


def outbox(app: Flask, vendor: str) -> list[dict[str, Any]]:
    with get_db(app).session() as session:
        calls = session.scalars(select(OutboxCall).where(OutboxCall.vendor == vendor).order_by(OutboxCall.id))
        return [{"operation": c.operation, **c.payload} for c in calls]


def created_tickets(app: Flask) -> list[dict[str, Any]]:
    """The tickets Switchboard opened in Zendesk (zenpy's JSON, as recorded in the outbox)."""
    return [c["ticket"] for c in outbox(app, "zendesk") if c["operation"] == "tickets.create"]


def ticket_updates(app: Flask) -> list[dict[str, Any]]:
    return [c["ticket"] for c in outbox(app, "zendesk") if c["operation"] == "tickets.update"]


def test_a_caller_hears_the_assistant_disclosure_and_is_asked_what_they_need(shop: Flask, vendor: VendorClient) -> None:
    root = call(vendor)

    gather = gather_of(root)
    assert gather.attrib["input"] == "speech"
    assert gather.attrib["action"] == "/webhooks/twilio/voice/gather?turn=1"
    assert gather.attrib["language"] == "en-US" and gather.attrib["actionOnEmptyResult"] == "true"
    [greeting] = gather.findall("Say")
    assert "virtual assistant" in (greeting.text or "") and "Say agent" in (greeting.text or "")
    with get_db(shop).session() as session:
        conversation = session.scalars(select(Conversation)).one()
        assert conversation.channel == "voice"
        event = session.scalars(select(InboxEvent)).one()
        assert (event.kind, event.dedupe_key, event.status) == ("twilio.voice", CALL, "done")


def test_a_spoken_question_gets_a_short_grounded_answer_without_the_link(shop: Flask, vendor: VendorClient) -> None:
    call(vendor)
    root = say(vendor, "How long does delivery usually take?", turn=1)

    gather = gather_of(root)
    assert gather.attrib["action"] == "/webhooks/twilio/voice/gather?turn=2"
    answer = spoken(root)
    assert "2 to 4 working days" in answer
    assert "http" not in answer and voice.LINK_OFFER in answer
    question, reply = [m for m in timeline(shop) if m.author in ("customer", "bot")][1:]
    assert (question.channel, question.body) == ("voice", "How long does delivery usually take?")
    assert reply.meta["sources"][0]["citation"] == "https://help.acme.example/articles/delivery-times"
    with get_db(shop).session() as session:
        counted = {(e.kind, e.channel) for e in session.scalars(select(MetricEvent))}
    assert {("message.inbound", "voice"), ("bot.reply", "voice")} <= counted


def test_a_caller_asking_two_things_hears_both_answers_and_no_links(shop: Flask, vendor: VendorClient) -> None:
    call(vendor)
    answer = spoken(say(vendor, "Do you ship to Canada? And how much does delivery cost?", turn=1))
    assert "over 40 countries" in answer and "$4.95" in answer, answer
    assert "http" not in answer and "More:" not in answer and voice.LINK_OFFER in answer, answer
    reply = [m for m in timeline(shop) if m.author == "bot"][-1]
    assert [s["citation"] for s in reply.meta["sources"]] == ["https://help.acme.example/articles/international-shipping",
                                                               "https://help.acme.example/articles/delivery-costs"]


def test_an_injected_article_answering_a_caller_is_flagged_as_on_every_channel(shop: Flask, vendor: VendorClient,
                                                                              tmp_path: Path) -> None:
    import_injected_article(shop, tmp_path)
    call(vendor)
    assert "never expire" in spoken(say(vendor, "Do gift cards expire?", turn=1))
    with get_db(shop).session() as session:
        flags = session.scalars(select(AuditEntry).where(AuditEntry.action == "security.prompt_injection")).all()
        conversation = session.scalars(select(Conversation)).one()
    assert [(f.detail["source"], f.subject_id, f.detail["conversation_id"]) for f in flags] == [
        ("kb_article", flags[0].subject_id, conversation.id)]
    assert flags[0].subject_id.startswith("gift-cards")


def test_the_link_goes_by_sms_when_the_caller_asks_for_it(shop: Flask, vendor: VendorClient) -> None:
    call(vendor)
    say(vendor, "How long does delivery usually take?", turn=1)
    assert outbox(shop, "twilio") == []  # nothing is texted unasked

    root = say(vendor, "Yes, text me the link please.", turn=2)

    assert spoken(root) == voice.LINK_SENT and gather_of(root).attrib["action"].endswith("turn=3")
    [sms] = outbox(shop, "twilio")
    assert sms["to"] == CALLER and sms["from_"] == "+15005550006"  # an SMS, from our SMS number
    assert "https://help.acme.example/articles/delivery-times" in sms["body"]
    assert [m.channel for m in timeline(shop) if m.direction == "outbound" and m.author == "bot"][-1] == "sms"


def test_no_link_is_texted_to_a_number_that_opted_out(shop: Flask, vendor: VendorClient) -> None:
    vendor.twilio("/webhooks/twilio/messages", {**fixture("twilio", "inbound_sms.json"), "Body": "STOP"})
    call(vendor)
    say(vendor, "How long does delivery usually take?", turn=1)

    root = say(vendor, "Text me the link.", turn=2)

    assert spoken(root) == voice.LINK_OPTED_OUT
    assert outbox(shop, "twilio") == []


def test_speech_is_redacted_before_it_is_stored_or_read(shop: Flask, vendor: VendorClient) -> None:
    call(vendor)
    say(vendor, "My card 4111 1111 1111 1111 was charged twice for delivery", turn=1)

    stored = [m for m in timeline(shop) if m.author == "customer"]
    assert stored and all("4111" not in m.body for m in stored)
    assert stored[0].meta["redactions"]
    with get_db(shop).session() as session:
        event = session.scalars(select(InboxEvent).where(InboxEvent.kind == "twilio.voice.speech")).one()
        assert "4111" not in event.payload["SpeechResult"]


def test_asking_for_a_person_puts_the_caller_through_with_the_ticket_in_zendesk(line: Flask) -> None:
    client = signed(line)
    call(client)
    root = say(client, "agent", turn=1)

    assert [child.tag for child in root] == ["Say", "Start", "Dial"]  # Start: the live transcription
    assert spoken(root) == voice.CONNECTING
    assert [n.text for n in root.find("Dial").iter("Number")] == [SUPPORT_LINE]  # type: ignore[union-attr]
    [ticket] = created_tickets(line)
    assert ticket["subject"].startswith("VOICE from") and "channel_voice" in ticket["tags"]
    assert f"Phone call {CALL} from {CALLER}" in ticket["comment"]["body"]  # the ticket names the call
    assert "put through to the support line" in ticket["comment"]["body"]
    assert ticket["comment"]["public"] is False
    with get_db(line).session() as session:
        conversation = session.scalars(select(Conversation)).one()
        assert conversation.status == "human" and conversation.handoff_reason == "explicit_request"
        assert conversation.zendesk_ticket_id is not None


def test_an_agents_reply_after_a_call_reaches_the_caller_by_sms(line: Flask) -> None:
    client = signed(line)
    call(client)
    say(client, "agent", turn=1)
    with get_db(line).session() as session:
        ticket_id = session.scalars(select(Conversation)).one().zendesk_ticket_id
    comment = fixture("zendesk", "ticket_comment_added.json")
    comment["detail"]["id"] = str(ticket_id)
    comment["event"]["comment"].update(body="Your parcel left our depot today.", is_public=True, id="9001",
                                       author={"id": "111", "is_staff": True, "name": "Ava"})

    assert client.zendesk(comment).status_code == 200

    [sms] = outbox(line, "twilio")
    assert (sms["to"], sms["body"], sms["from_"]) == (CALLER, "Your parcel left our depot today.", "+15005550006")
    [reply] = [m for m in timeline(line) if m.author == "agent"]
    assert reply.channel == "sms"


def test_outside_business_hours_the_caller_is_offered_a_call_back(env: dict[str, str]) -> None:
    app = make_app(env, SWITCHBOARD_VOICE_SUPPORT_NUMBER=SUPPORT_LINE, SWITCHBOARD_VOICE_HOURS=closed_now(),
                   SWITCHBOARD_VOICE_TIMEZONE="UTC")
    client = signed(app)
    call(client)
    offer = say(client, "I want to speak to a person", turn=1)
    assert spoken(offer) == voice.CALLBACK_OFFER and not offer.findall("Dial")
    assert gather_of(offer).attrib["action"].endswith("turn=2")

    booked = say(client, "Yes please.", turn=2)

    assert [child.tag for child in booked] == ["Say", "Hangup"] and spoken(booked) == voice.CALLBACK_BOOKED
    [ticket] = created_tickets(app)
    assert "offered a call back" in ticket["comment"]["body"]
    updates = ticket_updates(app)
    assert any("callback_requested" in u.get("additional_tags", []) for u in updates)
    assert any("called back at " + CALLER in u.get("comment", {}).get("body", "") for u in updates)
    get_db(app).dispose()


def test_a_caller_who_texted_earlier_is_recognised_and_the_agent_sees_both(line: Flask) -> None:
    client = signed(line)
    sms = {**fixture("twilio", "inbound_sms.json"), "Body": "How much does express delivery cost?"}
    assert client.twilio("/webhooks/twilio/messages", sms).status_code == 200

    call(client)
    say(client, "I'd like to talk to a person about my delivery", turn=1)

    with get_db(line).session() as session:
        assert session.query(Customer).count() == 1
        conversation = session.scalars(select(Conversation)).one()
        channels = [m.channel for m in conversation.messages]
    assert channels[0] == "sms" and "voice" in channels  # one timeline, both channels
    [ticket] = created_tickets(line)
    assert "SMS] customer: How much does express delivery cost?" in ticket["comment"]["body"]
    assert "VOICE] customer: I'd like to talk to a person" in ticket["comment"]["body"]


def test_a_caller_already_with_a_person_is_put_through_and_the_ticket_told(line: Flask) -> None:
    client = signed(line)
    sms = {**fixture("twilio", "inbound_sms.json"), "Body": "agent"}
    client.twilio("/webhooks/twilio/messages", sms)

    root = call(client)

    assert [child.tag for child in root] == ["Say", "Start", "Dial"] and "virtual assistant" in spoken(root)
    assert len(created_tickets(line)) == 1  # the SMS handoff's ticket
    assert any(f"calling now from {CALLER} (call {CALL})" in u.get("comment", {}).get("body", "")
               for u in ticket_updates(line))


def test_an_angry_caller_is_handed_over(line: Flask) -> None:
    client = signed(line)
    call(client)
    root = say(client, "This is absolutely ridiculous, you are useless and I am furious, worst service ever",
               turn=1)
    assert root.findall("Dial")
    with get_db(line).session() as session:
        assert session.scalars(select(Conversation)).one().handoff_reason in ("negative_sentiment", "complaint")


def test_repeated_silence_hands_the_caller_over_instead_of_looping(line: Flask) -> None:
    client = signed(line)
    call(client)
    first = say(client, "", turn=1, confidence="")
    assert spoken(first) == voice.NOT_HEARD and gather_of(first).attrib["action"].endswith("turn=2")

    second = say(client, "refund the blue", turn=2, confidence="0.08")  # Twilio was not sure what it heard

    assert second.findall("Dial")
    with get_db(line).session() as session:
        assert session.scalars(select(Conversation)).one().handoff_reason == "repeated_failures"


def test_a_caller_who_wrote_in_spanish_is_listened_to_in_spanish(app: Flask, vendor: VendorClient) -> None:
    import_kb(app, SPANISH)  # answered in Spanish by SMS, so the conversation is still the bot's
    sms = {**fixture("twilio", "inbound_sms.json"),
           "Body": "Hola, ¿cuánto tarda el envío a Madrid? Necesito saberlo antes del viernes, gracias."}
    vendor.twilio("/webhooks/twilio/messages", sms)

    gather = gather_of(call(vendor))

    assert gather.attrib["language"] == "es-ES"
    assert gather.find("Say").attrib["language"] == "es-ES"  # type: ignore[union-attr]


def test_the_accounts_language_and_voice_are_used_otherwise(env: dict[str, str]) -> None:
    app = make_app(env, SWITCHBOARD_VOICE_LANGUAGE="en-GB", SWITCHBOARD_VOICE_NAME="Polly.Amy")
    [greeting] = gather_of(call(signed(app))).findall("Say")
    assert (greeting.attrib["language"], greeting.attrib["voice"]) == ("en-GB", "Polly.Amy")
    get_db(app).dispose()


def test_twice_unclear_questions_hand_over_like_a_repeated_failure(line: Flask) -> None:
    client = signed(line)
    call(client)
    say(client, "blorf quantum zebra", turn=1)
    say(client, "purple moon turbine", turn=2)
    third = say(client, "glass umbrella orbit", turn=3)
    assert third.findall("Dial")


def test_a_caller_who_picks_off_the_spoken_menu_is_answered_and_not_counted_as_a_failure(
        line: Flask) -> None:
    """Two spoken menus picked from, then a question: answered, not put through (a menu
    the caller picked from answered them), and the pick's answer keeps what it answered
    for a follow-up."""
    client = signed(line)
    call(client)
    turn = 1
    for question in ("refund", "my parcel"):
        menu = spoken(say(client, question, turn=turn))
        assert "1: " in menu, menu
        answer = say(client, "the first one", turn=turn + 1)
        assert not answer.findall("Dial"), spoken(answer)
        turn += 2
    final = say(client, "which payment methods do you accept?", turn=turn)
    assert not final.findall("Dial") and "PayPal" in spoken(final), spoken(final)
    picks = [m.meta for m in timeline(line) if m.author == "bot" and "picked" in (m.meta or {})]
    assert len(picks) == 2 and all(meta["question"] for meta in picks), picks


def test_a_caller_who_wants_none_of_the_spoken_menu_is_asked_again(line: Flask) -> None:
    """"None of them" was searched as a question and read out another menu."""
    client = signed(line)
    call(client)
    assert "1: " in spoken(say(client, "refund", turn=1))
    again = spoken(say(client, "none of them", turn=2))
    assert "other words" in again and "1: " not in again, again
    assert [m.meta.get("reason") for m in timeline(line) if m.author == "bot"][-1] == "did_not_help"


def test_a_caller_naming_a_number_the_spoken_menu_lacks_hears_the_menu_again(line: Flask) -> None:
    """"Five" said to three articles was searched as a question: "I didn't catch that",
    a failure toward a person, where a text's "5" gets the menu again."""
    client = signed(line)
    call(client)
    menu = spoken(say(client, "refund", turn=1))
    assert "1: " in menu and "3: " in menu, menu
    again = spoken(say(client, "the fifth one", turn=2))
    assert again == menu
    answer = say(client, "two", turn=3)
    assert not answer.findall("Dial") and "1: " not in spoken(answer), spoken(answer)
    reasons = [m.meta.get("reason") for m in timeline(line) if m.author == "bot"]
    assert "did_not_help" not in reasons, reasons


def test_twilio_retrying_a_turn_hears_the_same_answer_recorded_once(shop: Flask, vendor: VendorClient) -> None:
    call(vendor)
    first = say(vendor, "How long does delivery usually take?", turn=1)
    again = say(vendor, "How long does delivery usually take?", turn=1)

    assert ET.tostring(first) == ET.tostring(again)
    with get_db(shop).session() as session:
        speech = session.scalars(select(InboxEvent).where(InboxEvent.kind == "twilio.voice.speech")).one()
        assert speech.duplicates == 1 and speech.status == "done"
    assert len([m for m in timeline(shop) if m.author == "customer"]) == 1


def test_a_zendesk_outage_does_not_hold_up_the_call_and_loses_nothing(env: dict[str, str]) -> None:
    app = make_app(env, SWITCHBOARD_VOICE_SUPPORT_NUMBER=SUPPORT_LINE, SWITCHBOARD_SANDBOX="0",
                   ZENDESK_EMAIL="bot@acme.test", ZENDESK_API_TOKEN="zd-token")
    client = signed(app)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fakes = Fakes(mock)
        mock.replace(responses.POST, f"{ZENDESK}/tickets.json", status=503, json={"error": "Service Unavailable"})
        call(client)

        root = say(client, "agent", turn=1)

        assert root.findall("Dial")  # the caller is put through anyway
        with get_db(app).session() as session:
            event = session.scalars(select(InboxEvent).where(InboxEvent.kind == "twilio.voice.speech")).one()
            assert event.status == "received" and event.error  # kept for the retry
        mock.replace(responses.POST, f"{ZENDESK}/tickets.json", status=201,
                     json={"ticket": {"id": TICKET_ID, "status": "new"}, "audit": {"id": 2, "ticket_id": TICKET_ID}})
        with app.app_context(), get_db(app).session() as session:
            assert inbox.process(session, event.id, handlers()) == "done"
        assert len(fakes.zendesk("POST", "/tickets.json")) == 2
    with get_db(app).session() as session:
        assert session.scalars(select(Conversation)).one().zendesk_ticket_id == TICKET_ID
    get_db(app).dispose()


def test_a_hidden_number_is_put_through_or_told_when_to_call(shop: Flask, vendor: VendorClient) -> None:
    root = call(vendor, From="Anonymous", Caller="Anonymous")
    assert [child.tag for child in root] == ["Say", "Hangup"] and spoken(root) == voice.HIDDEN_NUMBER
    with get_db(shop).session() as session:
        assert session.scalars(select(InboxEvent)).one().status == "done"
        assert session.query(Customer).count() == 0


def test_the_call_status_joins_the_timeline_once(shop: Flask, vendor: VendorClient) -> None:
    call(vendor)
    assert vendor.deliver("twilio", "voice_status_completed.json").status_code == 204
    assert vendor.deliver("twilio", "voice_status_completed.json").status_code == 204
    ended = [m for m in timeline(shop) if m.body.startswith("Phone call ended")]
    assert [m.body for m in ended] == ["Phone call ended (completed, 63 s)."]


@pytest.mark.parametrize(("path", "changes", "named"), [
    ("/webhooks/twilio/voice/gather", {}, "turn"),
    ("/webhooks/twilio/voice/gather?turn=0", {}, "turn"),
    ("/webhooks/twilio/voice/gather?turn=1", {"Confidence": "very"}, "Confidence"),
    ("/webhooks/twilio/voice", {"CallSid": ""}, "CallSid"),
    ("/webhooks/twilio/voice/status", {"CallDuration": "-3"}, "CallDuration"),
])
def test_a_wrong_shape_is_a_400_naming_the_problem(shop: Flask, vendor: VendorClient, path: str,
                                                    changes: dict[str, str], named: str) -> None:
    params = {**fixture("twilio", "voice_speech_result.json"), **changes}
    response = vendor.twilio(path, params)
    assert response.status_code == 400 and named in response.get_json()["error"]
    with get_db(shop).session() as session:
        assert session.query(InboxEvent).count() == 0


def test_an_unsigned_voice_request_is_refused(shop: Flask, vendor: VendorClient) -> None:
    response = vendor.twilio("/webhooks/twilio/voice", fixture("twilio", "voice_incoming_call.json"),
                             token="0" * 32)
    assert response.status_code == 403


def test_the_turn_in_the_url_is_covered_by_the_signature(shop: Flask, vendor: VendorClient) -> None:
    """Twilio signs the whole URL it calls, query included: a delivery replayed as another
    turn of the call is refused, so nobody can put words in a caller's mouth."""
    from twilio.request_validator import RequestValidator

    params = fixture("twilio", "voice_speech_result.json")
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(
        PUBLIC_URL + "/webhooks/twilio/voice/gather?turn=1", params)

    response = vendor.twilio("/webhooks/twilio/voice/gather?turn=2", params, signature=signature)

    assert response.status_code == 403
    with get_db(shop).session() as session:
        assert session.query(InboxEvent).count() == 0


def test_a_further_account_has_its_own_line_and_never_the_defaults(env: dict[str, str]) -> None:
    settings = load_settings({**env, "SWITCHBOARD_VOICE_SUPPORT_NUMBER": SUPPORT_LINE})
    other = Account(slug="globex", name="Globex", secrets={"voice_support_queue": "globex-support",
                                                           "voice_hours": "whenever", "voice_language": "german"})
    options = voice.options_for(other, settings)
    assert (options.support_number, options.support_queue) == (None, "globex-support")
    assert options.hours is None and options.company == "Globex"  # unreadable hours: callers still put through
    assert options.language == "en-US"  # not a tag Twilio takes: the caller is still answered


def test_a_queue_is_joined_with_enqueue() -> None:
    root = ET.fromstring(render(voice.VoiceReply(voice.CONNECTING, "connect", "en-US", support_queue="support")))
    assert [child.tag for child in root] == ["Say", "Enqueue"]
    assert [queue.text for queue in root.iter("Enqueue")] == ["support"]
