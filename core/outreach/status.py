"""Where a campaign stands: the compare-and-set that moves its status, and its
recipients counted by status. Apart from ``campaigns`` (the lifecycle, which resumes and
finishes sends) and ``sending`` (the send loop), which both need them, so neither
imports the other back."""
from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from switchboard.core.store.models import OutreachCampaign, OutreachRecipient


def move(session: Session, campaign_id: int, expected: str, *conditions: Any, **values: Any) -> bool:
    """Set ``values`` on the campaign only if its status is still ``expected`` (and any
    further ``conditions`` hold): a compare-and-set, so of two workers, beats or clicks
    exactly one moves it. Not committed: the caller commits with its own writes."""
    result = cast("CursorResult[Any]", session.execute(
        update(OutreachCampaign)
        .where(OutreachCampaign.id == campaign_id, OutreachCampaign.status == expected, *conditions)
        .values(**values).execution_options(synchronize_session=False)))
    return result.rowcount == 1


def counts(session: Session, campaign_id: int) -> dict[str, int]:
    """Recipients by status (and skipped by reason), for Slack and the API."""
    out: dict[str, int] = {}
    rows = session.execute(select(OutreachRecipient.status, OutreachRecipient.reason, func.count())
                           .where(OutreachRecipient.campaign_id == campaign_id)
                           .group_by(OutreachRecipient.status, OutreachRecipient.reason))
    for status, reason, n in rows:
        out[status] = out.get(status, 0) + n
        if status in ("skipped", "deferred", "failed") and reason:
            key = f"{status}:{reason.split(':')[0]}"
            out[key] = out.get(key, 0) + n
    return out
