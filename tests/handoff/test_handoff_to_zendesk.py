"""Handoff end to end with live connectors whose vendor APIs are faked at the HTTP
layer: signed Twilio and Zendesk webhooks in, Twilio and Zendesk API calls out."""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import responses
from flask import Flask
from sqlalchemy import select, update

from switchboard.app import create_app
from switchboard.core.settings import load_settings
from switchboard.core.store.models import Conversation, Customer, InboxEvent, Message
from switchboard.intake.db import get_db

from ..conftest import PUBLIC_URL, SLACK_SECRET, TWILIO_SID, TWILIO_TOKEN, ZENDESK_SECRET, with_sample_kb
from ..signing import VendorClient, fixture

SAMPLE_KB = Path(__file__).parents[2] / "switchboard" / "data" / "sample_kb.json"
TWILIO_API = f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
ZENDESK = "https://acme.zendesk.com/api/v2"
TICKET_ID = 5158
USER_ID = 8447388090494
MESSAGES = "/webhooks/twilio/messages"
_sid = iter(range(1, 100_000))


class Fakes:
    """Twilio and Zendesk as the connectors see them, recording every request."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.mock = mock
        mock.add_callback(responses.POST, TWILIO_API, callback=self._twilio)
        mock.add(responses.GET, f"{ZENDESK}/users/search.json", json={"users": [], "count": 0, "next_page": None})
        mock.add(responses.POST, f"{ZENDESK}/users/create_or_update.json",
                 json={"user": {"id": USER_ID, "name": "Dana"}}, status=201)
        mock.add(responses.POST, f"{ZENDESK}/tickets.json", status=201,
                 json={"ticket": {"id": TICKET_ID, "status": "new"}, "audit": {"id": 1, "ticket_id": TICKET_ID}})
        mock.add_callback(responses.PUT, re.compile(rf"{ZENDESK}/tickets/\d+\.json"), callback=self._update)

    def _twilio(self, request: Any) -> tuple[int, dict[str, str], str]:
        n = next(_sid)
        form = {k: v[0] for k, v in parse_qs(request.body).items()}
        return 201, {}, json.dumps({"sid": f"SM{n:032x}", "status": "queued", "to": form["To"],
                                    "from": form.get("From")})

    def _update(self, request: Any) -> tuple[int, dict[str, str], str]:
        ticket = json.loads(request.body)["ticket"]
        return 200, {}, json.dumps({"ticket": {"id": ticket.get("id", TICKET_ID)}, "audit": {"id": next(_sid)}})

    def sent_sms(self) -> list[dict[str, str]]:
        return [{k: v[0] for k, v in parse_qs(c.request.body).items()}
                for c in self.mock.calls if c.request.url.startswith(TWILIO_API)]

    def zendesk(self, method: str, path_part: str) -> list[dict[str, Any]]:
        return [json.loads(c.request.body) for c in self.mock.calls
                if c.request.method == method and c.request.url.startswith(ZENDESK) and path_part in c.request.url]


@pytest.fixture
def live_app(env: dict[str, str]) -> Iterator[Flask]:
    live_env = {**env, "SWITCHBOARD_SANDBOX": "0", "ZENDESK_EMAIL": "bot@acme.test", "ZENDESK_API_TOKEN": "zd-token"}
    app = create_app(load_settings(live_env), config={"TASKS_INLINE": True, "TESTING": True})
    yield with_sample_kb(app)
    get_db(app).dispose()


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield Fakes(mock)


@pytest.fixture
def signed(live_app: Flask) -> VendorClient:
    return VendorClient(live_app.test_client(), twilio_token=TWILIO_TOKEN, zendesk_secret=ZENDESK_SECRET,
                        slack_secret=SLACK_SECRET, public_url=PUBLIC_URL)


def text(body: str, *, channel: str = "sms") -> dict[str, str]:
    n = next(_sid)
    params = {"MessageSid": f"SM{n:032x}", "AccountSid": TWILIO_SID, "NumMedia": "0", "Body": body,
              "From": "+14155550100", "To": "+15005550006"}
    if channel == "whatsapp":
        params.update(From="whatsapp:+14155550100", To="whatsapp:+14155238886", WaId="14155550100",
                      ProfileName="Dana")
    return params


def agent_comment(body: str, *, public: bool = True, staff: bool = True, author: int = 111,
                  comment_id: int | None = None) -> dict[str, Any]:
    payload = fixture("zendesk", "ticket_comment_added.json")
    payload["id"] = f"evt-{next(_sid)}"
    payload["detail"]["id"] = str(TICKET_ID)
    payload["event"]["comment"].update(body=body, is_public=public, id=str(comment_id or next(_sid)),
                                       author={"id": str(author), "is_staff": staff, "name": "Ava"})
    return payload


def hand_over(signed: VendorClient, *, channel: str = "sms") -> None:
    assert signed.twilio(MESSAGES, text("how long does delivery take?", channel=channel)).status_code == 200
    assert signed.twilio(MESSAGES, text("my card 4111 1111 1111 1111 was charged for order #A123456",
                                        channel=channel)).status_code == 200
    assert signed.twilio(MESSAGES, text("I want to talk to a real person", channel=channel)).status_code == 200


def test_the_ticket_carries_the_whole_context(signed: VendorClient, fakes: Fakes, live_app: Flask) -> None:
    hand_over(signed)
    [ticket] = [body["ticket"] for body in fakes.zendesk("POST", "/tickets.json")]
    assert ticket["requester_id"] == USER_ID
    assert ticket["comment"]["public"] is False  # the package is an internal note
    note = ticket["comment"]["body"]
    for expected in ("explicit request", "CUSTOMER", "+14155550100", "SUMMARY", "Intent: human_agent",
                     "WHAT THE BOT ALREADY ANSWERED", "https://help.acme.example/articles/delivery-times",
                     "Order A123456", "TIMELINE", "how long does delivery take?", "[CARD_1]"):
        assert expected in note, expected
    assert "4111" not in note
    assert {"switchboard", "handoff_explicit_request", "channel_sms"} <= set(ticket["tags"])
    [user] = fakes.zendesk("POST", "/users/create_or_update.json")
    assert user["user"]["phone"] == "+14155550100"
    notice = fakes.sent_sms()[-1]
    assert "passing you to a member of our team" in notice["Body"]
    with get_db(live_app).session() as session:
        conversation = session.scalars(select(Conversation)).one()
        assert (conversation.status, conversation.zendesk_ticket_id) == ("human", TICKET_ID)
        assert conversation.handoff_reason == "explicit_request"
        # What a worker taking over an interrupted creation looks the ticket up by.
        assert ticket["external_id"] == f"switchboard:handoff:{conversation.id}:{conversation.account_id}"


def test_a_requester_zendesk_already_knows_by_phone_is_reused(signed: VendorClient, fakes: Fakes) -> None:
    known = 9900112233
    fakes.mock.replace(responses.GET, f"{ZENDESK}/users/search.json",
                       json={"users": [{"id": known, "name": "Dana", "phone": "+14155550100"}], "count": 1,
                             "next_page": None})
    signed.twilio(MESSAGES, text("AGENT"))
    assert fakes.zendesk("POST", "/users/create_or_update.json") == []
    [ticket] = [body["ticket"] for body in fakes.zendesk("POST", "/tickets.json")]
    assert ticket["requester_id"] == known
    searched = [c.request.url for c in fakes.mock.calls if "/users/search.json" in c.request.url]
    assert "phone%3A%2B14155550100" in searched[0] or "phone:+14155550100" in searched[0]


def test_later_messages_join_the_same_ticket_as_the_customers_comments(signed: VendorClient, fakes: Fakes) -> None:
    hand_over(signed)
    before = len(fakes.sent_sms())
    signed.twilio(MESSAGES, text("it was supposed to arrive on Monday"))
    signed.twilio(MESSAGES, text("still nothing today"))
    assert len(fakes.zendesk("POST", "/tickets.json")) == 1
    comments = [b["ticket"]["comment"] for b in fakes.zendesk("PUT", f"/tickets/{TICKET_ID}.json")
                if "comment" in b["ticket"] and b["ticket"]["comment"].get("public")]
    assert [c["body"] for c in comments] == ["[SMS] it was supposed to arrive on Monday", "[SMS] still nothing today"]
    assert all(c["author_id"] == USER_ID and c["public"] is True for c in comments)
    # The bot answers nothing once a person has the conversation, but the customer hears
    # that someone has it: once for the burst, not on every message.
    [ack] = fakes.sent_sms()[before:]
    assert ack["Body"].startswith("Thanks, we have your message. A member of our team has your conversation")


def test_each_later_message_is_one_ticket_update_carrying_its_comment_and_markers(signed: VendorClient,
                                                                                  fakes: Fakes) -> None:
    """One Zendesk call per relayed message (comment, sentiment and intent tags, priority
    together), not a comment and then a second update: half the calls against the
    account's rate limit, one ticket event for the agent."""
    hand_over(signed)
    before = len(fakes.zendesk("PUT", f"/tickets/{TICKET_ID}.json"))
    signed.twilio(MESSAGES, text("THIS IS RIDICULOUS, nobody has answered. I am furious!!!"))
    updates = [b["ticket"] for b in fakes.zendesk("PUT", f"/tickets/{TICKET_ID}.json")][before:]
    public = [u for u in updates if u.get("comment", {}).get("public")]
    assert len(public) == 1, updates
    [relayed] = public
    assert relayed["comment"]["body"].startswith("[SMS] THIS IS RIDICULOUS")
    assert "sentiment_negative" in relayed["additional_tags"] and relayed["priority"] == "high", relayed
    # Besides it, only the internal note about the falling trend: no tags-only update.
    assert all(u.get("comment", {}).get("public") is False for u in updates if u is not relayed), updates


