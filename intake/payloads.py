"""Typed payload schemas for every vendor (marshmallow): a delivery of a shape the vendor
never sends is refused at the door with a 400 that names the field, instead of a 200
followed by a crash in the worker, where nobody hears about it (and the sweep would
retry it forever). The handlers load the stored payload with the same schema, so what
the door accepted is exactly what they read.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from marshmallow import EXCLUDE, INCLUDE, Schema, ValidationError, fields
from marshmallow.types import StrSequenceOrSet

from switchboard.core.errors import MalformedPayload

__all__ = ["EXCLUDE", "INCLUDE", "MAX_JSON_DEPTH", "Object", "Schema", "UnsafeJson", "WholeNumber", "describe",
           "load", "loads_json", "screen_json", "type_name"]

#: Far deeper than anything a vendor, the widget or an API client sends (Slack's block
#: payloads, the deepest, stay within a dozen levels). Python's parser recurses once per
#: level and gives up with a RecursionError near a thousand, and so would every walk
#: over the value after it (marshmallow, the JSONB encoder): the limit is set here.
MAX_JSON_DEPTH = 64


class UnsafeJson(MalformedPayload):
    """A JSON text no route may take even though it may parse: nested beyond
    MAX_JSON_DEPTH, or holding U+0000, which PostgreSQL's text and JSONB cannot store.
    Refused with a 400 before anything reads it, signed or not: the problem is the text
    itself, so saying so tells a caller nothing about the shapes we expect."""


def loads_json(text: str | bytes, what: str = "the JSON body", *, nul_allowed: bool = False) -> Any:
    """Every JSON text a request carries goes through here (Flask's ``get_json`` too:
    ``switchboard.web.screening`` installs it as the app's JSON provider). Text that is not
    JSON (NaN and Infinity included, which JSONB refuses) raises ValueError as
    ``json.loads`` does; what UnsafeJson describes raises that, naming ``what``.
    ``nul_allowed``: a vendor's signed delivery keeps its NULs (the inbox stores them
    scrubbed, intake/inbox.py): refused, it would be delivered again and again."""
    try:
        value = json.loads(text, parse_constant=_not_a_json_value)
    except RecursionError:
        raise UnsafeJson(_too_deep(what)) from None
    screen_json(value, what, nul_allowed=nul_allowed)
    return value


def screen_json(value: Any, what: str = "the JSON body", *, nul_allowed: bool = False) -> None:
    """UnsafeJson if ``value`` nests deeper than MAX_JSON_DEPTH or (unless ``nul_allowed``)
    holds a NUL in a name or a string. A loop, not recursion: the point is to survive
    what recursion cannot."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if "\x00" in item and not nul_allowed:
                raise UnsafeJson(f"{what} contains a NUL byte (\\u0000) in a name or value; remove it")
            continue
        if not isinstance(item, dict | list):
            continue
        if depth >= MAX_JSON_DEPTH:
            raise UnsafeJson(_too_deep(what))
        if isinstance(item, dict):
            pending.extend((key, depth) for key in item)
            pending.extend((inner, depth + 1) for inner in item.values())
        else:
            pending.extend((inner, depth + 1) for inner in item)


def _too_deep(what: str) -> str:
    return (f"{what} is nested more than {MAX_JSON_DEPTH} levels deep; no request needs that many, send a "
            "flatter document")


def _not_a_json_value(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


def type_name(value: Any) -> str:
    return "null" if value is None else {dict: "object", list: "array", str: "text", bool: "a boolean"}.get(
        type(value), type(value).__name__)


class Object(fields.Nested):
    """A nested object; anything else is named with what was sent instead."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     partial: bool | StrSequenceOrSet | None = None, **kwargs: Any) -> Any:
        if not isinstance(value, dict):
            raise ValidationError(f"must be an object, got {type_name(value)}")
        return super()._deserialize(value, attr, data, partial=partial, **kwargs)


class WholeNumber(fields.Field):
    """A whole number sent as digits ("5158") or as a JSON number, from ``minimum`` to
    ``maximum``. Booleans, floats, signs and spaces are refused: no vendor sends them,
    and a lenient ``int()`` would read them as something else."""

    def __init__(self, *, minimum: int, maximum: int, what: str = "a whole number", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.minimum, self.maximum, self.what = minimum, maximum, what

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> int | None:
        number: int | None = None
        if value == "" and not self.required:
            return None  # an empty form field is an absent one
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
            number = int(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        if number is None or not self.minimum <= number <= self.maximum:
            shown = str(value)[:30]
            raise ValidationError(f"must be {self.what} from {self.minimum} to {self.maximum}, got "
                                  f"{type_name(value)} {shown!r}")
        return number


def describe(messages: Any, prefix: str = "") -> list[str]:
    """marshmallow's nested error messages as "path problem" lines."""
    if isinstance(messages, Mapping):
        lines = []
        for key, inner in messages.items():
            path = prefix if key == "_schema" else f"{prefix}.{key}" if prefix else str(key)
            lines.extend(describe(inner, path))
        return lines
    if isinstance(messages, list | tuple):
        return [line for message in messages for line in describe(message, prefix)]
    text = str(messages)
    if text == "Missing data for required field.":
        text = "is missing"
    return [f"{prefix} {text}".strip()]


def load(schema: Schema, data: Any, *, context: str = "") -> dict[str, Any]:
    """``data`` checked and typed by ``schema``, or MalformedPayload naming every field
    that is wrong (``context`` says what the payload is, e.g. its event kind)."""
    try:
        return schema.load(data)
    except ValidationError as exc:
        problems = "; ".join(describe(exc.messages))
        raise MalformedPayload(f"{context}: {problems}" if context else problems) from None
