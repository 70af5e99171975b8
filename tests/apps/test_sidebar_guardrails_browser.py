"""The sidebar's guardrail card in a real (headless) Chromium, inside the stand-in
Zendesk, against the real Switchboard: the agent's draft is read from the editor,
checked, and the warning shows the words that triggered it and the fix."""
from __future__ import annotations

import json

import pytest
from flask import Flask
from selenium.webdriver.common.by import By
from sqlalchemy import select

from switchboard.core.store.models import AuditEntry
from switchboard.intake.db import get_db

from ..assist.test_sidebar_api import handed_over_ticket, key_for
from ..signing import VendorClient
from .browser import SidebarPage, wait_until
from .conftest import open_ticket
from .zaf_stand_in import ZendeskStandIn

pytestmark = pytest.mark.slow  # drives Chromium

DRAFT = "I guarantee a full refund of $500 tomorrow."


def type_reply(page: SidebarPage, text: str) -> None:
    page.driver.switch_to.default_content()
    try:
        page.driver.find_element(By.ID, "editor").send_keys(text)
    finally:
        page.enter_app()


def test_the_sidebar_warns_about_a_risky_draft_with_its_words_and_the_fix(
        driver, stand_ins: list[ZendeskStandIn], shop: Flask, vendor: VendorClient,  # type: ignore[no-untyped-def]
        live_switchboard: str) -> None:
    ticket = handed_over_ticket(shop, vendor)
    page = open_ticket(driver, stand_ins, live_switchboard, key_for(shop), ticket)
    try:
        card = page.wait_for("#check")
        assert page.driver.find_element(By.ID, "check-heading").get_attribute("textContent") == "Check my reply"
        button = card.find_element(By.CSS_SELECTOR, 'button[data-action="check-reply"]')
        button.click()  # nothing written yet: nothing is asked of Switchboard
        assert page.wait_for('#check-result [data-state="empty"]').text.startswith("The reply editor is empty")
        assert [o for o in page.stand_in.proxied if o["url"].endswith("/draft-check")] == []

        type_reply(page, DRAFT)
        button.click()
        flagged = page.wait_for('#check-result [data-state="flagged"]')
        assert flagged.text == "Found 3 to fix before you send this reply."
        items = {(li.get_attribute("data-guardrail"), li.get_attribute("data-rule")): li.text
                 for li in page.driver.find_elements(By.CSS_SELECTOR, "#check-findings li")}
        assert set(items) == {("risky_promise", "guarantee"), ("risky_promise", "amount"), ("risky_promise", "date")}
        assert 'Words: "$500", "refund"' in items[("risky_promise", "amount")]
        assert "Fix: Do not name an amount above 100" in items[("risky_promise", "amount")]
        assert items[("risky_promise", "guarantee")].startswith('Risky promise (guarantee)\nWords: "guarantee"')
        wait_until(lambda: page.status() == "Found 3 to fix before you send this reply.", "the warning announced")
        [asked] = [o for o in page.stand_in.proxied if o["url"].endswith("/draft-check")]
        assert (json.loads(asked["data"]), asked["type"], asked["secure"]) == ({"text": DRAFT}, "POST", True)
        assert page.parent_value("window.commentSets") == []  # it only advises: the editor is untouched
    finally:
        driver.switch_to.default_content()
        driver.get("about:blank")
    with get_db(shop).session() as session:
        [checked] = session.scalars(select(AuditEntry).where(AuditEntry.action == "quality.draft_checked")).all()
        assert checked.actor == "zendesk:4021" and checked.detail["flagged"] is True
