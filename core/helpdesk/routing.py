"""Which Zendesk group and priority a handoff gets: first matching rule wins.

Rules live in a YAML file (the shipped default, or SWITCHBOARD_ROUTING_FILE) so a
support lead can send VIPs to a senior group or fraud to the risk team without a
code change. Group ids are the account's own Zendesk group ids.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from switchboard.core.resources import data_file

DEFAULT_FILE = data_file("routing.yaml")
PRIORITIES = ("low", "normal", "high", "urgent")


class RoutingError(ValueError):
    """The routing file is not valid; the message names the file and the field."""


@dataclass(frozen=True)
class Route:
    group_id: int | None
    priority: str
    tags: tuple[str, ...]


class _When(Schema):
    class Meta:
        unknown = RAISE

    tier = fields.List(fields.String())
    trigger = fields.List(fields.String())
    channel = fields.List(fields.String(validate=validate.OneOf(["sms", "whatsapp", "voice", "web"])))
    #: The conversation's language (ISO 639-1: es, fr, de…), to reach a group that speaks it.
    language = fields.List(fields.String(validate=validate.Regexp(
        r"^[a-z]{2}$", error="use two-letter ISO 639-1 codes such as fr or de")))


class _Rule(Schema):
    class Meta:
        unknown = RAISE

    when = fields.Nested(_When, required=True)
    group_id = fields.Integer(allow_none=True, load_default=None)
    priority = fields.String(validate=validate.OneOf(PRIORITIES), load_default=None)
    tags = fields.List(fields.String(), load_default=list)


class _File(Schema):
    class Meta:
        unknown = RAISE

    rules = fields.List(fields.Nested(_Rule), load_default=list)
    default_priority = fields.String(validate=validate.OneOf(PRIORITIES), load_default="normal")
    default_group_id = fields.Integer(allow_none=True, load_default=None)
    tags = fields.List(fields.String(), load_default=lambda: ["switchboard"])


@dataclass(frozen=True)
class Routing:
    rules: tuple[dict[str, Any], ...]
    default_priority: str
    default_group_id: int | None
    tags: tuple[str, ...]

    def route(self, *, trigger: str, tier: str, channel: str, intent: str | None = None,
              language: str | None = None) -> Route:
        """The first matching rule's group, priority and tags. A conversation in another
        language than English is tagged ``lang_<code>`` (Zendesk triggers and views can
        route on it too)."""
        facts = {"trigger": trigger, "tier": tier, "channel": channel, "language": language}
        base = [*self.tags, f"handoff_{trigger}", f"channel_{channel}"] + ([f"intent_{intent}"] if intent else [])
        base += [f"lang_{language}"] if language and language != "en" else []
        for rule in self.rules:
            if all(facts[key] in allowed for key, allowed in rule["when"].items()):
                return Route(group_id=rule["group_id"] if rule["group_id"] is not None else self.default_group_id,
                             priority=rule["priority"] or self.default_priority,
                             tags=tuple(dict.fromkeys([*base, *rule["tags"]])))
        return Route(self.default_group_id, self.default_priority, tuple(dict.fromkeys(base)))


def load_routing(path: Path | None = None) -> Routing:
    path = path or DEFAULT_FILE
    try:
        raw = yaml.safe_load(path.read_text()) or {}
        data = _File().load(raw)
    except FileNotFoundError:
        raise RoutingError(f"{path}: no such routing file (SWITCHBOARD_ROUTING_FILE)") from None
    except yaml.YAMLError as exc:
        raise RoutingError(f"{path}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        raise RoutingError(f"{path}: {_flatten(exc.messages)}") from None
    return Routing(tuple(data["rules"]), data["default_priority"], data["default_group_id"], tuple(data["tags"]))


def _flatten(messages: Any, prefix: str = "") -> str:
    if isinstance(messages, dict):
        return "; ".join(_flatten(v, f"{prefix}{k}.") for k, v in messages.items())
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return f"{prefix.rstrip('.')}: {' '.join(messages)}"
    return f"{prefix.rstrip('.')}: {messages}"