def test_a_customers_photos_reach_the_ticket_before_and_after_the_handoff(signed: VendorClient,
                                                                          fakes: Fakes) -> None:
    """A WhatsApp photo was stored with the message and shown to no agent: neither the
    handoff package nor the relayed comment carried it."""
    photo = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
    signed.twilio(MESSAGES, {**text("", channel="whatsapp"), "NumMedia": "1", "MediaUrl0": photo,
                             "MediaContentType0": "image/jpeg"})
    hand_over(signed, channel="whatsapp")
    [ticket] = [body["ticket"] for body in fakes.zendesk("POST", "/tickets.json")]
    assert f"[attachment: {photo}]" in ticket["comment"]["body"]
    later = photo.replace("ME1", "ME2")
    signed.twilio(MESSAGES, {**text("this is the box", channel="whatsapp"), "NumMedia": "1", "MediaUrl0": later,
                             "MediaContentType0": "image/jpeg"})
    comments = [u["ticket"]["comment"]["body"] for u in fakes.zendesk("PUT", f"/tickets/{TICKET_ID}.json")
                if "comment" in u["ticket"]]
    assert f"[WHATSAPP] this is the box [attachment: {later}]" in comments, comments


def test_an_upset_customer_after_the_handoff_reaches_the_ticket(signed: VendorClient, fakes: Fakes) -> None:
    hand_over(signed)
    signed.twilio(MESSAGES, text("THIS IS RIDICULOUS, nobody has answered. I am furious!!!"))
    updates = [b["ticket"] for b in fakes.zendesk("PUT", f"/tickets/{TICKET_ID}.json")]
    tagged = [u for u in updates if "sentiment_negative" in (u.get("tags") or u.get("additional_tags") or [])]
    assert tagged and tagged[-1].get("priority") == "high", updates
    notes = [u["comment"]["body"] for u in updates if "comment" in u and u["comment"].get("public") is False]
    assert any("sentiment is falling" in note for note in notes), notes


