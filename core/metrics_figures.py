"""The outcome figures, computed with SQL aggregates over ``conversation_outcomes``.

One aggregate query per view (totals, per day, per automation level, per channel, per
tier, escalation reasons) over the account's rows in the period, using the
(account_id, day) index; nothing loads conversations into Python, which keeps a
100,000-conversation period fast (``bench/dashboard.py``). The dashboard, the
``switchboard report`` command and the weekly digest all read these same figures.

Rates are None, not zero, when their denominator is zero: "no conversations" must
not read as "nothing contained".
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, distinct, func, select
from sqlalchemy.orm import Session

from switchboard.models import ConversationOutcome as O
from switchboard.models import MetricEvent, Suggestion, SuggestionFeedback

AUTOMATION_LEVELS = ("ai_only", "ai_then_human", "human_only")


class FiguresError(ValueError):
    """A period or filter that cannot be measured; the message says what to change."""


@dataclass(frozen=True)
class Filters:
    """Conversations started on ``start``..``end`` (inclusive UTC dates), optionally
    only one channel, customer tier or intent."""

    start: date
    end: date
    channel: str | None = None
    tier: str | None = None
    intent: str | None = None

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise FiguresError(f"the period ends ({self.end}) before it starts ({self.start}): swap --from and --to")

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time(), tzinfo=UTC)

    @property
    def end_at(self) -> datetime:
        """Exclusive end: midnight after the last day."""
        return datetime.combine(self.end + timedelta(days=1), time(), tzinfo=UTC)

    def previous(self) -> Filters:
        """The period of the same length just before this one (for week-over-week)."""
        days = (self.end - self.start).days + 1
        return Filters(self.start - timedelta(days=days), self.start - timedelta(days=1), self.channel, self.tier,
                       self.intent)

    def as_json(self) -> dict[str, Any]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "channel": self.channel,
                "tier": self.tier, "intent": self.intent}


def _sum_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _columns() -> list[ColumnElement[Any]]:
    handled = (O.bot_replies + O.agent_replies) > 0
    return [
        func.count().label("conversations"),
        _sum_if(O.resolution == "bot").label("contained"),
        _sum_if(O.handoff_at.is_not(None)).label("escalated"),
        func.avg(O.first_response_seconds).label("first_response_avg_s"),
        func.avg(case((handled, O.ai_seconds + O.agent_seconds))).label("handle_time_avg_s"),
        func.avg(O.resolution_seconds).label("resolution_time_avg_s"),
        _sum_if(O.resolved_at.is_not(None)).label("resolved"),
        func.coalesce(func.sum(O.reopened), 0).label("reopened"),
        func.avg(O.csat_score).label("csat_avg"),
        func.count(O.csat_score).label("csat_responses"),
        _sum_if(O.csat_score >= 4).label("csat_satisfied"),
        func.coalesce(func.sum(O.tokens), 0).label("tokens"),
        _sum_if((O.handoff_at.is_not(None)) & ((O.package_opened + O.suggestion_used) > 0)).label("context_used"),
    ]


def _where(account_id: int, filters: Filters) -> list[ColumnElement[bool]]:
    conditions = [O.account_id == account_id, O.day >= filters.start.isoformat(), O.day <= filters.end.isoformat()]
    if filters.channel:
        conditions.append(O.channel == filters.channel)
    if filters.tier:
        conditions.append(O.tier == filters.tier)
    if filters.intent:
        conditions.append(O.intent == filters.intent)
    return conditions


def _rate(part: float | None, whole: float | None) -> float | None:
    return None if not whole else float(part or 0) / float(whole)


def _round(value: Any, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def _figures(row: Any) -> dict[str, Any]:
    m = row._mapping
    conversations, resolved, escalated = int(m["conversations"]), int(m["resolved"]), int(m["escalated"])
    tokens = int(m["tokens"])
    return {
        "conversations": conversations,
        "contained": int(m["contained"]),
        "containment_rate": _round(_rate(m["contained"], conversations)),
        "escalated": escalated,
        "escalation_rate": _round(_rate(escalated, conversations)),
        "first_response_avg_s": _round(m["first_response_avg_s"], 1),
        "handle_time_avg_s": _round(m["handle_time_avg_s"], 1),
        "resolution_time_avg_s": _round(m["resolution_time_avg_s"], 1),
        "resolved": resolved,
        "reopened": int(m["reopened"]),
        "reopen_rate": _round(_rate(m["reopened"], resolved)),
        "csat_avg": _round(m["csat_avg"], 2),
        "csat_responses": int(m["csat_responses"]),
        "csat_satisfied_rate": _round(_rate(m["csat_satisfied"], m["csat_responses"])),
        "tokens": tokens,
        "tokens_per_resolution": _round(tokens / resolved, 1) if tokens and resolved else None,
        "context_used": int(m["context_used"]),
        "context_utilisation": _round(_rate(m["context_used"], escalated)),
    }


def _grouped(session: Session, where: list[ColumnElement[bool]], column: Any) -> list[dict[str, Any]]:
    rows = session.execute(select(column.label("segment"), *_columns()).where(*where)
                           .group_by(column).order_by(column))
    return [{"segment": row._mapping["segment"], **_figures(row)} for row in rows]


def figures(session: Session, account_id: int, filters: Filters, *, daily: bool = True) -> dict[str, Any]:
    """All figures for one account and period, as plain JSON-ready data."""
    where = _where(account_id, filters)
    totals = _figures(session.execute(select(*_columns()).where(*where)).one())
    reasons = session.execute(select(O.handoff_reason, func.count()).where(*where, O.handoff_at.is_not(None))
                              .group_by(O.handoff_reason).order_by(func.count().desc(), O.handoff_reason))
    escalated = totals["escalated"]
    result: dict[str, Any] = {
        "account_id": account_id,
        "filters": filters.as_json(),
        "totals": totals,
        "by_automation": _grouped(session, where, O.automation),
        "by_channel": _grouped(session, where, O.channel),
        "by_tier": _grouped(session, where, O.tier),
        "escalation_reasons": [{"reason": reason or "unknown", "count": int(count),
                                "share": _round(_rate(count, escalated))} for reason, count in reasons],
        "suggestions": suggestion_figures(session, account_id, filters),
        "outreach": outreach_figures(session, account_id, filters),
    }
    if daily:
        result["daily"] = [{"day": row.pop("segment"), **row} for row in _grouped(session, where, O.day)]
    return result


def suggestion_figures(session: Session, account_id: int, filters: Filters) -> dict[str, Any]:
    """Agent assist: suggestions made in the period, how many agents inserted, and how
    far the replies they sent were edited (0 = as suggested, 1 = rewritten)."""
    cohort = select(Suggestion.id).where(
        Suggestion.account_id == account_id, Suggestion.created_at >= filters.start_at,
        Suggestion.created_at < filters.end_at)
    if filters.channel or filters.tier or filters.intent:
        scoped = select(O.conversation_id).where(*_where(account_id, Filters(date.min, date.max, filters.channel,
                                                                              filters.tier, filters.intent)))
        cohort = cohort.where(Suggestion.conversation_id.in_(scoped))
    shown = session.scalar(select(func.count()).select_from(cohort.subquery())) or 0
    inserted, sent, distance = session.execute(
        select(func.count(distinct(case((SuggestionFeedback.kind == "inserted", SuggestionFeedback.suggestion_id)))),
               func.count(distinct(case((SuggestionFeedback.kind == "sent", SuggestionFeedback.suggestion_id)))),
               func.avg(case((SuggestionFeedback.kind == "sent", SuggestionFeedback.edit_distance))))
        .where(SuggestionFeedback.account_id == account_id, SuggestionFeedback.suggestion_id.in_(cohort))).one()
    return {"shown": int(shown), "inserted": int(inserted), "acceptance_rate": _round(_rate(inserted, shown)),
            "sent": int(sent), "avg_edit_distance": _round(distance, 3)}


def outreach_figures(session: Session, account_id: int, filters: Filters) -> dict[str, Any]:
    """Proactive outreach in the period: delivery, opt-out, reply and deflection rates.
    Tier and intent filters do not apply (an outreach message has no conversation)."""
    conditions = [MetricEvent.account_id == account_id, MetricEvent.kind.like("outreach.%"),
                  MetricEvent.occurred_at >= filters.start_at, MetricEvent.occurred_at < filters.end_at]
    if filters.channel:
        conditions.append(MetricEvent.channel == filters.channel)
    counts = dict(session.execute(select(MetricEvent.kind, func.count()).where(*conditions)
                                  .group_by(MetricEvent.kind)).all())
    sent = int(counts.get("outreach.sent", 0))
    delivered = int(counts.get("outreach.delivered", 0))
    failed = int(counts.get("outreach.failed", 0))
    contacted = int(counts.get("outreach.contacted", 0))
    return {
        "sent": sent, "delivered": delivered, "failed": failed,
        "opted_out": int(counts.get("outreach.opted_out", 0)), "replies": int(counts.get("outreach.reply", 0)),
        "contacted": contacted,
        "delivery_rate": _round(_rate(delivered, sent or delivered + failed)),
        "opt_out_rate": _round(_rate(counts.get("outreach.opted_out", 0), delivered)),
        "reply_rate": _round(_rate(counts.get("outreach.reply", 0), delivered)),
        "deflection_rate": _round(1 - contacted / delivered) if delivered else None,
    }


def options(session: Session, account_id: int) -> dict[str, list[str]]:
    """The channels, tiers and intents this account has, for the dashboard's filters."""
    found: dict[str, list[str]] = {}
    for name, column in (("channel", O.channel), ("tier", O.tier), ("intent", O.intent)):
        found[name] = [v for v in session.scalars(select(column).distinct().where(O.account_id == account_id)
                                                  .order_by(column)) if v]
    return found


