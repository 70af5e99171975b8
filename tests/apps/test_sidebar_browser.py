"""The Zendesk sidebar app in a real (headless) Chromium, inside a stand-in Zendesk.

The app's own files are loaded unchanged, with the bundled ZAF SDK, in an iframe on a
different origin from the parent page; the parent answers the SDK's postMessage
protocol and proxies client.request server-side like Zendesk (the stand-in workspace
of `switchboard zendesk preview`: apps/zendesk/preview_server.py, apps/zendesk/preview/
workspace.html). The backend is a parameter of the
`open_sidebar` fixture: these tests use a fake that answers the API contract from
canned JSON, and the same fixture can be pointed at a running `switchboard serve`.
"""
from __future__ import annotations

import json
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
from flask import Flask
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from sqlalchemy import select

from switchboard.app import create_app
from switchboard.core.knowledge.loaders import load_articles
from switchboard.core.knowledge.service import KnowledgeBase
from switchboard.core.settings import load_settings
from switchboard.core.store.models import (
    ActionExecution,
    AuditEntry,
    Conversation,
    Customer,
    OutboxCall,
    Suggestion,
    SuggestionFeedback,
)
from switchboard.intake.db import get_db

from ..assist.test_sidebar_api import SAMPLE_KB, handed_over_ticket, key_for, say
from ..conftest import PUBLIC_URL, SLACK_SECRET, TWILIO_TOKEN, ZENDESK_SECRET
from ..fakes.openai_server import FakeOpenAI
from ..signing import VendorClient
from .browser import SidebarPage, wait_until
from .conftest import serving
from .zaf_stand_in import AGENT, CANNED_TICKET, UNKNOWN_ORDER, FakeBackend, Recorded, ZendeskStandIn

pytestmark = pytest.mark.slow  # drives Chromium

TOKEN = "sb_test_4f1c9a7e2b"
TICKET_ID = 4242
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CANNED = json.loads(CANNED_TICKET.read_text())

OpenSidebar = Callable[..., SidebarPage]


def screenshot(page: SidebarPage, name: str) -> Path:
    """The whole stand-in ticket page (sidebar included) as artifacts/<name>, for people."""
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / name
    page.driver.switch_to.default_content()
    try:
        assert page.driver.save_screenshot(str(shot)), f"Chromium could not write {shot}"
    finally:
        page.enter_app()
    return shot


@pytest.fixture
def backend() -> Iterator[FakeBackend]:
    fake = FakeBackend(token=TOKEN)
    yield fake
    fake.stop()


@pytest.fixture
def open_sidebar(driver: WebDriver) -> Iterator[OpenSidebar]:
    """open_sidebar(backend_url, token=..., ticket_id=...) -> the sidebar, loaded."""
    stand_ins: list[ZendeskStandIn] = []

    def _open(backend_url: str, *, token: str = TOKEN, ticket_id: int = TICKET_ID) -> SidebarPage:
        stand_in = ZendeskStandIn(backend_url=backend_url, secure_settings={"token": token},
                                  ticket_id=ticket_id, agent=AGENT)
        stand_ins.append(stand_in)
        return SidebarPage(driver, stand_in.page_url(), stand_in).open()

    yield _open
    driver.switch_to.default_content()
    driver.get("about:blank")
    for stand_in in stand_ins:
        stand_in.close()


