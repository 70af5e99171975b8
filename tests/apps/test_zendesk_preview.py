"""`switchboard zendesk preview`, run as a user runs it: the command in its own process
against a running Switchboard, the page it prints opened in headless Chromium.

The customer is played in the playground (the embedded default's sandbox, where no
Zendesk event ever arrives), the preview lists the tickets the bot handed over, and the
shipped app shows each one's context and grounded suggestions.
"""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from ..assist.test_sidebar_api import key_for
from ..fakes.loopback import Answer, LoopbackFake
from ..fakes.loopback import Request as LoopbackRequest
from .browser import WAIT_SECONDS, SidebarPage, wait_until
from .test_sidebar_browser import screenshot

PREVIEW_LINE = "Preview the sidebar at "
# A CLI and browser test (slow: it starts the preview server and drives Chromium).
pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


@pytest.fixture
def key_file(shop: Flask, tmp_path: Path) -> Path:
    path = tmp_path / "api-key"
    path.write_text(key_for(shop) + "\n")
    return path


def play(switchboard: str, phone: str, *texts: str) -> int:
    """The customer in the playground, up to a handoff; the ticket it made."""
    for text in texts:
        answer = requests.post(f"{switchboard}/playground/messages", json={"text": text, "phone": phone}, timeout=30)
        assert answer.status_code == 200, answer.text
    ticket = answer.json()["conversation"]["zendesk_ticket_id"]
    assert ticket
    return int(ticket)


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "switchboard.cli", "zendesk", "preview", *args]


def environment(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "SWITCHBOARD_DATA_DIR": str(data_dir)}


@contextmanager
def preview(*args: str, cwd: Path, port: str | None = "0") -> Iterator[tuple[str, list[str]]]:
    """Run the command until it prints the page's address; yield it with what it printed."""
    process = subprocess.Popen(command(*args, *(("--port", port) if port else ())), cwd=cwd, env=environment(cwd),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line.rstrip("\n")) for line in process.stdout or ()],
                     daemon=True).start()
    printed: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while not any(line.startswith(PREVIEW_LINE) for line in printed):
            try:
                printed.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                pytest.fail(f"the preview printed no address within 60 s (exit {process.poll()}): {printed}")
        url = next(line for line in printed if line.startswith(PREVIEW_LINE)).removeprefix(PREVIEW_LINE)
        yield url, printed
    finally:
        process.terminate()
        process.wait(timeout=10)


def ticket_links(driver: WebDriver) -> dict[int, Any]:
    driver.switch_to.default_content()
    return {int(a.get_attribute("data-ticket-id")): a
            for a in driver.find_elements(By.CSS_SELECTOR, "#ticket-list a[data-ticket-id]")}


def open_ticket(page: SidebarPage, ticket: int) -> None:
    """Click the ticket in the preview's list, as the user picks one."""
    ticket_links(page.driver)[ticket].click()
    wait_until(lambda: parse_qs(urlsplit(page.driver.current_url).query).get("ticket_id") == [str(ticket)],
               f"ticket {ticket} opened")
    page.enter_app()


def test_the_preview_lists_the_handed_over_tickets_and_shows_each_ones_suggestions(
        driver: WebDriver, shop: Flask, live_switchboard: str, key_file: Path, tmp_path: Path) -> None:
    charged = play(live_switchboard, "+15550100001", "I was charged twice for my order, why?", "AGENT")
    delivery = play(live_switchboard, "+15550100002", "how long does delivery take to Canada?",
                    "I want to talk to a real person")

    with preview("--url", live_switchboard, "--key-file", str(key_file), cwd=tmp_path) as (url, printed):
        listed = [line.split()[0] for line in printed if line.startswith("  #")]
        assert listed == [f"#{delivery}", f"#{charged}"]  # newest activity first
        assert parse_qs(urlsplit(url).query)["ticket_id"] == [str(delivery)]  # opens the newest

        page = SidebarPage(driver, url).open()
        page.wait_for_text("#customer", "+15550100002")
        card = page.wait_for("li.suggestion")
        assert "deliver" in card.text.lower()
        assert card.find_element(By.CSS_SELECTOR, "a[href^='https://help.acme.example/articles/']")
        key = key_file.read_text().strip()
        assert key not in driver.page_source
        assert key not in page.parent_value("document.documentElement.outerHTML")

        links = ticket_links(driver)
        assert list(links) == [delivery, charged]
        assert links[delivery].get_attribute("aria-current") == "page"
        open_ticket(page, charged)
        page.wait_for_text("#customer", "+15550100001")
        card = page.wait_for_text("li.suggestion", "authorisation hold")
        assert card.find_element(By.PARTIAL_LINK_TEXT, "twice").get_attribute("href") == \
            "https://help.acme.example/articles/charged-twice"
        screenshot(page, "zendesk-preview.png")
        driver.switch_to.default_content()
        assert driver.find_element(By.ID, "ticket-id").text == str(charged)
        driver.get("about:blank")


