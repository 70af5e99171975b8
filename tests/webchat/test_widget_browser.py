"""The web chat widget in a real (headless) Chromium, on a company's page of its own origin.

The real Switchboard is served on one loopback port (PostgreSQL, the sample knowledge
base, sandboxed vendors, tasks run inline); the company's page, with nothing but the one
script tag, on another. That page's origin is the account's `webchat_origins`; a third
origin is not. Agent replies arrive as signed Zendesk webhooks (tests/signing.py).
One Chromium for the module (tests/apps/conftest.py's `driver`).
"""
from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from sqlalchemy import select, text

from switchboard.app import create_app
from switchboard.core.settings import load_settings
from switchboard.core.store.models import Conversation, Message, OutboxCall
from switchboard.intake.db import get_db

from ..apps.browser import wait_until
from ..apps.conftest import driver, serving  # noqa: F401  (one Chromium per module, the live server)
from ..assist.test_sidebar_api import comment
from ..conftest import (
    PUBLIC_URL,
    SLACK_SECRET,
    TWILIO_TOKEN,
    ZENDESK_SECRET,
    _truncate_postgres,
    base_env,
    with_sample_kb,
)
from ..signing import VendorClient
from .test_identity_api import sandbox_code, wrong
from .widget_page import HostSite, WidgetPage, host_site, png_size

pytestmark = pytest.mark.slow  # drives Chromium

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
COMPANY = "Acme Shop"
GREETING = "Hi! Ask us anything about your order."
DELIVERY_ARTICLE = "https://help.acme.example/articles/delivery-times"


@pytest.fixture(scope="module")
def sites() -> Iterator[tuple[HostSite, HostSite]]:
    """The company's site (allowed to embed the chat) and some other site (not allowed)."""
    with host_site() as company, host_site() as other:
        yield company, other


@pytest.fixture(scope="module", autouse=True)
def streams_end(pg_url: str) -> Iterator[None]:
    """After the module, the event streams the browser left open end before the schema is
    dropped: their visitors are gone, which each notices at its next look (every 3 s)."""
    yield
    _truncate_postgres(pg_url)
    wait_until(lambda: not [t for t in threading.enumerate() if "process_request_thread" in t.name],
               "the web chat streams to end", timeout=10)


@pytest.fixture
def chat_app(tmp_path: Path, pg_url: str, sites: tuple[HostSite, HostSite]) -> Iterator[Flask]:
    _truncate_postgres(pg_url)
    env = {**base_env(tmp_path, pg_url), "SWITCHBOARD_WEBCHAT_ORIGINS": sites[0].origin,
           "SWITCHBOARD_WEBCHAT_NAME": COMPANY, "SWITCHBOARD_WEBCHAT_COLOUR": "#ffcc00",
           "SWITCHBOARD_WEBCHAT_GREETING": GREETING}
    app = create_app(load_settings(env), config={"TASKS_INLINE": True, "TESTING": True})
    yield with_sample_kb(app)
    get_db(app).dispose()


@pytest.fixture
def switchboard(chat_app: Flask, driver: WebDriver, sites: tuple[HostSite, HostSite]) -> Iterator[str]:  # noqa: F811
    """The live Switchboard's URL; the browser starts each test with no chat token stored."""
    for site in sites:
        driver.get(f"{site.origin}/none")  # same origin, no widget: clear what an earlier test stored
        driver.execute_script("localStorage.clear(); sessionStorage.clear();")
    with serving(chat_app) as url:
        yield url
        driver.get("about:blank")  # closes the event stream before the server stops


@pytest.fixture
def widget(driver: WebDriver, switchboard: str, sites: tuple[HostSite, HostSite]) -> WidgetPage:  # noqa: F811
    return WidgetPage(driver, sites[0].page(switchboard)).open()