def test_sidebar_renders_customer_handoff_insight_and_cited_suggestions(
        open_sidebar: OpenSidebar, backend: FakeBackend) -> None:
    page = open_sidebar(backend.url)
    content = page.content()
    customer = page.wait_for_text("#customer", "Maria Jensen").text
    assert "Tier: gold" in customer
    assert "+4520123456" in customer and "maria.jensen@example.com" in customer
    assert "sms, whatsapp" in customer

    handoff = page.driver.find_element(By.ID, "handoff").text
    assert "asked_for_human" in handoff
    assert CANNED["handoff"]["summary"] in handoff

    insight = page.driver.find_element(By.ID, "insight").text
    assert "delivery_status (87% confident)" in insight
    assert "negative (-0.54)" in insight and "worsening" in insight

    first = page.suggestion(71)
    assert CANNED["suggestions"][0]["text"] in first.text
    link = first.find_element(By.PARTIAL_LINK_TEXT, "Lost or late parcels")
    assert link.get_attribute("textContent") == "Lost or late parcels (opens in a new tab)"
    assert link.get_attribute("href") == "https://help.example.com/articles/lost-parcels"
    assert link.get_attribute("target") == "_blank"
    assert "noopener" in (link.get_attribute("rel") or "")
    assert "Carrier trace policy" in first.text  # a source without a URL stays plain text

    actions = page.driver.find_element(By.ID, "actions").text
    assert "Open a carrier trace" in actions and "Offer a refund or replacement" in actions
    assert content.is_displayed()
    assert page.status() == "Switchboard context loaded."
    # The customer writes in English (no language given): nothing to translate a reply into.
    assert not page.driver.find_element(By.ID, "reply-card").is_displayed()

    # The requests (the context, then the governed actions) went through the proxy
    # with the key filled in server-side ...
    page.wait_for("#governed-timeline")
    gets = [r for r in backend.requests if r.method == "GET"]
    assert sorted((r.path, r.authorization) for r in gets) == [  # actions and vault load side by side
        (f"/api/sidebar/tickets/{TICKET_ID}", f"Bearer {TOKEN}"),
        (f"/api/sidebar/tickets/{TICKET_ID}/governed-actions", f"Bearer {TOKEN}"),
        (f"/api/sidebar/tickets/{TICKET_ID}/vault", f"Bearer {TOKEN}")]
    # ... and the key never reached the browser: the app sent only the placeholder, and
    # neither page holds the key.
    assert [o["headers"]["Authorization"] for o in page.stand_in.proxied] == ["Bearer {{setting.token}}"] * 3
    assert all(o["secure"] is True for o in page.stand_in.proxied)
    # Each request says which agent is signed in (ZAF's currentUser), name and email
    # percent-encoded so "Åsa" survives a header.
    assert [r.agent for r in gets] == [{"x-zendesk-user-id": "4021", "x-zendesk-user-name": "%C3%85sa%20Lindqvist",
                                        "x-zendesk-user-email": "%C3%A5sa%40acme.test"}] * 3
    assert unquote(gets[0].agent["x-zendesk-user-name"]) == AGENT.name
    assert TOKEN not in page.driver.page_source
    assert TOKEN not in page.parent_value("document.documentElement.outerHTML")

    # The parent applied the app's resize request to the iframe.
    def fitted() -> list[dict[str, str]]:
        resizes = page.parent_value("window.resizes")
        return resizes if resizes and int(resizes[-1]["height"].removesuffix("px")) > 400 else []
    resizes = wait_until(fitted, "a resize to the rendered content's height")
    assert page.parent_value("document.getElementById('app').style.height") == resizes[-1]["height"]

    data = screenshot(page, "zendesk-sidebar.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # IHDR
    assert width >= 900 and height >= 900
    assert len(data) > 20_000  # a blank page compresses to a few kB; this one has content


def test_customer_text_is_shown_as_text_and_unsafe_links_are_not_links(
        open_sidebar: OpenSidebar, backend: FakeBackend) -> None:
    page = open_sidebar(backend.url)
    page.content()
    toggle = page.wait_for("#timeline-toggle")
    toggle.click()
    entry = page.wait_for_text("#timeline", 'Still nothing <img src=x onerror="window.pwned=1"> AGENT')
    assert entry.find_elements(By.TAG_NAME, "img") == []
    assert page.driver.execute_script("return window.pwned === undefined")
    second = page.suggestion(72)
    assert "Unsafe link" in second.text
    assert [a.get_attribute("href") for a in second.find_elements(By.TAG_NAME, "a")] == [
        "https://help.example.com/articles/refunds"]


def test_insert_puts_the_suggestion_in_the_reply_and_records_it(
        open_sidebar: OpenSidebar, backend: FakeBackend) -> None:
    page = open_sidebar(backend.url)
    suggestion = page.suggestion(71)
    insert = suggestion.find_element(By.CSS_SELECTOR, '[data-action="insert"]')
    assert insert.tag_name == "button"
    assert insert.get_attribute("aria-label") == "Insert suggestion 1 into the reply"
    insert.click()

    wait_until(lambda: page.status() == "Suggestion 1 inserted into the reply.", "the inserted status")
    assert page.parent_value("window.inserted") == [CANNED["suggestions"][0]["text"]]
    posts = wait_until(lambda: backend.posts("/inserted"), "the inserted POST")
    assert [(p.path, p.authorization) for p in posts] == [("/api/sidebar/suggestions/71/inserted", f"Bearer {TOKEN}")]
    assert backend.posts("/feedback") == []


def test_thumbs_down_with_a_reason_posts_feedback(open_sidebar: OpenSidebar, backend: FakeBackend) -> None:
    page = open_sidebar(backend.url)
    suggestion = page.suggestion(72)
    down = suggestion.find_element(By.CSS_SELECTOR, '[data-action="down"]')
    assert down.get_attribute("aria-label") == "Suggestion 2 was not helpful"
    assert down.get_attribute("aria-expanded") == "false"
    down.click()

    reason = page.wait_for("#reason-72")
    assert down.get_attribute("aria-expanded") == "true"
    assert page.driver.switch_to.active_element == reason  # focus moved into the form
    label = suggestion.find_element(By.CSS_SELECTOR, 'label[for="reason-72"]')
    assert label.text == "What was wrong with it? (optional)"
    reason.send_keys("Customer is in Norway; refund rules differ")
    screenshot(page, "zendesk-sidebar-feedback.png")
    suggestion.find_element(By.XPATH, ".//button[normalize-space()='Send feedback']").click()

    wait_until(lambda: page.status() == "Thanks: feedback on suggestion 2 sent.", "the feedback status")
    posts = wait_until(lambda: backend.posts("/feedback"), "the feedback POST")
    assert [(p.path, p.body) for p in posts] == [
        ("/api/sidebar/suggestions/72/feedback",
         {"rating": "down", "reason": "Customer is in Norway; refund rules differ"})]
    page.wait_for("#reason-form-72[hidden]", visible=False)
    assert down.get_attribute("aria-pressed") == "true"


def test_thumbs_up_posts_feedback_without_a_reason(open_sidebar: OpenSidebar, backend: FakeBackend) -> None:
    page = open_sidebar(backend.url)
    up = page.suggestion(71).find_element(By.CSS_SELECTOR, '[data-action="up"]')
    up.click()
    wait_until(lambda: page.status() == "Thanks: suggestion 1 marked as helpful.", "the feedback status")
    posts = wait_until(lambda: backend.posts("/feedback"), "the feedback POST")
    assert [(p.path, p.body) for p in posts] == [
        ("/api/sidebar/suggestions/71/feedback", {"rating": "up", "reason": None})]
    assert up.get_attribute("aria-pressed") == "true"


def test_timeline_is_collapsed_and_opens_from_the_keyboard(
        open_sidebar: OpenSidebar, backend: FakeBackend) -> None:
    page = open_sidebar(backend.url)
    page.content()
    toggle = page.wait_for("#timeline-toggle")
    assert toggle.tag_name == "button"
    assert toggle.text == "Show conversation timeline (4)"
    assert toggle.get_attribute("aria-expanded") == "false"
    assert not page.driver.find_element(By.ID, "timeline").is_displayed()

    page.driver.execute_script("arguments[0].focus()", toggle)
    toggle.send_keys(Keys.ENTER)
    timeline = page.wait_for("#timeline")
    assert toggle.get_attribute("aria-expanded") == "true"
    assert toggle.text == "Hide conversation timeline (4)"
    entries = timeline.find_elements(By.CSS_SELECTOR, "li.timeline-entry")
    assert len(entries) == 4
    assert "Where is my parcel? Order A-1042" in entries[0].text and "sms" in entries[0].text

    toggle.send_keys(Keys.SPACE)
    page.wait_for('#timeline-toggle[aria-expanded="false"]')
    assert not timeline.is_displayed()


def test_every_button_has_an_accessible_name_and_status_is_live(
        open_sidebar: OpenSidebar, backend: FakeBackend) -> None:
    page = open_sidebar(backend.url)
    page.content()
    status = page.driver.find_element(By.ID, "status")
    assert status.get_attribute("role") == "status" and status.get_attribute("aria-live") == "polite"
    buttons = page.driver.find_elements(By.TAG_NAME, "button")
    assert len(buttons) >= 8
    unnamed = [b.get_attribute("outerHTML") for b in buttons
               if not (b.get_attribute("aria-label") or (b.get_attribute("textContent") or "").strip())]
    assert unnamed == []
    # Nothing clickable is a div: every control in the panel is a real button or link.
    assert page.driver.find_elements(By.CSS_SELECTOR, "[onclick], div[role=button], span[role=button]") == []


def test_unreachable_backend_shows_retry_and_retry_recovers(
        open_sidebar: OpenSidebar, backend: FakeBackend) -> None:
    backend.stop()
    page = open_sidebar(backend.url)
    problem = page.wait_for_text("#problem", "Switchboard is unreachable")
    assert "HTTP 502" in problem.text and backend.url in problem.text
    retry = page.wait_for("#retry")
    assert retry.tag_name == "button" and retry.text == "Retry"
    assert not page.driver.find_element(By.ID, "content").is_displayed()
    assert page.status() == "Switchboard is unreachable"
    screenshot(page, "zendesk-sidebar-unreachable.png")

    backend.start()
    retry.click()
    page.wait_for_text("#customer", "Maria Jensen")
    assert not page.driver.find_element(By.ID, "problem").is_displayed()
    assert page.driver.switch_to.active_element == page.driver.find_element(By.ID, "customer-heading")


def test_backend_server_error_is_unreachable_too(open_sidebar: OpenSidebar, backend: FakeBackend) -> None:
    backend.state.fail_status = 500
    page = open_sidebar(backend.url)
    problem = page.wait_for_text("#problem", "Switchboard is unreachable")
    assert "HTTP 500" in problem.text
    assert page.wait_for("#retry").is_enabled()


def test_unknown_ticket_shows_no_context_without_retry(open_sidebar: OpenSidebar, backend: FakeBackend) -> None:
    page = open_sidebar(backend.url, ticket_id=999)
    problem = page.wait_for_text("#problem", "No Switchboard context for this ticket")
    assert page.driver.find_element(By.ID, "problem").get_attribute("data-state") == "not_found"
    assert not page.driver.find_element(By.ID, "retry").is_displayed()
    assert "did not come through Switchboard" in problem.text


def test_bad_token_says_check_the_token_setting(open_sidebar: OpenSidebar, backend: FakeBackend) -> None:
    page = open_sidebar(backend.url, token="sb_revoked")
    problem = page.wait_for_text("#problem", "Switchboard refused the API key")
    assert "Check the token setting" in problem.text
    assert page.driver.find_element(By.ID, "problem").get_attribute("data-state") == "unauthorized"
    assert not page.driver.find_element(By.ID, "retry").is_displayed()
    assert [r.authorization for r in backend.requests] == ["Bearer sb_revoked"]


def test_missing_backend_url_setting_says_what_to_set(open_sidebar: OpenSidebar, backend: FakeBackend) -> None:
    page = open_sidebar("")
    problem = page.wait_for_text("#problem", "Switchboard is not set up")
    assert "backend_url" in problem.text
    assert backend.requests == []


def test_opened_outside_zendesk_it_says_so(driver: WebDriver) -> None:
    stand_in = ZendeskStandIn(backend_url="", secure_settings={}, ticket_id=TICKET_ID)
    try:
        driver.switch_to.default_content()
        driver.get(f"{stand_in.apps.origin}/assets/iframe.html")  # no origin/app_guid: no Zendesk
        page = SidebarPage(driver, driver.current_url)
        page.wait_for_text("#problem", "Open this inside Zendesk")
        assert driver.execute_script("return typeof window.ZAFClient.init") == "function"
    finally:
        driver.get("about:blank")
        stand_in.close()


# ---- governed actions (issue 7) and the dashboard link (issue 8) ----------------------


def governed_form(page: SidebarPage, name: str) -> WebElement:
    """The form of action `name`, opening its disclosure when it is in the list."""
    page.wait_for("#governed-timeline")
    toggles = page.driver.find_elements(By.CSS_SELECTOR, f'li[data-governed="{name}"] > button[data-action="expand"]')
    if toggles and toggles[0].get_attribute("aria-expanded") == "false":
        toggles[0].click()
    return page.wait_for(f'form[data-governed-action="{name}"]')


def outcome_of(page: SidebarPage, name: str, text: str) -> WebElement:
    return page.wait_for_text(f'form[data-governed-action="{name}"] .outcome', text)


def runs(backend: FakeBackend, name: str) -> list[Recorded]:
    return backend.posts(f"/governed-actions/{name}")


def timeline_statuses(page: SidebarPage) -> list[tuple[str, str]]:
    """(execution id, status) of each timeline entry, read in one script: the app
    re-renders the timeline when it refreshes, which would stale element handles."""
    rows = page.driver.execute_script(
        "return Array.from(document.querySelectorAll('#governed-timeline > li.execution'))"
        ".map(function (li) { return [li.dataset.executionId, li.dataset.status]; });")
    return [(str(i), str(status)) for i, status in rows]


def test_actions_show_the_suggested_action_prefilled_the_others_collapsed_and_the_timeline(
        open_sidebar: OpenSidebar, backend: FakeBackend) -> None:
    page = open_sidebar(backend.url)
    page.wait_for("#governed-timeline")
    assert page.driver.find_element(By.ID, "governed-heading").get_attribute("textContent") == "Actions"

    suggested = page.wait_for(".governed-suggested")
    assert "Suggested next step" in suggested.text and "Order status" in suggested.text
    assert "low risk" in suggested.text
    order = suggested.find_element(By.CSS_SELECTOR, 'input[name="order_id"]')
    assert order.get_attribute("value") == "A-1042"  # prefilled from `suggested`
    assert order.get_attribute("required") == "true"
    label = suggested.find_element(By.CSS_SELECTOR, f'label[for="{order.get_attribute("id")}"]')
    assert label.text == "Order id"
    hint = page.driver.find_element(By.ID, order.get_attribute("aria-describedby"))
    assert hint.text == "the order number"
    run = suggested.find_element(By.CSS_SELECTOR, 'button[data-action="run"]')
    assert (run.text, run.get_attribute("aria-label")) == ("Run", "Run Order status")

    # The other available actions: a compact list of disclosures, closed.
    others = page.driver.find_elements(By.CSS_SELECTOR, ".governed-list > li")
    assert [li.get_attribute("data-governed") for li in others] == ["refund", "update_address", "reschedule",
                                                                    "update_contact_phone", "add_note"]
    assert not any(li.find_element(By.TAG_NAME, "form").is_displayed() for li in others)
    toggle = others[0].find_element(By.CSS_SELECTOR, 'button[data-action="expand"]')
    assert (toggle.text, toggle.get_attribute("aria-expanded")) == ("Refund", "false")
    refund = governed_form(page, "refund")
    assert toggle.get_attribute("aria-expanded") == "true"
    assert page.driver.switch_to.active_element == refund.find_element(By.NAME, "order_id")
    assert "high risk, asks you to confirm" in others[0].text
    reason = refund.find_element(By.NAME, "reason")
    assert reason.get_attribute("required") is None
    assert refund.find_element(By.CSS_SELECTOR, f'label[for="{reason.get_attribute("id")}"]').text == \
        "Reason (optional)"

    # Dates become date pickers, choices a select, lists a comma-separated field.
    visit = governed_form(page, "reschedule")
    assert visit.find_element(By.NAME, "date").get_attribute("type") == "date"
    assert [o.get_attribute("value") for o in visit.find_elements(By.CSS_SELECTOR, 'select[name="slot"] option')] \
        == ["", "morning", "afternoon", "evening", "any"]
    note = governed_form(page, "add_note")
    assert note.find_element(By.NAME, "note").tag_name == "textarea"
    assert "Separate several with commas." in note.text

    # This ticket's executions, as a timeline with their status in words.
    assert timeline_statuses(page) == [("901", "succeeded"), ("902", "awaiting_approval")]
    pending = page.driver.find_element(By.CSS_SELECTOR, '#governed-timeline [data-execution-id="902"]')
    assert "Waiting for supervisor approval in Slack" in pending.text and "Refund" in pending.text

    link = page.driver.find_element(By.ID, "dashboard-link")
    assert link.get_attribute("href") == f"{backend.url}/dashboard"
    assert link.get_attribute("target") == "_blank" and "noopener" in (link.get_attribute("rel") or "")
    assert link.get_attribute("textContent") == "Open the supervisor dashboard (opens in a new tab)"
    screenshot(page, "zendesk-sidebar-actions.png")
    assert backend.posts("/governed-actions/order_status") == []  # showing runs nothing


def test_run_sends_the_params_with_an_idempotency_key_and_shows_the_outcome(
        open_sidebar: OpenSidebar, backend: FakeBackend) -> None:
    page = open_sidebar(backend.url)
    form = governed_form(page, "order_status")
    run = form.find_element(By.CSS_SELECTOR, 'button[data-action="run"]')
    run.click()
    outcome = outcome_of(page, "order_status", "Order A-1042 is shipped; expected delivery Friday.")
    assert outcome.text.startswith("Done")
    wait_until(lambda: page.status() == "Order status: Done. Order A-1042 is shipped; expected delivery Friday.",
               "the outcome announced")
    [first] = runs(backend, "order_status")
    assert first.path == f"/api/sidebar/tickets/{TICKET_ID}/governed-actions/order_status"
    assert first.body == {"params": {"order_id": "A-1042"}, "confirm": False}
    assert first.authorization == f"Bearer {TOKEN}"
    assert first.idempotency_key and first.idempotency_key.startswith("sidebar-") and len(first.idempotency_key) > 30
    # The timeline caught up with the new execution.
    wait_until(lambda: timeline_statuses(page)[-1:] == [("1002", "succeeded")], "the run in the timeline")

    # Answered: the button was rendered anew, so running it again is a new request.
    run.click()
    second = wait_until(lambda: runs(backend, "order_status")[1:], "the second run")[0]
    assert second.idempotency_key not in (None, first.idempotency_key)


def test_a_double_click_on_run_sends_one_request(open_sidebar: OpenSidebar, backend: FakeBackend) -> None:
    backend.state.run_delay = 0.5  # the second click lands while the first is in flight
    page = open_sidebar(backend.url)
    form = governed_form(page, "add_note")
    form.find_element(By.NAME, "note").send_keys("Customer called about the late parcel")
    form.find_element(By.NAME, "tags").send_keys("carrier, trace")
    run = form.find_element(By.CSS_SELECTOR, 'button[data-action="run"]')
    # Two real clicks in a row: Selenium's double_click action cannot aim inside a
    # cross-origin iframe, and each click here is a trusted browser input event.
    run.click()
    run.click()
    outcome_of(page, "add_note", "The note was added to the ticket.")
    wait_until(lambda: len(timeline_statuses(page)) == 3, "the note in the timeline")
    time.sleep(0.6)  # long enough for a second request to have arrived, had one been sent
    [post] = runs(backend, "add_note")
    assert post.body == {"params": {"note": "Customer called about the late parcel", "tags": ["carrier", "trace"]},
                         "confirm": False}
    assert [status for _, status in timeline_statuses(page)].count("succeeded") == 2  # 901 and the note, once


@pytest.mark.parametrize(("fail_as", "said"), [
    ("gateway", "Could not reach Switchboard (HTTP 503), so Order status did not run. "
                "Try again: the same click never runs twice."),
    ("unavailable", "The company's system isn't answering right now, so nothing was changed yet."),
])
def test_a_run_that_was_not_decided_is_retried_with_the_same_key(
        open_sidebar: OpenSidebar, backend: FakeBackend, fail_as: str, said: str) -> None:
    backend.state.fail_runs, backend.state.fail_as = 1, fail_as
    page = open_sidebar(backend.url)
    run = governed_form(page, "order_status").find_element(By.CSS_SELECTOR, 'button[data-action="run"]')
    run.click()
    outcome_of(page, "order_status", said)
    run.click()
    outcome_of(page, "order_status", "Order A-1042 is shipped")
    first, retry = runs(backend, "order_status")
    assert first.idempotency_key == retry.idempotency_key  # Switchboard sees one request, twice


@pytest.mark.parametrize(("after_confirm", "said"), [
    ("succeeded", "Done: refund $42.50 for order A-1042."),
    ("awaiting_approval", "Waiting for supervisor approval in Slack"),
])
def test_run_then_confirm_a_previewed_refund(open_sidebar: OpenSidebar, backend: FakeBackend,
                                             after_confirm: str, said: str) -> None:
    backend.state.confirm_status = after_confirm
    page = open_sidebar(backend.url)
    form = governed_form(page, "refund")
    form.find_element(By.NAME, "order_id").send_keys("A-1042")
    form.find_element(By.NAME, "reason").send_keys("arrived broken")
    form.find_element(By.CSS_SELECTOR, 'button[data-action="run"]').click()

    outcome = outcome_of(page, "refund", "Waiting for your confirmation")
    assert "Confirm to refund $42.50 for order A-1042." in outcome.text  # what confirming will do
    [post] = runs(backend, "refund")
    assert post.body == {"params": {"order_id": "A-1042", "reason": "arrived broken"}, "confirm": False}
    execution_id = outcome.get_attribute("data-execution-id")
    confirm = outcome.find_element(By.CSS_SELECTOR, 'button[data-action="confirm"]')
    assert confirm.get_attribute("aria-label") == "Confirm Refund: refund $42.50 for order A-1042"
    assert backend.posts("/confirm") == []  # nothing ran before the agent confirmed
    if after_confirm == "succeeded":
        screenshot(page, "zendesk-sidebar-confirm.png")

    confirm.click()
    outcome = outcome_of(page, "refund", said)
    assert [p.path for p in backend.posts("/confirm")] == [f"/api/sidebar/governed-actions/{execution_id}/confirm"]
    assert outcome.find_elements(By.CSS_SELECTOR, 'button[data-action="confirm"]') == []
    assert page.driver.switch_to.active_element == outcome  # focus did not fall to the page
    if after_confirm == "awaiting_approval":
        assert "asked a supervisor to approve" in outcome.text
    wait_until(lambda: (execution_id, after_confirm) in timeline_statuses(page), "the timeline's new status")


def test_a_refusal_shows_the_reason(open_sidebar: OpenSidebar, backend: FakeBackend) -> None:
    page = open_sidebar(backend.url)
    form = governed_form(page, "refund")
    form.find_element(By.NAME, "order_id").send_keys(UNKNOWN_ORDER)
    form.find_element(By.CSS_SELECTOR, 'button[data-action="run"]').click()
    outcome = outcome_of(page, "refund", "Refused")
    assert f"I couldn't find order {UNKNOWN_ORDER}" in outcome.text  # Switchboard's message
    reason = outcome.find_element(By.CSS_SELECTOR, "[data-reason]")
    assert reason.get_attribute("data-reason") == "order_not_found"
    assert reason.text == "The order was not found on this customer's account."
    assert outcome.find_elements(By.CSS_SELECTOR, 'button[data-action="confirm"]') == []
    screenshot(page, "zendesk-sidebar-refused.png")
    wait_until(lambda: timeline_statuses(page)[-1:] == [("1002", "refused")], "the refusal in the timeline")
    assert backend.posts("/confirm") == []


def shows_card(html: str) -> bool:
    """Whether the customer's card number (4111 1111 1111 1111) is anywhere on the page,
    in any spacing; a bare "4111" would also match random ids (it did, once in CI)."""
    return "4111 1111" in html or "4111111111111111" in html or "4111-1111" in html


def test_against_the_real_backend_an_agent_sees_the_handoff_and_rates_a_suggestion(
        open_sidebar: OpenSidebar, app: Flask, vendor: VendorClient, live_switchboard: str) -> None:
    """End to end: an SMS conversation handed over through signed webhooks, then the
    shipped app, unchanged, against `switchboard`'s own sidebar API."""
    with get_db(app).session() as session:
        KnowledgeBase(session, app.config["DEFAULT_ACCOUNT_ID"], app.config["SETTINGS"].data_dir).import_articles(
            load_articles(SAMPLE_KB))
    ticket = handed_over_ticket(app, vendor)

    page = open_sidebar(live_switchboard, token=key_for(app), ticket_id=ticket)
    customer = page.wait_for_text("#customer", "+14155550100").text
    assert not shows_card(page.driver.page_source)  # the card number was redacted before storage
    assert "explicit_request" in page.driver.find_element(By.ID, "handoff").text
    with get_db(app).session() as session:
        suggestion = session.scalars(select(Suggestion).where(Suggestion.zendesk_ticket_id == ticket)
                                     .order_by(Suggestion.rank)).first()
        assert suggestion is not None
        suggestion_id = suggestion.id
    card = page.suggestion(suggestion_id)
    assert "authorisation hold" in card.text
    assert card.find_element(By.PARTIAL_LINK_TEXT, "twice").get_attribute("href") == \
        "https://help.acme.example/articles/charged-twice"
    assert "sms" in customer

    card.find_element(By.CSS_SELECTOR, '[data-action="up"]').click()
    wait_until(lambda: page.status() == "Thanks: suggestion 1 marked as helpful.", "the feedback status")

    def recorded() -> list[tuple[str, str | None, str]]:
        with get_db(app).session() as session:
            return [(f.kind, f.rating, f.agent) for f in session.scalars(
                select(SuggestionFeedback).where(SuggestionFeedback.suggestion_id == suggestion_id))]
    assert wait_until(recorded, "the thumbs-up stored by Switchboard") == [("rating", "up", "zendesk:4021")]
    with get_db(app).session() as session:
        [rated] = session.scalars(select(AuditEntry).where(AuditEntry.action == "assist.rated_up")).all()
        assert (rated.actor, rated.detail["agent"]) == (
            "zendesk:4021", {"id": "4021", "name": AGENT.name, "email": AGENT.email, "verified": False})


def test_against_the_real_backend_an_agent_runs_the_suggested_lookup_and_adds_a_note(
        open_sidebar: OpenSidebar, app: Flask, vendor: VendorClient, live_switchboard: str) -> None:
    """End to end: after the handoff the customer asks about an order by SMS; the shipped
    app shows that lookup as the suggested action, runs it through Switchboard's
    policy engine (sandbox order system) and adds an internal note to the ticket."""
    ticket = handed_over_ticket(app, vendor)
    say(vendor, "where is my order A1001?")

    page = open_sidebar(live_switchboard, token=key_for(app), ticket_id=ticket)
    suggested = page.wait_for(".governed-suggested")
    assert suggested.find_element(By.NAME, "order_id").get_attribute("value") == "A1001"
    suggested.find_element(By.CSS_SELECTOR, 'button[data-action="run"]').click()
    outcome = outcome_of(page, "order_status", "Order A1001 is shipped")
    assert "Done" in outcome.text

    note = governed_form(page, "add_note")
    note.find_element(By.NAME, "note").send_keys("Told the customer A1001 is on its way")
    note.find_element(By.NAME, "tags").send_keys("order_status")
    note.find_element(By.CSS_SELECTOR, 'button[data-action="run"]').click()
    outcome_of(page, "add_note", "The note was added to the ticket.")
    wait_until(lambda: [s for _, s in timeline_statuses(page)] == ["succeeded", "succeeded"],
               "both runs in the sidebar's timeline")
    screenshot(page, "zendesk-sidebar-actions-live.png")

    with get_db(app).session() as session:
        runs = [(e.action, e.status, e.role, e.actor, e.zendesk_ticket_id,
                 e.idempotency_key.startswith("sidebar:sidebar-"))
                for e in session.scalars(select(ActionExecution).order_by(ActionExecution.id))]
        # Audited under the agent the stand-in says is signed in, not as "agent".
        requested = [a.actor for a in session.scalars(
            select(AuditEntry).where(AuditEntry.action == "action.requested").order_by(AuditEntry.id))]
        notes = [c.payload["ticket"]["comment"] for c in session.scalars(
            select(OutboxCall).where(OutboxCall.vendor == "zendesk", OutboxCall.operation == "tickets.update"))
            if c.payload.get("ticket", {}).get("comment", {}).get("body") == "Told the customer A1001 is on its way"]
    assert runs == [("order_status", "succeeded", "agent", "zendesk:4021", ticket, True),
                    ("add_note", "succeeded", "agent", "zendesk:4021", ticket, True)]
    assert requested == ["zendesk:4021", "zendesk:4021"]
    assert [n["public"] for n in notes] == [False]  # one internal note, never sent to the customer


def test_against_the_real_backend_the_dashboard_link_opens_the_dashboard_signed_in(
        open_sidebar: OpenSidebar, app: Flask, vendor: VendorClient, live_switchboard: str) -> None:
    """The app's key never reaches the browser: the link gets a one-minute code through
    the proxy and posts it to /dashboard/login in a new tab, which lands signed in."""
    ticket = handed_over_ticket(app, vendor)
    page = open_sidebar(live_switchboard, token=key_for(app), ticket_id=ticket)
    # The Actions section renders after the link and pushes it down: click once the page
    # has settled, with the link in view, as an agent would.
    page.wait_for('[aria-controls^="ga-panel"]')
    link = page.wait_for("#dashboard-link")
    driver = page.driver
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", link)
    sidebar_window = driver.current_window_handle
    link.click()
    wait_until(lambda: len(driver.window_handles) == 2, "the dashboard tab")
    driver.switch_to.window([h for h in driver.window_handles if h != sidebar_window][0])
    try:
        wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "h1") and
                             "Switchboard outcomes — " in driver.find_element(By.CSS_SELECTOR, "h1").text and
                             driver.find_element(By.CSS_SELECTOR, "h1").text, "the signed-in dashboard")
        assert driver.current_url.startswith(f"{live_switchboard}/dashboard")
        assert "/login" not in driver.current_url
        assert "Conversations" in driver.find_element(By.ID, "card-conversations").text
    finally:
        driver.close()
        driver.switch_to.window(sidebar_window)


