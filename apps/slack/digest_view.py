"""The weekly digest as supervisors read it in Slack: Block Kit blocks and the fallback
text notifications show. The figures come from :mod:`switchboard.core.knowledge_loop.digest`; this
module only lays them out within Block Kit's limits."""
from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from switchboard.core.knowledge_loop.digest import ELLIPSIS, QUESTION_CHARS, TITLE_CHARS, Digest, clip

# Block Kit limits (https://api.slack.com/reference/block-kit): a message holds at most
# 50 blocks, a header 150 characters, a section text 3000, a section field 2000.
MAX_BLOCKS = 50
HEADER_CHARS = 150
TEXT_CHARS = 3000
FIELD_CHARS = 2000
MAX_FIELDS = 10


def digest_blocks(digest: Digest, *, account_name: str) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, Block Kit blocks). The text is what notifications and screen
    readers get, so it carries the headline figures too."""
    period = _period_label(digest.start, digest.end)
    header = _header(f"Agent assist digest — {account_name}")
    intro = _context(f"{_escape(period)} (UTC), compared with the {_span(digest)} before it.")
    if digest.is_empty:
        note = (f"Nothing to report for {_escape(account_name)}: no suggestions were shown, rated or sent, and the "
                f"bot had an answer for every customer question it got ({_escape(period)}).")
        return (f"Agent assist digest for {_escape(account_name)}: nothing to report for {_escape(period)}.",
                [header, intro, _section(note)])
    blocks = [header, intro, *_outcome_blocks(digest), *_quality_blocks(digest), _figures(digest), {"type": "divider"},
              _articles_section(digest),
              _gaps_section(digest), *_proposal_blocks(digest), *_knowledge_blocks(digest), *_conflict_blocks(digest),
              _context("Edit distance: 0 = sent as suggested, 1 = fully rewritten. Figures cover the suggestions "
                       "made in the period and agents' feedback on them.")]
    if len(blocks) > MAX_BLOCKS:
        blocks = [*blocks[:MAX_BLOCKS - 1], _context(f"{ELLIPSIS} more than fits in one message.")]
    return _fallback(digest, account_name, period), blocks


def _figures(digest: Digest) -> dict[str, Any]:
    now = digest.current
    sent = (f"{now.sent_after_insert} · avg edit distance {now.avg_edit_distance:.2f}"
            if now.avg_edit_distance is not None else f"{now.sent_after_insert}")
    fields = [
        f"*Suggestions shown*\n{now.shown}",
        f"*Inserted by agents*\n{now.inserted} ({_percent(now.insert_rate)}) {_arrow(digest.insert_rate_change)}",
        f"*Sent after insert*\n{sent}",
        (f"*Thumbs up / down*\n{now.thumbs_up} / {now.thumbs_down} ({_percent(now.thumbs_up_rate)} up) "
         f"{_arrow(digest.thumbs_up_rate_change)}"),
        f"*Unanswered questions*\n{digest.gap_questions} in {_plural(digest.gap_group_count, 'topic')}",
    ]
    return {"type": "section",
            "fields": [{"type": "mrkdwn", "text": clip(f, FIELD_CHARS)} for f in fields[:MAX_FIELDS]]}


#: Headline outcomes in the digest: (name, label, kind); rates change in points,
#: times in seconds (lower is better), CSAT in points of the 1-5 scale.
OUTCOME_FIELDS = (("conversations", "Conversations", "count"), ("containment_rate", "Contained by the bot", "rate"),
                  ("escalation_rate", "Escalated to a person", "rate"),
                  ("first_response_avg_s", "First response (avg)", "time"),
                  ("resolution_time_avg_s", "Time to resolution (avg)", "time"),
                  ("reopen_rate", "Reopened within 7 days", "rate"), ("csat_avg", "CSAT (1-5)", "score"))


def _quality_blocks(digest: Digest) -> list[dict[str, Any]]:
    """The QA rubric's mean score and the criteria met least often (`switchboard qa report`)."""
    quality = digest.quality
    if not quality:
        return []
    before = quality.get("previous_mean_score")
    change = f"(was {before:.1f})" if before is not None else "(no earlier figure)"
    weakest = sorted(quality["criteria"].items(), key=lambda item: item[1]["met_rate"])[:3]
    least = ", ".join(f"{name.replace('_', ' ')} {_percent(figures['met_rate'])}" for name, figures in weakest)
    agents = ", ".join(f"{a['name']} {a['mean_score']:.1f} ({a['conversations']})"
                       for a in quality.get("agents", [])[:3])
    text = (f"*Conversation quality* ({_plural(quality['conversations'], 'conversation')} scored): "
            f"mean {quality['mean_score']:.1f} / 100 {change}" + (f"\nMet least often: {least}" if least else "")
            + (f"\nAgents, lowest mean first: {agents}" if agents else ""))
    return [_section(clip(text, TEXT_CHARS))]


