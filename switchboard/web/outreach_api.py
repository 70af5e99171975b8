"""POST /api/outreach/campaigns and GET /api/outreach/campaigns[/<id>] (account API key).

Thin: parse, hand to core/outreach, answer. A repeated ``Idempotency-Key`` returns
the campaign the first request started (200 instead of 201).
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from switchboard.core import accounts
from switchboard.core.outreach import campaigns
from switchboard.core.outreach.errors import InvalidCampaign, OutreachNotConfigured
from switchboard.core.outreach.spec import parse
from switchboard.core.store.models import OutreachCampaign, OutreachSegment
from switchboard.intake import db
from switchboard.web.api import require_account

blueprint = Blueprint("outreach_api", __name__, url_prefix="/api/outreach")


@blueprint.post("/campaigns")
@require_account
def create_campaign() -> ResponseReturnValue:
    data = request.get_json(silent=True)
    if data is None:
        return jsonify(error="send the campaign as a JSON object (Content-Type: application/json)"), 400
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > 150:
        return jsonify(error="Idempotency-Key: at most 150 characters"), 400
    try:
        spec = parse(data)
        campaign, created = campaigns.create(
            db.session(), g.account, current_app.config["SETTINGS"], spec, trigger="api",
            created_by=accounts.key_label(g.api_key),
            dedupe_key=f"api:{key}" if key else None)
    except InvalidCampaign as exc:
        db.session().rollback()
        return jsonify(error=str(exc)), 400
    except OutreachNotConfigured as exc:
        db.session().rollback()
        return jsonify(error=str(exc)), 409
    return jsonify(campaign_json(campaign)), 201 if created else 200


@blueprint.get("/campaigns")
@require_account
def list_campaigns() -> ResponseReturnValue:
    rows = db.session().scalars(select(OutreachCampaign).where(OutreachCampaign.account_id == g.account.id)
                                .order_by(OutreachCampaign.id.desc()).limit(100))
    return jsonify([campaign_json(c, with_counts=False) for c in rows])


@blueprint.get("/campaigns/<int:campaign_id>")
@require_account
def get_campaign(campaign_id: int) -> ResponseReturnValue:
    campaign = db.session().get(OutreachCampaign, campaign_id)
    if campaign is None or campaign.account_id != g.account.id:
        abort(404, f"no outreach campaign {campaign_id} in this account")
    return jsonify(campaign_json(campaign))


def campaign_json(campaign: OutreachCampaign, *, with_counts: bool = True) -> dict[str, Any]:
    session = db.session()
    data: dict[str, Any] = {
        "id": campaign.id, "name": campaign.name, "trigger": campaign.trigger, "status": campaign.status,
        "start_at": campaign.start_at.isoformat() if campaign.start_at else None,
        "expires_at": campaign.expires_at.isoformat() if campaign.expires_at else None,
        "decided_by": campaign.decided_by,
        "decided_at": campaign.decided_at.isoformat() if campaign.decided_at else None,
    }
    if with_counts:
        data["recipients"] = campaigns.counts(session, campaign.id)
        data["segments"] = [{"id": s.id, "key": s.key, "size": s.size, "draft": s.draft, "edited_text": s.edited_text,
                             "engine": s.engine, "content_sid": s.content_sid}
                            for s in session.scalars(select(OutreachSegment).where(
                                OutreachSegment.campaign_id == campaign.id).order_by(OutreachSegment.id))]
    return data


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