def test_against_the_real_backend_an_agent_reveals_the_callback_number_with_one_click(
        open_sidebar: OpenSidebar, app: Flask, vendor: VendorClient, live_switchboard: str) -> None:
    """The timeline shows tokens; the Redacted details card reveals the phone (allowed for
    every identified agent by default) with one click, audited as the agent, and offers
    no button for the card (not allowed by default)."""
    with get_db(app).session() as session:
        KnowledgeBase(session, app.config["DEFAULT_ACCOUNT_ID"], app.config["SETTINGS"].data_dir).import_articles(
            load_articles(SAMPLE_KB))
    ticket = handed_over_ticket(app, vendor)
    say(vendor, "please call me back on +44 20 7946 0958")

    page = open_sidebar(live_switchboard, token=key_for(app), ticket_id=ticket)
    vault = page.wait_for_text("#vault", "[PHONE_1]")
    html = page.driver.page_source
    assert "7946 0958" not in html and "79460958" not in html and not shows_card(html)
    [card, phone] = vault.find_elements(By.CSS_SELECTOR, "li.vault-entry")
    assert "[CARD_1]" in card.text and card.find_elements(By.TAG_NAME, "button") == []
    phone.find_element(By.TAG_NAME, "button").click()
    page.wait_for_text("#vault", "+44 20 7946 0958")
    wait_until(lambda: page.status() == "[PHONE_1] revealed; the reveal is recorded.", "the reveal status")
    with get_db(app).session() as session:
        [revealed] = session.scalars(select(AuditEntry).where(AuditEntry.action == "vault.reveal")).all()
        assert (revealed.actor, revealed.detail["token"]) == (f"zendesk:{AGENT.id}", "[PHONE_1]")


