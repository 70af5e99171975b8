"""The QA rubric: which criteria a finished conversation is scored on, how much each
weighs and how it is judged, as a file people edit (the shipped default is
``switchboard/data/qa_rubric.yaml``; an account's own through ``files.account_file``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from switchboard.core.quality.files import fresh, parse_located
from switchboard.core.quality.policy import GuardrailPolicyError
from switchboard.core.resources import data_file

DEFAULT_RUBRIC = data_file("qa_rubric.yaml")
#: The criteria the local engine knows how to judge, in the order reports list them.
CRITERIA = ("ai_disclosure", "grounded", "no_repeat", "resolved", "tone", "risky_promises", "disclaimers")
#: What a criterion's entry may say besides its weight, and for which criteria.
_CRITERION_KEYS = {"weight", "description", "judge"}
_PARAMETERS = {"resolved": {"within_days"}}
#: Days after its end a resolved conversation is judged again on a reopen or repeat contact.
RESOLVED_WITHIN_DAYS = 7
JUDGES = ("local", "llm")


class RubricError(GuardrailPolicyError):
    """The rubric file is not of the documented shape; the message names the line and key."""


@dataclass(frozen=True)
class Rubric:
    name: str
    idle_minutes: int
    weights: dict[str, float]
    descriptions: dict[str, str]
    #: Criteria an LLM judges when one is configured (``judge: llm``); the rest are local.
    llm_judged: frozenset[str] = frozenset()
    resolved_within_days: int = RESOLVED_WITHIN_DAYS
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)


def _criterion(name: Any, spec: Any) -> tuple[float, str, str, dict[str, Any]]:
    where = f"criteria.{name}"
    if name not in CRITERIA:
        raise RubricError(f"unknown criterion; use one of {', '.join(CRITERIA)}", field=where)
    if not isinstance(spec, dict):
        raise RubricError("expected a mapping with a weight, e.g. {weight: 2}", field=where)
    allowed = _CRITERION_KEYS | _PARAMETERS.get(name, set())
    if unknown := sorted(set(spec) - allowed):
        raise RubricError(f"unknown key; the keys allowed here are {', '.join(sorted(allowed))}",
                          field=f"{where}.{unknown[0]}")
    weight = spec.get("weight")
    if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
        raise RubricError("expected a number of 0 or more (0 ignores the criterion)", field=f"{where}.weight")
    judge = spec.get("judge", "local")
    if judge not in JUDGES:
        raise RubricError("expected local (rules, the default) or llm (the configured model, when there is one)",
                          field=f"{where}.judge")
    parameters = {key: spec[key] for key in _PARAMETERS.get(name, set()) if key in spec}
    days = parameters.get("within_days", RESOLVED_WITHIN_DAYS)
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 365:
        raise RubricError("expected a whole number of days from 0 (never judged again) to 365",
                          field=f"{where}.within_days")
    return float(weight), str(spec.get("description", "")), str(judge), parameters


def _rubric(data: Any) -> Rubric:
    if not isinstance(data, dict) or data.get("version") != 1:
        raise RubricError("expected a mapping with version: 1; start from a copy of the shipped qa_rubric.yaml",
                          field="version" if isinstance(data, dict) else "")
    if unknown := sorted(set(data) - {"version", "name", "idle_minutes", "criteria"}):
        raise RubricError("unknown key; the keys allowed here are version, name, idle_minutes, criteria",
                          field=str(unknown[0]))
    criteria = data.get("criteria")
    if not isinstance(criteria, dict) or not criteria:
        raise RubricError(f"expected a mapping of criteria ({', '.join(CRITERIA)})", field="criteria")
    weights, descriptions, llm, parameters = {}, {}, set(), {}
    for name, spec in criteria.items():
        weights[name], descriptions[name], judge, parameters[name] = _criterion(name, spec)
        if judge == "llm":
            llm.add(name)
    idle = data.get("idle_minutes", 1440)
    if isinstance(idle, bool) or not isinstance(idle, int) or idle < 1:
        raise RubricError("expected a whole number of minutes, 1 or more", field="idle_minutes")
    return Rubric(str(data.get("name") or "rubric")[:64], idle, weights, descriptions, frozenset(llm),
                  parameters.get("resolved", {}).get("within_days", RESOLVED_WITHIN_DAYS), parameters)


def parse_rubric(text: str, source: str = "<string>") -> Rubric:
    """A rubric from YAML text; ``source`` names the file in error messages, with the line."""
    return parse_located(text, source, RubricError, _rubric)


def load_rubric(path: Path | None = None) -> Rubric:
    """The rubric in ``path``, or the shipped default when None; read again when the file changes."""
    return fresh("rubric", DEFAULT_RUBRIC if path is None else Path(path), parse_rubric, RubricError,
                 "SWITCHBOARD_QA_RUBRIC_FILE, or the account's qa_rubric_file setting")
