"""The QA rubric: which criteria a finished conversation is scored on and how much each
weighs, as a file people edit (the shipped default is ``switchboard/data/qa_rubric.yaml``)."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from switchboard.resources import data_file

from .policy import GuardrailPolicyError

DEFAULT_RUBRIC = data_file("qa_rubric.yaml")
#: The criteria the local engine knows how to judge, in the order reports list them.
CRITERIA = ("ai_disclosure", "grounded", "no_repeat", "resolved", "tone", "risky_promises", "disclaimers")


class RubricError(GuardrailPolicyError):
    """The rubric file is not of the documented shape; the message names the key."""


@dataclass(frozen=True)
class Rubric:
    name: str
    idle_minutes: int
    weights: dict[str, float]
    descriptions: dict[str, str]


def parse_rubric(text: str, source: str = "<string>") -> Rubric:
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RubricError(f"{source}: not valid YAML ({exc})") from None
    if not isinstance(data, dict) or data.get("version") != 1:
        raise RubricError(f"{source}: expected a mapping with version: 1")
    if unknown := sorted(set(data) - {"version", "name", "idle_minutes", "criteria"}):
        raise RubricError(f"{source}: unknown key {unknown[0]!r}")
    criteria = data.get("criteria")
    if not isinstance(criteria, dict) or not criteria:
        raise RubricError(f"{source}: criteria: expected a mapping of criteria ({', '.join(CRITERIA)})")
    weights, descriptions = {}, {}
    for name, spec in criteria.items():
        if name not in CRITERIA:
            raise RubricError(f"{source}: criteria.{name}: unknown criterion; expected one of {', '.join(CRITERIA)}")
        weight = spec.get("weight") if isinstance(spec, dict) else None
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            raise RubricError(f"{source}: criteria.{name}.weight: expected a number of 0 or more")
        weights[name], descriptions[name] = float(weight), str(spec.get("description", ""))
    idle = data.get("idle_minutes", 1440)
    if isinstance(idle, bool) or not isinstance(idle, int) or idle < 1:
        raise RubricError(f"{source}: idle_minutes: expected a whole number of minutes, 1 or more")
    return Rubric(str(data.get("name") or "rubric")[:64], idle, weights, descriptions)


@functools.cache
def load_rubric(path: Path | None = None) -> Rubric:
    path = DEFAULT_RUBRIC if path is None else Path(path)
    try:
        return parse_rubric(path.read_text(encoding="utf-8-sig"), str(path))
    except OSError as exc:
        raise RubricError(f"{path}: cannot be read ({exc.strerror}); check SWITCHBOARD_QA_RUBRIC_FILE") from None
