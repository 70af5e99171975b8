"""A help center of another trade than the sample shop (a mobile phone company), through
signed Twilio SMS: its everyday words are not escalations. "No service on my phone" is a
fault report, not a complaint about the service; "your contract" is not a legal matter,
nor is changing one's personal details. A setting that "didn't save" is not
an order the customer "didn't place", nor a referral credit that did not come a charge
they did not make. A real complaint, a request to erase one's data and a request to be
called back still reach a person."""
from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from switchboard.core.knowledge.records import Article
from switchboard.core.knowledge.service import KnowledgeBase
from switchboard.core.store.models import Conversation
from switchboard.intake.db import get_db

from ..i18n.test_language_over_twilio import MESSAGES, inbound, sent
from ..signing import VendorClient

URL = "https://help.tel.example/articles/"
PHONE_COMPANY = [
    Article(id="no-signal", title="I have no signal", url=URL + "no-signal",
            body="Restart your phone and check that airplane mode is off. Check our coverage map for outages in "
                 "your area. If there is still no signal, try your SIM in another phone."),
    Article(id="upgrade", title="Can I upgrade my phone early?", url=URL + "upgrade",
            body="You can upgrade after 12 months of your contract. Before that, pay off the rest of your device "
                 "plan in the app under Devices > Upgrade."),
    Article(id="roaming", title="Using your phone abroad", url=URL + "roaming",
            body="Roaming is included in the EU at no extra cost. Outside the EU, turn on a Travel Pass in the app "
                 "for 5 euros a day."),
    Article(id="voicemail", title="Setting up voicemail", url=URL + "voicemail",
            body="Call 121 from your phone and follow the instructions to record a greeting and set a PIN."),
    Article(id="personal-details", title="Changing your personal details", url=URL + "personal-details",
            body="Change your name, email or date of birth in the app under Account > Personal details. A new "
                 "name needs a photo of your ID."),
    Article(id="pay-bill", title="How do I pay my bill?", url=URL + "pay-bill",
            body="You can pay by direct debit, by card in the app, or by bank transfer. Direct debit is taken on "
                 "the 1st of each month."),
    Article(id="refer-a-friend", title="Refer a friend", url=URL + "refer-a-friend",
            body="Share your code from the app under Rewards. When your friend's first bill is paid, you both get "
                 "20 euros of credit on your next bill."),
]


@pytest.fixture
def phone_company(app: Flask) -> Flask:
    with get_db(app).session() as session:
        KnowledgeBase(session, app.config["DEFAULT_ACCOUNT_ID"], app.config["SETTINGS"].data_dir).import_articles(
            PHONE_COMPANY)
    return app


def handoff_reason(app: Flask) -> str | None:
    with get_db(app).session() as session:
        return session.scalars(select(Conversation)).one().handoff_reason


def test_no_service_on_a_phone_is_answered_not_handed_over_as_a_complaint(phone_company: Flask,
                                                                          vendor: VendorClient) -> None:
    """The shipped complaint examples say "service" as in customer service; a phone
    company's customers say it of their line. Handed over as a complaint before the
    shipped examples learned the difference."""
    vendor.twilio(MESSAGES, inbound("no service on my phone"))
    assert handoff_reason(phone_company) is None
    [reply] = sent(phone_company)
    # Five articles are too few to fit a confidence of their own: a menu, the right one first.
    assert "Restart your phone" in reply or "\n1. I have no signal\n" in reply, reply


def test_an_answer_about_a_phone_contract_is_sent_without_a_lawyer(phone_company: Flask,
                                                                    vendor: VendorClient) -> None:
    """'contract' was a legal topic: the answer was withheld for want of a legal
    disclaimer and the customer handed to a person (reason guardrail)."""
    vendor.twilio(MESSAGES, inbound("when am i eligible for an upgrade"))
    assert handoff_reason(phone_company) is None
    [reply] = sent(phone_company)
    assert "You can upgrade after 12 months of your contract" in reply and "lawyer" not in reply, reply


def test_a_setting_that_did_not_save_is_not_fraud(phone_company: Flask, vendor: VendorClient) -> None:
    """"I didn't order this" is fraud; "my voicemail greeting didn't save" was too (0.74,
    handed over) until the shipped examples held technical failures said the same way."""
    vendor.twilio(MESSAGES, inbound("my voicemail greeting didn't save"))
    assert handoff_reason(phone_company) is None
    assert "voicemail" in sent(phone_company)[-1].lower()


def test_a_complaint_about_the_service_still_reaches_a_person(phone_company: Flask, vendor: VendorClient) -> None:
    vendor.twilio(MESSAGES, inbound("Your customer service is a joke, nobody ever replies"))
    assert handoff_reason(phone_company) == "complaint"


def test_changing_personal_details_is_not_a_data_protection_request(phone_company: Flask,
                                                                     vendor: VendorClient) -> None:
    """The shipped legal examples ask to see or erase personal data; updating one's
    details was read as one of them (legal, 0.94) and handed over."""
    vendor.twilio(MESSAGES, inbound("Can I update my personal information online?"))
    assert handoff_reason(phone_company) is None
    assert "personal-details" in sent(phone_company)[-1] or "Personal details" in sent(phone_company)[-1]


def test_a_request_to_erase_personal_data_still_reaches_a_person(phone_company: Flask,
                                                                 vendor: VendorClient) -> None:
    vendor.twilio(MESSAGES, inbound("Please erase all the personal data you hold about me"))
    assert handoff_reason(phone_company) == "legal"


def test_a_referral_credit_that_did_not_come_is_not_fraud(phone_company: Flask, vendor: VendorClient) -> None:
    """Read as fraud (0.65, like "there are charges on my card I didn't make") and handed
    over, until the shipped out-of-scope examples held rewards and referral questions."""
    vendor.twilio(MESSAGES, inbound("I referred my friend but didn't get my credit"))
    assert handoff_reason(phone_company) is None
    assert "refer-a-friend" in sent(phone_company)[-1] or "Refer a friend" in sent(phone_company)[-1]


def test_a_request_to_be_called_back_reaches_a_person(phone_company: Flask, vendor: VendorClient) -> None:
    """"can I have a call back" was read as a return (0.89) and searched."""
    vendor.twilio(MESSAGES, inbound("can I have a call back"))
    assert handoff_reason(phone_company) == "explicit_request"