@pytest.mark.parametrize("channel", ["sms", "whatsapp"])
def test_an_agents_public_reply_reaches_the_customer_on_their_channel(signed: VendorClient, fakes: Fakes,
                                                                        channel: str) -> None:
    hand_over(signed, channel=channel)
    assert signed.zendesk(agent_comment("Your parcel is with the courier and arrives tomorrow.")).status_code == 200
    reply = fakes.sent_sms()[-1]
    assert reply["Body"] == "Your parcel is with the courier and arrives tomorrow."
    expected_to = "whatsapp:+14155550100" if channel == "whatsapp" else "+14155550100"
    assert reply["To"] == expected_to


def test_internal_notes_and_the_customers_own_comments_are_never_sent(signed: VendorClient, fakes: Fakes) -> None:
    hand_over(signed)
    before = len(fakes.sent_sms())
    signed.zendesk(agent_comment("Checked the warehouse; do not promise a date.", public=False))
    signed.zendesk(agent_comment("it was supposed to arrive on Monday", staff=False, author=USER_ID))
    assert len(fakes.sent_sms()) == before


def test_a_duplicate_zendesk_delivery_sends_one_message(signed: VendorClient, fakes: Fakes) -> None:
    hand_over(signed)
    payload = agent_comment("Arriving tomorrow.")
    signed.zendesk(payload)
    signed.zendesk(payload)
    assert [m["Body"] for m in fakes.sent_sms()].count("Arriving tomorrow.") == 1


