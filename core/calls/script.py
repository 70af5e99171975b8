"""The script a policy requires on a call put through to a person, checked line by line
as the agent speaks.

The lines live in a file (``switchboard/data/call_script.yaml``, or the one named by
SWITCHBOARD_CALL_SCRIPT_FILE) so compliance can change them without a release. Matching
is deliberately plain (regular expressions over the transcript of the agent's side):
the card ticks what was said, and the after-call note flags what was not; a person
reads both, so a pattern that misses shows up as an unticked line, never as a silent pass.

Other checks of what an agent says (risky promises, disclaimers owned by the quality
guardrails) plug in through :class:`LineCheck`: they see the same redacted line and
return flags the card and the after-call note show beside the script's own.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import yaml

from switchboard.core.resources import data_file

DEFAULT_SCRIPT = data_file("call_script.yaml")
_LINE_KEYS = frozenset({"id", "label", "says", "intents", "before"})


class ScriptError(ValueError):
    """The call script file cannot be used; the message names the line and the problem."""


@dataclass(frozen=True)
class ScriptLine:
    """One thing the agent must say: ticked when ``says`` matches; for ``intents`` only
    (empty: every call); flagged late when said after something matching ``before``."""

    id: str
    label: str
    says: tuple[re.Pattern[str], ...]
    intents: frozenset[str] = frozenset()
    before: tuple[re.Pattern[str], ...] = ()

    def applies_to(self, intents: Iterable[str]) -> bool:
        return not self.intents or bool(self.intents & set(intents))


@dataclass(frozen=True)
class Script:
    lines: tuple[ScriptLine, ...]

    def said_in(self, text: str) -> list[str]:
        """The ids of the lines ``text`` (one redacted agent line) says."""
        return [line.id for line in self.lines if any(p.search(text) for p in line.says)]

    def early_in(self, text: str) -> list[str]:
        """The ids of the lines that had to come before what ``text`` says."""
        return [line.id for line in self.lines if any(p.search(text) for p in line.before)]


@dataclass(frozen=True)
class Flag:
    """Something a check found in one agent line: shown on the card, kept in the note."""

    check: str
    message: str


class LineCheck(Protocol):
    """What a guardrail offers the live call: a name and a look at one agent line."""

    name: str

    def check(self, text: str, *, intents: Sequence[str]) -> list[Flag]: ...


#: Checks run on every agent line besides the script; a guardrail module appends itself
#: here from the entry point that installs it (none ship with the call assist).
LINE_CHECKS: list[LineCheck] = []


@dataclass(frozen=True)
class ChecklistItem:
    id: str
    label: str
    done: bool
    late: bool = False


@dataclass
class Progress:
    """Where the script stands after the agent lines so far, in call order."""

    said: dict[str, bool] = field(default_factory=dict)  # id → said late
    early: set[str] = field(default_factory=set)  # ids whose ``before`` was already said


def checklist(script: Script, agent_lines: Sequence[dict[str, Any]], intents: Iterable[str]) -> list[ChecklistItem]:
    """The script's lines for a call with these caller ``intents``, ticked from what the
    agent said (each line's stored ``said``/``early`` ids, in order)."""
    progress = Progress()
    for line in agent_lines:
        for line_id in line.get("said", ()):
            progress.said.setdefault(line_id, line_id in progress.early)
        progress.early.update(line.get("early", ()))
    wanted = list(intents)
    return [ChecklistItem(line.id, line.label, line.id in progress.said, progress.said.get(line.id, False))
            for line in script.lines if line.applies_to(wanted)]


def load_script(path: Path | None = None) -> Script:
    """The script in ``path`` (default: the shipped one), checked; cached per file."""
    target = path or DEFAULT_SCRIPT
    return _load(str(target), target.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _load(path: str, _mtime: int) -> Script:
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ScriptError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(document, dict) or document.get("version") != 1 or not isinstance(document.get("lines"), list):
        raise ScriptError(f"{path}: expected `version: 1` and a list under `lines:`")
    lines = [_line(path, n, raw) for n, raw in enumerate(document["lines"], 1)]
    ids = [line.id for line in lines]
    if len(set(ids)) != len(ids):
        raise ScriptError(f"{path}: every line needs its own id, got {ids}")
    return Script(tuple(lines))


def _line(path: str, number: int, raw: Any) -> ScriptLine:
    where = f"{path}: line {number} of `lines`"
    if not isinstance(raw, dict):
        raise ScriptError(f"{where}: must be a mapping with id, label and says")
    unknown = set(raw) - _LINE_KEYS
    if unknown:
        raise ScriptError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_LINE_KEYS)}")
    for key in ("id", "label"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise ScriptError(f"{where}: `{key}` must be a non-empty text")
    says = _patterns(where, "says", raw.get("says"))
    if not says:
        raise ScriptError(f"{where}: `says` needs at least one pattern")
    intents = raw.get("intents") or []
    if not isinstance(intents, list) or not all(isinstance(i, str) for i in intents):
        raise ScriptError(f"{where}: `intents` must be a list of intent names")
    return ScriptLine(raw["id"].strip(), raw["label"].strip(), says, frozenset(intents),
                      _patterns(where, "before", raw.get("before")))


def _patterns(where: str, key: str, raw: Any) -> tuple[re.Pattern[str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        raise ScriptError(f"{where}: `{key}` must be a list of patterns in quotes")
    compiled = []
    for pattern in raw:
        try:
            compiled.append(re.compile(pattern, re.IGNORECASE))
        except re.error as exc:
            raise ScriptError(f"{where}: `{key}` pattern {pattern!r} is not a valid regular expression: "
                              f"{exc}") from None
    return tuple(compiled)
