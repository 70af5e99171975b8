"""The bot learns how customers ask for an article from use, through the same doors a
customer and an agent use: signed Twilio messages picking off the bot's menu, the
sidebar API's thumbs, signed Zendesk comments, and the admin's `switchboard kb
phrasings` command. One customer alone never teaches it anything."""
from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from switchboard.app import create_app
from switchboard.cli import main
from switchboard.core.knowledge import embeddings, phrasings
from switchboard.core.settings import load_settings
from switchboard.core.store.models import (
    Account,
    AuditEntry,
    Conversation,
    LearnedPhrasing,
    Message,
    PhrasingEvidence,
    Suggestion,
)
from switchboard.intake.db import get_db

from ..assist.test_sidebar_api import comment, key_for
from ..signing import VendorClient
from .test_selfservice_over_twilio import MESSAGES, _menu_titles, inbound, twilio_sends

REFUND_TITLE = "When will I get my refund?"
ANNA, BEN, CARA = "+14155550100", "+14155550101", "+14155550102"


def pick_refund(shop: Flask, vendor: VendorClient, sender: str, question: str = "refund?") -> None:
    """``sender`` asks ``question``, gets the bot's menu and picks the refund article by its number."""
    before = len(twilio_sends(shop))
    assert vendor.twilio(MESSAGES, inbound(question, sender=sender)).status_code == 200
    menu = twilio_sends(shop)[before]
    titles = _menu_titles(menu["body"])
    assert REFUND_TITLE in titles, menu["body"]
    assert vendor.twilio(MESSAGES, inbound(str(titles.index(REFUND_TITLE) + 1), sender=sender)).status_code == 200
    assert "articles/refund-timing" in twilio_sends(shop)[-1]["body"]


def phrasing_rows(app: Flask) -> list[LearnedPhrasing]:
    with get_db(app).session() as session:
        rows = session.scalars(select(LearnedPhrasing).order_by(LearnedPhrasing.id)).all()
        session.expunge_all()
        return list(rows)


def encoder_of(app: Flask) -> str:
    """The encoder of the account's knowledge index, which phrasings are embedded with."""
    with get_db(app).session() as session:
        name = phrasings.account_encoder(session, app.config["DEFAULT_ACCOUNT_ID"], app.config["SETTINGS"])
    assert name is not None
    return name


def learned_now(app: Flask) -> phrasings.Learned | None:
    with get_db(app).session() as session:
        return phrasings.learned(session, app.config["DEFAULT_ACCOUNT_ID"], encoder_of(app))


def audited(app: Flask, prefix: str = "kb.phrasing") -> list[tuple[str, str | None, dict[str, Any]]]:
    with get_db(app).session() as session:
        return [(e.action, e.subject_id, e.detail) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.action.startswith(prefix)).order_by(AuditEntry.id))]


def test_one_customers_pick_is_kept_as_pending_evidence_and_teaches_nothing(shop: Flask,
                                                                          vendor: VendorClient) -> None:
    pick_refund(shop, vendor, ANNA)
    [row] = phrasing_rows(shop)
    assert (row.article_id, row.text, row.status, row.customers, row.agents) == (
        "refund-timing", "refund?", "pending", 1, 0)
    assert row.vector is None
    assert learned_now(shop) is None
    [(action, subject, detail)] = audited(shop)
    assert (action, subject) == ("kb.phrasing_learned", str(row.id))
    assert detail == {"article_id": "refund-timing", "evidence_id": detail["evidence_id"], "kind": "pick",
                      "source": "menu", "customers": 1, "agents": 0, "status": "pending"}


