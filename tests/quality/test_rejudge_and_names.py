"""What a score becomes after the conversation ended, and who it names: "resolved" judged
again when the ticket is reopened (a signed Zendesk event) or the customer comes back
(a signed Twilio message) within the rubric's days, once, audited and reported; agents
by the names Zendesk gave us (a comment's author, the sidebar's agent) in the report,
the dashboard and the digest; the trend week by week."""
from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select, update

from switchboard.apps.slack.digest_view import digest_blocks
from switchboard.cli import main
from switchboard.core.knowledge_loop.digest import compute_digest
from switchboard.core.store.models import AuditEntry, ConversationScore
from switchboard.intake.db import get_db

from ..assist.test_sidebar_api import _n, comment, handed_over_ticket, key_for, say
from ..signing import VendorClient, fixture
from .test_bot_answer_guard import vendor_for
from .test_conversation_scores import solve, verdicts
from .test_wrapup import app_with

TODAY = datetime.now(UTC).date().isoformat()
REPLY = "The second charge is a hold and disappears within 5 days."


def reopen(vendor: VendorClient, ticket: int) -> None:
    event = {**fixture("zendesk", "ticket_created.json"), "id": f"evt-{next(_n)}",
             "type": "zen:event-type:ticket.status_changed",
             "detail": {"id": str(ticket), "status": "OPEN"}, "event": {"previous": "SOLVED", "current": "OPEN"}}
    assert vendor.zendesk(event).status_code == 200


def scores(app: Flask) -> list[ConversationScore]:
    with get_db(app).session() as session:
        return list(session.scalars(select(ConversationScore).order_by(ConversationScore.id)))


def rejudged_audits(app: Flask) -> list[dict]:  # type: ignore[type-arg]
    with get_db(app).session() as session:
        return [a.detail for a in session.scalars(select(AuditEntry).where(
            AuditEntry.action == "quality.resolved_rejudged").order_by(AuditEntry.id))]


