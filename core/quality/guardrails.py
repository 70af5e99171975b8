"""Guardrails: does a reply make a risky promise, leave out a disclaimer its topic
needs, or break the account's tone? Checked on every bot answer before it is sent, on
an agent's draft in the Zendesk sidebar, and by ``switchboard qa check``; the live call
assist checks its script with the same ``check``.

Rules, not a model: a finding must name the words that triggered it so the writer can
see why and fix it, and the same text always gets the same verdict.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from switchboard.core.quality.policy import GuardrailPolicy, PhraseRule, load_policy

Severity = Literal["block", "warn"]

#: A sentence: up to its end mark, or a line.
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)", re.MULTILINE)
#: Words that turn a promise round ("we cannot guarantee", "not guaranteed").
_NEGATION = re.compile(r"\b(?:not|no|never|cannot|can't|cant|won't|don't|doesn't|isn't|unable to|can not)\s+"
                       r"(?:\w+\s+){0,2}$", re.IGNORECASE)
#: A reply committing to something (not describing what usually happens).
_COMMITMENT = re.compile(r"(?:\b(?:will|shall|going to|promise|promised|guarantee|guaranteed|make sure|"
                         r"ensure|i can(?!')|we can(?!')|i am issuing|i'm issuing|we are issuing|let me)\b|'ll\b)",
                         re.IGNORECASE)
#: Words that hedge a time frame ("usually", "should"): an estimate, not a promise.
_HEDGE = re.compile(r"\b(?:usually|normally|typically|may|might|should|hopefully|aim to|expect|estimated?|"
                    r"can take|up to|around|about|approximately)\b", re.IGNORECASE)
_MONEY_ACTION = re.compile(r"\b(?:refund\w*|credit\w*|compensat\w*|reimburs\w*|pay\w*|voucher\w*|gift card|"
                           r"goodwill|back|discount\w*|cover\w*)\b", re.IGNORECASE)
_AMOUNT = re.compile(r"(?:[$€£]\s?(?P<a>\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
                     r"|\b(?P<b>\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?\s?(?:dollars|euros|pounds|usd|eur|gbp)\b)",
                     re.IGNORECASE)
_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december|"
           "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
#: Time frames and how many days away each is (None: a named date, however far).
_DEADLINES: tuple[tuple[re.Pattern[str], float | None], ...] = (
    (re.compile(r"\b(?:today|tonight|this (?:morning|afternoon|evening)|by the end of (?:the|today)|"
                r"end of (?:the )?day|within the hour|right now|immediately|in the next hour)\b", re.I), 0.0),
    (re.compile(r"\b(?:tomorrow|next day|next working day|next business day|overnight)\b", re.I), 1.0),
    (re.compile(rf"\bby (?:this |next )?(?:{_WEEKDAYS})\b|\bby (?:the )?\d{{1,2}}(?:st|nd|rd|th)\b|"
                rf"\bby (?:{_MONTHS}) \d{{1,2}}\b", re.I), None),
)
_WITHIN = re.compile(r"\b(?:within|in|inside)\s+(?:the next\s+)?(?P<n>\d+|an?|one|two|three)\s+"
                     r"(?P<unit>minutes?|hours?|(?:working |business )?days?)\b", re.IGNORECASE)
_SMALL = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3}
_ADVICE = re.compile(r"\b(?:you should|you could|you can|you need to|you must|you'd better|i recommend|"
                     r"i'd recommend|we recommend|i suggest|i'd suggest|we suggest|i advise|we advise|"
                     r"my advice|best to|try taking|it's worth|consider)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    """One broken rule: which, the words in the reply that broke it, and a fix."""

    guardrail: Literal["risky_promise", "disclaimer", "style"]
    rule: str  # guarantee, liability, amount, date, <disclaimer name>, tone, style_card
    words: tuple[str, ...]
    fix: str
    severity: Severity
    sentence: str = ""

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["words"] = list(self.words)
        return data

    def describe(self) -> str:
        """One line, as the command line and the handoff reason show it."""
        quoted = ", ".join(f'"{w}"' for w in self.words)
        return f"{self.guardrail}.{self.rule}: {quoted}: {self.fix}"


def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """A phrase on whole words, any spacing between them, any case."""
    words = [re.escape(w) for w in phrase.split()]
    return re.compile(r"(?<![\w'])" + r"\s+".join(words) + r"(?![\w'])", re.IGNORECASE)


_patterns: dict[str, re.Pattern[str]] = {}


def _pattern(phrase: str) -> re.Pattern[str]:
    found = _patterns.get(phrase)
    if found is None:
        found = _patterns[phrase] = phrase_pattern(phrase)
    return found


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


def _negated(sentence: str, start: int) -> bool:
    return bool(_NEGATION.search(sentence[:start]))


def _phrase_findings(sentence: str, rule: PhraseRule, name: str) -> Iterable[Finding]:
    for phrase in rule.phrases:
        for match in _pattern(phrase).finditer(sentence):
            if name == "guarantee" and _negated(sentence, match.start()):
                continue
            yield Finding("risky_promise", name, (match.group(0),), rule.fix, "block", sentence)
            break


def _amount_findings(sentence: str, policy: GuardrailPolicy) -> Iterable[Finding]:
    commitment, action = _commitment(sentence), _MONEY_ACTION.search(sentence)
    if not commitment or not action:
        return
    for match in _AMOUNT.finditer(sentence):
        value = float((match.group("a") or match.group("b")).replace(",", ""))
        if value > policy.max_amount:
            yield Finding("risky_promise", "amount", (match.group(0).strip(), action.group(0)), policy.amount_fix,
                          "block", sentence)


def _days(match: re.Match[str]) -> float:
    n = match.group("n").lower()
    count = float(_SMALL.get(n, 0) or int(n)) if not n.isdigit() else float(n)
    unit = match.group("unit").lower()
    return count / 1440 if unit.startswith("minute") else count / 24 if unit.startswith("hour") else count


def _commitment(sentence: str) -> re.Match[str] | None:
    """The sentence's commitment, unless one is turned round ("I can't promise it will …")."""
    found = list(_COMMITMENT.finditer(sentence))
    if not found or any(_negated(sentence, m.start()) for m in found):
        return None
    return found[0]


