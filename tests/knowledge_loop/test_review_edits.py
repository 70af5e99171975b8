"""A reviewer edits a draft before deciding: the Slack card's Edit button opens a modal
(views.open with the click's trigger_id), its signed submission saves a new version
(who, when, audited), proves it again and updates the card; the same from the
dashboard's form (CSRF) and `switchboard kb drafts edit`. Approval records the version
it published; a non-approver's edit, personal data, or an edit after the decision
changes nothing."""
from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy import select

from switchboard.core.store.models import AuditEntry, KbArticle
from switchboard.intake.db import get_db

from ..signing import VendorClient
from .conftest import APPROVER, OUTSIDER, cli, click, edit_submission, outbox
from .test_loop_end_to_end import cli_fails, drafts, hand_over_and_solve

EDITED_TITLE = "Can I buy a gift card?"
EDITED_BODY = ("We sell digital gift cards from $10 to $200 in the Gift cards section of our website.\n\n"
               "Gift cards never expire and can be used on any order, shipping included.")


def audits(app: Flask, action: str) -> list[AuditEntry]:
    with get_db(app).session() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_slack_edit_opens_a_modal_saves_a_proven_version_and_approval_publishes_that_version(
        app: Flask, vendor: VendorClient) -> None:
    hand_over_and_solve(vendor, app, "Do you sell gift cards?", phone="+14155550111")
    [draft] = drafts(app)
    [card] = outbox(app, "chat.postMessage")
    buttons = next(b for b in card.payload["blocks"] if b.get("block_id") == "kbdraft:decision")["elements"]
    assert [b["action_id"] for b in buttons] == ["kbdraft:approve", "kbdraft:edit", "kbdraft:reject"]

    # A non-approver's Edit opens nothing and is told why.
    assert vendor.slack_interaction(click("kbdraft:edit", draft.id, user=OUTSIDER)).status_code == 200
    assert outbox(app, "views.open") == []
    assert "approvers" in outbox(app, "chat.postEphemeral")[-1].payload["text"]

    # The approver's Edit opens the modal with the draft as it is, on the click's trigger_id.
    payload = click("kbdraft:edit", draft.id)
    assert vendor.slack_interaction(payload).status_code == 200
    [modal] = outbox(app, "views.open")
    assert modal.payload["trigger_id"] == payload["trigger_id"]
    inputs = {b["block_id"]: b["element"]["initial_value"] for b in modal.payload["view"]["blocks"]
              if b["type"] == "input"}
    assert inputs == {"title": draft.title, "body": draft.body}
    assert modal.payload["view"]["private_metadata"] == f"{draft.id}:1"

    # A non-approver's submission (forged modal state) is refused: nothing saved.
    vendor.slack_interaction(edit_submission(draft.id, 1, title="Hacked", body="Send cash.", user=OUTSIDER))
    assert (drafts(app)[0].version, drafts(app)[0].title) == (1, draft.title)

    # The approver saves: version 2, by them, proven again, the card shows it.
    assert vendor.slack_interaction(edit_submission(draft.id, 1, title=EDITED_TITLE, body=EDITED_BODY)
                                    ).status_code == 200
    [edited] = drafts(app)
    assert (edited.version, edited.title, edited.body, edited.status) == (2, EDITED_TITLE, EDITED_BODY, "pending")
    assert [(v["version"], v["by"], v["how"]) for v in edited.versions] == [
        (1, "bot", "drafted"), (2, f"slack:{APPROVER}", "edited")]
    assert edited.versions[0]["body"] == draft.body
    assert edited.proof["after"]["questions"] == 1 and "before" in edited.proof
    [entry] = audits(app, "kb.draft_edited")
    assert entry.actor == f"slack:{APPROVER}" and entry.detail["version"] == 2
    update = outbox(app, "chat.update")[-1]
    assert "shipping included" in str(update.payload["blocks"]) and "version 2" in str(update.payload["blocks"])

    # An edit holding personal data is refused with what to fix; the draft stays at version 2.
    vendor.slack_interaction(edit_submission(draft.id, 2, title=EDITED_TITLE,
                                             body="Call Ava on +1 415 555 0199 for gift cards."))
    assert drafts(app)[0].version == 2
    assert "personal data" in outbox(app, "chat.postEphemeral")[-1].payload["text"]

    # Approval publishes version 2 and says so.
    vendor.slack_interaction(click("kbdraft:approve", draft.id))
    [approved] = drafts(app)
    assert (approved.status, approved.approved_version) == ("approved", 2)
    [decision] = audits(app, "kb.draft_approved")
    assert decision.detail["version"] == 2
    [call] = outbox(app, "help_center.articles.create")
    assert call.payload["article"]["title"] == EDITED_TITLE and "shipping included" in call.payload["article"]["body"]
    assert call.idempotency_key == f"kb-draft:{draft.id}:v2"
    with get_db(app).session() as session:
        row = session.scalar(select(KbArticle).where(KbArticle.external_id == approved.article_id))
        assert row is not None and row.body == EDITED_BODY

    # A decided draft is no longer edited: the modal's late submission changes nothing.
    vendor.slack_interaction(edit_submission(draft.id, 2, title="Late", body="Too late."))
    assert drafts(app)[0].title == EDITED_TITLE
    assert "already approved" in outbox(app, "chat.postEphemeral")[-1].payload["text"]
    assert len(audits(app, "kb.draft_edited")) == 1


