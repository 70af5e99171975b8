"""What reaches the inbox is storable in PostgreSQL text and JSONB: NULs dropped, lone
surrogates made "?", everything else kept exactly as the vendor sent it."""
from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from switchboard.core.store.models import InboxEvent
from switchboard.intake.db import get_db
from switchboard.intake.inbox import storable

from ..signing import VendorClient, fixture


@pytest.mark.parametrize(("sent", "stored"), [
    ("plain", "plain"),
    ("a\x00b", "ab"),
    ("\ud800", "?"),
    ("\ud83d\ude00", "??"),  # two lone surrogates, not a pair, in a Python string
    ("é😀", "é😀"),
    ("\\u0000 as text", "\\u0000 as text"),
    ({"na\x00me": ["x", {"deep": "c\x00\ud800"}]}, {"name": ["x", {"deep": "c?"}]}),
    ({"n": 5, "f": 2.5, "none": None, "yes": True, 7: "seven"}, {"n": 5, "f": 2.5, "none": None, "yes": True,
                                                                 7: "seven"}),
    (b"bytes\x00", b"bytes\x00"),  # not text: left as it is
])
def test_storable_drops_nuls_and_replaces_lone_surrogates_only(sent: object, stored: object) -> None:
    assert storable(sent) == stored


def test_a_signed_delivery_with_a_nul_and_a_lone_surrogate_is_stored_scrubbed(app: Flask, vendor: VendorClient) -> None:
    payload = fixture("zendesk", "ticket_created.json")
    payload["detail"] = {**payload["detail"], "switchboard_note": "a\x00b\ud800c"}  # valid JSON: \u0000, \ud800
    assert vendor.zendesk(payload).status_code == 200
    with get_db(app).session() as session:
        event = session.scalars(select(InboxEvent)).one()
        assert event.payload["detail"]["switchboard_note"] == "ab?c"
