"""The one path every verified webhook takes: inbox, then queue, then a fast 2xx."""
from __future__ import annotations

from typing import Any

from switchboard import db
from switchboard.core import inbox
from switchboard.models import Account
from switchboard.tasks import enqueue_event


def accept(account: Account, *, vendor: str, kind: str, dedupe_key: str, payload: dict[str, Any]) -> bool:
    """Record the event durably and enqueue it; True when new, False for a duplicate.

    Raises (and so answers 5xx, making the vendor retry) only if the event could not
    be stored: an enqueue failure is not an error, the sweep picks the event up.
    """
    event, created = inbox.record(
        db.session(), account_id=account.id, vendor=vendor, kind=kind,
        dedupe_key=dedupe_key, payload=payload,
    )
    if created:
        enqueue_event(event.id)
    return created
