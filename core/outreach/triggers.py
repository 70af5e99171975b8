"""Campaigns that start from a Zendesk event: a ticket tagged ``incident`` or
``outage`` whose other tags name who is affected (``region_north``, ``product_router``,
``tier_gold``). The ticket id is the dedupe key, so a redelivered or updated ticket
starts one campaign. A supervisor still approves it before anything is sent.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from switchboard.core.outreach import campaigns
from switchboard.core.outreach.errors import OutreachNotConfigured
from switchboard.core.outreach.spec import CampaignSpec
from switchboard.core.pii.redaction import redact
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import Account

INCIDENT_TAGS = {"incident", "outage"}
CRITERIA_TAGS = ("region", "product", "tier", "plan", "city")


def criteria_from_tags(tags: list[str]) -> dict[str, Any]:
    attributes: dict[str, list[str]] = {}
    tiers: list[str] = []
    for tag in tags:
        name, _, value = tag.partition("_")
        if name in CRITERIA_TAGS and value:
            (tiers if name == "tier" else attributes.setdefault(name, [])).append(value)
    criteria: dict[str, Any] = {}
    if attributes:
        criteria["attributes"] = attributes
    if tiers:
        criteria["tier"] = tiers
    return criteria


def from_zendesk_ticket(session: Session, account: Account, settings: Settings, detail: dict[str, Any]) -> int | None:
    """Start an incident campaign for a tagged ticket; returns its id, or None."""
    tags = [str(t).lower() for t in detail.get("tags") or []]
    if not INCIDENT_TAGS & set(tags):
        return None
    ticket_id = detail.get("id")
    criteria = criteria_from_tags(tags)
    if not criteria:
        audit(session, account_id=account.id, actor="zendesk", action="outreach.trigger_ignored",
              subject_type="ticket", subject_id=ticket_id,
              detail={"why": "the incident ticket names no affected customers: add tags like region_north, "
                             "product_router or tier_gold"})
        return None
    subject = redact(str(detail.get("subject") or "a service problem")).text[:300]
    spec = CampaignSpec(name=f"Incident: {subject}"[:200], criteria=criteria, segment_by="tier", detail=subject)
    try:
        campaign, _ = campaigns.create(session, account, settings, spec, trigger="zendesk",
                                       created_by=f"zendesk:ticket:{ticket_id}",
                                       dedupe_key=f"zendesk:ticket:{ticket_id}")
    except OutreachNotConfigured as exc:
        audit(session, account_id=account.id, actor="zendesk", action="outreach.trigger_ignored",
              subject_type="ticket", subject_id=ticket_id, detail={"why": str(exc)})
        return None
    return campaign.id
