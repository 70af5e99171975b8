"""Named errors of governed actions; each message says what to fix."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from switchboard.errors import SwitchboardError


class ActionConfigError(SwitchboardError, ValueError):
    """actions.yaml or action_policy.yaml cannot be used; lists every problem found."""

    def __init__(self, source: str, messages: Mapping[str, Any] | str) -> None:
        self.source = source
        self.problems = [messages] if isinstance(messages, str) else [
            f"{path}: {message}" for path, message in flatten(messages)]
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
