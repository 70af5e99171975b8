"""Agents' names for the QA report, dashboard and digest: a score keeps the agent as
Zendesk names them (``zendesk:<user id>``, what every agent action is audited under),
and a person reading a report knows their colleagues by name. The names are the ones
Zendesk already gave us, in the audit trail: the sidebar's signed agent (its token or
ZAF's currentUser) and the author of a comment event."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.core.store.models import AuditEntry

#: The newest audit entries of the wanted agents read for their names: bounded, the
#: latest name wins (an agent renamed in Zendesk shows as they are called now).
NAME_LOOKUP = 5000


def agent_names(session: Session, account_id: int, actors: Iterable[str | None]) -> dict[str, str]:
    """``{"zendesk:111": "Ava Jones"}`` for the agents of ``actors`` whose name was recorded."""
    wanted = {a for a in actors if a and a.startswith("zendesk:")}
    names: dict[str, str] = {}
    if not wanted:
        return names
    rows = session.execute(select(AuditEntry.actor, AuditEntry.detail).where(
        AuditEntry.account_id == account_id, AuditEntry.actor.in_(sorted(wanted)))
        .order_by(AuditEntry.id.desc()).limit(NAME_LOOKUP))
    for actor, detail in rows:
        actor = str(actor)
        agent = (detail or {}).get("agent") if isinstance(detail, dict) else None
        name = agent.get("name") if isinstance(agent, dict) else None
        if actor not in names and isinstance(name, str) and name.strip():
            names[actor] = " ".join(name.split())[:100]
            if len(names) == len(wanted):
                break
    return names


def labels(names: dict[str, str]) -> dict[str, str]:
    """How each agent is shown: their name, with their id when two agents share it."""
    count: dict[str, int] = {}
    for name in names.values():
        count[name] = count.get(name, 0) + 1
    return {actor: name if count[name] == 1 else f"{name} ({actor})" for actor, name in names.items()}
