"""The one path every verified webhook takes: inbox, then queue, then a fast 2xx."""
from __future__ import annotations

import json
from typing import Any

from switchboard.core.store import inbox
from switchboard.core.store.models import Account
from switchboard.intake import db, enqueue

#: Writes non-ASCII as it is, so a lone surrogate stays one (and then fails to encode)
#: instead of becoming an escape; a NUL is always written as the escape \u0000.
_JSON = json.JSONEncoder(ensure_ascii=False)


def storable(value: Any) -> Any:
    """``value`` with every string made storable: PostgreSQL refuses U+0000 and lone
    surrogates ("\\ud800", valid JSON, not valid text) in text and JSONB, and refusing
    the delivery would make the vendor retry it forever. NULs go, surrogates become "?".
    A payload that holds neither (nearly every delivery) is returned as it is."""
    return value if _already_storable(value) else _scrubbed(value)


def _already_storable(value: Any) -> bool:
    """Whether no string in ``value`` holds a NUL or a lone surrogate: one pass of the C
    JSON encoder over the whole payload, instead of a Python call for every string in
    it. Anything the encoder cannot write is left to ``_scrubbed`` to decide."""
    try:
        text = _JSON.encode(value)
        text.encode("utf-8")
    except (TypeError, ValueError):  # not JSON, or a lone surrogate (UnicodeEncodeError)
        return False
    return "\\u0000" not in text


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_scrubbed(k): _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v) for v in value]
    return value


def accept(account: Account, *, vendor: str, kind: str, dedupe_key: str, payload: dict[str, Any]) -> bool:
    """Record the event durably and enqueue it; True when new, False for a duplicate.

    Raises (and so answers 5xx, making the vendor retry) only if the event could not
    be stored: an enqueue failure is not an error, the sweep picks the event up.
    """
    event_id, created = inbox.record_delivery(
        db.get_db().intake, account_id=account.id, vendor=vendor, kind=storable(kind),
        dedupe_key=storable(dedupe_key), payload=storable(payload),
    )
    if created:
        enqueue.event(event_id)
    return created
