"""Typed payload schemas for every vendor (marshmallow): a delivery of a shape the vendor
never sends is refused at the door with a 400 that names the field, instead of a 200
followed by a crash in the worker, where nobody hears about it (and the sweep would
retry it forever). The handlers load the stored payload with the same schema, so what
the door accepted is exactly what they read.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import EXCLUDE, INCLUDE, Schema, ValidationError, fields
from marshmallow.types import StrSequenceOrSet

from switchboard.errors import MalformedPayload

__all__ = ["EXCLUDE", "INCLUDE", "Object", "Schema", "WholeNumber", "describe", "load", "type_name"]


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
