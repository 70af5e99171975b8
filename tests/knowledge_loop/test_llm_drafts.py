"""A new draft written by the configured LLM (an OpenAI-compatible model on loopback: the
HTTP layer faked, nothing of ours patched) from the agents' signed Zendesk replies and
the closest articles, under switchboard/prompts/kb_draft_v1.txt: kept when every
sentence is grounded in a reply or an article; the extractive draft kept, and why
recorded, when a sentence is not, when the answer is not JSON or the call fails; and
no personal data sent to the model or kept in the draft."""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from ..fakes.openai_server import FakeOpenAI
from ..signing import VendorClient
from .conftest import agent_replies, cli, conversations, sms, solves
from .test_loop_end_to_end import AGENT_ANSWER, drafts

GROUNDED = {"title": "Do you sell digital gift cards?",
            "body": "Yes, we sell digital gift cards from $10 to $200 in the Gift cards section of our website.\n\n"
                    "Gift cards never expire and can be used on any order."}


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def loop_env(env: dict[str, str], fake: FakeOpenAI) -> dict[str, str]:
    from .conftest import LOOP_ENV

    return {**env, **LOOP_ENV, "OPENAI_BASE_URL": fake.base_url}


def handed_over(vendor: VendorClient, app: Flask, question: str, *, phone: str) -> int:
    """A customer asks what no article answers and asks for a person: the ticket's id."""
    sms(vendor, question, phone=phone)
    sms(vendor, "AGENT", phone=phone)
    conversation = conversations(app)[-1]
    assert conversation.status == "human" and conversation.zendesk_ticket_id is not None
    return conversation.zendesk_ticket_id


def answered_and_solved(vendor: VendorClient, ticket: int, answer: str = AGENT_ANSWER) -> None:
    agent_replies(vendor, ticket, answer)
    solves(vendor, ticket)


def draft_request(fake: FakeOpenAI) -> dict[str, Any]:
    """The one request that asked for a knowledge draft (the answer path may ask too)."""
    [asked] = [r for r in fake.requests if "(prompt kb_draft_v1)" in r["messages"][0]["content"]]
    return asked


def shown(app: Flask, env: dict[str, str], draft_id: int) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(cli(app, env, "kb", "drafts", "show", str(draft_id)))
    return result


def test_a_grounded_llm_draft_is_kept_and_says_how_it_was_written(app: Flask, vendor: VendorClient,
                                                                   fake: FakeOpenAI, loop_env: dict[str, str]) -> None:
    ticket = handed_over(vendor, app, "Do you sell gift cards?", phone="+14155550151")
    fake.reply(json.dumps(GROUNDED))
    answered_and_solved(vendor, ticket)
    [draft] = drafts(app)
    assert (draft.title, draft.body) == (GROUNDED["title"], GROUNDED["body"])
    asked = draft_request(fake)
    material = asked["messages"][1]["content"]
    assert "- Do you sell gift cards?" in material
    assert "- Gift cards never expire and can be used on any order." in material
    assert "Existing article 1:" in material  # the closest articles go with the replies
    written = shown(app, loop_env, draft.id)["written"]
    assert written == {"engine": "llm", "prompt": "kb_draft_v1", "model": asked["model"]}
    assert draft.proof["after"]["questions"] == 1


def test_a_draft_with_an_invented_number_keeps_the_extractive_draft_and_says_why(
        app: Flask, vendor: VendorClient, fake: FakeOpenAI, loop_env: dict[str, str]) -> None:
    ticket = handed_over(vendor, app, "Do you sell gift cards?", phone="+14155550152")
    fake.reply(json.dumps({**GROUNDED, "body": GROUNDED["body"] + " Gift cards over $100 come with a 15% bonus."}))
    answered_and_solved(vendor, ticket)
    [draft] = drafts(app)
    assert draft.title == "Do you sell gift cards?" and "15%" not in draft.body  # the customer's, as extracted
    assert "Gift cards never expire and can be used on any order." in draft.body.split("\n\n")
    written = shown(app, loop_env, draft.id)["written"]
    assert written["engine"] == "local" and written["prompt"] == "kb_draft_v1"
    assert "15% bonus" in written["kept_local"] and "no agent reply or article supports" in written["kept_local"]


def test_an_answer_that_is_not_json_keeps_the_extractive_draft(app: Flask, vendor: VendorClient,
                                                               fake: FakeOpenAI, loop_env: dict[str, str]) -> None:
    ticket = handed_over(vendor, app, "Do you sell gift cards?", phone="+14155550153")
    fake.reply("Sure! Here is your article: gift cards are great.")
    answered_and_solved(vendor, ticket)
    [draft] = drafts(app)
    assert draft.title == "Do you sell gift cards?" and "great" not in draft.body
    assert shown(app, loop_env, draft.id)["written"]["kept_local"] == "the model's answer was not the JSON asked for"


def test_personal_data_is_never_sent_to_the_model_nor_kept(app: Flask, vendor: VendorClient,
                                                           fake: FakeOpenAI, loop_env: dict[str, str]) -> None:
    ticket = handed_over(vendor, app, "Do you sell gift cards? my number is +44 7700 900123", phone="+14155550154")
    # The model puts a phone number back in: the article would reach every customer.
    fake.reply(json.dumps({**GROUNDED, "body": GROUNDED["body"] + " Questions? Call +1 415 555 0199."}))
    answered_and_solved(vendor, ticket, AGENT_ANSWER + " The card [CARD_1] you paid with is refunded. "
                                                       "Write to dana@example.com for a receipt.")
    [draft] = drafts(app)
    sent = json.dumps(draft_request(fake))
    for secret in ("7700", "900123", "415 555", "0199", "[CARD_1]", "dana@example.com", "[PHONE_1]", "Dana"):
        assert secret not in sent, secret
        assert secret not in draft.title + draft.body, secret
    written = shown(app, loop_env, draft.id)["written"]
    assert written["engine"] == "local" and written["kept_local"].startswith("the body holds personal data (phone")