def test_the_same_customer_picking_again_in_another_conversation_is_still_one_customer(
        shop: Flask, vendor: VendorClient) -> None:
    pick_refund(shop, vendor, ANNA)
    with get_db(shop).session() as session:
        first = session.scalars(select(Conversation)).one()
        later = Conversation(account_id=first.account_id, customer_id=first.customer_id, channel="sms")
        session.add(later)
        session.flush()
        message = Message(account_id=first.account_id, conversation_id=later.id, direction="inbound",
                          channel="sms", author="customer", body="1")
        session.add(message)
        session.flush()
        phrasings.record_pick(session, first.account_id, conversation_id=later.id, customer_id=first.customer_id,
                              message_id=message.id, question="Refund?", article_id="refund-timing",
                              settings=shop.config["SETTINGS"])
        session.commit()
    [row] = phrasing_rows(shop)
    assert (row.status, row.customers) == ("pending", 1)
    assert learned_now(shop) is None


def test_a_second_customers_same_pick_activates_it_with_its_question_vector(shop: Flask,
                                                                            vendor: VendorClient) -> None:
    pick_refund(shop, vendor, ANNA, "Refund?")
    pick_refund(shop, vendor, BEN, "refund")  # the same words: case and punctuation aside
    [row] = phrasing_rows(shop)
    assert (row.status, row.customers, row.encoder) == ("active", 2, encoder_of(shop))
    stored = np.frombuffer(row.vector or b"", dtype="<f4")
    expected = embeddings.encoder_named(encoder_of(shop)).encode_queries([row.text])[0]
    assert stored.shape == expected.shape and np.allclose(stored, expected, atol=1e-6)
    got = learned_now(shop)
    assert got is not None and got.article_ids == ("refund-timing",) and got.texts == (row.text,)
    assert learned_now(shop) is got  # nothing changed: the process's copy, not a reload
    assert got.vectors.dtype == np.float32 and got.vectors.shape == (1, len(expected))
    assert np.isclose(float(np.linalg.norm(got.vectors[0])), 1.0, atol=1e-5)
    actions = [a for a, _, _ in audited(shop)]
    assert actions == ["kb.phrasing_learned", "kb.phrasing_learned", "kb.phrasing_activated"]
    assert all("refund" not in str(detail) for _, _, detail in audited(shop) if "article_id" not in detail) and all(
        set(detail) >= {"article_id"} for _, _, detail in audited(shop))
    assert not any("refund?" in str(detail).lower() for _, _, detail in audited(shop))  # no customer words


@pytest.mark.parametrize("follow_up", ["that didn't help", "No me sirvió", "ça ne m'a pas aidé", "AGENT",
                                       "I want to talk to a real person please", "👎"])
def test_a_pick_followed_by_that_didnt_help_or_a_request_for_a_person_teaches_nothing(
        shop: Flask, vendor: VendorClient, follow_up: str) -> None:
    pick_refund(shop, vendor, ANNA)
    vendor.twilio(MESSAGES, inbound(follow_up, sender=ANNA))
    pick_refund(shop, vendor, BEN)
    [row] = phrasing_rows(shop)
    assert (row.status, row.customers) == ("pending", 1)  # Ben's pick alone stands
    assert learned_now(shop) is None
    with get_db(shop).session() as session:
        withdrawn = session.scalars(select(PhrasingEvidence).where(PhrasingEvidence.withdrawn_at.is_not(None))).one()
        assert withdrawn.withdrawn_because in ("did_not_help", "asked_for_person")
    assert "kb.phrasing_withdrawn" in [a for a, _, _ in audited(shop)]


def test_a_disowned_pick_after_activation_sends_the_phrasing_back_to_pending(shop: Flask,
                                                                              vendor: VendorClient) -> None:
    pick_refund(shop, vendor, ANNA)
    pick_refund(shop, vendor, BEN)
    assert learned_now(shop) is not None
    vendor.twilio(MESSAGES, inbound("nope, that's not it", sender=BEN))
    [row] = phrasing_rows(shop)
    assert (row.status, row.customers) == ("pending", 1)
    assert learned_now(shop) is None
    assert [a for a, _, _ in audited(shop)][-2:] == ["kb.phrasing_withdrawn", "kb.phrasing_deactivated"]


