"""What the QA scores say over a period: the mean score and each criterion's rate of
"met", grouped the ways a team reviews (automation level, intent, agent (by name, when
Zendesk gave us one), channel, language, day and week), how many "resolved" verdicts a
reopen or repeat contact turned round, and the worst conversations first with their
evidence. Shared by `switchboard qa report`, the dashboard's quality page and the digest."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.core.quality.agents import agent_names, labels
from switchboard.core.quality.rubric import CRITERIA
from switchboard.core.store.models import ConversationScore

GROUPS = ("automation", "intent", "agent", "channel", "language")
#: A period's scores are read whole, up to this many (the newest).
MAX_SCORES = 20_000
WORST = 20
CSV_FIELDS = ["conversation_id", "scored_at", "ended_by", "automation", "channel", "intent", "language", "agent",
              "agent_name", "score", "rubric", *CRITERIA, "rejudged"]


def scores_since(session: Session, account_id: int, since: datetime, until: datetime | None = None
                 ) -> list[ConversationScore]:
    query = select(ConversationScore).where(ConversationScore.account_id == account_id,
                                            ConversationScore.created_at >= since)
    if until is not None:
        query = query.where(ConversationScore.created_at < until)
    return list(session.scalars(query.order_by(ConversationScore.created_at.desc()).limit(MAX_SCORES)))


def rejudged(row: ConversationScore) -> str | None:
    """Why the row's "resolved" was judged again (reopened, repeat_contact), or None."""
    return next((c.get("rejudged") for c in row.criteria if c["criterion"] == "resolved" and c.get("rejudged")), None)


def names_for(session: Session, account_id: int, rows: Iterable[ConversationScore]) -> dict[str, str]:
    """How each agent of ``rows`` is shown: their name as recorded (agents.py), else their id."""
    return labels(agent_names(session, account_id, {r.agent for r in rows}))


def summary(rows: Sequence[ConversationScore]) -> dict[str, Any]:
    met: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        for c in row.criteria:
            if c["verdict"] != "n/a":
                met[c["criterion"]].append(c["verdict"] == "met")
    turned = [reason for row in rows if (reason := rejudged(row))]
    return {"conversations": len(rows),
            "mean_score": round(sum(r.score for r in rows) / len(rows), 1) if rows else None,
            "rejudged": {reason: turned.count(reason) for reason in sorted(set(turned))},
            "criteria": {name: {"judged": len(met[name]), "met_rate": round(sum(met[name]) / len(met[name]), 3)}
                         for name in CRITERIA if met.get(name)}}


def grouped(rows: Iterable[ConversationScore], key: str, names: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[ConversationScore]] = defaultdict(list)
    for row in rows:
        value = getattr(row, key)
        groups[str((names.get(value, value) if key == "agent" and value else value) or "unknown")].append(row)
    return {name: {"conversations": len(g), "mean_score": round(sum(r.score for r in g) / len(g), 1)}
            for name, g in sorted(groups.items())}


def worst_first(rows: Sequence[ConversationScore], limit: int = WORST,
                names: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The lowest scores, each with the criteria it missed and their evidence."""
    names = names or {}
    return [{"conversation_id": r.conversation_id, "score": r.score, "ended_by": r.ended_by,
             "automation": r.automation, "intent": r.intent, "channel": r.channel, "agent": r.agent,
             "agent_name": names.get(r.agent) if r.agent else None, "rejudged": rejudged(r),
             "scored_at": r.created_at.isoformat(),
             "missed": [{"criterion": c["criterion"], "evidence": c["evidence"]}
                        for c in r.criteria if c["verdict"] == "missed"]}
            for r in sorted(rows, key=lambda r: (r.score, -r.id))[:limit]]


def _trend(rows: Iterable[ConversationScore], period: str) -> list[dict[str, Any]]:
    """Mean scores by day, or by ISO week (``2026-W48``, from its Monday) for the trend a team reviews."""
    scores: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        day = row.created_at.date()
        if period == "week":
            year, week, _ = day.isocalendar()
            scores[f"{year}-W{week:02d}"].append(row.score)
        else:
            scores[day.isoformat()].append(row.score)
    return [{period: key, "conversations": len(s), "mean_score": round(sum(s) / len(s), 1)}
            for key, s in sorted(scores.items())]


def report(rows: Sequence[ConversationScore], names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The period's figures, by group, by day and by week, and the worst conversations;
    agents by the names in ``names`` (``names_for``)."""
    names = names or {}
    return {**summary(rows),
            "by": {key: grouped(rows, key, names) for key in GROUPS},
            "trend": _trend(rows, "day"), "weekly": _trend(rows, "week"),
            "worst": worst_first(rows, names=names)}


def csv_rows(rows: Iterable[ConversationScore], names: Mapping[str, str] | None = None) -> Iterable[dict[str, Any]]:
    """One row per scored conversation, each criterion's verdict in its own column."""
    names = names or {}
    for r in rows:
        verdicts = {c["criterion"]: c["verdict"] for c in r.criteria}
        yield {"conversation_id": r.conversation_id, "scored_at": r.created_at.isoformat(), "ended_by": r.ended_by,
               "automation": r.automation, "channel": r.channel, "intent": r.intent, "language": r.language,
               "agent": r.agent, "agent_name": names.get(r.agent, "") if r.agent else "", "score": r.score,
               "rubric": r.rubric, **{name: verdicts.get(name, "") for name in CRITERIA}, "rejudged": rejudged(r) or ""}
