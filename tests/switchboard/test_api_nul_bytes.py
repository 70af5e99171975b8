"""Every /api/ route refuses U+0000 by name: PostgreSQL's text and JSONB cannot hold it,
so it would otherwise reach the driver and end as a 500 (the OpenAPI fuzz found it on
several routes, one at a time)."""
from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from switchboard.core.store.models import OutreachCampaign
from switchboard.intake.db import get_db

from ..privacy.helpers import key_for


def test_a_nul_in_a_json_body_or_query_is_a_400_naming_it_and_nothing_is_stored(app: Flask) -> None:
    headers = {"Authorization": f"Bearer {key_for(app)}", "Idempotency-Key": "nul-1"}
    client = app.test_client()
    campaign = {"name": "Outage\x00", "message": "We are fixing it.", "segments": [{"name": "all"}]}
    for response in (client.post("/api/outreach/campaigns", json=campaign, headers=headers),
                     client.post("/api/outreach/campaigns", json={"na\x00me": "x"}, headers=headers),
                     client.post("/api/outreach/campaigns", json=[{"deep": ["ok", "no\x00"]}], headers=headers),
                     client.get("/api/outreach/campaigns?page=%00", headers=headers)):
        assert response.status_code == 400, response.get_data(as_text=True)
        assert "NUL byte" in response.json["error"]
    with get_db(app).session() as session:
        assert session.scalar(select(func.count()).select_from(OutreachCampaign)) == 0
    # The same request without the NUL reaches the route (and its own validation).
    clean = client.post("/api/outreach/campaigns", json={"name": "x"}, headers=headers)
    assert clean.status_code != 500 and "NUL" not in clean.get_data(as_text=True)
