"""The outcome figures, computed with SQL aggregates over ``conversation_outcomes``.

One aggregate query per view (totals, per day, per automation level, per channel, per
tier, escalation reasons) over the account's rows in the period, using the
(account_id, day) index; nothing loads conversations into Python, which keeps a
100,000-conversation period fast (``bench/dashboard.py``). The dashboard, the
``switchboard report`` command and the weekly digest all read these same figures.

Rates are None, not zero, when their denominator is zero: "no conversations" must
not read as "nothing contained". Every rate's numerator is a subset of its
denominator (reopens among conversations resolved at least once; outreach contacts,
opt-outs and replies among the deliveries they follow), so none exceeds 100 %.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Float, RowMapping, case, distinct, func, select
from sqlalchemy.orm import Session

from switchboard.core.outcomes.metrics import BOT_QUIET, LINKED_OUTREACH_KINDS, REOPEN_WINDOW
from switchboard.core.store.models import ConversationOutcome as O
from switchboard.core.store.models import MetricEvent, Suggestion, SuggestionFeedback

#: The days a period may cover: wide enough for any real history, narrow enough that
#: date arithmetic never overflows and a daily series stays a chart, not a dump.
MIN_DAY = date(2000, 1, 1)
MAX_DAY = date(2099, 12, 31)
MAX_PERIOD_DAYS = 1096


@dataclass(frozen=True)
class TimeUnit:
    """A unit durations are shown in: ``name`` for an axis, ``symbol`` after a value."""

    name: str
    symbol: str
    seconds: float


#: Each unit is used up to 90 of it (48 hours), then the next: "45 s", "20.2 min",
#: "2.5 h", "3.1 d". Cards, tables and the chart all pick from here, by magnitude.
TIME_UNITS = ((90.0, TimeUnit("seconds", "s", 1.0)), (90 * 60.0, TimeUnit("minutes", "min", 60.0)),
              (48 * 3600.0, TimeUnit("hours", "h", 3600.0)), (float("inf"), TimeUnit("days", "d", 86400.0)))


def time_unit(seconds: float | None) -> TimeUnit:
    """The unit a duration of this size reads best in (seconds for None or nothing)."""
    size = abs(seconds or 0.0)
    return next(unit for below, unit in TIME_UNITS if size < below)


def format_duration(seconds: float | None, unit: TimeUnit | None = None) -> str:
    """``seconds`` in ``unit`` (default: the one its magnitude calls for), "n/a" for
    None. One decimal where a whole number would hide it: "0.4 s", not "0 s"."""
    if seconds is None:
        return "n/a"
    unit = unit or time_unit(seconds)
    value = seconds / unit.seconds
    return f"{value:.0f} {unit.symbol}" if unit.symbol == "s" and abs(value) >= 10 else f"{value:.1f} {unit.symbol}"


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
        check_day("from", self.start)
        check_day("to", self.end)
        if self.end < self.start:
            raise FiguresError(f"the period ends ({self.end}) before it starts ({self.start}): swap --from and --to")
        if self.days > MAX_PERIOD_DAYS:
            raise FiguresError(f"the period {self.start}..{self.end} covers {self.days} days; choose at most "
                               f"{MAX_PERIOD_DAYS} days (about 3 years) between {MIN_DAY} and {MAX_DAY}")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time(), tzinfo=UTC)

    @property
    def end_at(self) -> datetime:
        """Exclusive end: midnight after the last day."""
        return datetime.combine(self.end + timedelta(days=1), time(), tzinfo=UTC)

    def previous(self) -> Filters:
        """The period of the same length just before this one (for week-over-week)."""
        days = self.days
        return Filters(self.start - timedelta(days=days), self.start - timedelta(days=1), self.channel, self.tier,
                       self.intent)

    def as_json(self) -> dict[str, Any]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "channel": self.channel,
                "tier": self.tier, "intent": self.intent}


def check_day(name: str, day: date) -> date:
    """A day a period may start or end on; the error names the allowed range."""
    if not MIN_DAY <= day <= MAX_DAY:
        raise FiguresError(f"{name} must be between {MIN_DAY} and {MAX_DAY} (at most {MAX_PERIOD_DAYS} days "
                           f"apart), not {day}")
    return day


def _sum_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def resolved(now: datetime) -> ColumnElement[bool]:
    """Whether a conversation is resolved as of ``now`` (the definition is in
    ``core.outcomes.metrics``): its ticket solved, or the bot's answer standing and the
    conversation quiet for ``BOT_QUIET``. A bot answer a minute old is not a resolution
    yet: the customer may still be typing their next question."""
    return (O.resolution == "agent") | ((O.resolution == "bot") & (O.last_activity_at <= now - BOT_QUIET))


def _columns(now: datetime) -> list[ColumnElement[Any]]:
    handled = (O.bot_replies + O.agent_replies) > 0
    done = resolved(now)
    return [
        func.count().label("conversations"),
        _sum_if(O.resolution == "bot").label("contained"),
        _sum_if(O.handoff_at.is_not(None)).label("escalated"),
        func.avg(O.first_response_seconds).label("first_response_avg_s"),
        func.avg(case((handled, O.ai_seconds + O.agent_seconds))).label("handle_time_avg_s"),
        func.avg(case((done, O.resolution_seconds))).label("resolution_time_avg_s"),
        _sum_if(done).label("resolved"),
        # A reopen follows a resolution, even when a later handoff undid the bot's.
        _sum_if(done | (O.reopened > 0)).label("resolved_ever"),
        _sum_if(O.reopened > 0).label("reopened"),
        func.avg(O.csat_score).label("csat_avg"),
        func.count(O.csat_score).label("csat_responses"),
        _sum_if(O.csat_score >= 4).label("csat_satisfied"),
        func.coalesce(func.sum(O.tokens), 0).label("tokens"),
        _sum_if((O.handoff_at.is_not(None)) & ((O.package_opened + O.suggestion_used) > 0)).label("context_used"),
    ]


def _segment(account_id: int, filters: Filters) -> list[ColumnElement[bool]]:
    """The account and the channel, tier and intent filters, whatever the period."""
    conditions = [O.account_id == account_id]
    if filters.channel:
        conditions.append(O.channel == filters.channel)
    if filters.tier:
        conditions.append(O.tier == filters.tier)
    if filters.intent:
        conditions.append(O.intent == filters.intent)
    return conditions


def _where(account_id: int, filters: Filters) -> list[ColumnElement[bool]]:
    return [*_segment(account_id, filters), O.day >= filters.start.isoformat(), O.day <= filters.end.isoformat()]


def _rate(part: float | None, whole: float | None) -> float | None:
    return None if not whole else float(part or 0) / float(whole)


def _round(value: Any, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def _figures(m: RowMapping | Mapping[str, Any]) -> dict[str, Any]:
    """The figures of one aggregate row (or of ``_NO_ROWS``, for a day without any)."""
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
        "resolved_ever": int(m["resolved_ever"]),
        "reopened": int(m["reopened"]),
        "reopen_rate": _round(_rate(m["reopened"], m["resolved_ever"])),
        "csat_avg": _round(m["csat_avg"], 2),
        "csat_responses": int(m["csat_responses"]),
        "csat_satisfied_rate": _round(_rate(m["csat_satisfied"], m["csat_responses"])),
        "tokens": tokens,
        "tokens_per_resolution": _round(tokens / resolved, 1) if tokens and resolved else None,
        "context_used": int(m["context_used"]),
        "context_utilisation": _round(_rate(m["context_used"], escalated)),
    }


def _grouped(session: Session, where: list[ColumnElement[bool]], column: Any, now: datetime) -> list[dict[str, Any]]:
    rows = session.execute(select(column.label("segment"), *_columns(now)).where(*where)
                           .group_by(column).order_by(column))
    return [{"segment": row._mapping["segment"], **_figures(row._mapping)} for row in rows]


def figures(session: Session, account_id: int, filters: Filters, *, daily: bool = True,
            now: datetime | None = None) -> dict[str, Any]:
    """All figures for one account and period, as plain JSON-ready data. ``now`` is
    the current time (given by tests and benchmarks): it decides which bot answers have
    stood long enough to count as resolutions."""
    now = now or datetime.now(UTC)
    where = _where(account_id, filters)
    totals = _figures(session.execute(select(*_columns(now)).where(*where)).one()._mapping)
    reasons = session.execute(select(O.handoff_reason, func.count()).where(*where, O.handoff_at.is_not(None))
                              .group_by(O.handoff_reason).order_by(func.count().desc(), O.handoff_reason))
    escalated = totals["escalated"]
    result: dict[str, Any] = {
        "account_id": account_id,
        "filters": filters.as_json(),
        "totals": totals,
        "by_automation": _grouped(session, where, O.automation, now),
        "by_channel": _grouped(session, where, O.channel, now),
        "by_tier": _grouped(session, where, O.tier, now),
        "escalation_reasons": [{"reason": reason or "unknown", "count": int(count),
                                "share": _round(_rate(count, escalated))} for reason, count in reasons],
        "suggestions": suggestion_figures(session, account_id, filters),
        "outreach": outreach_figures(session, account_id, filters),
    }
    if daily:
        result["daily"] = _every_day(filters, _grouped(session, where, O.day, now))
    return result


#: What the aggregate query answers over no conversations.
_NO_ROWS: dict[str, Any] = {
    "conversations": 0, "contained": 0, "escalated": 0, "first_response_avg_s": None, "handle_time_avg_s": None,
    "resolution_time_avg_s": None, "resolved": 0, "resolved_ever": 0, "reopened": 0, "csat_avg": None,
    "csat_responses": 0, "csat_satisfied": 0, "tokens": 0, "context_used": 0}


def _empty() -> dict[str, Any]:
    """The figures of a day without conversations: counts 0, rates and averages None."""
    return _figures(_NO_ROWS)


def _every_day(filters: Filters, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per day of the period, quiet days included, so a chart's x axis is
    the calendar and a day without conversations shows as zero, not as nothing."""
    found = {row["segment"]: row for row in rows}
    series = []
    for offset in range(filters.days):
        day = (filters.start + timedelta(days=offset)).isoformat()
        row = found.get(day) or _empty()
        series.append({"day": day, **{k: v for k, v in row.items() if k != "segment"}})
    return series