def test_a_thanks_after_a_pick_keeps_the_evidence(shop: Flask, vendor: VendorClient) -> None:
    pick_refund(shop, vendor, ANNA)
    vendor.twilio(MESSAGES, inbound("thanks!", sender=ANNA))
    pick_refund(shop, vendor, BEN)
    assert phrasing_rows(shop)[0].status == "active"


def test_a_question_holding_a_vault_token_is_never_stored(shop: Flask, vendor: VendorClient) -> None:
    for sender in (ANNA, BEN):
        vendor.twilio(MESSAGES, inbound("refund? dana@example.com", sender=sender))
        with get_db(shop).session() as session:
            menu = session.scalars(select(Message).where(Message.author == "bot").order_by(Message.id.desc())
                                   .limit(1)).one()
        # The menu answered the question as stored: redacted, the address in the vault.
        assert menu.meta["question"] == "refund? [EMAIL_1]"
        titles = [choice["title"] for choice in menu.meta["choices"]]
        vendor.twilio(MESSAGES, inbound(str(titles.index(REFUND_TITLE) + 1), sender=sender))
    assert phrasing_rows(shop) == []
    assert learned_now(shop) is None


def test_an_agents_thumbs_up_activates_and_a_thumbs_down_withdraws_it(shop: Flask, vendor: VendorClient) -> None:
    vendor.zendesk(ticket_payload(901, "When will I get my refund for the jacket I sent back?"))
    with get_db(shop).session() as session:
        suggestion = session.scalars(select(Suggestion).where(Suggestion.zendesk_ticket_id == 901)
                                     .order_by(Suggestion.rank)).first()
        assert suggestion is not None and suggestion.sources[0]["article_id"] == "refund-timing"
        suggestion_id = suggestion.id
    headers = {"Authorization": f"Bearer {key_for(shop)}", "X-Zendesk-User-Id": "4242"}
    up = vendor.client.post(f"/api/sidebar/suggestions/{suggestion_id}/feedback", json={"rating": "up"},
                            headers=headers)
    assert up.status_code == 204
    [row] = phrasing_rows(shop)
    assert (row.status, row.agents, row.text) == (
        "active", 1, "Refund When will I get my refund for the jacket I sent back?")  # subject and description
    got = learned_now(shop)
    assert got is not None and got.article_ids == ("refund-timing",)
    down = vendor.client.post(f"/api/sidebar/suggestions/{suggestion_id}/feedback",
                              json={"rating": "down", "reason": "wrong article"}, headers=headers)
    assert down.status_code == 204
    assert (phrasing_rows(shop)[0].status, phrasing_rows(shop)[0].agents) == ("pending", 0)
    assert learned_now(shop) is None
    # Inserting it after the thumbs-down vouches for nothing: the explicit verdict stands.
    vendor.client.post(f"/api/sidebar/suggestions/{suggestion_id}/inserted", headers=headers)
    assert phrasing_rows(shop)[0].status == "pending"


