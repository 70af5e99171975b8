"""Drafts that edit an existing article: when the agents answer from an article (they
link it, or it is the one retrieval found closest) and their answer contradicts it
(other numbers for the same thing) or adds to it, the draft is an edit of that article
with the old and new body as a diff in the card, the CLI and the dashboard. Approving
it replaces the article in the index at once and updates its Help Center translation
once through the outbox; an answer that adds nothing drafts nothing."""
from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from switchboard.core.knowledge.records import Article
from switchboard.core.knowledge.service import KnowledgeBase
from switchboard.core.store import artifacts
from switchboard.core.store.models import KbArticle
from switchboard.intake.db import get_db

from ..signing import VendorClient
from .conftest import cli, click, outbox, sms
from .test_loop_end_to_end import drafts, hand_over_and_solve, last_bot_reply

HC_ID = "4409999001"
GIFT_CARDS = Article(id=HC_ID, title="How long are gift cards valid?",
                     body="Gift cards are valid for 12 months from the date of purchase. They can be used on any "
                          "order on our website.", url=f"https://acme.zendesk.com/hc/en-us/articles/{HC_ID}")


def with_help_center_article(app: Flask) -> None:
    """An article synced from the Zendesk Help Center (its id is Zendesk's number)."""
    with get_db(app).session() as session:
        KnowledgeBase.of(session, app.config["DEFAULT_ACCOUNT_ID"], app.config["SETTINGS"]).import_articles(
            [GIFT_CARDS], source="help_center")


def index_version(app: Flask) -> str:
    with get_db(app).session() as session:
        published = artifacts.latest(session, app.config["DEFAULT_ACCOUNT_ID"], artifacts.KB_INDEX)
        assert published is not None
        return published.version


def test_an_answer_contradicting_an_article_drafts_its_edit_and_approval_updates_index_and_help_center(
        app: Flask, vendor: VendorClient, loop_env: dict[str, str]) -> None:
    with_help_center_article(app)
    hand_over_and_solve(vendor, app, "How long is my gift card valid for?", phone="+14155550121",
                        answer="Hello! Gift cards are valid for 24 months from the date of purchase. You can check "
                               "the balance under My Account > Gift cards. Regards, Ava")
    [draft] = drafts(app)
    assert (draft.kind, draft.target_article_id, draft.title) == ("edit", HC_ID, GIFT_CARDS.title)
    assert draft.base_body == GIFT_CARDS.body
    assert "24 months" in draft.body and "12 months" not in draft.body and "used on any order" in draft.body
    assert "check the balance" in draft.body and "Hello" not in draft.body
    assert draft.proof["kb"] == "live articles + this draft" and draft.proof["after"]["questions"] == 1

    [card] = outbox(app, "chat.postMessage")
    diff = next(b for b in card.payload["blocks"] if b.get("block_id") == "kbdraft:diff")["text"]["text"]
    assert f"`{HC_ID}`" in diff and "~Gift cards are valid for 12 months" in diff
    assert "*+* Gift cards are valid for 24" in diff
    shown = cli(app, loop_env, "kb", "drafts", "show", str(draft.id), "--diff")
    assert "- Gift cards are valid for 12 months" in shown and "+ Gift cards are valid for 24 months" in shown
    listed = cli(app, loop_env, "kb", "drafts", "list")
    assert f"edits {HC_ID}" in listed
    from ..selfservice.test_learned_phrasings import operator

    page = operator(app).get("/dashboard/knowledge").get_data(as_text=True)
    assert f'id="diff-{draft.id}"' in page and "<del>Gift cards are valid for 12 months" in page
    assert f"Edits article {HC_ID}" in page

    before = index_version(app)
    for _ in range(2):  # a second click changes nothing and sends nothing again
        assert vendor.slack_interaction(click("kbdraft:approve", draft.id)).status_code == 200
    [approved] = drafts(app)
    assert (approved.status, approved.article_id, approved.approved_version) == ("approved", HC_ID, 1)
    assert index_version(app) != before  # a new index, published at once
    with get_db(app).session() as session:
        [row] = session.scalars(select(KbArticle).where(KbArticle.external_id == HC_ID)).all()
        assert "24 months" in row.body and row.source == "help_center" and row.url == GIFT_CARDS.url
    [update] = outbox(app, "help_center.translations.update")
    assert update.status == "sandboxed" and update.idempotency_key == f"kb-draft:{draft.id}:v1"
    assert update.payload["article_id"] == int(HC_ID) and update.payload["locale"] == "en-us"
    # the change, which the connector applies to the article's HTML as Zendesk holds it
    assert update.payload["title"] == GIFT_CARDS.title
    assert update.payload["edit"] == {"before": GIFT_CARDS.body, "after": approved.body}
    assert "draft" not in update.payload  # the live article stays published
    assert outbox(app, "help_center.articles.create") == []

    sms(vendor, "how long can I use a gift card?", phone="+14155550122")
    reply = last_bot_reply(app)
    assert reply.meta["action"] == "answer", reply.meta
    assert any(s["passage"].startswith(f"{HC_ID}#") for s in reply.meta["sources"]) and "24 months" in reply.body


def test_a_linked_article_gains_what_the_agent_added_and_an_answer_adding_nothing_drafts_nothing(
        app: Flask, vendor: VendorClient, loop_env: dict[str, str]) -> None:
    hand_over_and_solve(vendor, app, "Do I get longer to return Christmas presents?", phone="+14155550123",
                        answer="Yes: items bought in December can be returned until 31 January. The details are at "
                               "https://help.acme.example/articles/return-item")
    [draft] = drafts(app)
    assert (draft.kind, draft.target_article_id) == ("edit", "return-item")
    assert draft.body.startswith(draft.base_body.rstrip())
    assert draft.body.endswith("Yes: items bought in December can be returned until 31 January.")
    assert "https://" not in draft.body
    cli(app, loop_env, "kb", "drafts", "approve", str(draft.id), "--by", "maria")
    [approved] = drafts(app)
    assert approved.status == "approved" and approved.article_id == "return-item"
    assert outbox(app, "help_center.translations.update") == []  # imported from a file: no Help Center article
    with get_db(app).session() as session:
        row = session.scalar(select(KbArticle).where(KbArticle.external_id == "return-item"))
        assert row is not None and row.body.endswith("returned until 31 January.")

    # An agent who only restates the linked article gives nothing to edit.
    hand_over_and_solve(vendor, app, "can I pay in instalments", phone="+14155550124",
                        answer="You can also pay in three interest-free instalments with Klarna on orders over $30. "
                               "See https://help.acme.example/articles/payment-methods")
    assert len(drafts(app)) == 1
