"""Every conversation scored against the account's QA rubric when it ends: a solved
ticket, the customer's close after an answer ("thanks, that answers it"), or idle.

The local engine judges each criterion with rules over what is on the record: the
bot's disclosure and citations (its messages' meta), what the customer had already
given before the handoff, how it ended, and the guardrails on every agent reply. Each
verdict carries the sentences it rests on with their message ids, so a reviewer sees
why without opening the whole conversation. Bot answers were screened before they were
sent (``screen.screen_answer``): only agents' replies are checked here.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.core.accounts import company_name
from switchboard.core.bot.decisions import disclosure
from switchboard.core.customers import timeline
from switchboard.core.quality.files import account_file
from switchboard.core.quality.guardrails import Finding
from switchboard.core.quality.llm_judge import judge_with_model
from switchboard.core.quality.rubric import CRITERIA, Rubric, load_rubric
from switchboard.core.quality.screen import check_reply
from switchboard.core.quality.wrapup import write_wrapup
from switchboard.core.settings import Settings
from switchboard.core.store.audit import audit
from switchboard.core.store.models import Account, Conversation, ConversationScore, Message
from switchboard.core.store.rows import insert_or_fetch
from switchboard.core.texts.i18n import texts_for

Ending = Literal["solved", "customer_closed", "idle", "call_ended"]
Verdict = Literal["met", "missed", "n/a"]
#: The messages a score reads: the latest, as the handoff package shows them, bounded.
SCORED_MESSAGES = 200

#: What an agent may ask again, how the customer gives it, and how the agent asks for it.
_GIVEN = {"order number": re.compile(r"#\s?[A-Z]{0,3}\d{4,}|\border\b\D{0,20}\d{4,}", re.IGNORECASE),
          "email address": re.compile(r"\[EMAIL_\d+\]|@\w")}
_REASKED = {"order number": re.compile(r"\border (?:number|no\.?|#|id|reference)\b", re.IGNORECASE),
            "email address": re.compile(r"\be-?mail(?: address)?\b", re.IGNORECASE),
            "issue": re.compile(r"\b(?:what (?:is|was|seems to be) the (?:issue|problem)|describe (?:the|your) "
                                r"(?:issue|problem)|what (?:happened|is wrong)|how can i help)\b", re.IGNORECASE)}
_ASKING = re.compile(r"\?|\b(?:could you|can you|please (?:send|give|tell|provide|share|confirm)|what is your|"
                     r"what's your)\b", re.IGNORECASE)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")


@dataclass
class Judgement:
    criterion: str
    verdict: Verdict
    evidence: list[dict[str, Any]] = field(default_factory=list)

    @property
    def score(self) -> float | None:
        return None if self.verdict == "n/a" else 1.0 if self.verdict == "met" else 0.0


def _quote(message: Message, text: str | None = None) -> dict[str, Any]:
    return {"message_id": message.id, "author": message.author, "quote": (text or message.body).strip()[:300]}


def _disclosure(session: Session, account: Account, settings: Settings, bots: Sequence[Message]) -> Judgement:
    if not bots:
        return Judgement("ai_disclosure", "n/a")
    first = bots[0]
    company = company_name(account, settings)
    said = {disclosure(company, texts_for(session, account.id, first.meta.get("language"))), disclosure(company)}
    if any(first.body.startswith(text) for text in said):
        return Judgement("ai_disclosure", "met", [_quote(first, first.body.split("\n")[0])])
    return Judgement("ai_disclosure", "missed", [_quote(first)])


def _grounded(bots: Sequence[Message]) -> Judgement:
    answers = [m for m in bots if m.meta.get("action") == "answer"]
    if not answers:
        return Judgement("grounded", "n/a")
    unsourced = [m for m in answers if not m.meta.get("sources")]
    if unsourced:
        return Judgement("grounded", "missed", [_quote(m) for m in unsourced])
    return Judgement("grounded", "met", [{**_quote(m), "sources": m.meta["sources"]} for m in answers])


def _no_repeat(messages: Sequence[Message]) -> Judgement:
    agents = [m for m in messages if m.author == "agent"]
    if not agents:
        return Judgement("no_repeat", "n/a")
    before = [m for m in messages if m.author == "customer" and m.id < agents[0].id]
    given = {kind for kind, pattern in _GIVEN.items() if any(pattern.search(m.body) for m in before)}
    if before:
        given.add("issue")
    asked = []
    for message in agents:
        for sentence in _SENTENCE.findall(message.body):
            kinds = [kind for kind in given if _REASKED[kind].search(sentence)]
            if kinds and _ASKING.search(sentence):
                asked.append({**_quote(message, sentence), "asked_again": kinds})
    return Judgement("no_repeat", "missed" if asked else "met", asked)


def _resolved(messages: Sequence[Message], ended_by: Ending) -> Judgement:
    if ended_by in ("solved", "customer_closed"):
        last = next((m for m in reversed(messages) if m.author in ("bot", "agent")), None)
        return Judgement("resolved", "met", [{"ended_by": ended_by, **(_quote(last) if last else {})}])
    last = next((m for m in reversed(messages) if m.author != "customer"), None)
    answered = last is not None and (last.author == "agent" or last.meta.get("action") == "answer")
    return Judgement("resolved", "met" if answered else "missed",
                     [{"ended_by": ended_by, **(_quote(last) if last else {"quote": "no reply was sent"})}])


def _agent_findings(account: Account, settings: Settings, agents: Sequence[Message], intent: str | None
                    ) -> list[tuple[Message, Finding]]:
    """Every agent reply's findings under the account's rules as they are now."""
    found: list[tuple[Message, Finding]] = []
    for message in agents:
        for finding in check_reply(settings, message.body, intent, account=account):
            if finding.guardrail != "disclaimer":
                found.append((message, finding))
    if agents:  # a disclaimer is needed once in the conversation, not in every reply
        together = "\n".join(m.body for m in agents)
        found += [(agents[-1], f) for f in check_reply(settings, together, intent, account=account)
                  if f.guardrail == "disclaimer"]
    return found


def _from_findings(criterion: str, guardrail: str, applies: bool,
                   found: Sequence[tuple[Message, Finding]]) -> Judgement:
    if not applies:
        return Judgement(criterion, "n/a")
    hits = [{**_quote(m, f.sentence or None), "rule": f.rule, "words": list(f.words), "fix": f.fix}
            for m, f in found if f.guardrail == guardrail]
    return Judgement(criterion, "missed" if hits else "met", hits)


def judge(session: Session, account: Account, settings: Settings, messages: Sequence[Message], *,
          ended_by: Ending, intent: str | None) -> list[Judgement]:
    """Every criterion the local engine knows, judged on ``messages`` (oldest first)."""
    bots = [m for m in messages if m.author == "bot"]
    agents = [m for m in messages if m.author == "agent"]
    found = _agent_findings(account, settings, agents, intent)
    replied = bool(agents) or any(m.meta.get("action") == "answer" for m in bots)
    return [
        _disclosure(session, account, settings, bots), _grounded(bots), _no_repeat(messages),
        _resolved(messages, ended_by),
        _from_findings("tone", "style", replied, found),
        _from_findings("risky_promises", "risky_promise", replied, found),
        _from_findings("disclaimers", "disclaimer", replied, found),
    ]


def weighted(judgements: Sequence[Judgement], rubric: Rubric) -> float:
    """The weighted mean of the criteria that apply, 0 to 100 (100 when none applies)."""
    return weighted_mean([(rubric.weights.get(j.criterion, 0.0), j.score) for j in judgements if j.score is not None])


def weighted_mean(pairs: Sequence[tuple[float, float]]) -> float:
    """(weight, score 0–1) pairs as a score of 0 to 100; 100 when nothing is weighed. A
    stored score weighed again (a re-judged verdict) uses this same rule."""
    total = sum(weight for weight, _ in pairs)
    return round(100 * sum(weight * score for weight, score in pairs) / total, 1) if total else 100.0


#: Intents that say how the customer talks, not what the conversation is about.
_NOT_A_TOPIC = frozenset({"human_agent", "greeting", "thanks", "oos"})


def _intent(messages: Sequence[Message]) -> str | None:
    """The conversation's topic: its customer's latest intent that is one ("AGENT" is not)."""
    return next((m.meta["enrichment"]["intent"] for m in reversed(messages) if m.author == "customer"
                 and (m.meta.get("enrichment") or {}).get("intent") not in (None, *_NOT_A_TOPIC)), None)


def score_conversation(session: Session, account: Account, settings: Settings, conversation: Conversation, *,
                       ended_by: Ending) -> ConversationScore | None:
    """Score ``conversation`` as it ended and write its wrap-up to Zendesk; once per
    ending (a retried event finds the row stored). None for a conversation with no messages."""
    messages = timeline.recent(session, conversation.id, limit=SCORED_MESSAGES)
    if not messages:
        return None
    rubric = load_rubric(account_file(account, settings, "qa_rubric_file"))
    intent = _intent(messages)
    judgements = [j for j in judge(session, account, settings, messages, ended_by=ended_by, intent=intent)
                  if rubric.weights.get(j.criterion, 0.0) > 0]
    # Criteria the rubric gives to the LLM, when one is configured: its verdicts replace
    # the local ones only where every sentence they rest on is the conversation's own.
    judged = judge_with_model(session, account, settings, rubric, messages, [j.criterion for j in judgements])
    if judged is not None:
        judgements = [Judgement(j.criterion, judged.used[j.criterion][0], judged.used[j.criterion][1])  # type: ignore[arg-type]
                      if j.criterion in judged.used else j for j in judgements]
    agents = [m.meta.get("agent") for m in messages if m.author == "agent" and m.meta.get("agent")]
    row = ConversationScore(
        account_id=account.id, conversation_id=conversation.id, last_message_id=messages[-1].id,
        created_at=datetime.now(UTC), ended_by=ended_by,
        automation="handed_over" if conversation.handoff_reason else "bot", channel=conversation.channel,
        intent=intent, language=next((m.meta.get("language") for m in reversed(messages) if m.meta.get("language")),
                                     None),
        agent=agents[-1] if agents else None, score=weighted(judgements, rubric), rubric=rubric.name,
        criteria=[{**asdict(j), "score": j.score, "weight": rubric.weights[j.criterion]}
                  for j in sorted(judgements, key=lambda j: CRITERIA.index(j.criterion))],
    )
    stored, new = insert_or_fetch(session, row, lambda: session.scalar(select(ConversationScore).where(
        ConversationScore.conversation_id == conversation.id,
        ConversationScore.last_message_id == messages[-1].id)))
    if new:  # verdicts only: the evidence quotes replies, and the audit log is never erased
        audit(session, account_id=account.id, actor="qa", action="quality.conversation_scored",
              subject_type="conversation", subject_id=conversation.id,
              detail={"score": stored.score, "ended_by": ended_by, "rubric": rubric.name,
                      "verdicts": {c["criterion"]: c["verdict"] for c in stored.criteria},
                      **({"llm": judged.audit_detail()} if judged is not None else {})})
        write_wrapup(session, account, settings, conversation, stored)
    return stored


def score_idle(session: Session, account: Account, settings: Settings, *, now: datetime | None = None,
               limit: int = 500) -> list[ConversationScore]:
    """Score the account's conversations silent for the rubric's ``idle_minutes`` and not
    scored since their last message; at most ``limit`` per call."""
    rubric = load_rubric(account_file(account, settings, "qa_rubric_file"))
    cutoff = (now or datetime.now(UTC)) - timedelta(minutes=rubric.idle_minutes)
    scored = select(ConversationScore.id).where(ConversationScore.conversation_id == Conversation.id,
                                                ConversationScore.created_at >= Conversation.last_message_at)
    idle = session.scalars(select(Conversation).where(
        Conversation.account_id == account.id, Conversation.last_message_at < cutoff,
        # With a person (its ticket ends when solved) or closed (scored then): not idle.
        Conversation.status == "open", ~scored.exists())
        .order_by(Conversation.id).limit(limit)).all()
    out = []
    for conversation in idle:
        row = score_conversation(session, account, settings, conversation, ended_by="idle")
        if row is not None:
            out.append(row)
    return out
