"""The improvement loop end to end, through the interfaces each person touches: a
customer's signed SMS the knowledge base cannot answer, the agent's signed Zendesk
comment and solve, the draft with its proof, a signed Slack click (refused for a
non-approver), the article published to the knowledge base and, once, to the Help
Center through the sandboxed outbox, and the next customer's paraphrase answered."""
from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from switchboard.core.knowledge.html_text import html_to_text
from switchboard.core.store.models import AuditEntry, KbArticle, KbDraft, Message
from switchboard.intake.db import get_db

from ..signing import VendorClient
from .conftest import APPROVER, OUTSIDER, SECTION, agent_replies, cli, click, conversations, outbox, sms, solves

AGENT_ANSWER = ("Hi Dana! Yes, we sell digital gift cards from $10 to $200 in the Gift cards section of our "
                "website. Gift cards never expire and can be used on any order. If anything goes wrong call me "
                "on +1 415 555 0199. Kind regards, Ava")


def hand_over_and_solve(vendor: VendorClient, app: Flask, question: str, *, phone: str,
                        answer: str = AGENT_ANSWER) -> int:
    """A customer asks what no article answers, asks for a person, an agent answers and solves."""
    sms(vendor, question, phone=phone)
    sms(vendor, "AGENT", phone=phone)
    conversation = conversations(app)[-1]
    assert conversation.status == "human" and conversation.zendesk_ticket_id is not None
    agent_replies(vendor, conversation.zendesk_ticket_id, answer)
    solves(vendor, conversation.zendesk_ticket_id)
    return conversation.zendesk_ticket_id


def drafts(app: Flask) -> list[KbDraft]:
    with get_db(app).session() as session:
        return list(session.scalars(select(KbDraft).order_by(KbDraft.id)))


def last_bot_reply(app: Flask) -> Message:
    with get_db(app).session() as session:
        found = session.scalars(select(Message).where(Message.author == "bot").order_by(Message.id.desc())).first()
        assert found is not None
        return found


def test_a_solved_gap_becomes_a_proven_draft_that_an_approver_publishes(app: Flask, vendor: VendorClient,
                                                                        loop_env: dict[str, str]) -> None:
    ticket = hand_over_and_solve(vendor, app, "Do you sell gift cards?", phone="+14155550101")
    [draft] = drafts(app)
    assert (draft.status, draft.version, draft.title) == ("pending", 1, "Do you sell gift cards?")
    assert "digital gift cards from $10 to $200" in draft.body and "never expire" in draft.body
    assert "415" not in draft.body and "PHONE" not in draft.body and "Hi Dana" not in draft.body
    assert draft.sources[0]["ticket_id"] == ticket
    proof = draft.proof
    assert proof["kb"] == "live articles + this draft"
    assert proof["before"]["answered"] == 0 and proof["after"]["questions"] == 1
    assert proof["after"]["answered"] + proof["after"]["menu"] == 1
    assert proof["steals"] is False and proof["others"]["questions"] >= 21
    [card] = outbox(app, "chat.postMessage")
    assert card.payload["channel"] == "C0KBREVIEW"
    assert any(b.get("block_id") == "kbdraft:decision" for b in card.payload["blocks"])
    assert "answered outright" in str(card.payload["blocks"])

    # Someone who is not an approver is refused, and nothing changes.
    assert vendor.slack_interaction(click("kbdraft:approve", draft.id, user=OUTSIDER)).status_code == 200
    assert drafts(app)[0].status == "pending"
    [refusal] = outbox(app, "chat.postEphemeral")
    assert refusal.payload["user"] == OUTSIDER and "approvers" in refusal.payload["text"]
    assert outbox(app, "help_center.articles.create") == []

    # The approver publishes it; a second click changes nothing.
    assert vendor.slack_interaction(click("kbdraft:approve", draft.id)).status_code == 200
    assert vendor.slack_interaction(click("kbdraft:approve", draft.id)).status_code == 200
    [published] = drafts(app)
    assert (published.status, published.decided_by, published.article_id) == (
        "approved", f"slack:{APPROVER}", f"kb-draft-{draft.id}")
    [call] = outbox(app, "help_center.articles.create")
    assert call.status == "sandboxed" and call.payload["section_id"] == SECTION
    article: dict[str, Any] = call.payload["article"]
    assert article["title"] == "Do you sell gift cards?" and article["draft"] is True
    assert article["locale"] == "en-us" and "415" not in article["body"]
    assert article["body"].startswith("<p>") and html_to_text(article["body"]).text == published.body
    with get_db(app).session() as session:
        row = session.scalar(select(KbArticle).where(KbArticle.external_id == published.article_id))
        assert row is not None and row.source == "kb_draft"
        [approved] = session.scalars(select(AuditEntry).where(AuditEntry.action == "kb.draft_approved")).all()
        assert approved.actor == f"slack:{APPROVER}" and approved.detail["version"] == 1
        assert approved.detail["outbox_call_id"] == call.id
    assert any("Approved" in str(c.payload.get("blocks")) for c in outbox(app, "chat.update"))

    # The next customer's paraphrase is answered from the new article.
    sms(vendor, "can I buy a gift card?", phone="+14155550199")
    reply = last_bot_reply(app)
    assert reply.meta["action"] == "answer", reply.meta
    assert any(s["passage"].startswith(f"{published.article_id}#") for s in reply.meta["sources"])
    assert "gift cards" in reply.body.lower()

    listed = cli(app, loop_env, "kb", "drafts", "list", "--json")["drafts"]
    assert [(d["id"], d["status"]) for d in listed] == [(draft.id, "approved")]