def count(app: Flask, table: str) -> int:
    with get_db(app).session() as session:
        return int(session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_a_question_gets_a_grounded_answer_with_its_source_and_survives_a_reload(
        widget: WidgetPage, chat_app: Flask) -> None:
    widget.open_chat()
    widget.send("How long does delivery take?")

    asked = widget.wait_for_message("customer", "How long does delivery take?")
    assert asked.client_id and asked.state is None  # reconciled with the server's copy by client_id
    answer = widget.wait_for_message("bot")
    assert answer.id and answer.id > asked.id  # type: ignore[operator]
    links = [s for s in answer.sources if s[1]]
    assert links and links[0][1:] == (DELIVERY_ARTICLE, "_blank", "noopener noreferrer")
    assert "opens in a new tab" in links[0][0]
    assert "day" in answer.text.lower()  # the article's answer, not a fallback
    assert "More:" not in answer.text and DELIVERY_ARTICLE not in answer.text  # the source once: its link below
    with get_db(chat_app).session() as session:
        stored = session.scalars(select(Message).order_by(Message.id)).all()
        assert [(m.id, m.author, m.channel) for m in stored][:2] == [(asked.id, "customer", "web"),
                                                                      (answer.id, "bot", "web")]
    token_key = "switchboard.chat.default.token"
    token = widget.driver.execute_script(f"return localStorage.getItem('{token_key}')")
    assert token

    before = [(m.id, m.author, m.text) for m in widget.messages()]
    widget.driver.refresh()
    widget.wait(lambda: widget.script_state() == "ready", "the widget to start again")
    assert widget.is_open()  # it was open when the visitor left the page
    widget.wait_loaded()
    widget.wait(lambda: [(m.id, m.author, m.text) for m in widget.messages()] == before,
                "the same conversation after the reload")
    renewed = widget.driver.execute_script(f"return localStorage.getItem('{token_key}')")
    assert renewed.split(".")[0] == token.split(".")[0]  # the same visitor (a freshly signed token)
    assert count(chat_app, "web_visitors") == 1  # resumed, not a new visitor


def test_asking_for_a_person_hands_off_and_the_agent_reply_arrives_live(
        widget: WidgetPage, chat_app: Flask) -> None:
    widget.open_chat()
    widget.send("How long does delivery take?")
    widget.wait_for_message("bot")
    widget.send("I want to talk to a real person")
    widget.wait_for_message("customer", "real person")

    def handed_over() -> int | None:
        with get_db(chat_app).session() as session:
            return session.scalars(select(Conversation.zendesk_ticket_id)).one_or_none()
    ticket_id = wait_until(handed_over, "the conversation handed over to Zendesk")
    with get_db(chat_app).session() as session:
        [created] = session.scalars(select(OutboxCall).where(OutboxCall.operation == "tickets.create")).all()
        assert (created.vendor, created.status) == ("zendesk", "sandboxed")
        assert "delivery" in str(created.payload).lower()  # the web conversation went with it
        conversation = session.scalars(select(Conversation)).one()
        assert (conversation.channel, conversation.status) == ("web", "human")

    widget.driver.execute_script("window.sameDocument = 'yes';")
    signed = VendorClient(chat_app.test_client(), twilio_token=TWILIO_TOKEN, zendesk_secret=ZENDESK_SECRET,
                          slack_secret=SLACK_SECRET, public_url=PUBLIC_URL)
    reply = 'Your parcel left our warehouse today. <img src=x onerror="window.pwned=1">'
    assert signed.zendesk(comment(ticket_id, reply, staff=True)).status_code == 200

    shown = widget.wait_for_message("agent", "Your parcel left our warehouse today.")
    assert widget.driver.execute_script("return window.sameDocument") == "yes"  # live, no reload
    assert "<img" in shown.text  # server text is shown as text ...
    assert widget.root.find_elements(By.CSS_SELECTOR, ".log img") == []  # ... never as HTML
    assert widget.driver.execute_script("return window.pwned === undefined")
    assert [m.author for m in widget.messages()][-1] == "agent"

    # With the panel closed, the next reply is counted on the launcher.
    widget.textarea.send_keys(Keys.ESCAPE)
    assert signed.zendesk(comment(ticket_id, "It should arrive on Friday.", staff=True)).status_code == 200
    launcher = widget.launcher
    widget.wait(lambda: launcher.get_attribute("aria-label") == f"Chat with {COMPANY} (1 new)", "the unread count")
    assert widget.find(".badge").text == "1"
    launcher.click()
    widget.wait(lambda: launcher.get_attribute("aria-label") == f"Chat with {COMPANY}", "the count cleared")
    assert widget.messages()[-1].text == "It should arrive on Friday."

    data = widget.screenshot(ARTIFACTS / "webchat-conversation.png")
    print(f"screenshot: {ARTIFACTS / 'webchat-conversation.png'}")
    width, height = png_size(data)
    assert width >= 900 and height >= 900
    assert len(data) > 20_000  # a blank page compresses to a few kB


def test_a_site_not_in_the_allow_list_gets_no_working_widget_and_nothing_is_stored(
        driver: WebDriver, switchboard: str, sites: tuple[HostSite, HostSite], chat_app: Flask) -> None:  # noqa: F811
    page = WidgetPage(driver, sites[1].page(switchboard)).open()
    page.wait(lambda: page.script_state() == "unavailable", "the widget to give up")
    assert driver.find_elements(By.CSS_SELECTOR, "switchboard-chat") == []
    # The page's own script cannot start a session either: the JSON POST needs a CORS
    # preflight, which Switchboard refuses for this origin, so the POST is never sent.
    outcome = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {method: 'POST', headers: {'Content-Type': 'application/json'},"
        " body: JSON.stringify({token: null, locale: 'en'})})"
        ".then(r => done('status ' + r.status), e => done('refused: ' + e.name));",
        f"{switchboard}/chat/default/session")
    assert outcome == "refused: TypeError"
    assert [count(chat_app, t) for t in ("web_visitors", "customers", "messages", "inbox_events")] == [0, 0, 0, 0]


def test_the_keyboard_opens_the_chat_into_the_message_field_and_escape_returns_to_the_launcher(
        widget: WidgetPage) -> None:
    launcher = widget.shown_launcher()
    assert launcher.tag_name == "button"
    assert launcher.get_attribute("aria-expanded") == "false"
    assert launcher.get_attribute("aria-controls") == "sb-panel"
    assert launcher.get_attribute("aria-label") == f"Chat with {COMPANY}"
    # The brand colour, with the text colour that contrasts with it (dark on this yellow);
    # the host page's `button { background: hotpink !important }` does not reach in.
    assert launcher.value_of_css_property("background-color") == "rgba(255, 204, 0, 1)"  # #ffcc00
    assert launcher.value_of_css_property("color") == "rgba(26, 26, 26, 1)"  # 12.9:1

    widget.driver.execute_script("arguments[0].focus()", launcher)
    launcher.send_keys(Keys.ENTER)
    widget.wait(lambda: widget.is_open(), "the panel to open")
    assert launcher.get_attribute("aria-expanded") == "true"
    panel = widget.panel
    assert panel.get_attribute("role") == "dialog"
    assert widget.find("#" + panel.get_attribute("aria-labelledby")).text == COMPANY
    assert widget.find(".log .greeting").text.endswith(GREETING)
    log = widget.find(".log")
    assert (log.get_attribute("role"), log.get_attribute("aria-live")) == ("log", "polite")
    field = widget.textarea
    assert widget.active() == field  # focus went into the message field
    assert widget.find(f'label[for="{field.get_attribute("id")}"]').get_attribute("textContent") == "Your message"
    assert field.value_of_css_property("font-size") == "16px"

    field.send_keys("line one", Keys.SHIFT, Keys.ENTER, Keys.NULL, "line two")  # Shift+Enter: a new line
    assert field.get_attribute("value") == "line one\nline two"
    assert widget.messages() == []  # nothing sent

    field.send_keys(Keys.ESCAPE)
    widget.wait(lambda: not widget.is_open(), "the panel to close")
    assert launcher.get_attribute("aria-expanded") == "false"
    assert widget.active() == launcher  # focus is back on the launcher, visibly
    assert widget.driver.execute_script("return getComputedStyle(arguments[0]).outlineStyle", launcher) == "solid"


def test_on_a_phone_sized_window_the_panel_takes_the_whole_screen(widget: WidgetPage) -> None:
    browser = widget.driver
    try:
        browser.set_window_size(375, 812)
        # A visitor who asked for less motion: the panel appears without sliding in.
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {
            "features": [{"name": "prefers-reduced-motion", "value": "reduce"}]})
        widget.open_chat()
        assert browser.execute_script("return getComputedStyle(arguments[0]).animationName", widget.panel) == "none"
        viewport = browser.execute_script("return [window.innerWidth, window.innerHeight]")
        rect = widget.panel.rect
        assert widget.panel.get_attribute("aria-modal") == "true"  # nothing else is visible
        assert (rect["x"], rect["y"], rect["width"], rect["height"]) == (0, 0, viewport[0], viewport[1])
        assert widget.textarea.value_of_css_property("font-size") == "16px"  # no zoom on iOS
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
        browser.set_window_size(1000, 1500)


