"""Issue 42, item 9: identity numbers a customer texts are vaulted, not stored: passport
and driver's licence numbers next to a word that says what they are, a UK number in
national form from a US sender, SSNs from the SSA's published sample ranges after an
SSN cue; the order number, dates and amounts around them stay readable for the agent.

Through signed Twilio messages from a US number to the company's US number; the
stored timeline, the kept delivery and the vault are read back."""
from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from switchboard.core.pii.vault import vault_for
from switchboard.core.store.models import InboxEvent, Message, VaultEntry
from switchboard.intake.db import get_db

from ..signing import VendorClient
from .helpers import say

#: (what the customer texts, the secret in it, what must survive).
CASES = [
    ("my passport number is X12345678, can you fix the booking for order A1001?", "X12345678", "order A1001"),
    ("Passport: 533380006 - I need it on the ticket by 12/11/2026", "533380006", "12/11/2026"),
    ("driver's license D1234567 expired, does that matter for order #100234?", "D1234567", "#100234"),
    ("you can call me on 020 7946 0958 about the $59.99 refund", "020 7946 0958", "$59.99"),
    ("SSN 078-05-1120 for the credit check on order A1001", "078-05-1120", "order A1001"),
    ("my social security number is 219-09-9999, it was due 2026-11-20", "219-09-9999", "2026-11-20"),
]


@pytest.mark.parametrize(("text", "secret", "kept"), CASES, ids=[c[1] for c in CASES])
def test_an_identity_number_texted_in_is_vaulted_and_the_order_survives(app: Flask, vendor: VendorClient, text: str,
                                                                        secret: str, kept: str) -> None:
    say(vendor, text)
    with get_db(app).session() as session:
        [stored] = session.scalars(select(Message.body).where(Message.author == "customer")).all()
        [event] = session.scalars(select(InboxEvent.payload)).all()
        [entry] = session.scalars(select(VaultEntry)).all()
        value = vault_for(app.config["SETTINGS"]).open(entry.sealed)
    assert secret not in stored and secret not in str(event), stored
    assert f"[{entry.kind.upper()}_1]" in stored and value == secret
    assert kept in stored, stored
