"""What a probe of the running service sent that ended as a 500: JSON nested tens of
thousands of levels deep (Python's parser gives up with a RecursionError), a NUL in a
query parameter or a JSON string (PostgreSQL's text cannot hold U+0000), and an id
beyond PostgreSQL's integer. Each is now a 400 that names the problem, on every route,
signed in or not, and nothing is stored."""
from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from switchboard.core.store.models import InboxEvent, OutreachCampaign
from switchboard.intake.db import get_db

from ..privacy.helpers import key_for
from ..signing import VendorClient

#: Deep enough to exhaust Python's recursion limit many times over, small enough for
#: the web chat's 8 KB body cap (the routes' other limits must not hide the problem).
DEEP = "[" * 4000 + "]" * 4000
DEEPER = '{"a":' * 20000 + "1" + "}" * 20000
JSON = {"Content-Type": "application/json"}


def _bearer(app: Flask) -> dict[str, str]:
    return {"Authorization": f"Bearer {key_for(app)}", **JSON}


ROUTES = [
    # (path, needs the account key)
    ("/chat/default/session", False),
    ("/chat/default/messages", False),
    ("/slack/events", False),  # unsigned: refused before anyone reads its shape
    ("/playground/messages", False),
    ("/api/outreach/campaigns", True),
    ("/api/customers/erase", True),
    ("/api/sidebar/suggestions/1/feedback", True),
    ("/api/sidebar/tickets/1/reply-translation", True),
]


@pytest.mark.parametrize(("path", "keyed"), ROUTES)
def test_json_nested_beyond_reason_is_a_400_saying_so(app: Flask, path: str, keyed: bool) -> None:
    headers = _bearer(app) if keyed else dict(JSON)
    client = app.test_client()
    for body in (DEEP, DEEPER if "/chat/" not in path else DEEP):
        response = client.post(path, data=body, headers=headers)
        assert response.status_code == 400, response.get_data(as_text=True)[:300]
        assert "nested" in response.json["error"] and "levels" in response.json["error"]


def test_signed_vendor_deliveries_nested_beyond_reason_are_a_400_saying_so(vendor: VendorClient) -> None:
    """Zendesk checks the signature first (an unsigned body is a 403, whatever it holds);
    signed, a deep body is named, not a 500. Slack's interactivity carries its JSON in a
    form field: the same limit, named, for a caller signed or not."""
    from urllib.parse import urlencode

    for response in (vendor.zendesk(DEEPER.encode()),
                     vendor.slack(urlencode({"payload": DEEPER}), content_type="application/x-www-form-urlencoded"),
                     vendor.client.post("/slack/events", data=urlencode({"payload": DEEPER}),
                                        content_type="application/x-www-form-urlencoded")):
        assert response.status_code == 400, response.get_data(as_text=True)[:300]
        assert "nested more than 64 levels" in response.json["error"]
    unsigned = vendor.client.post("/webhooks/zendesk", data=DEEPER, headers=JSON)
    assert unsigned.status_code == 403


def test_reasonably_nested_json_still_reaches_the_route(app: Flask) -> None:
    """The limit is far above any payload a vendor or the widget sends: 30 levels is fine."""
    body = '{"text": "hello", "extra": ' + "[" * 30 + "]" * 30 + "}"
    response = app.test_client().post("/playground/messages", data=body, headers=JSON)
    assert response.status_code == 200, response.get_data(as_text=True)


def test_a_nul_in_a_playground_message_is_a_400_and_nothing_is_recorded(app: Flask) -> None:
    response = app.test_client().post("/playground/messages", json={"text": "where is my parcel\x00"})
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "NUL" in response.json["error"]
    with get_db(app).session() as session:
        assert session.scalar(select(func.count()).select_from(InboxEvent)) == 0


def test_a_nul_in_any_query_parameter_is_a_400_naming_it(app: Flask) -> None:
    client = app.test_client()
    assert client.post("/dashboard/login", data={"key": key_for(app)}).status_code == 302
    for path in ("/dashboard?channel=%00", "/dashboard?intent=x%00y", "/playground/conversation?phone=%00",
                 "/chat/default/messages?after=%00"):
        response = client.get(path)
        assert response.status_code == 400, (path, response.get_data(as_text=True)[:300])
        assert "NUL" in response.json["error"], path


def test_a_customer_id_beyond_the_database_integer_is_a_400_naming_it(app: Flask) -> None:
    headers = _bearer(app)
    client = app.test_client()
    for response in (client.post("/api/customers/erase", json={"identity": "customer:99999999999999999999"},
                                 headers=headers),
                     client.get("/api/customers/export?identity=customer:99999999999999999999", headers=headers)):
        assert response.status_code == 400, response.get_data(as_text=True)[:300]
        assert "out of range" in response.json["error"]
    # The largest id the column holds is simply not found.
    response = client.get("/api/customers/export?identity=customer:2147483647", headers=headers)
    assert response.status_code == 404, response.get_data(as_text=True)[:300]


def test_outreach_with_a_deep_body_stores_nothing(app: Flask) -> None:
    response = app.test_client().post("/api/outreach/campaigns", data=DEEPER,
                                      headers={**_bearer(app), "Idempotency-Key": "deep-1"})
    assert response.status_code == 400
    with get_db(app).session() as session:
        assert session.scalar(select(func.count()).select_from(OutreachCampaign)) == 0



def test_an_audit_ticket_number_the_database_cannot_hold_is_a_400_naming_it(app: Flask) -> None:
    response = app.test_client().get("/api/audit?ticket=99999999999999999999", headers=_bearer(app))
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert "out of range" in response.json["error"]
