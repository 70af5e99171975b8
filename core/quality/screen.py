"""Guardrails applied where replies are written: an account's check (its policy file and
style card), and the bot's answer screened before it is sent: one that breaks a
blocking rule is withheld and the customer handed to a person, the reason recorded."""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from switchboard.core.bot.decisions import Decision, Turn, withheld
from switchboard.core.bot.escalation import EscalationPolicy
from switchboard.core.helpdesk.assist import style_card
from switchboard.core.quality.files import account_file
from switchboard.core.quality.guardrails import Finding, blocking, check
from switchboard.core.quality.policy import load_policy
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import Account

#: The handoff reason of an answer a guardrail withheld (SYSTEM_REASONS has its sentence).
WITHHELD_REASON = "guardrail"


def check_reply(settings: Settings, text: str, intent: str | None = None,
                grounded_in: Sequence[str] = (), *, account: Account | None) -> list[Finding]:
    """``check`` with the account's guardrail policy (its own file, or the deployment's
    when ``account`` is None or has none) and style card."""
    return check(text, intent, load_policy(account_file(account, settings, "guardrails_file")),
                 style_avoid=style_card(settings.style_file).avoid, grounded_in=grounded_in)


def screened(decision: Decision, intent: str | None, turn: Turn, policy: EscalationPolicy,
             settings: Settings, account: Account | None = None) -> tuple[Decision, list[Finding]]:
    """``decision`` as it is, or a handoff in its place when its answer breaks a blocking
    rule, with the rules it broke. Only drafted answers are screened: menus,
    clarifications and notices are the account's own fixed texts. `switchboard eval`
    screens its answers here too, so it reports what the live bot would send."""
    if decision.action != "answer":
        return decision, []
    sources = [f"{p.title}\n{p.text}" for p in (decision.draft.citations if decision.draft else ())]
    found = blocking(check_reply(settings, decision.reply, intent, sources, account=account))
    if not found:
        return decision, []
    detail = "; ".join(f.describe() for f in found)
    return withheld(turn, policy, WITHHELD_REASON, f"The drafted answer was not sent: {detail}", decision.hits), found


def screen_answer(session: Session, *, account: Account, conversation_id: int, decision: Decision,
                  intent: str | None, turn: Turn, policy: EscalationPolicy, settings: Settings) -> Decision:
    """:func:`screened`, with a withheld answer's reasons in the audit log."""
    decision, found = screened(decision, intent, turn, policy, settings, account)
    if not found:
        return decision
    # The draft's own words (the bot's, not the customer's) go in the audit: why it was withheld.
    audit(session, account_id=account.id, actor="bot", action="quality.answer_withheld",
          subject_type="conversation", subject_id=conversation_id,
          detail={"intent": intent, "findings": [f.as_json() for f in found]})
    return decision