def test_a_visitor_proves_their_phone_with_a_code_and_chooses_replies_by_text(
        widget: WidgetPage, chat_app: Flask) -> None:
    widget.open_chat()
    toggle = widget.find("button.identify-toggle")
    assert (toggle.text, toggle.get_attribute("aria-expanded")) == (
        "Get replies by text or email if you leave", "false")
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    contact = widget.find("#sb-contact")
    assert contact.get_attribute("type") == "tel"
    contact.send_keys("+1 415 555 0101")
    widget.find(".identify-step:not([hidden]) button[type=submit]").click()  # "Send me a code"

    hint = widget.find("#sb-code-hint")
    widget.wait(lambda: hint.text.startswith("We sent a code to "), "the code sent")
    assert "0101" in hint.text and "415 555" not in hint.text  # masked
    code = widget.find("#sb-code")
    assert widget.active() == code and code.get_attribute("autocomplete") == "one-time-code"
    right = sandbox_code(chat_app)
    code.send_keys(wrong(right))
    widget.find(".identify-step:not([hidden]) button[type=submit]").click()  # "Confirm"
    said = widget.find(".identify-message")
    widget.wait(lambda: said.text.startswith("That code is not right"), "the server's words for a wrong code")

    code.clear()
    code.send_keys(right)
    widget.find(".identify-step:not([hidden]) button[type=submit]").click()
    verified = widget.find(".verified")
    widget.wait(lambda: verified.is_displayed() and verified.text.startswith("Confirmed:"), "the phone confirmed")
    by_text = widget.find("#sb-notify-yes")
    assert widget.find('label[for="sb-notify-yes"]').text == "Text me the reply"
    by_text.click()
    widget.find(".identify-step:not([hidden]) button[type=submit]").click()  # "Save"
    widget.wait(lambda: said.text == "Saved.", "the choice saved")
    with get_db(chat_app).session() as session:
        assert session.execute(text("SELECT notify FROM web_visitors")).scalars().all() == ["sms"]

    widget.driver.refresh()  # the choice is remembered with the visitor
    widget.wait_loaded()
    assert (widget.find(".verified").get_attribute("textContent") or "").startswith("Confirmed:")
    assert widget.find("#sb-notify-yes").is_selected()


