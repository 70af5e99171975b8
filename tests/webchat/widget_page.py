"""The web chat widget as a test sees it: a host page on its own origin, and a page
object that reaches into the widget's (open) shadow root.

Selenium's WebDriver cannot see into a shadow root with a plain CSS selector, and
`document.activeElement` stops at the shadow host; the helpers here go through
`shadow_root` and `shadowRoot.activeElement` so the tests read like the visitor's view.
"""
from __future__ import annotations

import html
import http.server
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlencode, urlsplit

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.shadowroot import ShadowRoot
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from ..apps.browser import WAIT_SECONDS

HOST_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<title>Acme shop</title>
<style>
  /* Hostile host CSS: none of it may reach the widget. */
  button {{ background: hotpink !important; font-size: 40px !important; }}
  li, p, textarea {{ color: red !important; display: inline !important; }}
</style>
</head>
<body>
<h1>Acme shop</h1>
<p>Our products.</p>
<script src="{src}" data-account="{account}" defer></script>
</body>
</html>
"""


class _HostHandler(http.server.BaseHTTPRequestHandler):
    """`/?switchboard=<base url>&account=<slug>`: the company's page with the one tag."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        query = parse_qs(urlsplit(self.path).query)
        if urlsplit(self.path).path != "/":
            self.send_error(404)
            return
        src = query.get("switchboard", [""])[0].rstrip("/") + "/chat/widget.js"
        body = HOST_PAGE.format(src=html.escape(src), account=html.escape(query.get("account", ["default"])[0]))
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's name)
        pass


@dataclass(frozen=True)
class HostSite:
    """A company's website on a loopback origin of its own."""

    origin: str

    def page(self, switchboard: str, account: str = "default") -> str:
        return f"{self.origin}/?{urlencode({'switchboard': switchboard, 'account': account})}"


@contextmanager
def host_site() -> Iterator[HostSite]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HostHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HostSite(f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass(frozen=True)
class Shown:
    """One message as the widget shows it."""

    author: str           # customer, bot, agent, system
    text: str             # the message's own text (no author label, sources or buttons)
    id: int | None        # Message.id once the server has it
    client_id: str | None
    state: str | None     # sending, sent, failed while not yet echoed by the server
    sources: list[tuple[str, str | None, str | None, str | None]]  # (text, href, target, rel)
    choices: list[tuple[str, str, bool]]  # (label, value, enabled)


READ_MESSAGES = """
const root = document.querySelector('switchboard-chat').shadowRoot;
return Array.from(root.querySelectorAll('.log > li.msg:not(.greeting)')).map(li => ({
  author: (li.className.match(/msg-(\\w+)/) || [])[1] || null,
  text: (li.querySelector(':scope > .text') || {}).textContent || '',
  id: li.dataset.id ? Number(li.dataset.id) : null,
  client_id: li.dataset.clientId || null,
  state: li.dataset.state || null,
  sources: Array.from(li.querySelectorAll('.sources > li')).map(s => {
    const a = s.querySelector('a');
    return [s.textContent, a && a.getAttribute('href'), a && a.getAttribute('target'), a && a.getAttribute('rel')];
  }),
  choices: Array.from(li.querySelectorAll('button.choice')).map(b => [b.textContent, b.dataset.value, !b.disabled]),
}));
"""


class WidgetPage:
    """The host page with the widget; everything the visitor touches is in the shadow root."""

    def __init__(self, driver: WebDriver, url: str) -> None:
        self.driver = driver
        self.url = url

    def open(self) -> WidgetPage:
        self.driver.get(self.url)
        return self

    def wait(self, condition: Any, what: str, timeout: float = WAIT_SECONDS) -> Any:
        return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(
            lambda _d: condition(), message=f"gave up waiting for {what}")

    def find_host(self) -> WebElement:
        """The <switchboard-chat> element the widget adds to the page (data-open, data-live)."""
        return cast(WebElement, self.wait(lambda: self.driver.find_elements(By.CSS_SELECTOR, "switchboard-chat"),
                                          "the widget's host element")[0])

    @property
    def root(self) -> ShadowRoot:
        return cast(ShadowRoot, self.find_host().shadow_root)

    def find(self, css: str) -> WebElement:
        return cast(WebElement, self.wait(lambda: (self.root.find_elements(By.CSS_SELECTOR, css) or [None])[0],
                                          f"{css!r} in the widget"))

    @property
    def launcher(self) -> WebElement:
        return self.find("button.launcher")

    @property
    def panel(self) -> WebElement:
        return self.find("#sb-panel")

    @property
    def textarea(self) -> WebElement:
        return self.find("textarea")

    def script_state(self) -> str | None:
        """What the widget wrote on its own script tag: ready, unavailable, or nothing yet."""
        return cast(str | None, self.driver.execute_script(
            "const s = document.querySelector('script[data-account]'); return s && s.dataset.state || null;"))

    def active(self) -> WebElement | None:
        """The focused element inside the widget (document.activeElement is only the host)."""
        return cast(WebElement | None, self.driver.execute_script(
            "const h = document.querySelector('switchboard-chat'); return h && h.shadowRoot.activeElement;"))

    def is_open(self) -> bool:
        return self.panel.is_displayed()

    def shown_launcher(self) -> WebElement:
        """The launcher once it shows (the widget stays hidden until its styles are in)."""
        launcher = self.launcher
        self.wait(launcher.is_displayed, "the launcher to show")
        return launcher

    def open_chat(self) -> WidgetPage:
        if not self.is_open():
            self.shown_launcher().click()
        self.wait(lambda: self.panel.is_displayed(), "the chat panel to open")
        self.wait_loaded()
        return self

    def wait_loaded(self) -> None:
        self.wait(lambda: self.find(".log").get_attribute("aria-busy") == "false", "the conversation to load")

    def messages(self) -> list[Shown]:
        return [Shown(author=m["author"], text=m["text"], id=m["id"], client_id=m["client_id"], state=m["state"],
                      sources=[tuple(s) for s in m["sources"]],  # type: ignore[misc]
                      choices=[tuple(c) for c in m["choices"]])  # type: ignore[misc]
                for m in self.driver.execute_script(READ_MESSAGES)]

    def wait_for_message(self, author: str, contains: str = "", timeout: float = WAIT_SECONDS) -> Shown:
        def found() -> Shown | None:
            return next((m for m in self.messages() if m.author == author and contains in m.text and m.id), None)
        return cast(Shown, self.wait(found, f"a {author} message containing {contains!r}", timeout))

    def send(self, text: str) -> None:
        """Type into the message field and press Enter, as a visitor would."""
        field = self.textarea
        field.send_keys(text)
        field.send_keys("\n")

    def problem(self) -> str:
        element = self.find(".problem")
        return (element.get_attribute("textContent") or "") if element.is_displayed() else ""

    def screenshot(self, path: Path) -> bytes:
        path.parent.mkdir(parents=True, exist_ok=True)
        assert self.driver.save_screenshot(str(path)), f"Chromium could not write {path}"
        return path.read_bytes()


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])  # IHDR
    return width, height