def suggestion_figures(session: Session, account_id: int, filters: Filters) -> dict[str, Any]:
    """Agent assist: suggestions made in the period, how many agents inserted, and how
    far the replies they sent were edited (0 = as suggested, 1 = rewritten)."""
    cohort = select(Suggestion.id).where(
        Suggestion.account_id == account_id, Suggestion.created_at >= filters.start_at,
        Suggestion.created_at < filters.end_at)
    if filters.channel or filters.tier or filters.intent:
        scoped = select(O.conversation_id).where(*_segment(account_id, filters))
        cohort = cohort.where(Suggestion.conversation_id.in_(scoped))
    shown = session.scalar(select(func.count()).select_from(cohort.subquery())) or 0
    # Every column typed (avg's type_), so the row unpacks as (int, int, float) and not
    # as three ``object``s.
    inserted, sent, distance = session.execute(
        select(func.count(distinct(case((SuggestionFeedback.kind == "inserted", SuggestionFeedback.suggestion_id)))),
               func.count(distinct(case((SuggestionFeedback.kind == "sent", SuggestionFeedback.suggestion_id)))),
               func.avg(case((SuggestionFeedback.kind == "sent", SuggestionFeedback.edit_distance)), type_=Float))
        .where(SuggestionFeedback.account_id == account_id, SuggestionFeedback.suggestion_id.in_(cohort))).one()
    return {"shown": int(shown), "inserted": int(inserted), "acceptance_rate": _round(_rate(inserted, shown)),
            "sent": int(sent), "avg_edit_distance": _round(distance, 3)}


