"""The live call card in `switchboard zendesk preview`, in headless Chromium: a caller put
through by the voice bot, transcribed by signed Twilio callbacks, fills in the shipped
app's card as the call goes on (polled, no reload), and the card says when it ended."""
from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from selenium.webdriver.remote.webdriver import WebDriver

from ..assist.test_sidebar_api import key_for
from ..signing import VendorClient
from ..webhooks.twilio.test_live_calls import heard, put_through, ticket_of
from .browser import SidebarPage, wait_until
from .test_zendesk_preview import preview

# A CLI and browser test (slow: it starts the preview server and drives Chromium).
pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


def script_line(page: SidebarPage, line_id: str) -> str:
    """Found and read in one script: the card is redrawn each second, so an element
    found first and read after may be gone (a stale element reference)."""
    done = page.driver.execute_script(
        "const line = document.querySelector(arguments[0]); return line ? line.getAttribute('data-done') : '';",
        f"#call [data-script-line='{line_id}']")
    return str(done or "")


def test_the_live_call_card_fills_in_while_the_caller_talks(driver: WebDriver, shop: Flask, vendor: VendorClient,
                                                           live_switchboard: str, tmp_path: Path) -> None:
    key_file = tmp_path / "api-key"
    key_file.write_text(key_for(shop) + "\n")
    put_through(vendor)
    vendor.deliver("twilio", "voice_transcription_started.json")
    heard(vendor, "How long does delivery usually take to arrive?")
    ticket = ticket_of(shop)

    with preview("--url", live_switchboard, "--key-file", str(key_file), "--ticket", str(ticket), cwd=tmp_path) \
            as (url, _):
        page = SidebarPage(driver, url).open()
        page.wait_for_text("#call", "How long does delivery usually take to arrive?")
        page.wait_for("#call li.call-suggestion")
        text, linked = page.driver.execute_script(  # read in one go: see script_line
            "const a = document.querySelector('#call li.call-suggestion');"
            "return [a.innerText, !!a.querySelector(\"a[href^='https://help.acme.example/articles/']\")];")
        assert "2 to 4 working days" in text and linked
        assert script_line(page, "recording_notice") == "false"

        heard(vendor, "This call may be recorded for quality purposes.", track="outbound_track")

        wait_until(lambda: script_line(page, "recording_notice") == "true", "the recording notice ticked")
        page.wait_for_text("#call", "This call may be recorded")
        vendor.deliver("twilio", "voice_transcription_stopped.json")
        page.wait_for_text("#call .call-status", "Call ended")