def draft_requests(fake: FakeOpenAI, prompt: str = "kb_draft_v1") -> list[dict[str, Any]]:
    return [r for r in fake.requests if f"(prompt {prompt})" in r["messages"][0]["content"]]


LATER_ANSWER = "Gift cards are sent by email within an hour of purchase."
MERGED = {"title": GROUNDED["title"], "body": GROUNDED["body"] + "\n\n" + LATER_ANSWER}


def test_a_later_ticket_on_the_same_gap_has_the_draft_written_again_from_every_tickets_replies(
        app: Flask, vendor: VendorClient, fake: FakeOpenAI, loop_env: dict[str, str]) -> None:
    first = handed_over(vendor, app, "Do you sell gift cards?", phone="+14155550155")
    fake.reply(json.dumps(GROUNDED))
    answered_and_solved(vendor, first)
    second = handed_over(vendor, app, "is there a gift card I can purchase", phone="+14155550156")
    fake.reply(json.dumps(MERGED))
    answered_and_solved(vendor, second, LATER_ANSWER)
    [draft] = drafts(app)
    assert draft.version == 2 and (draft.title, draft.body) == (MERGED["title"], MERGED["body"])
    _, again = draft_requests(fake)
    material = again["messages"][1]["content"]
    # Both tickets' replies and both customers' questions, not the first version's text.
    assert "- Gift cards never expire and can be used on any order." in material
    assert f"- {LATER_ANSWER}" in material and "- is there a gift card I can purchase" in material
    assert shown(app, loop_env, draft.id)["written"]["engine"] == "llm"
    assert draft.versions[-1]["how"] == f"merged ticket #{second}"


def test_after_a_reviewers_edit_a_later_ticket_is_appended_for_them_not_written_over(
        app: Flask, vendor: VendorClient, fake: FakeOpenAI, loop_env: dict[str, str], tmp_path: Any) -> None:
    first = handed_over(vendor, app, "Do you sell gift cards?", phone="+14155550157")
    fake.reply(json.dumps(GROUNDED))
    answered_and_solved(vendor, first)
    [draft] = drafts(app)
    reviewed = "Yes: digital gift cards from $10 to $200, in the Gift cards section of our website."
    (tmp_path / "body.txt").write_text(reviewed)
    cli(app, loop_env, "kb", "drafts", "edit", str(draft.id), "--title", "Gift cards", "--body-file",
        str(tmp_path / "body.txt"), "--by", "maria")
    second = handed_over(vendor, app, "is there a gift card I can purchase", phone="+14155550158")
    answered_and_solved(vendor, second, LATER_ANSWER)
    [merged] = drafts(app)
    assert len(draft_requests(fake)) == 1  # no second writing
    assert merged.title == "Gift cards" and merged.body == f"{reviewed}\n\n{LATER_ANSWER}"


def test_an_edit_of_an_article_is_revised_by_the_model_and_refused_when_it_keeps_what_agents_corrected(
        app: Flask, vendor: VendorClient, fake: FakeOpenAI, loop_env: dict[str, str]) -> None:
    from .test_article_edits import GIFT_CARDS, with_help_center_article

    with_help_center_article(app)
    corrected = ("Hello! Gift cards are valid for 24 months from the date of purchase. You can check the balance "
                 "under My Account > Gift cards. Regards, Ava")
    revised = ("Gift cards are valid for 24 months from the date of purchase. They can be used on any order on our "
               "website.\n\nYou can check the balance under My Account > Gift cards.")
    fake.reply("I don't know.")  # the answer path asks too: the article as it stands does not answer
    ticket = handed_over(vendor, app, "How long is my gift card valid for?", phone="+14155550159")
    fake.reply(json.dumps({"body": revised, "title": "Ignored: an edit keeps its article's title"}))
    answered_and_solved(vendor, ticket, corrected)
    [draft] = drafts(app)
    assert (draft.kind, draft.title, draft.body) == ("edit", GIFT_CARDS.title, revised)
    [asked] = draft_requests(fake, "kb_edit_v1")
    assert f"Existing article 1: {GIFT_CARDS.title}" in asked["messages"][1]["content"]
    assert shown(app, loop_env, draft.id)["written"]["prompt"] == "kb_edit_v1"
    cli(app, loop_env, "kb", "drafts", "reject", str(draft.id), "--by", "maria")

    # Grounded in the old article, but it still says what the agent corrected: refused.
    stale = "Gift cards are valid for 12 months from the date of purchase. They can be used on any order."
    fake.reply("I don't know.")
    again = handed_over(vendor, app, "how long does a gift card stay valid", phone="+14155550160")
    fake.reply(json.dumps({"body": stale}))
    answered_and_solved(vendor, again, corrected)
    latest = drafts(app)[-1]
    assert latest.kind == "edit" and "24 months" in latest.body and "12 months" not in latest.body
    written = shown(app, loop_env, latest.id)["written"]
    assert written["engine"] == "local" and "still states what the agents corrected" in written["kept_local"]
