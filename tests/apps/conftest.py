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

from .browser import start_chromium


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