def test_an_agents_thumbs_down_withdraws_the_customers_pick_in_that_conversation(shop: Flask,
                                                                                 vendor: VendorClient) -> None:
    """The customer picked the refund article, then asked for a person anyway (later,
    so the pick stood); the agent judges a suggestion of that article wrong for them."""
    pick_refund(shop, vendor, ANNA)
    vendor.twilio(MESSAGES, inbound("thanks!", sender=ANNA))
    vendor.twilio(MESSAGES, inbound("AGENT", sender=ANNA))
    vendor.twilio(MESSAGES, inbound("when will I get my refund for the jacket I sent back?", sender=ANNA))
    with get_db(shop).session() as session:
        ticket = session.scalars(select(Conversation.zendesk_ticket_id)).one()
    assert ticket
    # Zendesk tells us of the customer's comment we relayed: suggestions for it are prepared.
    vendor.zendesk(comment(ticket, "[SMS] when will I get my refund for the jacket I sent back?", staff=False,
                           author="555"))
    with get_db(shop).session() as session:
        suggestion = session.scalars(select(Suggestion).where(Suggestion.zendesk_ticket_id == ticket)
                                     .order_by(Suggestion.rank)).first()
        assert suggestion is not None and suggestion.sources[0]["article_id"] == "refund-timing"
        suggestion_id = suggestion.id
    assert phrasing_rows(shop)[0].customers == 1
    down = vendor.client.post(f"/api/sidebar/suggestions/{suggestion_id}/feedback", json={"rating": "down"},
                              headers={"Authorization": f"Bearer {key_for(shop)}", "X-Zendesk-User-Id": "4242"})
    assert down.status_code == 204
    assert phrasing_rows(shop)[0].customers == 0
    pick_refund(shop, vendor, BEN)
    assert phrasing_rows(shop)[0].status == "pending"  # Ben alone is one customer


def test_an_agent_reply_linking_an_article_vouches_for_it(shop: Flask, vendor: VendorClient) -> None:
    vendor.twilio(MESSAGES, inbound("my jacket went back last week, where is my money?", sender=ANNA))
    vendor.twilio(MESSAGES, inbound("AGENT", sender=ANNA))
    with get_db(shop).session() as session:
        ticket = session.scalars(select(Conversation.zendesk_ticket_id)).one()
    assert phrasing_rows(shop) == []
    reply = ("Hi Anna, refunds reach your card within 3 working days of the return arriving: "
             "https://help.acme.example/articles/refund-timing.")
    assert vendor.zendesk(comment(ticket, reply, staff=True, author="777")).status_code == 200
    [row] = phrasing_rows(shop)
    assert (row.article_id, row.status, row.agents, row.text) == (
        "refund-timing", "active", 1, "my jacket went back last week, where is my money?")
    assert [(a, d["source"]) for a, _, d in audited(shop, "kb.phrasing_learned")] == [
        ("kb.phrasing_learned", "linked_reply")]


def ticket_payload(ticket_id: int, description: str) -> dict[str, Any]:
    from ..assist.test_sidebar_api import ticket_created

    return ticket_created(ticket_id, "Refund", description)


# --- the admin's command -----------------------------------------------------------------

def cli(app: Flask, *args: str) -> Any:
    env = {"SWITCHBOARD_DATABASE_URL": app.config["SETTINGS"].database_url,
           "SWITCHBOARD_DATA_DIR": str(app.config["SETTINGS"].data_dir), "SWITCHBOARD_SANDBOX": "1"}
    return CliRunner().invoke(main, ["kb", "phrasings", *args], env=env)


def test_phrasings_are_listed_and_removed_through_the_cli_and_a_removed_one_stays_removed(
        shop: Flask, vendor: VendorClient) -> None:
    pick_refund(shop, vendor, ANNA)
    pick_refund(shop, vendor, BEN)
    [row] = phrasing_rows(shop)
    listed = cli(shop)
    assert listed.exit_code == 0, listed.output
    [line] = [line for line in listed.output.splitlines() if line.startswith(f"{row.id} ")]
    for shown in (REFUND_TITLE, "refund?", "active", "2 customers, 0 agents"):
        assert shown in line, line
    removed = cli(shop, "remove", str(row.id))
    assert removed.exit_code == 0, removed.output
    assert f"removed phrasing {row.id}" in removed.output
    assert phrasing_rows(shop)[0].status == "removed"
    assert learned_now(shop) is None
    assert "removed" in cli(shop).output.splitlines()[-1]
    # Old evidence withdrawn and new picks arriving: it stays removed.
    pick_refund(shop, vendor, CARA)
    [row] = phrasing_rows(shop)
    assert (row.status, row.customers) == ("removed", 3)
    assert learned_now(shop) is None
    again = cli(shop, "remove", str(row.id))
    assert again.exit_code == 0 and "already removed" in again.output
    assert [a for a, _, _ in audited(shop)].count("kb.phrasing_removed") == 1
    unknown = cli(shop, "remove", "99999")
    assert unknown.exit_code != 0 and "switchboard kb phrasings" in unknown.output