def outreach_figures(session: Session, account_id: int, filters: Filters) -> dict[str, Any]:
    """Proactive outreach delivered in the period: delivery, opt-out, reply and
    deflection rates. Tier and intent filters do not apply (an outreach message has no
    conversation).

    One cohort: the messages delivered in the period. A contact, opt-out or reply is
    counted in the period of the delivery it follows (its ``delivery_event_id``),
    whenever it happened, so a STOP on Monday to Friday's message lowers Friday's
    figures, and no rate can go below 0 or above 100 %. The last ``REOPEN_WINDOW``
    of a period still running is provisional: its customers may yet write in.
    """
    delivery = [MetricEvent.account_id == account_id, MetricEvent.occurred_at >= filters.start_at,
                MetricEvent.occurred_at < filters.end_at]
    if filters.channel:
        delivery.append(MetricEvent.channel == filters.channel)
    counts = dict(session.execute(select(MetricEvent.kind, func.count()).where(
        *delivery, MetricEvent.kind.in_(("outreach.sent", "outreach.delivered", "outreach.failed")))
        .group_by(MetricEvent.kind)).all())
    delivered = int(counts.get("outreach.delivered", 0))
    failed = int(counts.get("outreach.failed", 0))
    linked = _linked_to_deliveries(session, account_id, filters) if delivered else {}
    contacted, opted_out, replies = (linked.get(kind, 0) for kind in LINKED_OUTREACH_KINDS)
    return {
        "sent": int(counts.get("outreach.sent", 0)), "delivered": delivered, "failed": failed,
        "opted_out": opted_out, "replies": replies, "contacted": contacted,
        # Of the messages whose fate is known, the share delivered (a message sent late
        # on the last day may be delivered the day after: sent is not the base).
        "delivery_rate": _round(_rate(delivered, delivered + failed)),
        "opt_out_rate": _round(_rate(opted_out, delivered)),
        "reply_rate": _round(_rate(replies, delivered)),
        "deflection_rate": _round(1 - contacted / delivered) if delivered else None,
    }


