"""The browser tests' fake backend answers governed actions the way Switchboard does.

The stand-in tests are only as good as the fake: these compare its canned JSON and
scripted answers with what apps/zendesk/actions_api.py returns for a real handed-over
ticket, so a change of shape in the backend fails here instead of silently leaving
the app tested against an outdated contract.
"""
from __future__ import annotations

import json
import uuid
from typing import Any

from flask import Flask

from ..assist.test_sidebar_api import handed_over_ticket, key_for
from ..signing import VendorClient
from .zaf_stand_in import CANNED_ACTIONS, _scripted

#: What the app reads from an execution (apps/zendesk/assets/app.js).
READ_BY_THE_APP = {"id", "action", "status", "reasons", "preview", "message", "created_at", "decided_by"}


def real_listing(app: Flask, vendor: VendorClient) -> dict[str, Any]:
    ticket = handed_over_ticket(app, vendor)
    headers = {"Authorization": f"Bearer {key_for(app)}"}
    ran = vendor.client.post(f"/api/sidebar/tickets/{ticket}/governed-actions/add_note",
                             json={"params": {"note": "contract check"}, "confirm": False},
                             headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
    assert ran.status_code == 200, ran.get_data(as_text=True)
    listing = vendor.client.get(f"/api/sidebar/tickets/{ticket}/governed-actions", headers=headers)
    assert listing.status_code == 200
    return listing.get_json()


def test_the_fake_answers_governed_actions_in_switchboard_s_shapes(app: Flask, vendor: VendorClient) -> None:
    real = real_listing(app, vendor)
    fake = json.loads(CANNED_ACTIONS.read_text())

    # The actions and schemas Switchboard offers agents.
    assert [a["name"] for a in fake["available"]] == [a["name"] for a in real["available"]]
    for canned, served in zip(fake["available"], real["available"], strict=True):
        name = served["name"]
        assert {k: canned[k] for k in ("description", "risk", "needs_confirmation")} == \
            {k: served[k] for k in ("description", "risk", "needs_confirmation")}, name
        assert canned["parameters"]["required"] == served["parameters"]["required"], name
        assert canned["parameters"]["properties"].keys() == served["parameters"]["properties"].keys(), name
        for field, prop in canned["parameters"]["properties"].items():
            real_prop = served["parameters"]["properties"][field]
            assert prop == real_prop, (name, field)


    # Executions: everything the app reads is sent, and the fake invents no field.
    [served] = real["executions"]
    assert READ_BY_THE_APP <= served.keys()
    canned = fake["executions"]
    scripted = [_scripted(name, {"order_id": "A-1042"}, 1) for name in ("order_status", "refund")]
    for execution in canned + scripted:
        assert execution.keys() - {"repeated"} <= served.keys(), execution["action"]