def test_the_cli_lists_nothing_learned_yet_in_words(shop: Flask) -> None:
    result = cli(shop)
    assert result.exit_code == 0 and "nothing learned yet" in result.output


# --- every process at its next message ----------------------------------------------------

def test_a_second_process_uses_a_phrasing_learned_through_the_first_at_its_next_message(
        shop: Flask, vendor: VendorClient, env: dict[str, str]) -> None:
    second = create_app(load_settings(env), config={"TASKS_INLINE": True, "TESTING": True})
    try:
        with get_db(second).session() as session:
            assert phrasings.learned(session, second.config["DEFAULT_ACCOUNT_ID"], encoder_of(shop)) is None
        pick_refund(shop, vendor, ANNA)
        pick_refund(shop, vendor, BEN)
        with get_db(second).session() as session:
            got = phrasings.learned(session, second.config["DEFAULT_ACCOUNT_ID"], encoder_of(shop))
        assert got is not None and got.article_ids == ("refund-timing",)
        [row] = phrasing_rows(shop)
        assert cli(shop, "remove", str(row.id)).exit_code == 0
        with get_db(second).session() as session:
            assert phrasings.learned(session, second.config["DEFAULT_ACCOUNT_ID"], encoder_of(shop)) is None
    finally:
        get_db(second).dispose()


# --- the dashboard's page -------------------------------------------------------------------

def active_phrasing(shop: Flask, vendor: VendorClient) -> int:
    pick_refund(shop, vendor, ANNA)
    pick_refund(shop, vendor, BEN)
    [row] = phrasing_rows(shop)
    assert row.status == "active"
    return row.id


def operator(shop: Flask, slug: str = "default") -> FlaskClient:
    browser = shop.test_client()
    assert browser.post("/dashboard/login", data={"key": key_for(shop, slug)}).status_code == 302
    return browser


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found, page
    return found.group(1)


def test_an_operator_removes_a_phrasing_from_the_dashboard(shop: Flask, vendor: VendorClient) -> None:
    phrasing_id = active_phrasing(shop, vendor)
    browser = operator(shop)
    assert 'id="nav-phrasings"' in browser.get("/dashboard/").get_data(as_text=True)
    page = browser.get("/dashboard/phrasings").get_data(as_text=True)
    row = page.split(f'id="phrasing-{phrasing_id}"', 1)[1].split("</tr>", 1)[0]
    for shown in (REFUND_TITLE, "refund?", "2 customers, 0 agents", "active", "Remove"):
        assert shown in row, row
    done = browser.post(f"/dashboard/phrasings/{phrasing_id}/remove", data={"csrf": csrf_of(page)})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/dashboard/phrasings?removed={phrasing_id}")
    assert phrasing_rows(shop)[0].status == "removed" and learned_now(shop) is None
    [(action, subject, detail)] = audited(shop, "kb.phrasing_removed")
    assert subject == str(phrasing_id) and detail["was"] == "active"
    with get_db(shop).session() as session:
        actor = session.scalars(select(AuditEntry.actor).where(AuditEntry.action == "kb.phrasing_removed")).one()
    assert actor.startswith("dashboard:key:sb_")
    after = browser.get(f"/dashboard/phrasings?removed={phrasing_id}").get_data(as_text=True)
    assert 'id="removed-notice"' in after and "Remove</button>" not in after


