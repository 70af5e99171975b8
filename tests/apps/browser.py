"""Headless Debian Chromium driven by Selenium, and a page object for the sidebar.

Why Debian's chromium + chromium-driver: the two come from the same source package, so
their versions always match, and nothing is downloaded at run time (Selenium Manager
is never asked for a driver because both paths are given).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
#: Upper bound for anything the page has to do; waits end as soon as it is done.
WAIT_SECONDS = 20
T = TypeVar("T")


class BrowserMissing(RuntimeError):
    """Chromium or its driver is not installed where the test looks for them."""


def chromium_flags(user_data_dir: Path) -> list[str]:
    """Headless, offline-quiet, and a fresh profile so no earlier run leaks in."""
    return ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", f"--user-data-dir={user_data_dir}", "--window-size=1000,1500"]


def start_chromium(user_data_dir: Path, log_file: Path) -> WebDriver:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        raise BrowserMissing(
            f"{', '.join(missing)} not found: install Debian's browser and its driver with "
            "`apt-get update && apt-get install -y chromium chromium-driver` (as root), then rerun."
        )
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in chromium_flags(user_data_dir):
        options.add_argument(flag)
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(log_file))
    return webdriver.Chrome(service=service, options=options)


def wait_until(condition: Callable[[], T], what: str, timeout: float = WAIT_SECONDS) -> T:
    """Poll `condition` until it returns something truthy; fail naming `what` otherwise.

    For effects outside the browser (the fake backend's records), which WebDriverWait
    cannot watch.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


class SidebarPage:
    """The stand-in ticket page with the app's iframe; methods switch frames for you."""

    def __init__(self, driver: WebDriver, url: str, stand_in: Any = None) -> None:
        self.driver = driver
        self.url = url
        self.stand_in = stand_in  # the ZendeskStandIn serving it, for its proxy records

    def open(self) -> SidebarPage:
        self.driver.switch_to.default_content()
        self.driver.get(self.url)
        self.enter_app()
        return self

    def enter_app(self) -> None:
        self.driver.switch_to.default_content()
        frame = WebDriverWait(self.driver, WAIT_SECONDS).until(
            lambda d: d.find_element(By.ID, "app"))
        self.driver.switch_to.frame(frame)

    def parent_value(self, expression: str) -> Any:
        """Evaluate `expression` in the parent (stand-in Zendesk) page."""
        self.driver.switch_to.default_content()
        try:
            return self.driver.execute_script(f"return {expression};")
        finally:
            self.enter_app()

    def wait_for(self, css: str, *, visible: bool = True) -> WebElement:
        def found(driver: WebDriver) -> WebElement | bool:
            for element in driver.find_elements(By.CSS_SELECTOR, css):
                if element.is_displayed() or not visible:
                    return element
            return False
        return cast(WebElement, WebDriverWait(self.driver, WAIT_SECONDS).until(
            found, message=f"no {'visible ' if visible else ''}element matches {css!r}"))

    def wait_for_text(self, css: str, text: str) -> WebElement:
        def found(driver: WebDriver) -> WebElement | bool:
            for element in driver.find_elements(By.CSS_SELECTOR, css):
                if element.is_displayed() and text in element.text:
                    return element
            return False
        return cast(WebElement, WebDriverWait(self.driver, WAIT_SECONDS).until(
            found, message=f"no visible {css!r} contains {text!r}"))

    def content(self) -> WebElement:
        return self.wait_for("#content")

    def status(self) -> str:
        """What the live region says (what a screen reader announces, shown or not)."""
        return self.driver.find_element(By.ID, "status").get_attribute("textContent") or ""

    def suggestion(self, suggestion_id: int) -> WebElement:
        return self.wait_for(f'li.suggestion[data-suggestion-id="{suggestion_id}"]')