HEADLINE = ("conversations", "containment_rate", "escalation_rate", "first_response_avg_s", "handle_time_avg_s",
            "resolution_time_avg_s", "reopen_rate", "csat_avg", "context_utilisation", "tokens_per_resolution")


def headline(session: Session, account_id: int, filters: Filters) -> dict[str, dict[str, Any]]:
    """The headline figures with the same-length period before, and the change."""
    now = figures(session, account_id, filters, daily=False)["totals"]
    before = figures(session, account_id, filters.previous(), daily=False)["totals"]
    return {name: {"current": now[name], "previous": before[name],
                   "change": None if now[name] is None or before[name] is None
                   else _round(now[name] - before[name], 4)} for name in HEADLINE}


CSV_FIELDS = ("segment_type", "segment", *(
    "conversations", "contained", "containment_rate", "escalated", "escalation_rate", "first_response_avg_s",
    "handle_time_avg_s", "resolution_time_avg_s", "resolved", "reopened", "reopen_rate", "csat_avg",
    "csat_responses", "csat_satisfied_rate", "tokens", "tokens_per_resolution", "context_used",
    "context_utilisation"))


def csv_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Figures as flat rows: the total, then per automation level, channel, tier, day."""
    rows = [{"segment_type": "total", "segment": "all", **data["totals"]}]
    for kind in ("automation", "channel", "tier"):
        rows += [{"segment_type": kind, **row} for row in data[f"by_{kind}"]]
    rows += [{"segment_type": "day", "segment": row["day"], **{k: v for k, v in row.items() if k != "day"}}
             for row in data.get("daily", [])]
    return rows