def test_a_refused_message_says_why_in_plain_words_and_can_be_sent_again(widget: WidgetPage, chat_app: Flask) -> None:
    chat_app.config["WEBCHAT_LIMITS"] = {"messages_per_visitor": "1/minute"}
    widget.open_chat()
    widget.send("How long does delivery take?")
    widget.wait_for_message("bot")
    widget.send("Which payment methods do you accept?")

    widget.wait(lambda: widget.messages()[-1].state == "failed", "the second message refused")
    refused = widget.messages()[-1]
    said = widget.problem()
    # Plain words, not the limit's notation ("1 per 1 minute"), with the wait Retry-After gives.
    wait = re.fullmatch(r"You are sending messages faster than this chat accepts\. Please wait (\d+) seconds, "
                        r"then try again\.", said)
    assert wait and 0 < int(wait[1]) <= 60, said
    assert said == widget.find(".problem").get_attribute("textContent") and widget.find(".problem").get_attribute(
        "role") == "alert"
    with get_db(chat_app).session() as session:
        assert "payment" not in " ".join(session.scalars(select(Message.body)).all())  # not stored

    chat_app.config["WEBCHAT_LIMITS"] = {"messages_per_visitor": "10/minute"}
    again = widget.find('li[data-state="failed"] button.retry')
    assert again.text == "Try again"
    again.click()
    sent = widget.wait_for_message("customer", "payment methods")
    assert sent.client_id == refused.client_id  # the same message, not a second one
    widget.wait(lambda: widget.messages()[-1].author == "bot", "the answer to the retried message")
    assert widget.problem() == ""


def test_with_the_event_stream_blocked_replies_come_by_polling_and_a_menu_choice_is_a_button(
        driver: WebDriver, switchboard: str, sites: tuple[HostSite, HostSite]) -> None:  # noqa: F811
    """A proxy or firewall that blocks the stream leaves the widget polling every 3 s."""
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/stream?*"]})
    try:
        widget = WidgetPage(driver, sites[0].page(switchboard)).open()
        widget.open_chat()
        widget.wait(lambda: widget.find_host().get_attribute("data-live") == "polling", "the widget to poll")
        widget.send("refund")  # three of the sample shop's articles speak of refunds: a menu
        menu = widget.wait_for_message("bot")
        assert len(menu.choices) == 4 and all(enabled for *_, enabled in menu.choices)
        assert [value for _, value, _ in menu.choices] == ["1", "2", "3", "None of these"]
        assert "Reply with the number" not in menu.text  # buttons to click, not a number to type
        label = menu.choices[1][0]

        widget.find(f'li[data-id="{menu.id}"] button.choice[data-value="2"]').click()
        picked = widget.wait_for_message("customer", "2")
        assert picked.id and picked.id > menu.id  # type: ignore[operator]
        answer = widget.wait(lambda: next((m for m in widget.messages() if m.author == "bot" and m.id
                                           and m.id > picked.id), None), "the picked article")  # type: ignore[operator]
        assert label in [text.removesuffix(" (opens in a new tab)") for text, *_ in answer.sources]
        [old_menu] = [m for m in widget.messages() if m.id == menu.id]
        assert not any(enabled for *_, enabled in old_menu.choices)  # answered: its buttons are done
        assert widget.find_host().get_attribute("data-live") == "polling"
    finally:
        driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
        driver.execute_cdp_cmd("Network.disable", {})
