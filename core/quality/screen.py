"""Guardrails applied where replies are written: an account's check (its policy file and
style card), and the bot's answer screened before it is sent: one that only lacks a
regulated topic's disclaimer gets it added, as an agent would add it; one that breaks any
other blocking rule is withheld and the customer handed to a person, the reason recorded."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy.orm import Session

from switchboard.core.bot.decisions import DISCLAIMERS_ADDED, Decision, Turn, withheld
from switchboard.core.bot.escalation import EscalationPolicy
from switchboard.core.helpdesk.assist import style_card
from switchboard.core.quality.files import account_file
from switchboard.core.quality.guardrails import Finding, blocking, check
from switchboard.core.quality.policy import GuardrailPolicy, load_policy
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import Account

#: The handoff reason of an answer a guardrail withheld (SYSTEM_REASONS has its sentence).
WITHHELD_REASON = "guardrail"


def account_policy(settings: Settings, account: Account | None) -> GuardrailPolicy:
    """The account's guardrail policy: its own file, or the deployment's when ``account``
    is None or has none."""
    return load_policy(account_file(account, settings, "guardrails_file"))


def check_reply(settings: Settings, text: str, intent: str | None = None,
                grounded_in: Sequence[str] = (), *, account: Account | None) -> list[Finding]:
    """``check`` with the account's guardrail policy and style card."""
    return check(text, intent, account_policy(settings, account),
                 style_avoid=style_card(settings.style_file).avoid, grounded_in=grounded_in)


def with_disclaimers(decision: Decision, missing: Sequence[Finding], policy: GuardrailPolicy) -> Decision:
    """The answer with the disclaimers ``missing`` names, each on its own line above the
    citation line (or at the end when there is none)."""
    names = list(dict.fromkeys(f.rule for f in missing))
    lines = [d.text for name in names for d in policy.disclaimers if d.name == name]
    cited = decision.draft is not None and bool(decision.draft.citations)

    def added(text: str) -> str:
        head, _, citation = text.rpartition("\n") if cited and "\n" in text else (text, "", "")
        return "\n".join([head, *lines, *([citation] if citation else [])])

    draft = replace(decision.draft, text=added(decision.draft.text)) if decision.draft else None
    return replace(decision, reply=added(decision.reply), draft=draft,
                   notes={**decision.notes, DISCLAIMERS_ADDED: ", ".join(names)})


def screened(decision: Decision, intent: str | None, turn: Turn, policy: EscalationPolicy,
             settings: Settings, account: Account | None = None) -> tuple[Decision, list[Finding]]:
    """``decision`` as it is, or a handoff in its place when its answer breaks a blocking
    rule, with the rules it broke. Only drafted answers are screened: menus,
    clarifications and notices are the account's own fixed texts. `switchboard eval`
    screens its answers here too, so it reports what the live bot would send."""
    if decision.action != "answer":
        return decision, []
    sources = [f"{p.title}\n{p.text}" for p in (decision.draft.citations if decision.draft else ())]
    rules = account_policy(settings, account)
    avoid = style_card(settings.style_file).avoid

    def breaks(reply: str) -> list[Finding]:
        return blocking(check(reply, intent, rules, style_avoid=avoid, grounded_in=sources))

    found = breaks(decision.reply)
    if found and all(f.guardrail == "disclaimer" for f in found):
        # The answer is fine but touches a regulated topic ("You can end your contract
        # ..."): the rule asks for its disclaimer, which a person would only add too.
        decision = with_disclaimers(decision, found, rules)
        found = breaks(decision.reply)
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
