"""Named errors of governed actions; each message says what to fix."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from switchboard.core.errors import SwitchboardError


class ActionConfigError(SwitchboardError, ValueError):
    """actions.yaml or action_policy.yaml cannot be used; lists every problem found."""

    def __init__(self, source: str, messages: Mapping[str, Any] | list[Any] | str, *,
                 text: str | None = None) -> None:
        self.source = source
        self.problems = [messages] if isinstance(messages, str) else [
            _with_line(path, message, text) for path, message in flatten(messages)]
        super().__init__("\n".join(f"{source}: {problem}" for problem in self.problems))


def flatten(messages: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Marshmallow's nested error dict as ("actions.refund.limits.max_total", "...") pairs."""
    if isinstance(messages, Mapping):
        out: list[tuple[str, str]] = []
        for key, value in messages.items():
            # marshmallow files a Dict's value errors under "value": the path reads better without it
            name = prefix if key == "value" else (f"{prefix}.{key}" if prefix else str(key))
            out += flatten(value, name)
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [(prefix or "(file)", " ".join(messages))]
    if isinstance(messages, list):
        return [pair for m in messages for pair in flatten(m, prefix)]
    return [(prefix or "(file)", str(messages))]


def _with_line(path: str, message: str, text: str | None) -> str:
    line = line_of(text, path) if text else None
    return f"line {line}: {path}: {message}" if line else f"{path}: {message}"


def line_of(text: str, path: str) -> int | None:
    """The line of ``path`` ("actions.refund.allowed.0") in the YAML ``text``, or of
    its deepest part that exists (a missing field is reported where its parent is)."""
    try:
        node: Any = yaml.compose(text)
    except yaml.YAMLError:
        return None
    found = None
    for part in path.split("."):
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == part), None)
            if match is None:
                break
            found, node = match[0], match[1]
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            found = node = node.value[int(part)]
        else:
            break
    return found.start_mark.line + 1 if found is not None else None
