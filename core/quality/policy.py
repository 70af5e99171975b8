"""The guardrail policy: a YAML file people edit (the shipped default is
``switchboard/data/guardrails.yaml``), read strictly, because a typo that silently
switched a rule off would let a risky promise through unnoticed."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from switchboard.core.quality.files import QualityFileError, fresh, parse_located
from switchboard.core.resources import data_file

POLICY_FORMAT = 1
DEFAULT_POLICY = data_file("guardrails.yaml")
_TOP_KEYS = {"version", "trust_knowledge_base", "risky_promises", "disclaimers", "tone"}
_PROMISE_KEYS = {"guarantees", "liability", "amounts", "dates"}
_DISCLAIMER_KEYS = {"intents", "topics", "present", "text"}


class GuardrailPolicyError(QualityFileError):
    """The guardrail policy file is not of the documented shape; the message names the
    line, the key and what to write there."""


@dataclass(frozen=True)
class PhraseRule:
    """Phrases that break a rule, and how to write the reply instead."""

    phrases: tuple[str, ...]
    fix: str


@dataclass(frozen=True)
class Disclaimer:
    """A regulated topic: when a reply touches it, one of ``present`` must be in it."""

    name: str
    intents: frozenset[str]
    topics: tuple[str, ...]
    present: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class GuardrailPolicy:
    guarantees: PhraseRule
    liability: PhraseRule
    max_amount: float
    amount_fix: str
    min_days: float
    date_fix: str
    disclaimers: tuple[Disclaimer, ...]
    tone: dict[str, str]
    trust_knowledge_base: bool = True
    source: str = "<string>"


def _mapping(value: Any, where: str, allowed: set[str] | None = None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise GuardrailPolicyError("expected a mapping of keys to values", field=where)
    if allowed is not None and (unknown := sorted(set(value) - allowed)):
        raise GuardrailPolicyError(f"unknown key {unknown[0]!r}; expected one of {', '.join(sorted(allowed))}",
                                   field=f"{where}.{unknown[0]}".lstrip("."))
    return value


def _words(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise GuardrailPolicyError("expected a list of words or phrases", field=where)
    return tuple(str(v).strip() for v in value if str(v).strip())


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise GuardrailPolicyError("expected a number of 0 or more", field=where)
    return float(value)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise GuardrailPolicyError("expected a sentence of text", field=where)
    return re.sub(r"\s+", " ", value).strip()


def parse_policy(text: str, source: str = "<string>") -> GuardrailPolicy:
    """A policy from YAML text; ``source`` names the file in error messages, with the
    line of the problem."""
    return parse_located(text, source, GuardrailPolicyError, lambda data: _policy(data, source))


def _policy(raw: Any, source: str) -> GuardrailPolicy:
    data = _mapping(raw, "", _TOP_KEYS)
    if data.get("version") != POLICY_FORMAT:
        raise GuardrailPolicyError(f"expected {POLICY_FORMAT}; start from a copy of the shipped guardrails.yaml",
                                   field="version")
    promises = _mapping(data.get("risky_promises"), "risky_promises", _PROMISE_KEYS)
    rules = {}
    for name in ("guarantees", "liability"):
        rule = _mapping(promises.get(name), f"risky_promises.{name}", {"phrases", "fix"})
        rules[name] = PhraseRule(_words(rule.get("phrases"), f"risky_promises.{name}.phrases"),
                                 _text(rule.get("fix"), f"risky_promises.{name}.fix"))
    amounts = _mapping(promises.get("amounts"), "risky_promises.amounts", {"max_amount", "fix"})
    dates = _mapping(promises.get("dates"), "risky_promises.dates", {"min_days", "fix"})
    disclaimers = []
    for name, spec in _mapping(data.get("disclaimers") or {}, "disclaimers").items():
        where = f"disclaimers.{name}"
        spec = _mapping(spec, where, _DISCLAIMER_KEYS)
        present = _words(spec.get("present"), f"{where}.present")
        if not present:
            raise GuardrailPolicyError("list at least one phrase that counts as the disclaimer",
                                       field=f"{where}.present")
        disclaimers.append(Disclaimer(str(name), frozenset(_words(spec.get("intents"), f"{where}.intents")),
                                      _words(spec.get("topics"), f"{where}.topics"), present,
                                      _text(spec.get("text"), f"{where}.text")))
    tone = _mapping(data.get("tone") or {}, "tone")
    trust = data.get("trust_knowledge_base", True)
    if not isinstance(trust, bool):
        raise GuardrailPolicyError("expected true or false", field="trust_knowledge_base")
    max_amount = _number(amounts.get("max_amount"), "risky_promises.amounts.max_amount")
    min_days = _number(dates.get("min_days"), "risky_promises.dates.min_days")
    return GuardrailPolicy(
        guarantees=rules["guarantees"], liability=rules["liability"],
        max_amount=max_amount,
        amount_fix=_text(amounts.get("fix"), "risky_promises.amounts.fix").replace(
            "{max_amount}", f"{max_amount:g}"),
        min_days=min_days,
        date_fix=_text(dates.get("fix"), "risky_promises.dates.fix").replace("{min_days}", f"{min_days:g}"),
        disclaimers=tuple(disclaimers),
        tone={str(k).lower(): str(v or "") for k, v in tone.items()},
        trust_knowledge_base=trust, source=source,
    )


def load_policy(path: Path | None = None) -> GuardrailPolicy:
    """The policy in ``path``, or the shipped default when None; read again when the file
    changes (``files.fresh``)."""
    return fresh("guardrails", DEFAULT_POLICY if path is None else Path(path), parse_policy, GuardrailPolicyError,
                 "SWITCHBOARD_GUARDRAILS_FILE, or the account's guardrails_file setting")