#: Published knowledge drafts listed in the digest at most.
MAX_PUBLISHED = 5


def _knowledge_blocks(digest: Digest) -> list[dict[str, Any]]:
    """Each published knowledge draft's topic before → after, and the agent hours saved."""
    if not digest.knowledge:
        return []
    lines = []
    for one in digest.knowledge[:MAX_PUBLISHED]:
        b, a = one["before"], one["after"]
        lines.append(f"• {_escape(clip(one['title'], TITLE_CHARS))} ({one['days_before']} days before, "
                     f"{one['days_after']:g} since): "
                     f"answered outright {b['answered']} → {a['answered']}, by menu {b['menu']} → {a['menu']}, "
                     f"handed over {b['handed_over']} → {a['handed_over']}; "
                     f"~{one['hours_saved']:.1f} agent hours saved")
    minutes = digest.knowledge[0]["handle_minutes"]
    return [_section("*Published knowledge articles* (questions on their topic before → after)\n" + "\n".join(lines)),
            _context(f"Hours saved: the handovers the share before would have needed since, less those that still "
                     f"happened, × {minutes:g} min (SWITCHBOARD_AGENT_HANDLE_MINUTES).")]


def _conflict_blocks(digest: Digest) -> list[dict[str, Any]]:
    """Duplicate and contradicting articles, for an editor (`switchboard kb duplicates`)."""
    found = digest.article_conflicts or {}
    duplicates, contradictions = found.get("duplicates") or [], found.get("contradictions") or []
    if not duplicates and not contradictions:
        return []
    lines = [f"• Duplicates: {_escape(clip(d['title'], TITLE_CHARS))} / {_escape(clip(d['other_title'], TITLE_CHARS))}"
             for d in duplicates[:MAX_PUBLISHED]]
    lines += [f"• Disagree on {c['quantity']} ({', '.join(c['values'])} vs {', '.join(c['other_values'])}): "
              f"{_escape(clip(c['title'], TITLE_CHARS))} / {_escape(clip(c['other_title'], TITLE_CHARS))}"
              for c in contradictions[:MAX_PUBLISHED]]
    return [_section(f"*Articles to review* ({_plural(len(duplicates), 'duplicate pair')}, "
                     f"{_plural(len(contradictions), 'contradicting pair')}; `switchboard kb duplicates`)\n"
                     + "\n".join(lines))]


def _outcome_blocks(digest: Digest) -> list[dict[str, Any]]:
    if not digest.outcomes:
        return []
    fields = []
    for name, label, kind in OUTCOME_FIELDS:
        figure = digest.outcomes[name]
        fields.append(f"*{label}*\n{_outcome_value(figure['current'], kind)} {_outcome_change(figure, kind)}")
    return [{"type": "section", "text": {"type": "mrkdwn", "text": "*Outcomes* (conversations started in the period)"},
             "fields": [{"type": "mrkdwn", "text": clip(f, FIELD_CHARS)} for f in fields[:MAX_FIELDS]]}]


def _outcome_value(value: float | None, kind: str) -> str:
    if value is None:
        return "n/a"
    if kind == "rate":
        return _percent(value)
    if kind == "time":
        return f"{value / 60:.1f} min" if value >= 90 else f"{value:.0f} s"
    return f"{value:.2f}" if kind == "score" else f"{int(value)}"