# ---- the agent's reply in the customer's language (issue 19) --------------------------

FRENCH_QUESTION = "Est-ce que je peux emmener mon perroquet dans l'avion ?"
DRAFT = "Yes, a parrot can travel in the cabin."
FRENCH = "Oui, un perroquet peut voyager en cabine."
NO_MODEL = ("Switchboard cannot translate replies: no language model is configured (set OPENAI_API_KEY or "
            "OPENAI_BASE_URL) to translate for agents.")


def french_ticket(app: Flask) -> int:
    """A French customer handed over by SMS (signed): answered from the English article
    (no article is in French), they then ask for a person."""
    with get_db(app).session() as session:
        KnowledgeBase(session, app.config["DEFAULT_ACCOUNT_ID"], app.config["SETTINGS"].data_dir).import_articles(
            load_articles(SAMPLE_KB))
    vendor = VendorClient(app.test_client(), twilio_token=TWILIO_TOKEN, zendesk_secret=ZENDESK_SECRET,
                          slack_secret=SLACK_SECRET, public_url=PUBLIC_URL)
    say(vendor, FRENCH_QUESTION)
    say(vendor, "AGENT")
    with get_db(app).session() as session:
        conversation = session.scalars(select(Conversation)).one()
        assert conversation.handoff_reason and conversation.zendesk_ticket_id
        assert session.scalars(select(Customer)).one().locale == "fr"
        return conversation.zendesk_ticket_id