def test_a_removal_without_the_pages_token_or_from_another_site_is_refused(shop: Flask,
                                                                            vendor: VendorClient) -> None:
    phrasing_id = active_phrasing(shop, vendor)
    browser = operator(shop)
    assert browser.post(f"/dashboard/phrasings/{phrasing_id}/remove").status_code == 400
    forged = browser.post(f"/dashboard/phrasings/{phrasing_id}/remove", data={"csrf": "0" * 64})
    assert forged.status_code == 400
    # A token is good only with the session it was made for.
    other = operator(shop)
    token = csrf_of(other.get("/dashboard/phrasings").get_data(as_text=True))
    assert browser.post(f"/dashboard/phrasings/{phrasing_id}/remove", data={"csrf": token}).status_code == 400
    assert shop.test_client().post(f"/dashboard/phrasings/{phrasing_id}/remove",
                                   data={"csrf": token}).status_code == 302  # not signed in: to the login page
    assert phrasing_rows(shop)[0].status == "active"


def test_a_session_opened_from_the_sidebar_reads_the_phrasings_but_cannot_remove_them(
        shop: Flask, vendor: VendorClient) -> None:
    phrasing_id = active_phrasing(shop, vendor)
    code = shop.test_client().post("/api/sidebar/dashboard-session",
                                   headers={"Authorization": f"Bearer {key_for(shop)}"}).json["code"]
    agent = shop.test_client()
    assert agent.post("/dashboard/login", data={"code": code}).status_code == 302
    page = agent.get("/dashboard/phrasings").get_data(as_text=True)
    assert "refund?" in page and 'id="read-only"' in page and "Remove</button>" not in page
    refused = agent.post(f"/dashboard/phrasings/{phrasing_id}/remove", data={"csrf": csrf_of_session(agent, shop)})
    assert refused.status_code == 403
    assert phrasing_rows(shop)[0].status == "active"


def csrf_of_session(browser: FlaskClient, shop: Flask) -> str:
    """The token the page would carry for this browser's session (its form is not
    shown to a read-only session; the server must refuse the removal anyway)."""
    from switchboard.apps.sign_in import COOKIE, app_secret

    cookie = browser.get_cookie(COOKIE)
    assert cookie is not None
    return hmac.new(app_secret(shop).encode(), f"csrf:{cookie.value}".encode(), hashlib.sha256).hexdigest()


def test_another_accounts_operator_cannot_see_or_remove_this_accounts_phrasings(shop: Flask,
                                                                               vendor: VendorClient) -> None:
    phrasing_id = active_phrasing(shop, vendor)
    with get_db(shop).session() as session:
        session.add(Account(slug="globex", name="Globex Corp", secrets={}))
        session.commit()
    browser = operator(shop, "globex")
    page = browser.get("/dashboard/phrasings").get_data(as_text=True)
    assert "refund?" not in page and 'id="empty-phrasings"' in page
    refused = browser.post(f"/dashboard/phrasings/{phrasing_id}/remove",
                           data={"csrf": csrf_of_session(browser, shop)})
    assert refused.status_code == 404
    assert phrasing_rows(shop)[0].status == "active"


#: Another interpreter holding its own copy of the learned phrasings, asked at each line.
OTHER_PROCESS = """
import json, sys
from sqlalchemy.orm import Session
from switchboard.core.knowledge import phrasings
from switchboard.intake.db import make_engine
engine = make_engine(sys.argv[1])
for _ in sys.stdin:
    with Session(engine) as session:
        got = phrasings.learned(session, int(sys.argv[2]), sys.argv[3])
    print(json.dumps(None if got is None else [list(got.article_ids), got.vectors.shape[0]]), flush=True)
"""