def _age_whatsapp_messages(app: Flask, hours: int) -> None:
    with get_db(app).session() as session:
        session.execute(update(Message).values(created_at=datetime.now(UTC) - timedelta(hours=hours)))
        session.commit()


def test_outside_whatsapps_window_the_agent_is_told_why_without_a_template(signed: VendorClient, fakes: Fakes,
                                                                           live_app: Flask) -> None:
    hand_over(signed, channel="whatsapp")
    _age_whatsapp_messages(live_app, hours=25)
    before = len(fakes.sent_sms())
    signed.zendesk(agent_comment("Are you still there?"))
    assert len(fakes.sent_sms()) == before
    note = fakes.zendesk("PUT", f"/tickets/{TICKET_ID}.json")[-1]["ticket"]["comment"]
    assert note["public"] is False and "24 hours" in note["body"]
    assert "SWITCHBOARD_WHATSAPP_TEMPLATE_SID" in note["body"]


def test_outside_whatsapps_window_an_approved_template_is_used(env: dict[str, str], fakes: Fakes) -> None:
    template = "HX" + "a" * 32
    app = create_app(load_settings({**env, "SWITCHBOARD_SANDBOX": "0", "ZENDESK_EMAIL": "bot@acme.test",
                                    "ZENDESK_API_TOKEN": "zd", "SWITCHBOARD_WHATSAPP_TEMPLATE_SID": template}),
                     config={"TASKS_INLINE": True})
    try:
        signed = VendorClient(app.test_client(), twilio_token=TWILIO_TOKEN, zendesk_secret=ZENDESK_SECRET,
                              slack_secret=SLACK_SECRET, public_url=PUBLIC_URL)
        signed.twilio(MESSAGES, text("AGENT", channel="whatsapp"))
        _age_whatsapp_messages(app, hours=30)
        signed.zendesk(agent_comment("Your refund was issued today."))
        sent = fakes.sent_sms()[-1]
        assert sent["ContentSid"] == template
        assert json.loads(sent["ContentVariables"]) == {"1": "Your refund was issued today."}
        assert "Body" not in sent
    finally:
        get_db(app).dispose()


def test_stop_start_and_help(signed: VendorClient, fakes: Fakes, live_app: Flask) -> None:
    signed.twilio(MESSAGES, text("HELP"))
    assert "reply AGENT to reach a person" in fakes.sent_sms()[-1]["Body"]
    assert "STOP" in fakes.sent_sms()[-1]["Body"]
    signed.twilio(MESSAGES, text("Stop"))
    before = len(fakes.sent_sms())
    signed.twilio(MESSAGES, text("how long does delivery take?"))
    signed.twilio(MESSAGES, text("HELP"))
    assert len(fakes.sent_sms()) == before  # nothing is ever sent to an opted-out number
    signed.twilio(MESSAGES, text("START"))
    signed.twilio(MESSAGES, text("how long does delivery take?"))
    assert "2 to 4 working days" in fakes.sent_sms()[-1]["Body"]


def test_an_agent_reply_to_an_opted_out_customer_is_held_back_with_a_note(signed: VendorClient, fakes: Fakes) -> None:
    hand_over(signed)
    signed.twilio(MESSAGES, text("STOP"))
    before = len(fakes.sent_sms())
    signed.zendesk(agent_comment("Here is an update."))
    assert len(fakes.sent_sms()) == before
    note = fakes.zendesk("PUT", f"/tickets/{TICKET_ID}.json")[-1]["ticket"]["comment"]
    assert note["public"] is False and "opted out" in note["body"]


def test_twilio_error_21610_marks_the_customer_opted_out(signed: VendorClient, fakes: Fakes, live_app: Flask) -> None:
    signed.twilio(MESSAGES, text("how long does delivery take?"))
    with get_db(live_app).session() as session:
        reply = session.scalars(select(Message).where(Message.author == "bot")).one()
    signed.twilio("/webhooks/twilio/status", {"MessageSid": reply.external_id, "MessageStatus": "failed",
                                              "ErrorCode": "21610", "AccountSid": TWILIO_SID,
                                              "To": "+14155550100", "From": "+15005550006"})
    with get_db(live_app).session() as session:
        assert session.scalars(select(Customer)).one().opted_out_at is not None