def _outcome_change(figure: dict[str, Any], kind: str) -> str:
    change, previous = figure["change"], figure["previous"]
    if kind == "rate":
        return _arrow(change)
    if change is None:
        return "(no earlier figure)"
    if abs(change) < 1e-9:
        return "→ no change"
    if kind == "count" and previous:
        return f"{'▲' if change > 0 else '▼'} {change / previous * 100:+.0f}%"
    text = _outcome_value(abs(change), kind)
    return f"▲ +{text}" if change > 0 else f"▼ −{text}"


def _articles_section(digest: Digest) -> dict[str, Any]:
    if not digest.downvoted_articles:
        return _section("*Most down-voted articles*\nNo suggestion got a thumbs-down.")
    lines = [f"{n}. {_escape(clip(v.title, TITLE_CHARS))} — {_plural(v.downs, 'down-vote')}, "
             f"{_plural(v.ups, 'up-vote')}" for n, v in enumerate(digest.downvoted_articles, 1)]
    return _section("*Most down-voted articles*\n" + "\n".join(lines))


def _gaps_section(digest: Digest) -> dict[str, Any]:
    if not digest.gaps:
        return _section("*Questions without a good article*\nNone: the bot found an article for every question.")
    lines = [f"• {_plural(g.count, 'question')} on _{_escape(', '.join(g.words))}_, e.g. "
             f"“{_escape(clip(g.example, QUESTION_CHARS))}”" for g in digest.gaps]
    return _section("*Questions without a good article*\n" + "\n".join(lines))


def _proposal_blocks(digest: Digest) -> list[dict[str, Any]]:
    if not digest.proposals:
        return [_section("*Proposed knowledge-base updates*\nNone this week.")]
    blocks = [_section("*Proposed knowledge-base updates — for review*\nNothing has been changed: "
                       "each item waits for a person to decide.")]
    for proposal in digest.proposals:
        evidence = (f" _(asked {_plural(proposal.evidence, 'time')})_" if proposal.kind == "new_article" else "")
        blocks.append(_section(f"*For review* · {_escape(proposal.text)}{evidence}"))
    return blocks


def _fallback(digest: Digest, account_name: str, period: str) -> str:
    now = digest.current
    text = (f"Agent assist digest for {account_name}, {period}: {now.shown} suggestions shown, "
            f"{_percent(now.insert_rate)} inserted {_arrow(digest.insert_rate_change)}, "
            f"{_percent(now.thumbs_up_rate)} thumbs up {_arrow(digest.thumbs_up_rate_change)}; "
            f"{digest.gap_questions} unanswered questions; {len(digest.proposals)} proposals for review.")
    if digest.outcomes:
        o = digest.outcomes
        text += (f" Outcomes: {o['conversations']['current']} conversations, "
                 f"{_percent(o['containment_rate']['current'])} contained {_arrow(o['containment_rate']['change'])}, "
                 f"{_percent(o['escalation_rate']['current'])} escalated {_arrow(o['escalation_rate']['change'])}.")
    return _escape(text)


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, HEADER_CHARS), "emoji": True}}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, TEXT_CHARS)}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, TEXT_CHARS)}]}


def _escape(text: str) -> str:
    """Slack's three control characters; without this a customer who wrote
    "<!channel>" would ping the supervisors' whole channel from the digest."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _percent(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.0f}%"


def _arrow(change: float | None) -> str:
    if change is None:
        return "(no earlier figure)"
    points = change * 100
    if abs(points) < 0.05:
        return "→ no change"
    return f"▲ +{points:.1f} pts" if points > 0 else f"▼ −{-points:.1f} pts"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _span(digest: Digest) -> str:
    span = digest.end - digest.start
    return _plural(span.days, "day") if span == timedelta(days=span.days) else "period of the same length"


def _period_label(start: datetime, end: datetime) -> str:
    """Whole days read as dates (the end is exclusive, so the last day is the one
    before it); anything else with the time."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if start.time() == time() and end.time() == time():
        return f"{start:%a %d %b} – {end - timedelta(days=1):%a %d %b %Y}"
    return f"{start:%d %b %H:%M} – {end:%d %b %Y %H:%M}"


