"""Figures from a seeded, known history (tests/metrics/seed.py) match the values worked
out by hand below, on SQLite and PostgreSQL (the ``app`` fixture runs both)."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask

from switchboard.core.outcomes.figures import FiguresError, Filters, figures, format_duration, headline, time_unit
from switchboard.core.store.models import Account, ConversationOutcome
from switchboard.intake.db import get_db

from .seed import DAY, seed_history

TODAY = datetime.now(UTC).date()


@pytest.fixture
def seeded(app: Flask) -> Flask:
    with get_db(app).session() as session:
        seed_history(session, session.get(Account, app.config["DEFAULT_ACCOUNT_ID"]))
    return app


def _figures(app: Flask, **filters: str) -> dict:
    with get_db(app).session() as session:
        return figures(session, app.config["DEFAULT_ACCOUNT_ID"], Filters(DAY, TODAY, **filters))


def test_totals_match_the_hand_computed_history(seeded: Flask) -> None:
    t = _figures(seeded)["totals"]
    assert t["conversations"] == 4
    assert (t["contained"], t["containment_rate"]) == (1, 0.25)  # c1 only
    assert (t["escalated"], t["escalation_rate"]) == (2, 0.5)  # c2, c3
    # First responses: c1 10 s (answer), c2 20 s (clarify), c3 3605 s (the agent; a
    # handoff notice is not a response); c4 has none yet.
    assert t["first_response_avg_s"] == pytest.approx((10 + 20 + 3605) / 3, abs=0.1)
    # Handle time = AI + agent: c1 10; c2 20 AI + 600 agent (630 - 30); c3 5 AI + 900
    # agent (3605 - 5 = 3600, capped at 15 minutes).
    assert t["handle_time_avg_s"] == pytest.approx((10 + 620 + 905) / 3, abs=0.1)
    assert t["resolved"] == 3 and t["resolution_time_avg_s"] == pytest.approx((10 + 1000 + 4000) / 3, abs=0.1)
    assert t["resolved_ever"] == 3  # c1, c2, c3
    assert (t["reopened"], t["reopen_rate"]) == (1, pytest.approx(1 / 3, abs=1e-4))  # Wen came back (c4)
    assert (t["csat_avg"], t["csat_responses"], t["csat_satisfied_rate"]) == (3.5, 2, 0.5)
    assert (t["context_used"], t["context_utilisation"]) == (1, 0.5)  # c2's package was opened, c3's not
    assert (t["tokens"], t["tokens_per_resolution"]) == (120, 40.0)


def test_a_bot_answer_is_a_resolution_once_the_customer_has_been_quiet_a_day(seeded: Flask) -> None:
    from .seed import at

    def totals(now: datetime) -> dict:
        with get_db(seeded).session() as session:
            return figures(session, seeded.config["DEFAULT_ACCOUNT_ID"], Filters(DAY, TODAY), now=now)["totals"]

    # An hour after c1's answer (at 10 s) the customer may still come back: only the
    # solved tickets (c2 at 1000 s, c3 at 4000 s) are resolved; c1 is contained all along.
    early = totals(at(10 + 3600))
    assert (early["contained"], early["resolved"]) == (1, 2)
    assert early["resolution_time_avg_s"] == pytest.approx((1000 + 4000) / 2, abs=0.1)
    assert early["tokens_per_resolution"] == 60.0  # c1's 120 tokens over the two resolutions
    # A day of quiet later the answer stood: c1 is resolved too, in the 10 s it took.
    later = totals(at(10 + 24 * 3600 + 1))
    assert later["resolved"] == 3 and later["resolution_time_avg_s"] == pytest.approx((10 + 1000 + 4000) / 3, abs=0.1)


def test_breakdowns_by_automation_channel_tier_and_reason(seeded: Flask) -> None:
    data = _figures(seeded)
    levels = {row["segment"]: row for row in data["by_automation"]}
    assert {k: v["conversations"] for k, v in levels.items()} == {"ai_only": 2, "ai_then_human": 1, "human_only": 1}
    assert levels["ai_only"]["containment_rate"] == 0.5 and levels["human_only"]["csat_avg"] == 2.0
    assert {r["segment"]: r["conversations"] for r in data["by_channel"]} == {"sms": 3, "whatsapp": 1}
    assert {r["segment"]: r["conversations"] for r in data["by_tier"]} == {"standard": 3, "vip": 1}
    assert data["escalation_reasons"] == [{"reason": "customer_request", "count": 1, "share": 0.5},
                                          {"reason": "low_confidence", "count": 1, "share": 0.5}]
    # Every day of the period, quiet ones included: zero conversations, no rates.
    assert [d["day"] for d in data["daily"]] == [(DAY + timedelta(days=n)).isoformat()
                                                 for n in range((TODAY - DAY).days + 1)]
    assert [d["conversations"] for d in data["daily"]] == [4] + [0] * (TODAY - DAY).days
    quiet = data["daily"][-1]
    assert quiet["containment_rate"] is None and quiet["first_response_avg_s"] is None and quiet["escalated"] == 0
    assert set(quiet) == set(data["daily"][0])


def test_suggestion_and_outreach_figures(seeded: Flask) -> None:
    data = _figures(seeded)
    assert data["suggestions"] == {"shown": 2, "inserted": 1, "acceptance_rate": 0.5, "sent": 1,
                                   "avg_edit_distance": 0.2}
    # Delivered to Dana and Xan; Dana wrote in within 7 days (not deflected), Xan sent STOP.
    assert data["outreach"] == {"sent": 2, "delivered": 2, "failed": 0, "opted_out": 1, "replies": 0,
                                "contacted": 1, "delivery_rate": 1.0, "opt_out_rate": 0.5, "reply_rate": 0.0,
                                "deflection_rate": 0.5}


def test_filters_narrow_every_figure(seeded: Flask) -> None:
    whatsapp = _figures(seeded, channel="whatsapp")
    assert whatsapp["totals"]["conversations"] == 1 and whatsapp["totals"]["escalation_rate"] == 1.0
    assert whatsapp["outreach"]["delivered"] == 0  # outreach went out by SMS
    vip = _figures(seeded, tier="vip")
    assert vip["totals"]["conversations"] == 1 and vip["totals"]["csat_avg"] == 5.0
    assert vip["suggestions"]["shown"] == 2  # both suggestions were for Vic's conversation
    refund = _figures(seeded, intent="refund")
    assert refund["totals"]["conversations"] == 1 and refund["by_automation"][0]["segment"] == "ai_then_human"
    with get_db(seeded).session() as session:
        before = figures(session, seeded.config["DEFAULT_ACCOUNT_ID"], Filters(DAY - timedelta(days=9),
                                                                               DAY - timedelta(days=1)))
    assert before["totals"]["conversations"] == 0 and before["totals"]["containment_rate"] is None


def test_headline_compares_with_the_period_before(seeded: Flask) -> None:
    with get_db(seeded).session() as session:
        account_id = seeded.config["DEFAULT_ACCOUNT_ID"]
        now = headline(session, account_id, Filters(DAY, DAY))
        later = headline(session, account_id, Filters(DAY + timedelta(days=1), DAY + timedelta(days=1)))
    assert now["containment_rate"] == {"current": 0.25, "previous": None, "change": None}
    assert later["conversations"] == {"current": 0, "previous": 4, "change": -4}


def test_a_bot_resolved_conversation_written_to_a_day_later_counts_as_reopened(seeded: Flask) -> None:
    from switchboard.core.outcomes import metrics

    from .seed import at

    with get_db(seeded).session() as session:
        c1 = session.get(ConversationOutcome, 1)
        assert c1 is not None and c1.resolution == "bot" and not c1.reopened
        metrics.record(session, c1.account_id, "message.inbound", at=at(25 * 3600), conversation_id=1)
        session.commit()
        assert session.get(ConversationOutcome, 1).reopened == 1  # type: ignore[union-attr]


def test_a_retried_event_is_recorded_once(seeded: Flask) -> None:
    from switchboard.core.outcomes import metrics

    with get_db(seeded).session() as session:
        first = metrics.record(session, 1, "csat", conversation_id=1, value=4, dedupe_key="csat:1")
        again = metrics.record(session, 1, "csat", conversation_id=1, value=1, dedupe_key="csat:1")
        session.commit()
        assert first is not None and again is None
        assert session.get(ConversationOutcome, 1).csat_score == 4  # type: ignore[union-attr]


def test_a_period_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(FiguresError, match="swap --from and --to"):
        Filters(TODAY, TODAY - timedelta(days=1))


@pytest.mark.parametrize("start, end, message", [
    (date(2026, 1, 1), date(9999, 12, 31), "to must be between 2000-01-01 and 2099-12-31"),
    (date(1, 1, 1), date(2026, 1, 1), "from must be between 2000-01-01 and 2099-12-31"),
    (date(2020, 1, 1), date(2026, 1, 1), "at most 1096 days"),
])
def test_far_or_huge_periods_are_refused_with_the_allowed_range(start: date, end: date, message: str) -> None:
    with pytest.raises(FiguresError, match=message):
        Filters(start, end)
    assert Filters(date(2000, 1, 1), date(2002, 12, 31)).days == 1096  # the widest allowed


def test_the_weekly_digest_carries_the_headline_outcomes_and_their_change(seeded: Flask) -> None:
    from switchboard.apps.slack.digest_view import digest_blocks
    from switchboard.core.knowledge_loop.digest import as_json, compute_digest

    start = datetime.combine(DAY, datetime.min.time(), tzinfo=UTC)
    with get_db(seeded).session() as session:
        account_id = seeded.config["DEFAULT_ACCOUNT_ID"]
        this_week = compute_digest(session, account_id, start=start, end=start + timedelta(days=1))
        next_week = compute_digest(session, account_id, start=start + timedelta(days=1),
                                   end=start + timedelta(days=2))
    assert as_json(this_week)["outcomes"]["containment_rate"] == {"current": 0.25, "previous": None, "change": None}
    assert next_week.outcomes is not None and next_week.outcomes["conversations"]["change"] == -4
    text, blocks = digest_blocks(this_week, account_name="Acme")
    [outcomes] = [b for b in blocks if b.get("text", {}).get("text", "").startswith("*Outcomes*")]
    fields = [f["text"] for f in outcomes["fields"]]
    assert "*Conversations*\n4 ▲ +4" in fields  # from none the week before
    assert "*Contained by the bot*\n25% (no earlier figure)" in fields
    assert "*CSAT (1-5)*\n3.50 (no earlier figure)" in fields
    assert "4 conversations, 25% contained" in text
    _, later_blocks = digest_blocks(next_week, account_name="Acme")
    later = [b for b in later_blocks if b.get("text", {}).get("text", "").startswith("*Outcomes*")][0]
    assert "*Conversations*\n0 ▼ -100%" in [f["text"] for f in later["fields"]]


@pytest.mark.parametrize("seconds, shown, unit", [
    (None, "n/a", "seconds"), (0.4, "0.4 s", "seconds"), (3.25, "3.2 s", "seconds"), (42, "42 s", "seconds"),
    (89, "89 s", "seconds"), (90, "1.5 min", "minutes"), (1211.7, "20.2 min", "minutes"),
    (5400, "1.5 h", "hours"), (47 * 3600, "47.0 h", "hours"), (3 * 86400, "3.0 d", "days"),
])
def test_a_duration_is_shown_in_the_unit_its_size_calls_for(seconds: float | None, shown: str, unit: str) -> None:
    assert format_duration(seconds) == shown and time_unit(seconds).name == unit
    # In a unit given (a chart's, picked for its largest value) it keeps that unit.
    assert format_duration(30, time_unit(600)) == "0.5 min"
