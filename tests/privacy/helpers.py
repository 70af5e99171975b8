"""Shared steps of the privacy tests: a customer writes personal data over signed Twilio
messages and is handed to a person, so it travels every path it can."""
from __future__ import annotations

import json
from itertools import count
from typing import Any

from flask import Flask
from sqlalchemy import JSON, String, Text, cast, func, or_, select
from sqlalchemy.orm import Session

from switchboard.core import accounts
from switchboard.core.store.models import Base, Conversation
from switchboard.intake.db import get_db

from ..handoff.test_handoff_to_zendesk import Fakes
from ..signing import VendorClient

MESSAGES = "/webhooks/twilio/messages"
SENDER = "+14155550100"
_sid = count(1)


def say(vendor: VendorClient, body: str, *, sender: str = SENDER, channel: str = "sms",
        profile_name: str = "Dana") -> None:
    params = {"MessageSid": f"SM{next(_sid):032x}", "AccountSid": "AC" + "1" * 32, "NumMedia": "0", "Body": body,
              "From": sender, "To": "+15005550006", "ApiVersion": "2010-04-01"}
    if channel == "whatsapp":
        params.update(From=f"whatsapp:{sender}", To="whatsapp:+14155238886", WaId=sender.lstrip("+"),
                      ProfileName=profile_name)
    response = vendor.twilio(MESSAGES, params)
    assert response.status_code == 200, response.get_data(as_text=True)


def key_for(app: Flask) -> str:
    with get_db(app).session() as session:
        account = accounts.by_slug(session, accounts.DEFAULT_SLUG)
        assert account is not None
        return accounts.create_api_key(session, account)


def ticket_of(app: Flask, sender: str = SENDER) -> int:
    with get_db(app).session() as session:
        conversations = session.scalars(select(Conversation).order_by(Conversation.id)).all()
        ticket = next(c.zendesk_ticket_id for c in conversations if c.zendesk_ticket_id)
    assert ticket
    return ticket


def agent(user_id: str | None, key: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    if user_id:
        headers["X-Zendesk-User-Id"] = user_id
    return headers


class LiveVendors(Fakes):
    """Twilio and Zendesk faked at the HTTP layer (tests/handoff), with message SIDs of
    their own: the SIDs of the messages ``say`` sends count from 1 too, and the timeline
    keeps one message per SID."""

    def _twilio(self, request: Any) -> tuple[int, dict[str, str], str]:
        status, headers, body = super()._twilio(request)
        answer = json.loads(body)
        return status, headers, json.dumps({**answer, "sid": "SMfeed" + answer["sid"][6:]})


def traces(session: Session, markers: tuple[str, ...]) -> dict[str, int]:
    """"table.column" -> rows holding a marker (lower-case), case folded, over every
    text and JSON column: where a customer's words could still be after erasure."""
    found: dict[str, int] = {}
    for table in Base.metadata.sorted_tables:
        for column in table.c:
            if not isinstance(column.type, (String, Text, JSON)) and not isinstance(
                    getattr(column.type, "impl", None), JSON):
                continue
            as_text = func.lower(cast(column, Text))
            hits = session.scalar(select(func.count()).select_from(table).where(
                or_(*(as_text.contains(marker) for marker in markers))))
            if hits:
                found[f"{table.name}.{column.name}"] = hits
    return found