def type_reply(page: SidebarPage, text: str) -> None:
    """Type into the stand-in's reply editor, as the agent does, then go back to the app."""
    page.driver.switch_to.default_content()
    try:
        page.driver.find_element(By.ID, "editor").send_keys(text)
    finally:
        page.enter_app()


def reply_said(page: SidebarPage, state: str) -> str:
    return page.wait_for(f'#reply-result [data-state="{state}"]').text


def sent_anywhere(app: Flask, text: str) -> list[str]:
    """Every vendor call (SMS, ticket comment, Slack) that carried ``text``."""
    with get_db(app).session() as session:
        return [f"{c.vendor} {c.operation}" for c in session.scalars(select(OutboxCall))
                if text in json.dumps(c.payload, ensure_ascii=False)]


def test_against_the_real_backend_without_a_model_the_reply_card_says_why_it_cannot_translate(
        open_sidebar: OpenSidebar, app: Flask, live_switchboard: str) -> None:
    ticket = french_ticket(app)
    page = open_sidebar(live_switchboard, token=key_for(app), ticket_id=ticket)
    card = page.wait_for("#reply-card")
    assert card.find_element(By.ID, "reply-heading").get_attribute("textContent") == "Reply in French"
    translate = card.find_element(By.CSS_SELECTOR, 'button[data-action="translate-reply"]')
    assert translate.text == "Translate my reply into French"
    assert page.driver.find_element(By.ID, translate.get_attribute("aria-describedby")).text.startswith(
        "Write your reply in English in the ticket editor")
    assert page.driver.find_element(By.ID, "reply-result").get_attribute("aria-live") == "polite"

    translate.click()  # nothing written yet: nothing is asked of Switchboard
    assert reply_said(page, "empty") == ("The reply editor is empty: write your reply in English first, "
                                         "then translate it.")
    assert [o for o in page.stand_in.proxied if o["url"].endswith("/reply-translation")] == []

    type_reply(page, DRAFT)
    translate.click()
    assert reply_said(page, "error") == NO_MODEL  # the API's 409, in its own words
    wait_until(lambda: page.status() == NO_MODEL, "the refusal announced")
    [asked] = [o for o in page.stand_in.proxied if o["url"].endswith("/reply-translation")]
    assert (json.loads(asked["data"]), asked["type"], asked["secure"]) == ({"text": DRAFT}, "POST", True)
    assert page.parent_value("window.commentSets") == []
    assert page.parent_value("document.getElementById('editor').innerText").strip() == DRAFT
    with get_db(app).session() as session:
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "agent.reply_translated")).all() == []


