"""What the QA scores say over a period: the mean score and each criterion's rate of
"met", grouped the ways a team reviews (automation level, intent, agent, channel,
language, day), and the worst conversations first with their evidence. Shared by
`switchboard qa report` and the dashboard's quality page."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.models import ConversationScore

from .rubric import CRITERIA

GROUPS = ("automation", "intent", "agent", "channel", "language")
#: A period's scores are read whole, up to this many (the newest).
MAX_SCORES = 20_000
WORST = 20
CSV_FIELDS = ["conversation_id", "scored_at", "ended_by", "automation", "channel", "intent", "language", "agent",
              "score", "rubric", *CRITERIA]


def scores_since(session: Session, account_id: int, since: datetime, until: datetime | None = None
                 ) -> list[ConversationScore]:
    query = select(ConversationScore).where(ConversationScore.account_id == account_id,
                                            ConversationScore.created_at >= since)
    if until is not None:
        query = query.where(ConversationScore.created_at < until)
    return list(session.scalars(query.order_by(ConversationScore.created_at.desc()).limit(MAX_SCORES)))


def summary(rows: Sequence[ConversationScore]) -> dict[str, Any]:
    met: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        for c in row.criteria:
            if c["verdict"] != "n/a":
                met[c["criterion"]].append(c["verdict"] == "met")
    return {"conversations": len(rows),
            "mean_score": round(sum(r.score for r in rows) / len(rows), 1) if rows else None,
            "criteria": {name: {"judged": len(met[name]), "met_rate": round(sum(met[name]) / len(met[name]), 3)}
                         for name in CRITERIA if met.get(name)}}


def _grouped(rows: Iterable[ConversationScore], key: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[ConversationScore]] = defaultdict(list)
    for row in rows:
        groups[str(getattr(row, key) or "unknown")].append(row)
    return {name: {"conversations": len(g), "mean_score": round(sum(r.score for r in g) / len(g), 1)}
            for name, g in sorted(groups.items())}


def worst_first(rows: Sequence[ConversationScore], limit: int = WORST) -> list[dict[str, Any]]:
    """The lowest scores, each with the criteria it missed and their evidence."""
    return [{"conversation_id": r.conversation_id, "score": r.score, "ended_by": r.ended_by,
             "automation": r.automation, "intent": r.intent, "agent": r.agent,
             "scored_at": r.created_at.isoformat(),
             "missed": [{"criterion": c["criterion"], "evidence": c["evidence"]}
                        for c in r.criteria if c["verdict"] == "missed"]}
            for r in sorted(rows, key=lambda r: (r.score, -r.id))[:limit]]


def report(rows: Sequence[ConversationScore]) -> dict[str, Any]:
    """The period's figures, by group and by day, and the worst conversations."""
    by_day: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        by_day[row.created_at.date().isoformat()].append(row.score)
    return {**summary(rows),
            "by": {key: _grouped(rows, key) for key in GROUPS},
            "trend": [{"day": day, "conversations": len(s), "mean_score": round(sum(s) / len(s), 1)}
                      for day, s in sorted(by_day.items())],
            "worst": worst_first(rows)}


def csv_rows(rows: Iterable[ConversationScore]) -> Iterable[dict[str, Any]]:
    """One row per scored conversation, each criterion's verdict in its own column."""
    for r in rows:
        verdicts = {c["criterion"]: c["verdict"] for c in r.criteria}
        yield {"conversation_id": r.conversation_id, "scored_at": r.created_at.isoformat(), "ended_by": r.ended_by,
               "automation": r.automation, "channel": r.channel, "intent": r.intent, "language": r.language,
               "agent": r.agent, "score": r.score, "rubric": r.rubric,
               **{name: verdicts.get(name, "") for name in CRITERIA}}