@pytest.mark.slow
def test_another_interpreter_sees_a_phrasing_learned_and_removed_here_at_its_next_use(
        shop: Flask, vendor: VendorClient) -> None:
    import json
    import subprocess
    import sys

    other = subprocess.Popen([sys.executable, "-c", OTHER_PROCESS, shop.config["SETTINGS"].database_url,
                              str(shop.config["DEFAULT_ACCOUNT_ID"]), encoder_of(shop)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask() -> Any:
        assert other.stdin is not None and other.stdout is not None
        other.stdin.write("?\n")
        other.stdin.flush()
        return json.loads(other.stdout.readline())

    try:
        assert ask() is None
        pick_refund(shop, vendor, ANNA)
        assert ask() is None  # pending: one customer
        pick_refund(shop, vendor, BEN)
        assert ask() == [["refund-timing"], 1]
        assert ask() == [["refund-timing"], 1]  # unchanged: its own copy
        assert cli(shop, "remove", str(phrasing_rows(shop)[0].id)).exit_code == 0
        assert ask() is None
    finally:
        other.stdin.close()  # type: ignore[union-attr]
        other.wait(timeout=30)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite has one writer: no race to lose
def test_two_customers_picking_at_the_same_moment_both_count(shop: Flask, vendor: VendorClient,
                                                             database_url: str) -> None:
    """Each transaction sees its own pick, not the other's uncommitted one: counted at
    once, each would find one customer and neither would activate the phrasing. The
    second must wait for the first (the phrasing's row is locked) and count both."""
    import threading

    from sqlalchemy.orm import Session

    from switchboard.intake.db import make_engine

    assert database_url.startswith("postgresql")
    pick_refund(shop, vendor, ANNA)
    vendor.twilio(MESSAGES, inbound("that didn't help", sender=ANNA))  # the phrasing exists, with no standing pick
    picks = []
    for sender in (BEN, CARA):
        vendor.twilio(MESSAGES, inbound("refund?", sender=sender))  # the bot's menu
        with get_db(shop).session() as session:
            conversation = session.scalars(select(Conversation).order_by(Conversation.id.desc()).limit(1)).one()
            message = Message(account_id=conversation.account_id, conversation_id=conversation.id,
                              direction="inbound", channel="sms", author="customer", body="1")
            session.add(message)
            session.commit()
            picks.append((conversation.account_id, conversation.id, conversation.customer_id, message.id))

    def record(session: Session, pick: tuple[int, int, int, int]) -> None:
        account_id, conversation_id, customer_id, message_id = pick
        phrasings.record_pick(session, account_id, conversation_id=conversation_id, customer_id=customer_id,
                              message_id=message_id, question="refund?", article_id="refund-timing",
                              settings=shop.config["SETTINGS"])

    engine = make_engine(database_url)
    first, second = Session(engine), Session(engine)
    done = threading.Event()

    def second_pick() -> None:
        record(second, picks[1])
        second.commit()
        done.set()

    try:
        record(first, picks[0])
        thread = threading.Thread(target=second_pick)
        thread.start()
        assert not done.wait(1.0)  # waiting for the first transaction, not counting without it
        first.commit()
        thread.join(60)
        assert done.is_set()
    finally:
        first.close()
        second.close()
        engine.dispose()
    [row] = phrasing_rows(shop)
    assert (row.status, row.customers) == ("active", 2)


def test_a_phrasing_two_customers_taught_answers_the_next_customer_outright(shop: Flask,
                                                                           vendor: VendorClient) -> None:
    """Retrieval uses what was learned: a question that got a menu is answered from the
    article two customers picked for it, and not after only one of them did."""
    question, title, url = "how do I send something back", "How do I return an item?", "articles/return-item"
    dan, eve = "+14155550103", "+14155550104"

    def ask(sender: str) -> str:
        vendor.twilio(MESSAGES, inbound(question, sender=sender))
        return str(twilio_sends(shop)[-1]["body"])

    def pick(sender: str) -> None:
        titles = _menu_titles(ask(sender))
        assert title in titles, titles
        vendor.twilio(MESSAGES, inbound(str(titles.index(title) + 1), sender=sender))
        assert url in twilio_sends(shop)[-1]["body"]

    pick(ANNA)
    assert title in _menu_titles(ask(CARA))  # one customer taught nothing: still a menu
    pick(BEN)
    answer = ask(dan)
    assert url in answer and not _menu_titles(answer), answer
    # Removed by an admin, it stops answering at the next message.
    [row] = phrasing_rows(shop)
    with get_db(shop).session() as session:
        phrasings.remove_phrasing(session, row.account_id, row.id, actor="test")
        session.commit()
    assert title in _menu_titles(ask(eve))


@pytest.mark.parametrize("text", ["I dont understand", "I do not understand"])
def test_not_understanding_before_any_answer_is_asked_what_is_needed_not_handed_over(
        shop: Flask, vendor: VendorClient, text: str) -> None:
    """The shipped intent model reads these as complaints (0.90, 0.79): the customer was
    handed over as complaining before anything was answered."""
    vendor.twilio(MESSAGES, inbound(text, sender="+14155550178"))
    assert "How can I help you today?" in twilio_sends(shop)[-1]["body"]
    with get_db(shop).session() as session:
        assert session.scalars(select(Conversation)).one().handoff_reason is None


@pytest.mark.parametrize("setback", ["that didn't help", "no", "no me sirvió", "👎", "none of these",
                                     "I dont understand"])
def test_an_answer_that_did_not_help_offers_the_other_articles_and_its_pick_teaches_nothing(
        shop: Flask, vendor: VendorClient, setback: str) -> None:
    """"That didn't help" was searched as a question (discount codes, password resets…).
    Now it offers the articles the customer's own question could also have meant. A pick
    from them teaches nothing: the question had a confident answer that may serve most
    who ask it (and "no" is no question)."""
    sender = "+14155550177"
    vendor.twilio(MESSAGES, inbound("where is my parcel?", sender=sender))
    assert "articles/track-order" in twilio_sends(shop)[-1]["body"]
    vendor.twilio(MESSAGES, inbound(setback, sender=sender))
    menu = twilio_sends(shop)[-1]["body"]
    titles = _menu_titles(menu)
    assert titles and "My parcel says delivered but I haven't received it" in titles, menu
    assert not any("Where is my order" in title for title in titles)  # the answer that did not help
    vendor.twilio(MESSAGES, inbound(str(titles.index("My parcel says delivered but I haven't received it") + 1),
                                    sender=sender))
    assert "articles/missing-parcel" in twilio_sends(shop)[-1]["body"]
    assert phrasing_rows(shop) == []


def test_a_pick_that_did_not_help_offers_the_rest_of_its_menu(shop: Flask, vendor: VendorClient) -> None:
    """After a pick off a menu, "that didn't help" was searched with the picked title
    read into the question: the picked article came first again, the menu's others fell
    under the floor, and a customer just offered three articles was told "I couldn't
    find that in our help center". Now the rest of the menu comes back, and a pick from
    it is answered (and, as after any answer that did not help, teaches nothing)."""
    vendor.twilio(MESSAGES, inbound("refund?", sender=CARA))
    first = _menu_titles(twilio_sends(shop)[-1]["body"])
    assert REFUND_TITLE in first and len(first) == 3, first
    vendor.twilio(MESSAGES, inbound(str(first.index(REFUND_TITLE) + 1), sender=CARA))
    assert "articles/refund-timing" in twilio_sends(shop)[-1]["body"]
    vendor.twilio(MESSAGES, inbound("that didn't help", sender=CARA))
    menu = twilio_sends(shop)[-1]["body"]
    assert _menu_titles(menu) == [title for title in first if title != REFUND_TITLE], menu
    assert "couldn't find" not in menu
    vendor.twilio(MESSAGES, inbound("1", sender=CARA))
    with get_db(shop).session() as session:
        reply = session.scalars(select(Message).where(Message.author == "bot").order_by(Message.id.desc())
                                .limit(1)).one()
        assert reply.meta["action"] == "answer" and reply.meta["sources"], reply.meta
    assert all(row.status == "pending" for row in phrasing_rows(shop))
