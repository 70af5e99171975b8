"""Each published draft measured where supervisors look: the dashboard's knowledge page,
the digest's preview and its Slack message show the questions on the draft's topic
before and after it was approved (answered outright, by menu, handed over) and the agent
hours saved at the account's handle time (SWITCHBOARD_AGENT_HANDLE_MINUTES)."""
from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

from click.testing import CliRunner
from flask import Flask

from switchboard.cli import main
from switchboard.core.knowledge_loop.digest import send_digest
from switchboard.core.store.models import Account
from switchboard.intake.db import get_db

from ..signing import VendorClient
from .conftest import click, outbox, sms
from .test_loop_end_to_end import drafts, hand_over_and_solve, last_bot_reply


def test_a_published_draft_shows_its_topic_before_and_after_and_the_hours_saved(
        app: Flask, vendor: VendorClient, loop_env: dict[str, str]) -> None:
    from ..selfservice.test_learned_phrasings import operator

    browser = operator(app)
    assert 'id="empty-impacts"' in browser.get("/dashboard/knowledge").get_data(as_text=True)
    sms(vendor, "Do you sell gift cards?", phone="+14155550131")  # a second customer, also not answered
    hand_over_and_solve(vendor, app, "Do you sell gift cards?", phone="+14155550132")
    [draft] = drafts(app)
    vendor.slack_interaction(click("kbdraft:approve", draft.id))
    for phone in ("+14155550133", "+14155550134"):
        sms(vendor, "can I buy a gift card?", phone=phone)
        assert last_bot_reply(app).meta["action"] == "answer"

    page = browser.get("/dashboard/knowledge").get_data(as_text=True)
    row = page.split(f'id="impact-{draft.id}"', 1)[1].split("</tr>", 1)[0]
    cells = [c.split("</td>")[0] for c in row.split("<td")[1:]]
    assert "Do you sell gift cards?" in cells[0]
    answered, menu, handed_over, rephrase = (c.split(">", 1)[1] for c in cells[3:7])
    # The first customer got a menu and left; the second a menu, then AGENT: handed over.
    assert (answered, menu, handed_over, rephrase) == ("0 → 2", "1 → 0", "1 → 0", "0 → 0")
    # Half the topic's questions needed a person before; of the 2 since, none did: 1 avoided, at 6 min.
    assert cells[7].split(">", 1)[1] == "0.10"

    preview = CliRunner().invoke(main, ["digest", "--days", "1"], env={**loop_env,
                                                                      "SWITCHBOARD_AGENT_HANDLE_MINUTES": "30"})
    assert preview.exit_code == 0, preview.output
    [measured] = json.loads(preview.output)["knowledge"]
    assert measured["draft_id"] == draft.id and measured["handle_minutes"] == 30
    assert measured["after"]["answered"] == 2 and measured["hours_saved"] == 0.5

    with get_db(app).session() as session:
        account = session.get(Account, app.config["DEFAULT_ACCOUNT_ID"])
        assert account is not None
        tomorrow = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), time(), tzinfo=UTC)
        send_digest(session, account, app.config["SETTINGS"], channel="C0DIGEST", end=tomorrow)
    [message] = [c for c in outbox(app, "chat.postMessage") if c.payload["channel"] == "C0DIGEST"]
    text = json.dumps(message.payload["blocks"], ensure_ascii=False)
    assert "Published knowledge articles" in text and "Do you sell gift cards?" in text
    assert "answered outright 0 → 2" in text and "~0.1 agent hours saved" in text and "× 6 min" in text
