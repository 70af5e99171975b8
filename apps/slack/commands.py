"""The ``/switchboard`` slash command (advertised in manifests/slack.yaml).

Slack waits 3 s for a slash command's answer and shows whatever the HTTP response
carries, so the answer is computed by the Bolt listener itself from a few indexed
reads (the request is still recorded in the inbox first, like every Slack request).
Answers are ephemeral: only the person who typed the command sees them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from switchboard.apps.slack.outreach import escape
from switchboard.core.store.models import Account, OutreachCampaign, OutreachRecipient

COMMAND = "/switchboard"
#: Enough to see what is going on without scrolling; the API lists them all.
RECENT = 10
#: Recipient statuses in the order a message lives through them, for the counts.
STATUS_ORDER = ("pending", "deferred", "sending", "queued", "sent", "delivered", "read", "undelivered",
                "failed", "skipped", "canceled")
USAGE = ("*/switchboard campaigns* — the account's recent outreach campaigns, their status and recipients\n"
         "*/switchboard help* — this help")
NOT_LINKED = ("This Slack workspace is not linked to a Switchboard account: ask your Switchboard operator to "
              "install the app from /slack/install, or to run `switchboard accounts add SLUG --name NAME "
              "--slack-team-id TEAM_ID`.")


@dataclass(frozen=True)
class Answer:
    """What Slack shows the user: ``text`` (notification and fallback) and blocks."""

    text: str
    blocks: list[dict[str, Any]]

    def ack_kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks, "response_type": "ephemeral"}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def answer(session: Session, account: Account | None, text: str | None) -> Answer:
    """The reply to ``/switchboard <text>``; anything it does not know shows the usage."""
    if account is None:
        return Answer(NOT_LINKED, [_section(NOT_LINKED)])
    words = (text or "").split()
    verb = words[0].lower() if words else "help"
    if verb in ("campaigns", "outreach"):  # "outreach" is the manifest's earlier usage hint
        return recent_campaigns(session, account)
    intro = "" if verb == "help" else f"I do not know `{escape(verb)[:40]}`. "
    return Answer(f"{intro}Usage: /switchboard campaigns | help", [_section(f"{intro}Usage:\n{USAGE}")])


def recent_campaigns(session: Session, account: Account) -> Answer:
    campaigns = session.scalars(select(OutreachCampaign).where(OutreachCampaign.account_id == account.id)
                                .order_by(OutreachCampaign.id.desc()).limit(RECENT)).all()
    if not campaigns:
        none = "No outreach campaigns yet. Start one with POST /api/outreach/campaigns."
        return Answer(none, [_section(none)])
    tallies = _tallies(session, [c.id for c in campaigns])
    lines = [_line(c, tallies.get(c.id, {})) for c in campaigns]
    title = f"Recent outreach campaigns ({len(campaigns)})"
    return Answer(title, [_section(f"*{title}*"), _section("\n".join(lines))])


def _tallies(session: Session, campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    """Recipients by status for several campaigns in one grouped read."""
    out: dict[int, dict[str, int]] = {}
    rows = session.execute(select(OutreachRecipient.campaign_id, OutreachRecipient.status, func.count())
                           .where(OutreachRecipient.campaign_id.in_(campaign_ids))
                           .group_by(OutreachRecipient.campaign_id, OutreachRecipient.status))
    for campaign_id, status, n in rows:
        out.setdefault(campaign_id, {})[status] = n
    return out


def _line(campaign: OutreachCampaign, tally: dict[str, int]) -> str:
    total = sum(tally.values())
    known = [s for s in STATUS_ORDER if tally.get(s)] + sorted(s for s in tally if s not in STATUS_ORDER)
    counts = ", ".join(f"{s} {tally[s]}" for s in known) or "no recipients"
    return (f"• *#{campaign.id} {escape(campaign.name)[:80]}* — {campaign.status.replace('_', ' ')} · "
            f"{total} customers: {counts}")
