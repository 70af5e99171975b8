"""The sidebar's wrap-up card in a real (headless) Chromium, inside the stand-in Zendesk,
against the real Switchboard: after a ticket handed over through signed Twilio messages
is solved (a signed Zendesk event), the agent sees the disposition Switchboard chose
with its confidence, picks another code from the account's taxonomy, and the correction
is stored, written to the ticket through the outbox and shown as the agent's."""
from __future__ import annotations

import pytest
from flask import Flask
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from sqlalchemy import select

from switchboard.core.store.models import ConversationScore, OutboxCall
from switchboard.intake.db import get_db

from ..assist.test_sidebar_api import comment, handed_over_ticket, key_for
from ..quality.test_conversation_scores import solve
from ..signing import VendorClient
from .browser import wait_until
from .conftest import open_ticket
from .zaf_stand_in import AGENT, ZendeskStandIn

pytestmark = pytest.mark.slow  # drives Chromium


def test_the_agent_sees_the_chosen_disposition_with_its_confidence_and_corrects_it(
        driver, stand_ins: list[ZendeskStandIn], shop: Flask, vendor: VendorClient,  # type: ignore[no-untyped-def]
        live_switchboard: str) -> None:
    ticket = handed_over_ticket(shop, vendor)  # "charged twice": a payment question
    vendor.zendesk(comment(ticket, "The second charge is a hold and disappears within 5 days.", staff=True))
    solve(vendor, ticket)
    with get_db(shop).session() as session:
        [score] = session.scalars(select(ConversationScore)).all()
        chosen, confidence = score.disposition, score.disposition_confidence
    assert chosen == "payments" and confidence is not None and 0 < confidence <= 1
    page = open_ticket(driver, stand_ins, live_switchboard, key_for(shop), ticket)
    try:
        card = page.wait_for("#disposition-card")
        assert page.driver.find_element(By.ID, "disposition-heading").get_attribute("textContent") == "Wrap-up code"
        current = card.find_element(By.ID, "disposition-current")
        assert current.get_attribute("data-code") == "payments"
        assert current.text == "Filed as Payment problems, declined cards, double charges. (payments)"
        assert card.find_element(By.ID, "disposition-how").text.startswith(
            f"Chosen by Switchboard with {round(100 * confidence)}% confidence.")
        picker = Select(card.find_element(By.ID, "disposition-select"))
        assert picker.first_selected_option.get_attribute("value") == "payments"
        codes = [o.get_attribute("value") for o in picker.options]
        assert "returns_refunds" in codes and len(codes) == 8  # the account's taxonomy

        card.find_element(By.CSS_SELECTOR, 'button[data-action="save-disposition"]').click()
        assert page.wait_for("#disposition-result").text.startswith("That is already the ticket's code")
        assert [o for o in page.stand_in.proxied if o["url"].endswith("/disposition")] == []

        picker.select_by_value("returns_refunds")
        card.find_element(By.CSS_SELECTOR, 'button[data-action="save-disposition"]').click()
        # The card is drawn again with the answer: read it afresh rather than hold an element it replaced.
        wait_until(lambda: page.driver.execute_script(
            "return document.getElementById('disposition-result').textContent").startswith(
            "Saved: the ticket is filed as returns_refunds."), "the correction saved")
        assert page.driver.find_element(By.ID, "disposition-current").get_attribute("data-code") == "returns_refunds"
        assert page.driver.find_element(By.ID, "disposition-how").text == "Chosen by an agent."
        wait_until(lambda: page.status().startswith("Saved: the ticket is filed as returns_refunds"),
                   "the correction announced")
        [asked] = [o for o in page.stand_in.proxied if o["url"].endswith("/disposition")]
        assert (asked["type"], asked["secure"]) == ("POST", True)
    finally:
        driver.switch_to.default_content()
        driver.get("about:blank")
    with get_db(shop).session() as session:
        [score] = session.scalars(select(ConversationScore)).all()
        assert (score.disposition, score.corrected_by, score.disposition_confidence) == (
            "returns_refunds", f"zendesk:{AGENT.id}", 1.0)
        updates = [c.payload["ticket"] for c in session.scalars(select(OutboxCall).where(
            OutboxCall.vendor == "zendesk", OutboxCall.operation == "tickets.update"))]
        assert any("disposition_returns_refunds" in (u.get("additional_tags") or []) and u["id"] == ticket
                   for u in updates)
