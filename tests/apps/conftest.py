"""Fixtures of the sidebar's browser tests: one headless Chromium per test module, and
the real Switchboard served over HTTP on loopback."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from selenium.webdriver.remote.webdriver import WebDriver
from werkzeug.serving import make_server

from .browser import SidebarPage, start_chromium
from .zaf_stand_in import AGENT, ZendeskStandIn


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    log = tmp_path_factory.mktemp("chromedriver") / "chromedriver.log"
    browser = start_chromium(profile, log)
    yield browser
    browser.quit()


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """``app`` served over HTTP on loopback while the block runs; yields its URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def live_switchboard(app: Flask) -> Iterator[str]:
    """The real Switchboard app served over HTTP on loopback, for the app to call."""
    with serving(app) as url:
        yield url


@pytest.fixture
def stand_ins() -> Iterator[list[ZendeskStandIn]]:
    """The stand-in Zendesk workspaces a test opened (``open_ticket``), closed after it."""
    opened: list[ZendeskStandIn] = []
    yield opened
    for stand_in in opened:
        stand_in.close()


def open_ticket(driver: WebDriver, stand_ins: list[ZendeskStandIn], url: str, token: str,
                ticket: int) -> SidebarPage:
    """The sidebar of ``ticket`` in a stand-in Zendesk whose app calls Switchboard at ``url``."""
    stand_in = ZendeskStandIn(backend_url=url, secure_settings={"token": token}, ticket_id=ticket, agent=AGENT)
    stand_ins.append(stand_in)
    return SidebarPage(driver, stand_in.page_url(), stand_in).open()