def report(env: dict[str, str], *extra: str) -> dict:  # type: ignore[type-arg]
    result = CliRunner().invoke(main, ["qa", "report", "--since", TODAY, *extra], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def csv_row(env: dict[str, str]) -> dict[str, str]:
    as_csv = CliRunner().invoke(main, ["qa", "report", "--since", TODAY, "--csv"], env=env)
    [row] = list(csv.DictReader(io.StringIO(as_csv.output)))
    return row


def quality_page(app: Flask, query: str = "") -> str:
    """The dashboard's Quality page, signed in with an account key."""
    client = app.test_client()
    assert client.post("/dashboard/login", data={"key": key_for(app)}).status_code == 302
    return client.get(f"/dashboard/quality{query}").get_data(as_text=True)


def test_a_reopened_ticket_turns_resolved_to_missed_once_audited_and_reported(
        shop: Flask, vendor: VendorClient, env: dict[str, str]) -> None:
    ticket = handed_over_ticket(shop, vendor)
    assert vendor.zendesk(comment(ticket, REPLY, staff=True, author="111")).status_code == 200
    solve(vendor, ticket)
    [before] = scores(shop)
    assert verdicts(before)["resolved"] == "met"
    reopen(vendor, ticket)
    reopen(vendor, ticket)  # again (or redelivered): judged again once
    [after] = scores(shop)
    assert verdicts(after)["resolved"] == "missed" and after.score < before.score
    resolved = next(c for c in after.criteria if c["criterion"] == "resolved")
    assert resolved["rejudged"] == "reopened" and resolved["evidence"][-1]["ticket_id"] == ticket
    [audited] = rejudged_audits(shop)
    assert (audited["reason"], audited["from"], audited["to"]) == ("reopened", before.score, after.score)
    data = report(env)
    assert data["rejudged"] == {"reopened": 1} and data["worst"][0]["rejudged"] == "reopened"
    assert data["mean_score"] == after.score
    row = csv_row(env)
    assert (row["resolved"], row["rejudged"]) == ("missed", "reopened")
    page = quality_page(shop)
    assert '<span class="rejudged">ticket reopened</span>' in page and "1 reopened" in page


def test_a_customer_coming_back_with_a_question_turns_resolved_round_but_a_thanks_does_not(
        shop: Flask, vendor: VendorClient, env: dict[str, str]) -> None:
    say(vendor, "How long does delivery take?")
    say(vendor, "thanks, that answers it")
    say(vendor, "thanks again")  # closing, not coming back (the conversation's ending, scored again)
    assert [verdicts(s)["resolved"] for s in scores(shop)] == ["met", "met"] and rejudged_audits(shop) == []
    say(vendor, "My parcel still has not arrived, where is it?")
    first, score = scores(shop)
    assert verdicts(first)["resolved"] == "met"  # the latest ending is the one judged again
    resolved = next(c for c in score.criteria if c["criterion"] == "resolved")
    assert (resolved["verdict"], resolved["rejudged"]) == ("missed", "repeat_contact")
    assert resolved["evidence"][-1]["quote"] == "My parcel still has not arrived, where is it?"
    assert [a["reason"] for a in rejudged_audits(shop)] == ["repeat_contact"]
    assert "My parcel" not in json.dumps(rejudged_audits(shop))  # the audit log never keeps customer words
    assert report(env)["rejudged"] == {"repeat_contact": 1}


def test_coming_back_after_the_rubrics_days_or_with_none_set_changes_nothing(
        env: dict[str, str], tmp_path: Path) -> None:
    rubric = tmp_path / "rubric.yaml"
    rubric.write_text("version: 1\nname: no-rejudging\ncriteria:\n  grounded: {weight: 1}\n"
                      "  resolved: {weight: 1, within_days: 3}\n")
    with app_with(env, SWITCHBOARD_QA_RUBRIC_FILE=str(rubric)) as app:
        vendor = vendor_for(app)
        say(vendor, "How long does delivery take?")
        say(vendor, "thanks, that answers it")
        with get_db(app).session() as session:
            session.execute(update(ConversationScore).values(created_at=datetime.now(UTC) - timedelta(days=4)))
            session.commit()
        say(vendor, "How much does delivery cost?")  # four days on, the rubric says three
        assert [verdicts(s)["resolved"] for s in scores(app)] == ["met"] and rejudged_audits(app) == []
        rubric.write_text(rubric.read_text().replace("within_days: 3", "within_days: 0") + "\n")
        say(vendor, "thanks, that answers it")
        say(vendor, "And can I change the delivery address?")
        assert all(verdicts(s)["resolved"] == "met" for s in scores(app)) and rejudged_audits(app) == []


def test_agents_are_named_in_the_report_the_dashboard_and_the_digest(
        shop: Flask, vendor: VendorClient, env: dict[str, str]) -> None:
    ticket = handed_over_ticket(shop, vendor)
    nameless = comment(ticket, REPLY, staff=True, author="222")
    del nameless["event"]["comment"]["author"]["name"]
    assert vendor.zendesk(nameless).status_code == 200
    solve(vendor, ticket)
    assert list(report(env)["by"]["agent"]) == ["zendesk:222"]  # no name recorded yet: the id
    # The agent opens the sidebar (ZAF's currentUser in the app's headers): now we know them.
    headers = {"Authorization": f"Bearer {key_for(shop)}", "X-Zendesk-User-Id": "222",
               "X-Zendesk-User-Name": "Dana%20Reyes"}
    assert vendor.client.post(f"/api/sidebar/tickets/{ticket}/draft-check", json={"text": "Hello"},
                              headers=headers).status_code == 200
    data = report(env)
    assert list(data["by"]["agent"]) == ["Dana Reyes"]
    assert (data["worst"][0]["agent"], data["worst"][0]["agent_name"]) == ("zendesk:222", "Dana Reyes")
    row = csv_row(env)
    assert (row["agent"], row["agent_name"]) == ("zendesk:222", "Dana Reyes")
    page = quality_page(shop)
    assert '<span class="agent">Dana Reyes</span>' in page and "<td>Dana Reyes</td>" in page
    now = datetime.now(UTC)
    with get_db(shop).session() as session:
        digest = compute_digest(session, shop.config["DEFAULT_ACCOUNT_ID"], start=now - timedelta(days=7),
                                end=now + timedelta(minutes=1))
    assert digest.quality is not None and [a["name"] for a in digest.quality["agents"]] == ["Dana Reyes"]
    text = json.dumps(digest_blocks(digest, account_name="Acme")[1])
    assert "Agents, lowest mean first: Dana Reyes" in text


def test_a_comments_author_name_from_zendesk_names_the_agent(
        shop: Flask, vendor: VendorClient, env: dict[str, str]) -> None:
    ticket = handed_over_ticket(shop, vendor)
    assert vendor.zendesk(comment(ticket, REPLY, staff=True, author="111")).status_code == 200  # "Ava"
    solve(vendor, ticket)
    assert list(report(env)["by"]["agent"]) == ["Ava"]


def test_the_trend_is_reported_week_by_week(shop: Flask, vendor: VendorClient, env: dict[str, str]) -> None:
    say(vendor, "How long does delivery take?")
    say(vendor, "thanks, that answers it")
    with get_db(shop).session() as session:
        session.execute(update(ConversationScore).values(created_at=datetime.now(UTC) - timedelta(days=7)))
        session.commit()
    say(vendor, "How much does delivery cost?")
    say(vendor, "great, thanks")
    since = (datetime.now(UTC) - timedelta(days=8)).date().isoformat()
    weekly = json.loads(CliRunner().invoke(main, ["qa", "report", "--since", since], env=env).output)["weekly"]
    this_week, last_week = datetime.now(UTC).isocalendar(), (datetime.now(UTC) - timedelta(days=7)).isocalendar()
    assert [w["week"] for w in weekly] == [f"{last_week[0]}-W{last_week[1]:02d}", f"{this_week[0]}-W{this_week[1]:02d}"]
    assert [w["conversations"] for w in weekly] == [1, 1]
    page = quality_page(shop, f"?from={since}")
    assert f"<td>{this_week[0]}-W{this_week[1]:02d}</td>" in page and 'id="weekly"' in page