def test_a_second_ticket_on_the_same_gap_is_a_new_version_and_reject_publishes_nothing(
        app: Flask, vendor: VendorClient, loop_env: dict[str, str]) -> None:
    hand_over_and_solve(vendor, app, "Do you sell gift cards?", phone="+14155550102")
    hand_over_and_solve(vendor, app, "is there a gift card I can purchase", phone="+14155550103",
                        answer="Gift cards are sent by email within an hour of purchase.")
    [draft] = drafts(app)
    assert draft.version == 2 and len(draft.sources) == 2
    assert "sent by email within an hour" in draft.body and "never expire" in draft.body
    text = cli(app, loop_env, "kb", "drafts", "list")
    assert f"{draft.id:<5} pending" in text
    shown = cli(app, loop_env, "kb", "drafts", "show", str(draft.id))
    assert "Do you sell gift cards?" in shown
    out = cli(app, loop_env, "kb", "drafts", "reject", str(draft.id), "--by", "maria")
    assert "rejected by cli:maria" in out
    with get_db(app).session() as session:
        assert session.scalar(select(KbArticle).where(KbArticle.source == "kb_draft")) is None
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "kb.draft_rejected")).all()
        assert entry.actor == "cli:maria" and entry.detail["version"] == 2
    assert outbox(app, "help_center.articles.create") == []
    result = cli_fails(loop_env, "kb", "drafts", "approve", str(draft.id))
    assert "already rejected" in result


def cli_fails(env: dict[str, str], *args: str) -> str:
    from click.testing import CliRunner

    from switchboard.cli import main

    result = CliRunner().invoke(main, list(args), env=env)
    assert result.exit_code != 0
    return result.output


def test_without_any_article_the_draft_says_why_it_has_no_proof(loop_env: dict[str, str]) -> None:
    """A ticket solved before any knowledge base was imported still closes, and drafts."""
    from switchboard.app import create_app
    from switchboard.core.settings import load_settings

    from ..conftest import PUBLIC_URL, SLACK_SECRET, TWILIO_TOKEN, ZENDESK_SECRET

    bare = create_app(load_settings(loop_env), config={"TASKS_INLINE": True, "TESTING": True})
    try:
        vendor = VendorClient(bare.test_client(), twilio_token=TWILIO_TOKEN, zendesk_secret=ZENDESK_SECRET,
                              slack_secret=SLACK_SECRET, public_url=PUBLIC_URL)
        hand_over_and_solve(vendor, bare, "Do you sell gift cards?", phone="+14155550104")
        assert conversations(bare)[-1].status == "closed"
        [draft] = drafts(bare)
        assert "knowledge base is empty" in draft.proof["error"] and draft.proof["steals"] is False
    finally:
        get_db(bare).dispose()


def test_the_dashboard_lists_the_gap_and_the_proven_draft_and_an_operator_approves_it(
        app: Flask, vendor: VendorClient) -> None:
    """The same review in the dashboard: the unanswered question, the draft with its
    proof, and Approve (needs a session signed in with an account key, and its form's
    CSRF token) publishes it as the CLI and Slack do."""
    from ..selfservice.test_learned_phrasings import csrf_of, operator

    sms(vendor, "Do you sell gift cards?", phone="+14155550104")  # still unanswered: a gap
    hand_over_and_solve(vendor, app, "Do you sell gift cards?", phone="+14155550105")
    [draft] = drafts(app)
    browser = operator(app)
    assert 'id="nav-knowledge"' in browser.get("/dashboard/").get_data(as_text=True)
    page = browser.get("/dashboard/knowledge").get_data(as_text=True)
    assert f'id="draft-{draft.id}"' in page and "Do you sell gift cards?" in page
    assert "answered outright 0 →" in page
    assert browser.post(f"/dashboard/knowledge/drafts/{draft.id}/approve").status_code == 400  # no CSRF token
    done = browser.post(f"/dashboard/knowledge/drafts/{draft.id}/approve", data={"csrf": csrf_of(page)})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"?decided={draft.id}:approved")
    [approved] = drafts(app)
    assert approved.status == "approved" and approved.decided_by and approved.decided_by.startswith("dashboard:key:")
    with get_db(app).session() as session:
        assert session.scalars(select(KbArticle).where(KbArticle.external_id == approved.article_id)).one()
    assert "Every question in the period was answered." not in page  # the gap is listed