def _linked_to_deliveries(session: Session, account_id: int, filters: Filters) -> dict[str, int]:
    """For each linked kind, how many of the period's deliveries were followed by one.

    The linked events are read through the (kind, occurred_at) index, bounded by the
    window in which they can follow a delivery of the period; each is joined to its
    delivery by ``delivery_event_id``; a delivery counts once per kind.
    """
    linked = MetricEvent.__table__.alias("linked")
    delivery = MetricEvent.__table__.alias("delivery")
    delivery_id = linked.c.attrs["delivery_event_id"].as_integer()
    query = (select(linked.c.kind, func.count(distinct(delivery.c.id)))
             .select_from(linked.join(delivery, delivery.c.id == delivery_id))
             .where(linked.c.kind.in_(LINKED_OUTREACH_KINDS), linked.c.account_id == account_id,
                    linked.c.occurred_at >= filters.start_at,
                    linked.c.occurred_at < filters.end_at + REOPEN_WINDOW,
                    delivery.c.account_id == account_id, delivery.c.kind == "outreach.delivered",
                    delivery.c.occurred_at >= filters.start_at, delivery.c.occurred_at < filters.end_at)
             .group_by(linked.c.kind))
    if filters.channel:
        query = query.where(delivery.c.channel == filters.channel)
    # Columns of a table alias are untyped: index the rows (Any), a row would unpack as objects.
    return {str(row[0]): int(row[1]) for row in session.execute(query)}


def first_day(session: Session, account_id: int) -> date | None:
    """The day the account's first conversation started, or None before any: where a
    young account's history begins (the (account_id, day) index answers it)."""
    day = session.scalar(select(func.min(O.day)).where(O.account_id == account_id))
    return date.fromisoformat(day) if day else None


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
    moment = datetime.now(UTC)  # one moment for both periods: the same rule of what is resolved
    now = figures(session, account_id, filters, daily=False, now=moment)["totals"]
    before = figures(session, account_id, filters.previous(), daily=False, now=moment)["totals"]
    return {name: {"current": now[name], "previous": before[name],
                   "change": None if now[name] is None or before[name] is None
                   else _round(now[name] - before[name], 4)} for name in HEADLINE}


#: The per-conversation figures, in the order _figures returns them.
FIGURE_FIELDS = tuple(_empty())
SUGGESTION_FIELDS = ("shown", "inserted", "acceptance_rate", "sent", "avg_edit_distance")
OUTREACH_FIELDS = ("sent", "delivered", "failed", "opted_out", "replies", "contacted", "delivery_rate",
                   "opt_out_rate", "reply_rate", "deflection_rate")
CSV_FIELDS = ("segment_type", "segment", *FIGURE_FIELDS, "reason_count", "reason_share",
              *(f"suggestions_{name}" for name in SUGGESTION_FIELDS),
              *(f"outreach_{name}" for name in OUTREACH_FIELDS))


def csv_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every figure of :func:`figures` as flat rows: the total, then per automation
    level, channel, tier, day, one row per escalation reason, and one row each for the
    suggestion and outreach figures (their columns prefixed, since both have "sent")."""
    rows = [{"segment_type": "total", "segment": "all", **data["totals"]}]
    for kind in ("automation", "channel", "tier"):
        rows += [{"segment_type": kind, **row} for row in data[f"by_{kind}"]]
    rows += [{"segment_type": "day", "segment": row["day"], **{k: v for k, v in row.items() if k != "day"}}
             for row in data.get("daily", [])]
    rows += [{"segment_type": "escalation_reason", "segment": reason["reason"], "reason_count": reason["count"],
              "reason_share": reason["share"]} for reason in data["escalation_reasons"]]
    rows.append({"segment_type": "suggestions", "segment": "all",
                 **{f"suggestions_{k}": data["suggestions"][k] for k in SUGGESTION_FIELDS}})
    rows.append({"segment_type": "outreach", "segment": data["filters"]["channel"] or "all",
                 **{f"outreach_{k}": data["outreach"][k] for k in OUTREACH_FIELDS}})
    return rows