def _date_findings(sentence: str, policy: GuardrailPolicy) -> Iterable[Finding]:
    commitment = _commitment(sentence)
    if not commitment or _HEDGE.search(sentence):
        return
    for pattern, days in _DEADLINES:
        match = pattern.search(sentence)
        if match and (days is None or days < policy.min_days):
            yield Finding("risky_promise", "date", (commitment.group(0), match.group(0)), policy.date_fix, "block",
                          sentence)
            return
    for match in _WITHIN.finditer(sentence):
        if _days(match) < policy.min_days:
            yield Finding("risky_promise", "date", (commitment.group(0), match.group(0)), policy.date_fix, "block",
                          sentence)
            return


def _disclaimer_findings(text: str, sentences: Sequence[str], intent: str | None,
                         policy: GuardrailPolicy) -> Iterable[Finding]:
    for rule in policy.disclaimers:
        if any(_pattern(p).search(text) for p in rule.present):
            continue
        words: tuple[str, ...] = ()
        if intent and intent in rule.intents:
            words = (f"intent: {intent}",)
        else:
            for sentence in sentences:
                advice = _ADVICE.search(sentence)
                topic = next((m for t in rule.topics if (m := _pattern(t).search(sentence))), None)
                if advice and topic:
                    words = (advice.group(0), topic.group(0))
                    break
        if words:
            yield Finding("disclaimer", rule.name, words, f'Add: "{rule.text}"', "block")


def _tone_findings(sentence: str, avoid: dict[str, str], rule: str) -> Iterable[Finding]:
    for phrase, instead in avoid.items():
        match = _pattern(phrase).search(sentence)
        if match:
            fix = f'Write "{instead}" instead.' if instead else f'Leave out "{match.group(0)}".'
            yield Finding("style", rule, (match.group(0),), fix, "warn", sentence)


def _grounded(finding: Finding, sources: Sequence[str]) -> bool:
    """Whether every triggering word is in one of the cited articles (whose promises are policy)."""
    words = [w for w in finding.words if not _COMMITMENT.fullmatch(w)] or list(finding.words)
    return any(all(_pattern(w).search(src) for w in words) for src in sources)


def check(text: str, intent: str | None = None, policy: GuardrailPolicy | None = None, *,
          style_avoid: dict[str, str] | None = None, grounded_in: Sequence[str] = ()) -> list[Finding]:
    """Every rule ``text`` breaks, in reading order per rule. ``intent`` is the
    conversation's (a regulated one needs its disclaimer); ``style_avoid`` the style
    card's words to avoid; ``grounded_in`` the cited articles' texts: a promise an article
    makes itself is policy, when the policy trusts the knowledge base."""
    policy = policy or load_policy()
    sentences = _sentences(text)
    findings: list[Finding] = []
    for sentence in sentences:
        findings += _phrase_findings(sentence, policy.guarantees, "guarantee")
        findings += _phrase_findings(sentence, policy.liability, "liability")
        findings += _amount_findings(sentence, policy)
        findings += _date_findings(sentence, policy)
    findings += _disclaimer_findings(text, sentences, intent, policy)
    for sentence in sentences:
        findings += _tone_findings(sentence, policy.tone, "tone")
        findings += _tone_findings(sentence, {k.lower(): v for k, v in (style_avoid or {}).items()
                                              if k.lower() not in policy.tone}, "style_card")
    if policy.trust_knowledge_base and grounded_in:
        findings = [f for f in findings if f.guardrail == "disclaimer" or not _grounded(f, grounded_in)]
    return findings


def blocking(findings: Iterable[Finding]) -> list[Finding]:
    """The findings that stop a bot answer from being sent."""
    return [f for f in findings if f.severity == "block"]