def test_a_solved_ticket_ends_the_conversation_and_the_next_message_starts_fresh(
        signed: VendorClient, fakes: Fakes, live_app: Flask) -> None:
    hand_over(signed)
    solved = {**fixture("zendesk", "ticket_created.json"), "id": "evt-solved",
              "type": "zen:event-type:ticket.status_changed",
              "detail": {"id": str(TICKET_ID), "status": "SOLVED"}, "event": {"previous": "OPEN", "current": "SOLVED"}}
    assert signed.zendesk(solved).status_code == 200
    signed.twilio(MESSAGES, text("how much does delivery cost?"))
    with get_db(live_app).session() as session:
        statuses = session.scalars(select(Conversation.status).order_by(Conversation.id)).all()
    assert statuses == ["closed", "open"]
    assert "free on orders over $50" in fakes.sent_sms()[-1]["Body"]
    assert len(fakes.zendesk("POST", "/tickets.json")) == 1  # no loop of handoffs


def test_zendesk_rate_limit_is_retried_later_without_sleeping(signed: VendorClient, live_app: Flask) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fakes = Fakes(mock)
        mock.replace(responses.POST, f"{ZENDESK}/tickets.json", status=429, headers={"Retry-After": "37"},
                     json={"error": "TooManyRequests"})
        signed.twilio(MESSAGES, text("AGENT"))
        with get_db(live_app).session() as session:
            event = session.scalars(select(InboxEvent)).one()
            assert event.status == "received" and "retry after 37" in (event.error or "")
        assert len(fakes.zendesk("POST", "/tickets.json")) == 1  # one attempt, no blocking retry loop

        mock.replace(responses.POST, f"{ZENDESK}/tickets.json", status=201,
                     json={"ticket": {"id": TICKET_ID, "status": "new"}, "audit": {"id": 2, "ticket_id": TICKET_ID}})
        from switchboard.core.store import inbox
        from switchboard.tasks import handlers

        with live_app.app_context(), get_db(live_app).session() as session:
            assert inbox.process(session, event.id, handlers()) == "done"
        assert len(fakes.zendesk("POST", "/tickets.json")) == 2
        assert len([m for m in fakes.sent_sms() if "passing you" in m["Body"]]) == 1  # the notice went once
        with get_db(live_app).session() as session:
            assert session.scalars(select(Conversation)).one().zendesk_ticket_id == TICKET_ID


def test_an_order_number_in_the_shops_own_format_is_listed_for_the_agent(signed: VendorClient, fakes: Fakes) -> None:
    assert signed.twilio(MESSAGES, text("my order A1001 never came")).status_code == 200
    assert signed.twilio(MESSAGES, text("I want to talk to a real person")).status_code == 200
    [ticket] = [body["ticket"] for body in fakes.zendesk("POST", "/tickets.json")]
    note = ticket["comment"]["body"]
    assert "- Order A1001" in note
    # The summary is the customer's ask in their words, not the "give me a person" that ended it.
    summary = note.split("SUMMARY\n", 1)[1].splitlines()[0]
    assert '"my order A1001 never came"' in summary and "explicit request" in summary, summary
    assert "The customer wants help with delivery delay:" in summary and "human agent" not in summary, summary


def test_an_out_of_scope_question_is_quoted_not_named_as_a_topic(signed: VendorClient, fakes: Fakes) -> None:
    """"The customer wants help with out of scope:" named no topic; the agent reads what
    the customer wrote instead."""
    assert signed.twilio(MESSAGES, text("what is the best lasagna recipe for a dinner party")).status_code == 200
    assert signed.twilio(MESSAGES, text("I want to talk to a real person")).status_code == 200
    [ticket] = [body["ticket"] for body in fakes.zendesk("POST", "/tickets.json")]
    note = ticket["comment"]["body"]
    summary = note.split("SUMMARY\n", 1)[1].splitlines()[0]
    assert summary.startswith('- The customer wrote: "what is the best lasagna recipe'), summary
    assert "out of scope" not in summary, summary