def test_before_any_handoff_the_list_says_how_to_make_one_and_reloads(
        driver: WebDriver, shop: Flask, live_switchboard: str, key_file: Path, tmp_path: Path) -> None:
    with preview("--url", live_switchboard, "--key-file", str(key_file), cwd=tmp_path) as (url, printed):
        assert any(f"play the customer at {live_switchboard}/playground" in line for line in printed)
        assert "ticket_id" not in parse_qs(urlsplit(url).query)
        driver.get(url)
        note = wait_until(lambda: driver.find_element(By.ID, "tickets-note").text, "the empty list's note")
        assert "write AGENT" in note
        assert driver.find_element(By.ID, "pick").is_displayed()
        assert not driver.find_element(By.ID, "app").is_displayed()

        ticket = play(live_switchboard, "+15550100003", "I was charged twice for my order, why?", "AGENT")
        driver.find_element(By.ID, "tickets-reload").click()
        wait_until(lambda: ticket in ticket_links(driver), "the new ticket in the list")
        page = SidebarPage(driver, url)
        open_ticket(page, ticket)
        page.wait_for_text("li.suggestion", "authorisation hold")
        driver.get("about:blank")


def test_the_preview_says_what_to_do_when_it_cannot_start(live_switchboard: str, key_file: Path,
                                                          tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(command(*args), cwd=tmp_path, env=environment(tmp_path), capture_output=True, text=True,
                              timeout=WAIT_SECONDS * 3)

    closed = f"http://127.0.0.1:{_closed_port()}"
    down = run("--url", closed, "--key-file", str(key_file))
    assert down.returncode == 1
    assert f"nothing answers at {closed}" in down.stderr and "switchboard serve" in down.stderr

    wrong = tmp_path / "wrong-key"
    wrong.write_text("sb_not_a_key\n")
    refused = run("--url", live_switchboard, "--key-file", str(wrong))
    assert refused.returncode == 1 and "refused the API key" in refused.stderr

    # Without --key-file it reads what `switchboard serve` wrote in the data folder (here: none).
    missing = run("--url", live_switchboard)
    assert missing.returncode == 1
    assert f"no API key at {tmp_path / '.switchboard-api-key'}" in missing.stderr


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Collector(LoopbackFake):
    """A server of someone else's, recording what reaches it."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[LoopbackRequest] = []

    def answer(self, request: LoopbackRequest) -> Answer:
        self.seen.append(request)
        return Answer(200, {"ok": True})


def test_the_preview_proxy_is_no_relay_for_the_api_key(live_switchboard: str, key_file: Path,
                                                        tmp_path: Path) -> None:
    """Any web page the user has open can post to a port on 127.0.0.1. The stand-in proxy
    puts the account API key into {{setting.token}}: it must answer only its own page
    (Origin, a JSON body, the secret the page's address carries for this run) and only
    send to the Switchboard it previews. It listens on a port of its own choosing."""
    key = key_file.read_text().strip()
    with _Collector() as elsewhere, preview("--url", live_switchboard, "--key-file", str(key_file),
                                            cwd=tmp_path, port=None) as (url, _):
        page = urlsplit(url)
        assert page.port != 8010  # no fixed, guessable port
        proxy = f"{page.scheme}://{page.netloc}/__zendesk_proxy"
        secret = parse_qs(page.query)["preview_secret"][0]
        steal = {"url": f"{elsewhere.origin}/collect", "type": "GET", "secure": True,
                 "headers": {"Authorization": "Bearer {{setting.token}}"}}
        sidebar = {**steal, "url": f"{live_switchboard}/api/sidebar/tickets/1"}
        own = f"{page.scheme}://{page.netloc}"
        attempts = {
            # a page on another site: a "simple" request, no preflight, no secret
            "cross-site form post": requests.post(proxy, data=json.dumps(steal), timeout=10, headers={
                "Origin": "https://evil.example", "Content-Type": "text/plain"}),
            "cross-site with the secret": requests.post(proxy, json=steal, timeout=10, headers={
                "Origin": "https://evil.example", "X-Preview-Secret": secret}),
            "no origin, no secret": requests.post(proxy, json=sidebar, timeout=10),
            "own origin, wrong secret": requests.post(proxy, json=sidebar, timeout=10, headers={
                "Origin": own, "X-Preview-Secret": "guess"}),
            "own origin and secret, as text": requests.post(proxy, data=json.dumps(sidebar), timeout=10, headers={
                "Origin": own, "X-Preview-Secret": secret, "Content-Type": "text/plain"}),
            "own page, another server": requests.post(proxy, json=steal, timeout=10, headers={
                "Origin": own, "X-Preview-Secret": secret}),
        }
        for what, response in attempts.items():
            assert response.status_code in (400, 403, 415), (what, response.status_code, response.text)
        assert elsewhere.seen == []
        tickets = requests.get(f"{own}/__tickets", timeout=10, headers={"Origin": "https://evil.example"})
        assert tickets.status_code == 403
        # The page itself, as its script asks: relayed to Switchboard with the key.
        allowed = requests.post(proxy, json=sidebar, timeout=10, headers={"Origin": own, "X-Preview-Secret": secret})
        assert allowed.status_code == 200 and allowed.json()["status"] == 404, allowed.text  # no ticket 1: reached
    assert all(key not in str(r.headers) + r.path for r in elsewhere.seen)