@pytest.fixture
def fake_llm() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def llm_app(env: dict[str, str], fake_llm: FakeOpenAI) -> Iterator[Flask]:
    """Switchboard with the loopback OpenAI-compatible server as its language model."""
    app = create_app(load_settings({**env, "OPENAI_BASE_URL": fake_llm.base_url}),
                     config={"TASKS_INLINE": True, "TESTING": True})
    yield app
    get_db(app).dispose()


def test_against_the_real_backend_an_agent_translates_the_draft_reads_it_and_puts_it_in_the_editor(
        open_sidebar: OpenSidebar, llm_app: Flask, fake_llm: FakeOpenAI) -> None:
    """The full path with a model: the draft is read from the editor, translated by
    Switchboard (audited as the agent), shown, and only "Use this translation" puts it in
    the editor; nothing is sent to the customer. A draft changed after its translation
    is not overwritten."""
    fake_llm.reply("Can I bring my parrot on the plane?")  # the question into English: no article answers
    fake_llm.reply("Can I bring my parrot on the plane?")  # the customer's message, for the agent
    ticket = french_ticket(llm_app)
    with serving(llm_app) as url:
        page = open_sidebar(url, token=key_for(llm_app), ticket_id=ticket)
        card = page.wait_for("#reply-card")
        type_reply(page, DRAFT)
        fake_llm.reply(FRENCH)
        card.find_element(By.CSS_SELECTOR, 'button[data-action="translate-reply"]').click()

        shown = page.wait_for_text("#reply-translation", FRENCH)
        assert shown.text == FRENCH and shown.get_attribute("lang") == "fr"
        assert page.driver.find_element(By.ID, "reply-result-heading").text == "Your reply in French"
        wait_until(lambda: page.status() == "Your reply in French is ready below. Read it, then use it or discard it.",
                   "the translation announced")
        assert "from English into French" in json.dumps(fake_llm.requests[-1]["messages"])
        assert fake_llm.requests[-1]["messages"][-1]["content"] == DRAFT
        assert page.parent_value("window.commentSets") == []  # shown, not inserted
        screenshot(page, "zendesk-sidebar-reply-translation.png")

        # The agent edits the draft before using the translation: it would no longer say
        # what they wrote, so it is not put over their words.
        type_reply(page, " Bon voyage!")
        page.driver.find_element(By.CSS_SELECTOR, 'button[data-action="use-translation"]').click()
        assert reply_said(page, "changed").startswith("Your reply changed after it was translated.")
        assert page.parent_value("window.commentSets") == []

        fake_llm.reply(FRENCH + " Bon voyage !")
        card.find_element(By.CSS_SELECTOR, 'button[data-action="translate-reply"]').click()
        page.wait_for_text("#reply-translation", "Bon voyage !")
        use = page.driver.find_element(By.CSS_SELECTOR, 'button[data-action="use-translation"]')
        assert use.text == "Use this translation"
        assert use.get_attribute("aria-label") == "Use the French translation: it replaces the reply in the editor"
        use.click()
        assert reply_said(page, "used") == ("The French translation is in the reply editor. Check it, then send it "
                                            "as usual.")
        assert page.parent_value("window.commentSets") == [FRENCH + " Bon voyage !"]
        assert page.parent_value("document.getElementById('editor').innerText").strip() == FRENCH + " Bon voyage !"
        assert fake_llm.pending == 0

    with get_db(llm_app).session() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "agent.reply_translated")
                                  .order_by(AuditEntry.id)).all()
        assert [(e.actor, e.subject_id, e.detail["to"], e.detail["original"], e.detail["translation"])
                for e in entries] == [
            (f"zendesk:{AGENT.id}", str(ticket), "fr", DRAFT, FRENCH),
            (f"zendesk:{AGENT.id}", str(ticket), "fr", DRAFT + " Bon voyage!", FRENCH + " Bon voyage !")]
    assert sent_anywhere(llm_app, "perroquet peut voyager") == []  # the agent sends it, not the app