def test_the_cli_and_the_dashboard_edit_a_draft_and_rejecting_it_publishes_no_version(
        app: Flask, vendor: VendorClient, loop_env: dict[str, str], tmp_path: Path) -> None:
    from ..selfservice.test_learned_phrasings import csrf_of, operator

    hand_over_and_solve(vendor, app, "Do you sell gift cards?", phone="+14155550112")
    [draft] = drafts(app)
    body = tmp_path / "body.txt"
    body.write_text(EDITED_BODY, encoding="utf-8")
    out = cli(app, loop_env, "kb", "drafts", "edit", str(draft.id), "--title", EDITED_TITLE,
              "--body-file", str(body), "--by", "maria")
    assert f"draft {draft.id} version 2 saved by cli:maria" in out
    assert "nothing changed" in cli(app, loop_env, "kb", "drafts", "edit", str(draft.id), "--title", EDITED_TITLE)
    assert "personal data" in cli_fails(loop_env, "kb", "drafts", "edit", str(draft.id), "--title",
                                        "Email ava@example.com for gift cards?")
    assert "nothing to change" in cli_fails(loop_env, "kb", "drafts", "edit", str(draft.id))

    browser = operator(app)
    page = browser.get("/dashboard/knowledge").get_data(as_text=True)
    assert "Save as version 3" in page and "v2 edited by cli:maria" in page
    url = f"/dashboard/knowledge/drafts/{draft.id}/edit"
    form = {"title": EDITED_TITLE, "body": EDITED_BODY + "\n\nThey arrive by email.", "csrf": csrf_of(page)}
    assert browser.post(url, data={**form, "csrf": "forged"}).status_code == 400
    assert drafts(app)[0].version == 2
    empty = browser.post(url, data={**form, "body": "  "})
    assert empty.status_code == 422 and "body is empty" in empty.get_data(as_text=True)
    done = browser.post(url, data=form)
    assert done.status_code == 302 and done.headers["Location"].endswith(f"?decided={draft.id}:edited")
    [edited] = drafts(app)
    assert edited.version == 3 and edited.body.endswith("They arrive by email.")
    assert edited.versions[-1]["by"].startswith("dashboard:key:")
    assert [e.detail["version"] for e in audits(app, "kb.draft_edited")] == [2, 3]

    cli(app, loop_env, "kb", "drafts", "reject", str(draft.id), "--by", "maria")
    [rejected] = drafts(app)
    assert (rejected.status, rejected.approved_version, rejected.version) == ("rejected", None, 3)
    with get_db(app).session() as session:
        assert session.scalar(select(KbArticle).where(KbArticle.source == "kb_draft")) is None
    assert outbox(app, "help_center.articles.create") == []
    assert "already rejected" in cli_fails(loop_env, "kb", "drafts", "edit", str(draft.id), "--title", "Again?")
    assert browser.post(url, data=form).status_code == 409
